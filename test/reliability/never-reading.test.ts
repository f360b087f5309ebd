/**
 * Issue #14, row 2: one peer completes the handshake, then never reads and
 * never grants flow-control credit; a second peer floods unique valid
 * gossip (1 KiB messages, as fast as the node takes them); an honest pair
 * gossips through the node meanwhile. The node's memory for the stuck peer
 * stays bounded (blocked senders ≤ `maxSendWaiters`, held bytes ≤
 * `maxSendBufferBytes`, heap growth ≤ 64 MB), the stuck peer is gone with
 * `ERR_SEND_STALL` within its stall timeout, and no honest message is lost.
 */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GossipReactor, GOSSIP_CHANNEL } from '../../reactors/examples/gossip/reactor.js';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { DEFAULT_MCONN_CONFIG } from '../../lib/conn/mconn-config.js';
import type { Channel } from '../../lib/conn/channel.js';
import { peerAdded } from '../helpers/switches.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { connInternals } from '../helpers/conn-internals.js';
import { ECHO_CHANNEL } from '../helpers/echo-reactor.js';
import { NETWORK, startTarget } from '../helpers/target.js';
import { within, sleep } from '../helpers/time.js';
import type { Teardown } from '../helpers/teardown.js';

const STALL_MS = 3000;
const FLOOD_MS = 6000;
const HONEST = 100;

// a forced GC, so that heap samples measure what is retained, not garbage not yet collected
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const retainedHeap = (): number => (gc(), process.memoryUsage().heapUsed);

async function gossiper(t: Teardown, moniker: string, target: { sw: Switch }): Promise<{ sw: Switch; gossip: GossipReactor }> {
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: NETWORK, moniker }, config: { listenAddress: '127.0.0.1:0' } });
  const gossip = sw.addReactor(new GossipReactor());
  await sw.start();
  t.teardown(() => sw.stop());
  const added = peerAdded(target.sw, sw.nodeKey.id);
  await sw.dialPeerWithAddress(target.sw.listenAddr);
  await added;
  return { sw, gossip };
}

t.test('a never-reading peer plus a gossip flood: bounded memory, the stuck peer is dropped, no honest message lost', async (t) => {
  const target = await startTarget(t, { mconn: { sendStallTimeoutMs: STALL_MS } });
  const a = await gossiper(t, 'honest-a', target);
  const b = await gossiper(t, 'honest-b', target);
  const flooder = await gossiper(t, 'flooder', target);

  // the stuck peer: handshake, then never reads (so never grants credit) and never writes
  const stuck = await RawPeer.connect(t, target.port);
  await stuck.join();
  stuck.sock.pause();
  const stuckPeer = await within(
    (async () => {
      for (let i = 0; i < 200; i++) {
        const p = target.sw.peers.get(stuck.key.id);
        if (p) return p;
        await sleep(10);
      }
      throw new Error('stuck peer not added');
    })(),
    3000,
    'stuck peer added',
  );
  const stuckCh = (connInternals(stuckPeer).mconn as unknown as { byId: Channel[] }).byId[GOSSIP_CHANNEL]!;

  const received = new Set<string>();
  b.gossip.events.on('message', (m) => {
    if (m.origin === a.sw.nodeKey.id) received.add(m.text);
  });
  const heapBefore = retainedHeap();
  let sampledMid = false;
  let maxWaiters = 0;
  let maxHeld = 0;
  let maxHeap = heapBefore;
  let flooded = 0;
  const filler = 'x'.repeat(1000);
  const started = performance.now();
  let stuckGoneAt = 0;
  const stuckGone = target.log
    .wait((r) => r.kind === 'peer' && r.who === stuck.key.id, STALL_MS * 10, 'stuck peer removed')
    .then((r) => {
      stuckGoneAt = performance.now();
      return r;
    });
  // the flood: a batch of unique messages per event-loop turn, for FLOOD_MS
  const flood = (async () => {
    while (performance.now() - started < FLOOD_MS) {
      for (let i = 0; i < 200; i++) flooder.gossip.publish(`${++flooded}${filler}`);
      maxWaiters = Math.max(maxWaiters, stuckPeer.isStopped ? 0 : stuckCh.waitingSenders);
      maxHeld = Math.max(maxHeld, stuckPeer.isStopped ? 0 : connInternals(stuckPeer).mconn.sendBufferedBytes);
      if (!sampledMid && performance.now() - started > STALL_MS * 0.8) {
        sampledMid = true; // the stuck peer still holds whatever it can make us hold
        maxHeap = Math.max(maxHeap, retainedHeap());
      }
      await new Promise((r) => setImmediate(r));
    }
  })();
  // honest gossip through the node during the flood
  const honest = (async () => {
    for (let i = 0; i < HONEST; i++) {
      a.gossip.publish(`honest ${i}`);
      await sleep(FLOOD_MS / HONEST / 2);
    }
  })();
  await Promise.all([flood, honest]);
  maxHeap = Math.max(maxHeap, retainedHeap());
  const gone = await stuckGone;
  // the last honest messages may still be on their way
  for (let i = 0; i < 500 && received.size < HONEST; i++) await sleep(10);

  const growthMb = (maxHeap - heapBefore) / 2 ** 20;
  t.comment(
    `flooded ${flooded} messages; stuck peer gone after ${(stuckGoneAt - started).toFixed(0)} ms (${gone.code}); heap growth ${growthMb.toFixed(1)} MB; max waiters ${maxWaiters}, max held ${maxHeld} B`,
  );
  t.equal(gone.code, 'ERR_SEND_STALL', 'the stuck peer is disconnected with ERR_SEND_STALL');
  t.ok(stuckGoneAt - started < STALL_MS * 3, 'within its stall timeout (plus the time to fill its window)');
  t.ok(
    maxWaiters <= DEFAULT_MCONN_CONFIG.maxSendWaiters,
    `blocked senders for the stuck peer stay bounded (${maxWaiters} ≤ ${DEFAULT_MCONN_CONFIG.maxSendWaiters})`,
  );
  t.ok(growthMb <= 64, `heap grows by at most 64 MB (${growthMb.toFixed(1)} MB)`);
  t.equal(received.size, HONEST, `every honest message arrived (${received.size}/${HONEST})`);
  t.ok(
    target.sw.peers.has(flooder.sw.nodeKey.id) || target.log.all.some((r) => r.who === flooder.sw.nodeKey.id),
    'the flooder is still connected or was removed with a reason',
  );
});

t.test('blocked send() waiters are bounded per channel: past maxSendWaiters send resolves false at once', async (t) => {
  const target = await startTarget(t, { mconn: { maxSendWaiters: 4, sendStallTimeoutMs: 0 } });
  const stuck = await RawPeer.connect(t, target.port);
  await stuck.join();
  stuck.sock.pause();
  let peer = target.sw.peers.get(stuck.key.id);
  for (let i = 0; i < 200 && !peer; i++) {
    await sleep(10);
    peer = target.sw.peers.get(stuck.key.id);
  }
  t.ok(peer, 'the stuck peer is connected');
  const msg = Buffer.alloc(100);
  // fill the gossip queue (capacity 256), then 4 waiters, then one more
  const accepted: Promise<boolean>[] = [];
  for (let i = 0; i < 256 + 4; i++) accepted.push(peer!.send(GOSSIP_CHANNEL, msg, { timeoutMs: 60_000 }));
  const started = performance.now();
  const extra = await peer!.send(GOSSIP_CHANNEL, msg, { timeoutMs: 60_000 });
  t.equal(extra, false, 'the sender past the bound gets false');
  t.ok(performance.now() - started < 1000, 'at once, not after its timeout');
  target.sw.stopPeerForError(peer!, new Error('test over'));
  t.ok((await Promise.all(accepted)).length === 260, 'the others settle when the peer stops');
});

t.test('a peer that reads but grants credit only where we have nothing to send is still dropped with ERR_SEND_STALL', async (t) => {
  const target = await startTarget(t, { mconn: { sendStallTimeoutMs: STALL_MS } });
  const stuck = await RawPeer.connect(t, target.port);
  stuck.autoPong = true;
  const added = peerAdded(target.sw, stuck.key.id);
  await stuck.join();
  const peer = await added;
  // more than the initial window on the gossip channel, which the peer never opens further
  let queued = 0;
  for (let i = 0; i < 100; i++) if (peer.trySend(GOSSIP_CHANNEL, Buffer.alloc(1024, i))) queued++;
  t.equal(queued, 100, '100 KiB queued for the peer');
  // window updates on the echo channel, where the target has nothing queued: no progress for the stalled send
  const granting = setInterval(() => stuck.sendPackets({ type: 'window', channelId: ECHO_CHANNEL, increment: 1 }), STALL_MS / 10);
  t.teardown(() => clearInterval(granting));
  const gone = await target.log.wait((r) => r.kind === 'peer' && r.who === stuck.key.id, STALL_MS * 10, 'stalling peer removed');
  t.equal(gone.code, 'ERR_SEND_STALL', 'disconnected for the stall, not kept alive by credit it grants elsewhere');
});
