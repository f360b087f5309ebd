// NodeInfo.compatibleWith's two permissive rules (as CometBFT): block version 0
// is a wildcard on either side, and a node with no channels accepts anyone.
import t from 'tap';
import { NodeInfo, P2P_PROTOCOL_VERSION } from '../lib/node-info.js';

const base = { id: 'a'.repeat(40), listenAddr: '127.0.0.1:26656', network: 'net', channels: Uint8Array.from([1, 2]), moniker: 'm' };
const withBlock = (block: number, id = 'a') =>
  NodeInfo.create({ ...base, id: id.repeat(40), protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block, app: 0 } });

t.test('block version 0 matches any block version, on either side', async (t) => {
  t.doesNotThrow(() => withBlock(0).compatibleWith(withBlock(11, 'b')), 'ours 0, theirs 11');
  t.doesNotThrow(() => withBlock(11).compatibleWith(withBlock(0, 'b')), 'ours 11, theirs 0');
  t.doesNotThrow(() => withBlock(11).compatibleWith(withBlock(11, 'b')), 'equal versions');
  t.throws(
    () => withBlock(11).compatibleWith(withBlock(12, 'b')),
    { code: 'ERR_INCOMPATIBLE_PEER', message: /block protocol 12/ },
    'two different non-zero versions',
  );
});

t.test('a node with no channels accepts a peer with any channels; one with channels does not accept a channel-less peer', async (t) => {
  const none = NodeInfo.create({ ...base, channels: new Uint8Array(0) });
  const some = NodeInfo.create({ ...base, id: 'b'.repeat(40), channels: Uint8Array.from([7, 9]) });
  t.doesNotThrow(() => none.compatibleWith(some), 'no reactors: anyone is accepted');
  t.doesNotThrow(
    () => none.compatibleWith(NodeInfo.create({ ...base, id: 'c'.repeat(40), channels: new Uint8Array(0) })),
    'even a peer without channels',
  );
  t.throws(
    () => some.compatibleWith(none),
    { code: 'ERR_INCOMPATIBLE_PEER', message: /no common channel/ },
    'the rule is ours only: a node with channels needs a common one',
  );
  // the other checks still apply to a channel-less node
  t.throws(() => none.compatibleWith(NodeInfo.create({ ...base, id: 'd'.repeat(40), network: 'other', channels: Uint8Array.from([7]) })), {
    message: /network/,
  });
});
