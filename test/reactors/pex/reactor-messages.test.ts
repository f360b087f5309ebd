// PEX wire messages: round trips, the documented byte layout, and typed errors for bad input.
import { randomBytes } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import t from 'tap';
import { InvalidArgumentError, MalformedPacketError, SwitchboardError } from '../../../lib/errors.js';
import { NetAddress } from '../../../lib/net-address.js';
import {
  decodePexMessage,
  encodePexAddrs,
  encodePexMessage,
  encodePexRequest,
  isPexWireAddress,
  MAX_PEX_ADDRESS_SIZE,
  MAX_PEX_ADDRS,
  MAX_PEX_MESSAGE_SIZE,
  PEXReactor,
  AddrBook,
} from '../../../reactors/pex/index.js';

const randId = (): string => randomBytes(20).toString('hex');
const ID = '0123456789abcdef0123456789abcdef01234567';

t.test('PexRequest: 7 documented bytes, round trip', async (t) => {
  t.equal(Buffer.from(encodePexRequest()).toString('hex'), '81a174a3726571');
  t.same(decodePexMessage(encodePexRequest()), { type: 'request' });
  t.same(decodePexMessage(encodePexMessage({ type: 'request' })), { type: 'request' });
});

t.test('PexAddrs: documented bytes for one address, round trip', async (t) => {
  const a = new NetAddress(ID, '203.0.113.7', 26656);
  const bytes = encodePexAddrs([a]);
  t.equal(
    Buffer.from(bytes).toString('hex'),
    '82a174a56164647273a561646472739183a26964d928' +
      Buffer.from(ID).toString('hex') +
      'a4686f7374ab' +
      Buffer.from('203.0.113.7').toString('hex') +
      'a4706f7274cd6820',
  );
  const m = decodePexMessage(bytes);
  t.equal(m.type, 'addrs');
  if (m.type !== 'addrs') return;
  t.equal(m.addrs.length, 1);
  t.ok(m.addrs[0]!.equals(a));
  t.equal(Buffer.from(encodePexAddrs([])).toString('hex'), '82a174a56164647273a5616464727390', 'empty list');
});

t.test('PexAddrs: 250 addresses (IPv4 and IPv6) round trip within the size bound', async (t) => {
  const addrs = Array.from({ length: MAX_PEX_ADDRS }, (_, i) =>
    i % 2
      ? new NetAddress(randId(), `10.${i % 256}.${(i * 7) % 256}.1`, 1 + i)
      : new NetAddress(randId(), `ffff:ffff:ffff:ffff:ffff:ffff:ffff:${i.toString(16)}`, 65535),
  );
  const bytes = encodePexAddrs(addrs);
  t.ok(bytes.length <= MAX_PEX_MESSAGE_SIZE, `${bytes.length} <= ${MAX_PEX_MESSAGE_SIZE}`);
  const m = decodePexMessage(bytes);
  t.equal(m.type === 'addrs' && m.addrs.length, MAX_PEX_ADDRS);
  if (m.type === 'addrs') t.ok(m.addrs.every((a, i) => a.equals(addrs[i]!)));
  // the largest possible entry fits MAX_PEX_ADDRESS_SIZE
  const longest = encode({ id: ID, host: 'f'.repeat(64), port: 65535 });
  t.ok(longest.length <= MAX_PEX_ADDRESS_SIZE, `${longest.length} <= ${MAX_PEX_ADDRESS_SIZE}`);
});

t.test('encode refuses what decode would refuse', async (t) => {
  const many = Array.from({ length: MAX_PEX_ADDRS + 1 }, (_, i) => new NetAddress(randId(), '10.0.0.1', 1000 + i));
  t.throws(() => encodePexAddrs(many), InvalidArgumentError);
  t.throws(() => encodePexAddrs([new NetAddress(ID, 'example.com', 1)]), { code: 'ERR_INVALID_ADDRESS' });
  t.throws(() => encodePexAddrs([new NetAddress('', '10.0.0.1', 1)]), { code: 'ERR_INVALID_ADDRESS' });
  t.throws(() => encodePexAddrs([new NetAddress(ID, '10.0.0.1', 0)]), { code: 'ERR_INVALID_ADDRESS' });
  t.equal(isPexWireAddress(new NetAddress(ID, '::1', 5)), true);
  t.equal(isPexWireAddress(new NetAddress(ID, 'localhost', 5)), false);
});

t.test('251 addresses → typed error', async (t) => {
  const addrs = Array.from({ length: MAX_PEX_ADDRS + 1 }, (_, i) => ({ id: randId(), host: '10.0.0.1', port: 1000 + i }));
  const err = t.throws(() => decodePexMessage(encode({ t: 'addrs', addrs })), MalformedPacketError) as MalformedPacketError;
  t.equal(err.code, 'ERR_MALFORMED_PACKET');
  t.match(err.message, /251 addresses/);
});

t.test('garbage, oversize and invalid fields → ERR_MALFORMED_PACKET', async (t) => {
  const good = { id: ID, host: '10.0.0.1', port: 26656 };
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['not msgpack (reserved byte 0xc1)', Uint8Array.of(0xc1)],
    ['truncated', encodePexRequest().subarray(0, 4)],
    ['trailing bytes', Uint8Array.of(...encodePexRequest(), 0x00)],
    ['oversize', new Uint8Array(MAX_PEX_MESSAGE_SIZE + 1)],
    ['not a map', encode(['req'])],
    ['nil', encode(null)],
    ['unknown type', encode({ t: 'hello' })],
    ['type not a string', encode({ t: 1 })],
    ['request with extra key', encode({ t: 'req', x: 1 })],
    ['addrs missing', encode({ t: 'addrs' })],
    ['addrs not an array', encode({ t: 'addrs', addrs: 'x' })],
    ['addrs extra key', encode({ t: 'addrs', addrs: [], x: 1 })],
    ['entry not a map', encode({ t: 'addrs', addrs: [[ID, '10.0.0.1', 1]] })],
    ['entry extra key', encode({ t: 'addrs', addrs: [{ ...good, x: 1 }] })],
    ['entry missing port', encode({ t: 'addrs', addrs: [{ id: ID, host: '10.0.0.1' }] })],
    ['id upper case', encode({ t: 'addrs', addrs: [{ ...good, id: ID.toUpperCase() }] })],
    ['id short', encode({ t: 'addrs', addrs: [{ ...good, id: ID.slice(2) }] })],
    ['id binary', encode({ t: 'addrs', addrs: [{ ...good, id: new Uint8Array(20) }] })],
    ['host name', encode({ t: 'addrs', addrs: [{ ...good, host: 'example.com' }] })],
    ['host empty', encode({ t: 'addrs', addrs: [{ ...good, host: '' }] })],
    ['host too long', encode({ t: 'addrs', addrs: [{ ...good, host: '1'.repeat(65) }] })],
    ['port 0', encode({ t: 'addrs', addrs: [{ ...good, port: 0 }] })],
    ['port 65536', encode({ t: 'addrs', addrs: [{ ...good, port: 65536 }] })],
    ['port float', encode({ t: 'addrs', addrs: [{ ...good, port: 1.5 }] })],
    ['port string', encode({ t: 'addrs', addrs: [{ ...good, port: '1' }] })],
    ['__proto__ key', Uint8Array.of(0x82, 0xa1, 0x74, 0xa3, 0x72, 0x65, 0x71, 0xa9, ...Buffer.from('__proto__'), 0xc0)],
    ['ext type', encode({ t: 'req', d: new Date(0) })],
    ['long string', encode({ t: 'x'.repeat(1000) })],
  ];
  for (const [name, bytes] of cases) {
    t.throws(() => decodePexMessage(bytes), { code: 'ERR_MALFORMED_PACKET' }, name);
  }
});

t.test('property: random bytes never crash decode, only typed errors', async (t) => {
  const prop = (bytes: Uint8Array): boolean => {
    try {
      const m = decodePexMessage(bytes);
      return m.type === 'request' || m.type === 'addrs';
    } catch (err) {
      return err instanceof MalformedPacketError;
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), prop), { numRuns: 3000 });
  // mutations of valid messages reach deeper into the validator
  const valid = encodePexAddrs([new NetAddress(ID, '10.0.0.1', 26656), new NetAddress(randId(), '::1', 1)]);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
      const b = Uint8Array.from(valid);
      for (const [i, v] of edits) b[i] = v;
      return prop(b);
    }),
    { numRuns: 3000 },
  );
  // arbitrary MessagePack values never pass as anything but a valid message
  fc.assert(
    fc.property(fc.anything({ maxDepth: 3 }), (v) => {
      let bytes: Uint8Array;
      try {
        bytes = encode(v);
      } catch {
        return true;
      }
      return prop(bytes);
    }),
    { numRuns: 1000 },
  );
  t.pass('no untyped error');
});

t.test('PEXReactor constructor: seeds are validated, options bounded', async (t) => {
  const dir = t.testdir();
  const book = new AddrBook(`${dir}/book.json`, { routabilityStrict: false });
  const err = t.throws(() => new PEXReactor(book, { seeds: ['not-an-address'] }), InvalidArgumentError) as SwitchboardError;
  t.equal(err.code, 'ERR_INVALID_ADDRESS');
  t.match(err.message, /seed/);
  t.throws(() => new PEXReactor(book, { seeds: ['127.0.0.1:26656'] }), { code: 'ERR_INVALID_ADDRESS' }, 'a seed needs an ID');
  t.throws(() => new PEXReactor(book, { ensurePeersPeriodMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new PEXReactor(book, { maxAddrsPerResponse: 251 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new PEXReactor(book, { banMs: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
  const r = new PEXReactor(book, { seeds: [` ${ID}@127.0.0.1:26656 `], ensurePeersPeriodMs: 900 });
  t.equal(r.seeds[0]!.toString(), `${ID}@127.0.0.1:26656`);
  t.equal(r.settings.requestIntervalMs, 300, 'requestIntervalMs defaults to ensurePeersPeriodMs / 3');
  t.same(r.getChannels(), [{ id: 0, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: MAX_PEX_MESSAGE_SIZE, name: 'pex' }]);
});
