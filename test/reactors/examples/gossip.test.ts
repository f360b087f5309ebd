// The gossip demo (the testnet's reactor): a node never delivers a message of
// its own origin — not after a restart, when its peers' history still holds
// its earlier greeting, and not when a peer relays one back — and the
// history a node sends a new peer leaves out that peer's own messages. A
// restarted node's new messages get new ids, so its peers do not drop them
// as already seen.
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { NodeKey } from '../../../lib/node-key.js';
import type { Peer } from '../../../lib/peer.js';
import { Switch } from '../../../lib/switch.js';
import { GOSSIP_CHANNEL, GossipReactor, decodeGossip, type GossipMessage } from '../../../reactors/examples/gossip/reactor.js';
import { connect, peerRemoved, startSwitch } from '../../helpers/switches.js';
import type { Teardown } from '../../helpers/teardown.js';

/** A started Switch with a gossip reactor that records what it delivers (from a peer: `from` set). */
async function gossipNode(t: Teardown, moniker: string, nodeKey = NodeKey.generate()) {
  const sw = new Switch({ nodeKey, nodeInfo: { network: 'gossip', moniker }, config: { listenAddress: '127.0.0.1:0' } });
  const gossip = sw.addReactor(new GossipReactor());
  await sw.start();
  t.teardown(() => sw.stop());
  const delivered: { msg: GossipMessage; from: string | undefined }[] = [];
  gossip.events.on('message', (msg, from) => delivered.push({ msg, from: from?.id }));
  /** Resolves when a message with `text` has been delivered (rejects after 10 s, so a miss reads as a failure, not a hang). */
  const heard = (text: string) =>
    new Promise<GossipMessage>((resolve, reject) => {
      const found = delivered.find((d) => d.msg.text === text);
      if (found) return resolve(found.msg);
      const timer = setTimeout(() => reject(new Error(`${moniker} did not hear ${JSON.stringify(text)} within 10 s`)), 10_000);
      const on = (m: GossipMessage) => {
        if (m.text !== text) return;
        clearTimeout(timer);
        gossip.events.off('message', on);
        resolve(m);
      };
      gossip.events.on('message', on);
    });
  return { sw, gossip, delivered, heard };
}

t.test('after a restart a node is not shown its own earlier greeting, and its new one reaches the others', async (t) => {
  const key = NodeKey.generate();
  const a1 = await gossipNode(t, 'a', key);
  const b = await gossipNode(t, 'b');
  await connect(a1.sw, b.sw);
  const first = a1.gossip.publish('hello from a');
  await b.heard('hello from a');
  const gone = peerRemoved(b.sw, key.id);
  await a1.sw.stop();
  await gone;

  const a2 = await gossipNode(t, 'a', key); // same key, fresh reactor: the restarted node
  await connect(a2.sw, b.sw);
  b.gossip.publish('marker'); // on the same channel after b's history to a2: once a2 has it, it has had the history
  await a2.heard('marker');
  t.same(
    a2.delivered.map((d) => d.msg.text),
    ['marker'],
    "the history from b did not bring back a's old greeting",
  );

  const second = a2.gossip.publish('hello again');
  t.not(second.id, first.id, 'a new run does not reuse the ids of the last');
  await b.heard('hello again');
  t.same(
    b.delivered.filter((d) => d.msg.origin === key.id).map((d) => d.msg.text),
    ['hello from a', 'hello again'],
    'b shows both greetings of a, once each',
  );
});

t.test('a message of our own origin relayed back by a peer is neither delivered nor relayed', async (t) => {
  const a = await gossipNode(t, 'a');
  const { sw: watcher, reactor } = await startSwitch(t, { network: 'gossip', channels: [{ id: GOSSIP_CHANNEL, sendQueueCapacity: 16 }] });
  await connect(watcher, a.sw);
  const own = a.sw.nodeKey.id;
  const other = 'e'.repeat(40);
  const src = { id: 'f'.repeat(40) } as Peer;
  a.gossip.receive({
    channelId: GOSSIP_CHANNEL,
    src,
    message: encode({ id: `${own}:7`, origin: own, moniker: 'a', text: 'mine, from a past run', hops: 3 }),
  });
  a.gossip.receive({
    channelId: GOSSIP_CHANNEL,
    src,
    message: encode({ id: `${other}:1`, origin: other, moniker: 'e', text: 'news', hops: 0 }),
  });
  await reactor.receivedCount(1); // the relay of "news": it went out after anything a relayed before it
  t.same(
    a.delivered.map((d) => d.msg.text),
    ['news'],
    "only the other node's message is delivered",
  );
  t.same(
    reactor.received.map((r) => decodeGossip(r.msg).text),
    ['news'],
    'and only it is relayed',
  );
  a.gossip.receive({
    channelId: GOSSIP_CHANNEL,
    src,
    message: encode({ id: `${own}:7`, origin: own, moniker: 'a', text: 'mine, from a past run', hops: 4 }),
  });
  t.equal(a.delivered.length, 1, 'nor the second time');
});

t.test("the history sent to a new peer leaves out that peer's own messages", async (t) => {
  const b = await gossipNode(t, 'b');
  const key = NodeKey.generate();
  const other = 'e'.repeat(40);
  const src = { id: 'f'.repeat(40) } as Peer;
  b.gossip.receive({
    channelId: GOSSIP_CHANNEL,
    src,
    message: encode({ id: `${key.id}:1`, origin: key.id, moniker: 'late', text: "late's old greeting", hops: 0 }),
  });
  b.gossip.receive({
    channelId: GOSSIP_CHANNEL,
    src,
    message: encode({ id: `${other}:1`, origin: other, moniker: 'e', text: 'news', hops: 0 }),
  });
  const { sw: late, reactor } = await startSwitch(t, { key, network: 'gossip', channels: [{ id: GOSSIP_CHANNEL, sendQueueCapacity: 16 }] });
  await connect(late, b.sw);
  b.gossip.publish('marker');
  await reactor.receivedCount(2);
  t.same(
    reactor.received.map((r) => decodeGossip(r.msg).text),
    ['news', 'marker'],
    'late is sent the news and the marker, not its own greeting',
  );
});
