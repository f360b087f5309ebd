/**
 * Found by the churn soak: the gossip reactor sends its history to a new
 * peer with one more hop; a remembered message that had already travelled
 * MAX_HOPS went out with MAX_HOPS + 1, which the (honest) receiver refuses
 * as malformed — so it disconnected the sender with ERR_MALFORMED_PACKET.
 */
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { NodeKey } from '../../lib/node-key.js';
import type { Peer } from '../../lib/peer.js';
import { Switch } from '../../lib/switch.js';
import { GOSSIP_CHANNEL, GossipReactor, MAX_HOPS } from '../../reactors/examples/gossip/reactor.js';
import { RefusalLog } from '../helpers/refusals.js';
import { within } from '../helpers/time.js';
import type { Teardown } from '../helpers/teardown.js';

async function node(t: Teardown) {
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'g' }, config: { listenAddress: '127.0.0.1:0' } });
  const gossip = sw.addReactor(new GossipReactor());
  const log = new RefusalLog(sw);
  await sw.start();
  t.teardown(() => sw.stop());
  return { sw, gossip, log };
}

t.test('a late joiner is not sent messages past MAX_HOPS, and stays connected', async (t) => {
  const a = await node(t);
  const b = await node(t);
  const origin = 'e'.repeat(40);
  const far = { id: origin, moniker: 'far', text: 'went a long way', hops: MAX_HOPS };
  const near = { id: `${origin}:2`, origin, moniker: 'far', text: 'nearby', hops: 1 };
  const fakeSrc = { id: 'f'.repeat(40) } as Peer;
  a.gossip.receive({ channelId: GOSSIP_CHANNEL, src: fakeSrc, message: encode({ ...far, id: `${origin}:1`, origin }) });
  a.gossip.receive({ channelId: GOSSIP_CHANNEL, src: fakeSrc, message: encode(near) });
  t.equal(a.gossip.history().length, 2, 'A remembers both');

  const marker = new Promise<void>((r) => b.gossip.events.on('message', (m) => m.text === 'marker' && r()));
  const added = new Promise<void>((r) => a.sw.on('peer:add', () => r()));
  await b.sw.dialPeerWithAddress(a.sw.listenAddr);
  await added;
  a.gossip.publish('marker'); // same channel, after the history: once B has it, B has had everything A sent before
  await within(marker, 3000, 'B hears the marker');
  t.same(
    b.gossip.history().map((m) => m.text),
    ['nearby', 'marker'],
    'B caught up on the message that may still travel, not the one at MAX_HOPS',
  );
  t.same(
    b.log.all.map((r) => r.code),
    [],
    'B refused nothing from A',
  );
  t.ok(b.sw.peers.has(a.sw.nodeKey.id), 'and is still connected to it');
});
