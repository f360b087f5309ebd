// NodeInfo's field bounds at their edges (the largest value accepted, one more
// refused, with the message a user sees), the exact messages of compatibleWith,
// and what decode() and with() fill in.
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { MAX_CHANNEL_VERSIONS, MAX_NODE_INFO_SIZE, NodeInfo, P2P_PROTOCOL_VERSION } from '../lib/node-info.js';

const base = { id: 'a'.repeat(40), listenAddr: '127.0.0.1:26656', network: 'net', channels: Uint8Array.from([1, 2]), moniker: 'm' };
const pv = (p2p: number, block = 0, app = 0) => ({ protocolVersion: { p2p, block, app } });

t.test('each bound accepts its largest value and refuses one more, naming the rule', async (t) => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, string][] = [
    ['moniker', { moniker: 'x'.repeat(128) }, { moniker: 'x'.repeat(129) }, 'moniker must be 1..128 printable characters'],
    ['network', { network: 'n'.repeat(64) }, { network: 'n'.repeat(65) }, 'network must be 1..64 printable ASCII characters'],
    ['version', { version: 'v'.repeat(64) }, { version: 'v'.repeat(65) }, 'version must be at most 64 printable ASCII characters'],
    [
      'other entries',
      { other: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'])) },
      { other: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) },
      'other has more than 16 entries',
    ],
    [
      'other key',
      { other: { ['k'.repeat(64)]: 'v' } },
      { other: { ['k'.repeat(65)]: 'v' } },
      `other.${'k'.repeat(64)} is too long or not a string`,
    ],
    ['other value', { other: { k: 'v'.repeat(256) } }, { other: { k: 'v'.repeat(257) } }, 'other.k is too long or not a string'],
    [
      'channel versions',
      { channelVersions: [[1], Array.from({ length: MAX_CHANNEL_VERSIONS }, (_, i) => i + 1)] },
      { channelVersions: [[1], Array.from({ length: MAX_CHANNEL_VERSIONS + 1 }, (_, i) => i + 1)] },
      'channelVersions of channel 0x2 must be 1..8 strictly ascending integers in 1..2^32-1',
    ],
    [
      'highest channel version',
      { channelVersions: [[1], [2 ** 32 - 1]] },
      { channelVersions: [[1], [2 ** 32]] },
      'channelVersions of channel 0x2',
    ],
    [
      'protocol version',
      pv(P2P_PROTOCOL_VERSION, 2 ** 32 - 1, 2 ** 32 - 1),
      pv(P2P_PROTOCOL_VERSION, 0, 2 ** 32),
      'protocolVersion must be {p2p, block, app} of unsigned 32-bit integers',
    ],
  ];
  for (const [name, ok, bad, why] of cases) {
    t.doesNotThrow(() => NodeInfo.create({ ...base, ...ok } as never), `${name}: the largest is accepted`);
    t.throws(
      () => NodeInfo.create({ ...base, ...bad } as never),
      { code: 'ERR_INVALID_NODE_INFO', message: `invalid NodeInfo: ${why}` },
      `${name}: one more is refused`,
    );
  }
  t.equal(NodeInfo.create(base).version, '', 'version defaults to empty');
  t.throws(() => NodeInfo.create({ ...base, channels: new Uint8Array(257) }), {
    message: 'invalid NodeInfo: channels must be at most 256 bytes',
  });
  for (const other of ['abc', 7])
    t.throws(() => NodeInfo.create({ ...base, other } as never), { message: 'invalid NodeInfo: other must be a map of strings' });
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  t.equal(NodeInfo.create({ ...base, channels: all }).channels.length, 256, '256 channels');
  t.equal(NodeInfo.create({ ...base, moniker: 'ü—' }).moniker, 'ü—', 'a moniker may be any printable Unicode');
  for (const p of [-1, 1.5, '1']) {
    t.throws(() => NodeInfo.create({ ...base, ...pv(p as number) } as never), {
      code: 'ERR_INVALID_NODE_INFO',
      message: /protocolVersion/,
    });
    t.throws(() => NodeInfo.create({ ...base, ...pv(P2P_PROTOCOL_VERSION, p as number) } as never), { message: /protocolVersion/ });
    t.throws(() => NodeInfo.create({ ...base, ...pv(P2P_PROTOCOL_VERSION, 0, p as number) } as never), { message: /protocolVersion/ });
  }
  t.throws(() => NodeInfo.create({ ...base, other: { k: 1 } } as never), {
    message: 'invalid NodeInfo: other.k is too long or not a string',
  });
  t.throws(() => NodeInfo.create({ ...base, other: ['v'] } as never), { message: 'invalid NodeInfo: other must be a map of strings' });
  t.throws(() => NodeInfo.create({ ...base, moniker: 7 } as never), {
    message: 'invalid NodeInfo: moniker must be 1..128 printable characters',
  });
  t.throws(() => NodeInfo.create({ ...base, id: 'A'.repeat(40) }), {
    message: 'invalid NodeInfo: id must be 40 lower-case hex characters',
  });
  t.throws(() => NodeInfo.create({ ...base, listenAddr: 7 } as never), { message: 'invalid NodeInfo: listenAddr must be a string' });
  t.throws(() => NodeInfo.create({ ...base, channels: [1] } as never), { message: 'invalid NodeInfo: channels must be at most 256 bytes' });
  t.throws(() => NodeInfo.create({ ...base, channelVersions: [[1]] }), {
    message: 'invalid NodeInfo: channelVersions must be an array with one entry per channel',
  });
  t.throws(() => NodeInfo.create({ ...base, version: 'é' }), { message: /version must be at most 64 printable ASCII/ });
});

t.test('the encoded size is bounded at MAX_NODE_INFO_SIZE: exactly the bound is accepted, one byte more refused', async (t) => {
  // n channels with 8 large versions each, and a moniker of m characters (32..128: one byte each on the wire)
  const fields = (n: number, m: number) => ({
    ...base,
    moniker: 'm'.repeat(m),
    channels: Uint8Array.from({ length: n }, (_, i) => i),
    channelVersions: Array.from({ length: n }, () => Array.from({ length: 8 }, (_, i) => 2 ** 31 + i)),
  });
  /** The encoded size of fields(n, m), accepted or not (the refusal names it). */
  const size = (n: number, m: number): number => {
    try {
      return NodeInfo.create(fields(n, m)).encode().length;
    } catch (err) {
      return Number(/encoded NodeInfo of (\d+) bytes/.exec((err as Error).message)![1]);
    }
  };
  let n = 1;
  while (size(n + 1, 32) <= MAX_NODE_INFO_SIZE) n++;
  const m = 32 + MAX_NODE_INFO_SIZE - size(n, 32);
  t.ok(m <= 128, 'the moniker can make up the rest');
  t.equal(NodeInfo.create(fields(n, m)).encode().length, MAX_NODE_INFO_SIZE, 'exactly the bound is accepted');
  t.throws(() => NodeInfo.create(fields(n, m + 1)), {
    code: 'ERR_INVALID_NODE_INFO',
    message: `invalid NodeInfo: encoded NodeInfo of ${MAX_NODE_INFO_SIZE + 1} bytes exceeds ${MAX_NODE_INFO_SIZE}`,
  });
  const wire = NodeInfo.create(fields(n, m)).encode();
  t.equal(NodeInfo.decode(wire).moniker.length, m, 'and decodes');
  t.throws(() => NodeInfo.decode(new Uint8Array(MAX_NODE_INFO_SIZE + 1)), {
    message: `invalid NodeInfo: encoded NodeInfo of ${MAX_NODE_INFO_SIZE + 1} bytes exceeds ${MAX_NODE_INFO_SIZE}`,
  });
});

t.test('compatibleWith names both sides in its messages', async (t) => {
  const a = NodeInfo.create(base);
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, ...pv(P2P_PROTOCOL_VERSION + 1) })), {
    message: `peer speaks p2p protocol ${P2P_PROTOCOL_VERSION + 1}, we speak ${P2P_PROTOCOL_VERSION}`,
  });
  t.throws(
    () =>
      NodeInfo.create({ ...base, ...pv(P2P_PROTOCOL_VERSION, 3) }).compatibleWith(
        NodeInfo.create({ ...base, ...pv(P2P_PROTOCOL_VERSION, 4) }),
      ),
    {
      message: 'peer is on block protocol 4, we are on 3',
    },
  );
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, network: 'b' })), { message: 'peer is on network "b", we are on "net"' });
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, channels: Uint8Array.from([0x40, 7]) })), {
    message: 'no common channel: peer has [0x40, 0x07], we have [0x01, 0x02]',
  });
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, channels: Uint8Array.from([2]), channelVersions: [[2, 3]] })), {
    message: 'no common channel version: peer has {0x02: [2, 3]}, we have {0x01: [1], 0x02: [1]}',
  });
  t.doesNotThrow(
    () => a.compatibleWith(NodeInfo.create({ ...base, ...pv(P2P_PROTOCOL_VERSION, 0, 9) })),
    'the app version is not compared',
  );
});

t.test('channelVersionsOf, hasChannel and netAddress', async (t) => {
  const a = NodeInfo.create({ ...base, channels: Uint8Array.from([0, 5]), channelVersions: [[1, 2], [3]] });
  t.same(a.channelVersionsOf(0), [1, 2], 'channel 0 (at index 0) is found');
  t.same(a.channelVersionsOf(5), [3]);
  t.equal(a.channelVersionsOf(6), undefined);
  t.ok(a.hasChannel(0));
  t.notOk(a.hasChannel(6));
  t.equal(a.netAddress().toString(), `${base.id}@127.0.0.1:26656`);
});

t.test('with() keeps every other field and gives new channels default versions only when none are given', async (t) => {
  const a = NodeInfo.create({
    ...base,
    version: '1.2',
    other: { k: 'v' },
    ...pv(P2P_PROTOCOL_VERSION, 7, 8),
    channelVersions: [[1, 2], [3]],
  });
  const b = a.with({ moniker: 'other' });
  t.same({ ...b, moniker: a.moniker }, { ...a }, 'only the moniker changed');
  t.same(b.channelVersions, [[1, 2], [3]]);
  t.same(a.with({ channels: Uint8Array.from([9]), channelVersions: [[4]] }).channelVersions, [[4]], 'given versions are kept');
  t.same(a.with({ channels: Uint8Array.from([9, 8]) }).channelVersions, [[1], [1]], 'new channels without versions: [1] each');
  b.other.k = 'changed';
  t.equal(a.other.k, 'v', 'with() copies other; the original is unchanged');
});

t.test('decode fills other, and the channel versions of an older protocol, but not of the current one', async (t) => {
  const raw = {
    ...pv(P2P_PROTOCOL_VERSION),
    id: base.id,
    listenAddr: base.listenAddr,
    network: 'net',
    version: '',
    channels: base.channels,
    channelVersions: [[1], [2]],
    moniker: 'm',
  };
  t.same(NodeInfo.decode(encode(raw)).other, {}, 'no other: an empty map');
  const { channelVersions: _, ...v2 } = { ...raw, ...pv(2) };
  const old = NodeInfo.decode(encode(v2));
  t.same(old.channelVersions, [[1], [1]], 'an older NodeInfo without channelVersions: [1] per channel');
  const { channelVersions: __, ...current } = raw;
  t.throws(() => NodeInfo.decode(encode(current)), { message: /channelVersions/ }, 'the current protocol must send them');
  t.throws(() => NodeInfo.decode(encode({ ...raw, protocolVersion: 3 })), { message: /protocolVersion/ });
  t.throws(() => NodeInfo.decode(encode({ ...raw, protocolVersion: undefined })), { message: /protocolVersion/ });
  for (const v of [null, 3, 'str', [raw]])
    t.throws(() => NodeInfo.decode(encode(v)), { message: 'invalid NodeInfo: NodeInfo must be a map' });
  t.throws(() => NodeInfo.decode(encode({ ...raw, other: 'abc' })), { message: 'invalid NodeInfo: other must be a map of strings' });
  // counts are bounded while decoding, before any NodeInfo rule looks at them
  t.throws(() => NodeInfo.decode(encode({ ...raw, channelVersions: Array.from({ length: 257 }, () => [1]) })), {
    code: 'ERR_INVALID_NODE_INFO',
    message: /^NodeInfo is not valid MessagePack: /,
  });
  t.throws(() => NodeInfo.decode(encode({ ...raw, other: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, ''])) })), {
    message: /^NodeInfo is not valid MessagePack: /,
  });
  t.throws(() => NodeInfo.decode(Uint8Array.from([0xc1])), { message: /^NodeInfo is not valid MessagePack: / });
});
