/**
 * Issue #14, outcome 3 (fair share): a peer floods unique valid gossip
 * faster than another, live but slow, peer of the node can take it. The
 * node must not drop the honest messages it relays to the slow peer behind
 * the flood: while the slow peer falls behind, the heavy sender is paused
 * (`throttleHeavySenders`), so the slow peer's queue never overflows.
 */
import t from 'tap';
import { decode } from '@msgpack/msgpack';
import { GossipReactor, GOSSIP_CHANNEL } from '../../reactors/examples/gossip/reactor.js';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { peerAdded } from '../helpers/switches.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { NETWORK, startTarget } from '../helpers/target.js';
import { within, sleep } from '../helpers/time.js';

const FLOOD_MS = 4000;
const HONEST = 40;

t.test('a flood does not crowd honest messages out of a slow peer’s queue', async (t) => {
  const target = await startTarget(t);
  const mk = async (moniker: string) => {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      nodeInfo: { network: NETWORK, moniker },
      config: { listenAddress: '127.0.0.1:0' },
    });
    const g = sw.addReactor(new GossipReactor());
    await sw.start();
    t.teardown(() => sw.stop());
    const added = peerAdded(target.sw, sw.nodeKey.id);
    await sw.dialPeerWithAddress(target.sw.listenAddr);
    await added;
    return { sw, g };
  };
  const honest = await mk('honest');
  const flooder = await mk('flooder');

  // the slow peer: reads everything, but grants credit at about 400 KB/s
  const slow = await RawPeer.connect(t, target.port);
  await slow.join();
  const grants = setInterval(() => slow.sendPackets({ type: 'window', channelId: GOSSIP_CHANNEL, increment: 8192 }), 20);
  t.teardown(() => clearInterval(grants));
  for (let i = 0; i < 200 && !target.sw.peers.has(slow.key.id); i++) await sleep(10);

  const filler = 'x'.repeat(1000);
  const started = performance.now();
  let flooded = 0;
  const flood = (async () => {
    while (performance.now() - started < FLOOD_MS) {
      for (let i = 0; i < 100; i++) flooder.g.publish(`${++flooded}${filler}`);
      await new Promise((r) => setImmediate(r));
    }
  })();
  const texts = (async () => {
    for (let i = 0; i < HONEST; i++) {
      honest.g.publish(`honest ${i}`);
      await sleep(FLOOD_MS / HONEST);
    }
  })();
  await Promise.all([flood, texts]);
  const heard = () => {
    const got = new Set<string>();
    let parts: Buffer[] = []; // a message may come in several packets when credit is short
    for (const p of slow.packets) {
      if (p.type !== 'msg' || p.channelId !== GOSSIP_CHANNEL) continue;
      parts.push(Buffer.from(p.data));
      if (!p.eof) continue;
      const m = decode(Buffer.concat(parts)) as { text: string };
      parts = [];
      if (m.text.startsWith('honest ')) got.add(m.text);
    }
    return got.size;
  };
  // what is queued for the slow peer keeps arriving at its pace
  await within(
    (async () => {
      while (heard() < HONEST && target.sw.peers.has(slow.key.id)) await sleep(50);
    })(),
    60_000,
    'the honest messages reach the slow peer',
  ).catch(() => {});
  t.comment(`flooded ${flooded} messages; the slow peer heard ${heard()}/${HONEST} honest ones`);
  t.ok(target.sw.peers.has(slow.key.id), 'the slow peer is still connected (it grants credit)');
  t.equal(heard(), HONEST, 'every honest message reached the slow peer');
});
