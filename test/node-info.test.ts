import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { NodeInfo, MAX_NODE_INFO_SIZE } from '../lib/node-info.js';

const base = { id: 'a'.repeat(40), listenAddr: '127.0.0.1:26656', network: 'net', channels: Uint8Array.from([1, 2]), moniker: 'm' };

t.test('compatibleWith: same network, p2p version, block version, and a common channel', async (t) => {
  const a = NodeInfo.create(base);
  t.doesNotThrow(() => a.compatibleWith(NodeInfo.create({ ...base, id: 'b'.repeat(40), channels: Uint8Array.from([2, 9]) })));
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, network: 'other' })), { code: 'ERR_INCOMPATIBLE_PEER', message: /network/ });
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, channels: Uint8Array.from([7]) })), { code: 'ERR_INCOMPATIBLE_PEER', message: /no common channel/ });
  t.throws(() => a.compatibleWith(NodeInfo.create({ ...base, protocolVersion: { p2p: 2, block: 0, app: 0 } })), { code: 'ERR_INCOMPATIBLE_PEER', message: /p2p protocol/ });
  const b1 = NodeInfo.create({ ...base, protocolVersion: { p2p: 1, block: 11, app: 0 } });
  t.throws(() => b1.compatibleWith(NodeInfo.create({ ...base, protocolVersion: { p2p: 1, block: 12, app: 0 } })), { message: /block protocol/ });
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
    [{ other: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, /other/],
  ];
  for (const [f, why] of cases) t.throws(() => NodeInfo.create({ ...base, ...f } as never), { code: 'ERR_INVALID_NODE_INFO', message: why });
});

t.test('decode bounds and validates what comes off the wire', async (t) => {
  const ni = NodeInfo.create(base);
  t.equal(NodeInfo.decode(ni.encode()).moniker, 'm');
  t.throws(() => NodeInfo.decode(new Uint8Array(MAX_NODE_INFO_SIZE + 1)), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(Uint8Array.from([0xc1])), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode([1, 2, 3])), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode({ ...base, channels: 'x' })), { code: 'ERR_INVALID_NODE_INFO' });
  t.throws(() => NodeInfo.decode(encode({ __proto__: null, ...base, protocolVersion: { p2p: -1, block: 0, app: 0 } })), { code: 'ERR_INVALID_NODE_INFO' });
});
