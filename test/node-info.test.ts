import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { NodeInfo, MAX_NODE_INFO_SIZE, P2P_PROTOCOL_VERSION, matchChannelVersions } from '../lib/node-info.js';

const base = { id: 'a'.repeat(40), listenAddr: '127.0.0.1:26656', network: 'net', channels: Uint8Array.from([1, 2]), moniker: 'm' };

t.test('compatibleWith: same network, p2p version, block version, and a common channel', async (t) => {
  const a = NodeInfo.create(base);
  t.doesNotThrow(() => a.compatibleWith(NodeInfo.create({ ...base, id: 'b'.repeat(40), channels: Uint8Array.from([2, 9]) })));
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, network: 'other' })), { code: 'ERR_INCOMPATIBLE_PEER', message: /network/ });
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, channels: Uint8Array.from([7]) })), {
    code: 'ERR_INCOMPATIBLE_PEER',
    message: /no common channel/,
  });
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, protocolVersion: { p2p: P2P_PROTOCOL_VERSION + 1, block: 0, app: 0 } })), {
    code: 'ERR_INCOMPATIBLE_PEER',
    message: /p2p protocol/,
  });
  const b1 = NodeInfo.create({ ...base, protocolVersion: { p2p: 1, block: 11, app: 0 } });
  t.throws(() => b1.compatibleWith(NodeInfo.create({ ...base, protocolVersion: { p2p: 1, block: 12, app: 0 } })), {
    message: /block protocol/,
  });
});

t.test('invalid fields are ERR_INVALID_NODE_INFO naming the field', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ id: 'x' }, /id/],
    [{ listenAddr: 'nope' }, /listenAddr/],
    [{ network: '' }, /network/],
    [{ network: 'ü' }, /network/],
    [{ channels: Uint8Array.from([1, 1]) }, /unique/],
    [{ moniker: '' }, /moniker/],
    [{ moniker: 'a\u0000b' }, /moniker/],
    [{ channelVersions: [[1]] }, /channelVersions/],
    [{ channelVersions: [[1], []] }, /channelVersions/],
    [{ channelVersions: [[1], [2, 1]] }, /channelVersions/],
    [{ channelVersions: [[1], [1, 1]] }, /channelVersions/],
    [{ channelVersions: [[0], [1]] }, /channelVersions/],
    [{ channelVersions: [[1], [2 ** 32]] }, /channelVersions/],
    [{ channelVersions: [[1], [1.5]] }, /channelVersions/],
    [{ channelVersions: [[1], Array.from({ length: 9 }, (_, i) => i + 1)] }, /channelVersions/],
    [{ other: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, /other/],
  ];
  for (const [f, why] of cases)
    t.throws(() => NodeInfo.create({ ...base, ...f } as never), { code: 'ERR_INVALID_NODE_INFO', message: why });
});

t.test('decode bounds and validates what comes off the wire', async (t) => {
  const ni = NodeInfo.create(base);
  t.equal(NodeInfo.decode(ni.encode()).moniker, 'm');
  t.throws(() => NodeInfo.decode(new Uint8Array(MAX_NODE_INFO_SIZE + 1)), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(Uint8Array.from([0xc1])), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode([1, 2, 3])), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode({ ...base, channels: 'x' })), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode({ __proto__: null, ...base, protocolVersion: { p2p: -1, block: 0, app: 0 } })), {
    code: 'ERR_INVALID_NODE_INFO',
  });
});

t.test('channel versions: the highest common version per channel, as go-ethereum matchProtocols', async (t) => {
  const a = NodeInfo.create({ ...base, channels: Uint8Array.from([1, 2, 3]), channelVersions: [[1, 2], [2], [1, 5, 9]] });
  const b = NodeInfo.create({
    ...base,
    id: 'b'.repeat(40),
    channels: Uint8Array.from([3, 1, 2, 4]),
    channelVersions: [[5, 9, 10], [1], [3], [1]],
  });
  t.same(
    [...matchChannelVersions(a, b)].sort(),
    [
      [1, 1],
      [3, 9],
    ],
    'channel 2 has no common version, 4 is only theirs',
  );
  t.same(
    [...matchChannelVersions(b, a)].sort(),
    [
      [1, 1],
      [3, 9],
    ],
    'both sides agree',
  );
  t.doesNotThrow(() => a.compatibleWith(b), 'one usable channel is enough');
  const onlyInactive = NodeInfo.create({ ...base, id: 'b'.repeat(40), channels: Uint8Array.from([2]), channelVersions: [[3]] });
  t.throws(() => a.compatibleWith(onlyInactive), { code: 'ERR_INCOMPATIBLE_PEER', message: /no common channel version/ });
  t.same(NodeInfo.create(base).channelVersions, [[1], [1]], 'default [1] per channel');
  t.same(NodeInfo.create(base).with({ channels: Uint8Array.from([7]) }).channelVersions, [[1]], 'with() new channels gets defaults');
});

t.test('decode bounds and validates channelVersions from the wire', async (t) => {
  const ni = NodeInfo.create({ ...base, channelVersions: [[1, 2], [3]] });
  t.same(NodeInfo.decode(ni.encode()).channelVersions, [[1, 2], [3]]);
  const raw = {
    protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: 0, app: 0 },
    id: base.id,
    listenAddr: base.listenAddr,
    network: 'net',
    version: '',
    channels: base.channels,
    moniker: 'm',
    other: {},
  };
  t.throws(() => NodeInfo.decode(encode(raw)), { code: 'ERR_INVALID_NODE_INFO', message: /channelVersions/ }, 'missing in p2p 2');
  t.throws(() => NodeInfo.decode(encode({ ...raw, channelVersions: 'x' })), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode({ ...raw, channelVersions: [[1], ['1']] })), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(
    () => NodeInfo.decode(encode({ ...raw, channelVersions: Array.from({ length: 300 }, () => [1]) })),
    { code: 'ERR_INVALID_NODE_INFO' },
    'outer array bounded',
  );
  // a p2p-1 NodeInfo (no channelVersions) decodes, and compatibleWith names the protocol version
  const old = NodeInfo.decode(encode({ ...raw, protocolVersion: { p2p: 1, block: 0, app: 0 } }));
  t.throws(() => NodeInfo.create(base).compatibleWith(old), { code: 'ERR_INCOMPATIBLE_PEER', message: /p2p protocol 1/ });
  const huge = Uint8Array.from({ length: 256 }, (_, i) => i);
  t.throws(
    () =>
      NodeInfo.create({
        ...base,
        channels: huge,
        channelVersions: Array.from({ length: 256 }, () => Array.from({ length: 8 }, (_, i) => 2 ** 31 + i)),
      }),
    { code: 'ERR_INVALID_NODE_INFO', message: /exceeds/ },
  );
});
