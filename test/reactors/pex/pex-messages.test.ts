// The PEX wire codec at its bounds: the decoder's allocation limits (string 64, array 256, map 8,
// no bin or ext) refuse input before any validation, each layout rule says what is wrong
// (MalformedPacketError, ERR_MALFORMED_PACKET), exact limits are accepted, and the encoder refuses
// (InvalidArgumentError) what the decoder would.
import { encode } from '@msgpack/msgpack';
import t, { type Test } from 'tap';
import { InvalidArgumentError, MalformedPacketError } from '../../../lib/errors.js';
import { NetAddress } from '../../../lib/net-address.js';
import {
  decodePexMessage,
  encodePexAddrs,
  encodePexMessage,
  encodePexRequest,
  isPexWireAddress,
  MAX_PEX_ADDRS,
  MAX_PEX_HOST_LENGTH,
  MAX_PEX_MESSAGE_SIZE,
} from '../../../reactors/pex/messages.js';

const ID = '0123456789abcdef0123456789abcdef01234567';
const good = { id: ID, host: '10.0.0.1', port: 26656 };
const idN = (i: number): string => i.toString(16).padStart(40, '0');

/** Decoding `bytes` fails with ERR_MALFORMED_PACKET and a message matching `why`; returns the error. */
function refused(t: Test, bytes: Uint8Array, why: RegExp, name: string): MalformedPacketError {
  const err = t.throws(() => decodePexMessage(bytes), MalformedPacketError, name) as MalformedPacketError;
  t.equal(err.code, 'ERR_MALFORMED_PACKET', name);
  t.match(err.message, /^invalid PEX message: /, name);
  t.match(err.message, why, name);
  return err;
}

t.test('the request bytes are a fresh copy: changing one returned message does not change the next', async (t) => {
  const a = encodePexRequest();
  a.fill(0);
  t.equal(Buffer.from(encodePexRequest()).toString('hex'), '81a174a3726571');
  t.equal(Buffer.from(encodePexMessage({ type: 'request' })).toString('hex'), '81a174a3726571');
});

t.test('encodePexMessage encodes a PexAddrs as encodePexAddrs does', async (t) => {
  const addrs = [new NetAddress(ID, '10.0.0.1', 1), new NetAddress(idN(2), '::1', 2)];
  t.same(encodePexMessage({ type: 'addrs', addrs }), encodePexAddrs(addrs));
  const back = decodePexMessage(encodePexMessage({ type: 'addrs', addrs }));
  t.ok(back.type === 'addrs' && back.addrs.every((a, i) => a.equals(addrs[i]!)));
});

t.test('the decoder limits refuse input before validation (not valid MessagePack)', async (t) => {
  // each input is small enough for MAX_PEX_MESSAGE_SIZE but exceeds one decoder limit
  const mp = /not valid MessagePack/;
  refused(t, encode({ t: 'req', x: new Uint8Array(1) }), mp, 'any bin (maxBinLength 0)');
  refused(t, encode({ t: 'req', d: new Date(0) }), mp, 'any ext (maxExtLength 0)');
  refused(t, encode({ t: 'x'.repeat(MAX_PEX_HOST_LENGTH + 1) }), mp, 'a 65-character string (maxStrLength 64)');
  refused(t, encode({ t: 'addrs', addrs: new Array(257).fill(null) }), mp, 'an array of 257 (maxArrayLength 256)');
  const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, i]));
  refused(t, encode({ t: 'req', ...nine }), mp, 'a map of 10 keys (maxMapLength 8)');
  refused(t, encode(Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, i]))), mp, 'a map of 9 keys');
  // just within each limit the layout rules speak instead
  refused(t, encode({ t: 'x'.repeat(MAX_PEX_HOST_LENGTH) }), /unknown message type/, 'a 64-character string');
  refused(t, encode({ t: 'addrs', addrs: new Array(256).fill(null) }), /carries 256 addresses, at most 250/, 'an array of 256');
  const eight = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`k${i}`, i]));
  refused(t, encode({ t: 'req', ...eight }), /PexRequest has keys other than "t"/, 'a map of 8 keys');
  const big = refused(t, new Uint8Array(MAX_PEX_MESSAGE_SIZE + 1), /of 32065 bytes exceeds 32064/, 'one byte over the size bound');
  t.notOk(Object.hasOwn(big, 'cause'), 'an error of our own carries no cause (a log shows none)');
  const err = refused(t, Uint8Array.of(0xc1), mp, 'a reserved byte');
  t.ok(err.cause instanceof Error, 'the decoder error is kept as the cause');
});

t.test('an empty ext, the one ext the decoder limit lets through, is neither a message nor an entry', async (t) => {
  const ext = [0xc7, 0x00, 0x05]; // ext8 of 0 bytes, application type 5: decodes to an ExtData object
  refused(t, Uint8Array.from(ext), /message is not a map$/, 'as the message');
  const addrs = [0x82, 0xa1, 0x74, 0xa5, ...Buffer.from('addrs'), 0xa5, ...Buffer.from('addrs'), 0x92];
  const entry = encode(good);
  refused(t, Uint8Array.from([...addrs, ...entry, ...ext]), /PexAddrs.addrs\[1\] is not a map$/, 'as an entry');
  const ok = decodePexMessage(Uint8Array.from([...addrs.slice(0, -1), 0x91, ...entry]));
  t.ok(ok.type === 'addrs' && ok.addrs[0]!.equals(new NetAddress(good.id, good.host, good.port)), 'the same bytes without it decode');
});

t.test('a message of exactly MAX_PEX_MESSAGE_SIZE bytes reaches the decoder', async (t) => {
  // a request padded with zeros to the bound: the size check lets it through, the decoder refuses the padding
  const bytes = new Uint8Array(MAX_PEX_MESSAGE_SIZE);
  bytes.set(encodePexRequest());
  refused(t, bytes, /not valid MessagePack/, 'trailing bytes, not oversize');
});

t.test('the layout errors say what is wrong', async (t) => {
  refused(t, Uint8Array.of(0x01), /message is not a map/, 'an integer');
  refused(t, encode(['req']), /message is not a map/, 'an array');
  refused(t, encode(null), /message is not a map/, 'nil');
  refused(t, encode({ t: 'hello' }), /unknown message type "hello"/, 'unknown type');
  refused(t, encode({ t: 'abcdefghijklmnopqrstuvwxyz' }), /unknown message type "abcdefghijklmnop"$/, 'a long type, cut at 16');
  refused(t, encode({ t: 1 }), /unknown message type number$/, 'a type that is not a string');
  refused(t, encode({ x: 'req' }), /unknown message type undefined$/, 'no type');
  refused(t, encode({ t: 'req', x: 1 }), /PexRequest has keys other than "t"/, 'request with an extra key');
  const exact = /PexAddrs must have exactly the keys "t" and "addrs"/;
  refused(t, encode({ t: 'addrs' }), exact, 'addrs missing');
  refused(t, encode({ t: 'addrs', x: [] }), exact, 'addrs missing, another key in its place');
  refused(t, encode({ t: 'addrs', addrs: [], x: 1 }), exact, 'an extra key');
  refused(t, encode({ t: 'addrs', addrs: 'x' }), /PexAddrs.addrs is not an array/, 'addrs a string');
  refused(t, encode({ t: 'addrs', addrs: { 0: good } }), /PexAddrs.addrs is not an array/, 'addrs a map');
});

t.test('entry errors name the entry and the rule', async (t) => {
  const msg = (...entries: unknown[]) => encode({ t: 'addrs', addrs: [good, ...entries] });
  refused(t, msg([ID, '10.0.0.1', 1]), /PexAddrs.addrs\[1\] is not a map/, 'an array entry');
  refused(t, msg(null), /PexAddrs.addrs\[1\] is not a map/, 'a nil entry');
  refused(t, msg('x'), /PexAddrs.addrs\[1\] is not a map/, 'a string entry');
  const keys = /PexAddrs.addrs\[1\] must have exactly the keys "id", "host" and "port"/;
  refused(t, msg({ ...good, x: 1 }), keys, 'a fourth key');
  refused(t, msg({ id: ID, host: '10.0.0.1' }), keys, 'two keys');
  refused(t, msg({ x: ID, host: '10.0.0.1', port: 1 }), keys, 'three keys, no id');
  refused(t, msg({ id: ID, x: '10.0.0.1', port: 1 }), keys, 'three keys, no host');
  refused(t, msg({ id: ID, host: '10.0.0.1', x: 1 }), keys, 'three keys, no port');
  const id = /PexAddrs.addrs\[1\]: id must be 40 lower-case hex characters/;
  refused(t, msg({ ...good, id: ID.toUpperCase() }), id, 'upper-case id');
  refused(t, msg({ ...good, id: 7 }), id, 'numeric id');
  const host = /PexAddrs.addrs\[1\]: host must be an IP literal of at most 64 characters/;
  refused(t, msg({ ...good, host: 'example.com' }), host, 'host name');
  refused(t, msg({ ...good, host: '' }), host, 'empty host');
  refused(t, msg({ ...good, host: ['10.0.0.1'] }), host, 'a host in an array');
  refused(t, msg({ ...good, host: 167772161 }), host, 'a host as a number');
  const port = /PexAddrs.addrs\[1\]: port must be an integer in 1\.\.65535/;
  for (const p of [0, -1, 65536, 1.5, '1', null, true]) refused(t, msg({ ...good, port: p }), port, `port ${JSON.stringify(p)}`);
});

t.test('the exact bounds are accepted', async (t) => {
  const zone = `fe80::1%${'z'.repeat(MAX_PEX_HOST_LENGTH - 8)}`;
  t.equal(zone.length, MAX_PEX_HOST_LENGTH);
  const edge = [
    { id: ID, host: '10.0.0.1', port: 1 },
    { id: idN(1), host: '::ffff:10.0.0.1', port: 65535 },
    { id: idN(2), host: zone, port: 2 },
  ];
  const m = decodePexMessage(encode({ t: 'addrs', addrs: edge }));
  t.equal(m.type, 'addrs');
  if (m.type !== 'addrs') return;
  t.same(
    m.addrs.map((a) => a.toJSON()),
    edge,
  );
  t.ok(m.addrs.every((a) => a instanceof NetAddress));
  // keys in any order
  const reordered = decodePexMessage(encode({ addrs: [{ port: 5, host: '::1', id: ID }], t: 'addrs' }));
  t.ok(reordered.type === 'addrs' && reordered.addrs[0]!.equals(new NetAddress(ID, '::1', 5)));
  t.same(decodePexMessage(encode({ t: 'addrs', addrs: [] })), { type: 'addrs', addrs: [] });
  // 250 addresses, the most a PexAddrs carries, both ways
  const many = Array.from({ length: MAX_PEX_ADDRS }, (_, i) => new NetAddress(idN(i), '10.0.0.1', i + 1));
  const back = decodePexMessage(encodePexAddrs(many));
  t.equal(back.type === 'addrs' && back.addrs.length, MAX_PEX_ADDRS);
});

t.test('the encoder refuses what the decoder would, with the reason', async (t) => {
  const many = Array.from({ length: MAX_PEX_ADDRS + 1 }, (_, i) => new NetAddress(idN(i), '10.0.0.1', 1));
  const tooMany = t.throws(() => encodePexAddrs(many), InvalidArgumentError) as InvalidArgumentError;
  t.equal(tooMany.code, 'ERR_INVALID_ARGUMENT');
  t.match(tooMany.message, /a PexAddrs carries at most 250 addresses, got 251/);
  const longZone = new NetAddress(ID, `fe80::1%${'z'.repeat(MAX_PEX_HOST_LENGTH - 7)}`, 1);
  t.equal(isPexWireAddress(longZone), false, 'a 65-character IP literal');
  t.equal(isPexWireAddress(new NetAddress(ID, `fe80::1%${'z'.repeat(MAX_PEX_HOST_LENGTH - 8)}`, 1)), true, '64 characters');
  const cases: [NetAddress, RegExp][] = [
    [new NetAddress('', '10.0.0.1', 1), /id must be 40 lower-case hex/],
    [new NetAddress(ID, 'example.com', 1), /host must be an IP literal of at most 64 characters/],
    [longZone, /host must be an IP literal/],
    [new NetAddress(ID, '10.0.0.1', 0), /port must be an integer in 1\.\.65535/],
  ];
  for (const [a, why] of cases) {
    const err = t.throws(() => encodePexAddrs([new NetAddress(idN(9), '10.0.0.9', 9), a]), InvalidArgumentError) as InvalidArgumentError;
    t.equal(err.code, 'ERR_INVALID_ADDRESS', a.toString());
    t.match(err.message, `cannot send ${a.toString()} in a PexAddrs: `);
    t.match(err.message, why, a.toString());
    t.equal(isPexWireAddress(a), false, a.toString());
  }
  t.equal(isPexWireAddress(new NetAddress(ID, '10.0.0.1', 65535)), true);
});

t.test('decode refuses what is not bytes', async (t) => {
  for (const v of ['81a174a3726571', [0x81, 0xa1, 0x74, 0xa3, 0x72, 0x65, 0x71], null]) {
    refused(t, v as unknown as Uint8Array, /message is not bytes/, JSON.stringify(v));
  }
  t.same(decodePexMessage(Buffer.from('81a174a3726571', 'hex')), { type: 'request' }, 'a Buffer is bytes');
});
