// Who the Switch admits: the duplicate-IP rule (per IP), connection and peer filters (their
// refusals name the filter and the remote), the inbound limit, self connections, duplicates of a
// connected peer, connections that arrive while the Switch stops or while the same peer is still
// being removed, and a peer that a reactor stops while it is being added. Over the in-memory
// transport, where each node has its own IP.
import t from 'tap';
import { once } from 'node:events';
import type { SwitchboardError } from '../lib/errors.js';
import { P2PMetrics } from '../lib/metrics.js';
import { NodeInfo } from '../lib/node-info.js';
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import type { RemoteEndpoint } from '../lib/transport.js';
import { peerAdded, peerRemoved } from '../lib/testing.js';
import { MemoryNetwork, type MemoryTransport } from '../lib/transport-memory.js';
import { MultiplexTransport } from '../lib/transport-multiplex.js';
import type { Switch } from '../lib/switch.js';
import { memSwitch } from './helpers/mem-switch.js';
import { RecordingReactor } from './helpers/switches.js';
import { deferred } from './helpers/net.js';
import type { Teardown } from './helpers/teardown.js';

const WAIT = { timeoutMs: 5000 };

/** The next refusal `sw` reports (`peer:dial-failed`): [remote, error]. */
function nextRefusal(sw: Switch): Promise<[string, SwitchboardError]> {
  return once(sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
}

/** Dial `to` from `transport`'s host by hand, as the node `key` (a connection the Switch on that host knows nothing of). */
async function dialAs(t: Teardown, transport: MemoryTransport, key: NodeKey, to: Switch): Promise<void> {
  const info = NodeInfo.create({
    id: key.id,
    listenAddr: `${transport.host}:26656`,
    network: 'test',
    channels: Uint8Array.from([0x20]),
    moniker: 'by-hand',
  });
  const mt = new MultiplexTransport(
    { transport, nodeKey: key, nodeInfo: () => info },
    () => {},
    () => {},
  );
  const up = await mt.dial(to.listenAddr).catch(() => undefined);
  t.teardown(() => up?.conn.destroy());
}

t.test('allowDuplicateIp false: peers from two IPs are admitted, a second node from one of them is refused', async (t) => {
  const net = new MemoryNetwork();
  const s = await memSwitch(t, net, { config: { allowDuplicateIp: false } });
  const p1 = await memSwitch(t, net, { host: '10.3.0.2' });
  const p2 = await memSwitch(t, net, { host: '10.3.0.3' });
  for (const p of [p1, p2]) {
    const added = peerAdded(s.sw, p.sw.nodeKey.id, WAIT);
    await p.sw.dialPeerWithAddress(s.sw.listenAddr);
    await added;
  }
  t.equal(s.sw.peers.size, 2, 'one peer from each IP');
  const refused = nextRefusal(s.sw);
  await dialAs(t, p1.transport, NodeKey.generate(), s.sw);
  const [, err] = await refused;
  t.match(err, { code: 'ERR_DUPLICATE_IP', message: 'a peer from 10.3.0.2 is already connected' });
  t.equal(s.sw.peers.size, 2);
});

t.test('connection and peer filters see the remote, and their refusals name the filter', async (t) => {
  const net = new MemoryNetwork();
  const seenConn: RemoteEndpoint[] = [];
  const seenPeer: [string, RemoteEndpoint][] = [];
  const refusedId = NodeKey.generate();
  const s = await memSwitch(t, net, {
    connFilters: [
      (remote) => {
        seenConn.push(remote);
        if (remote.host === '10.4.0.9') throw new Error('not from there');
      },
    ],
    peerFilters: [
      (info, remote) => {
        seenPeer.push([info.id, remote]);
        if (info.id === refusedId.id) throw new Error('not you');
      },
    ],
  });
  const bad = await memSwitch(t, net, { host: '10.4.0.9' });
  let refused = nextRefusal(s.sw);
  await bad.sw.dialPeerWithAddress(s.sw.listenAddr).catch(() => {});
  let [, err] = await refused;
  t.equal(err.code, 'ERR_FILTER');
  t.match(err.message, /^connection filter for 10\.4\.0\.9:\d+ refused: not from there$/);
  t.match(seenConn, [{ host: '10.4.0.9', port: Number }]);
  const other = await memSwitch(t, net, { host: '10.4.0.10', key: refusedId });
  refused = nextRefusal(s.sw);
  await other.sw.dialPeerWithAddress(s.sw.listenAddr).catch(() => {});
  [, err] = await refused;
  t.match(err, { code: 'ERR_FILTER', message: `peer filter for ${refusedId.id} refused: not you` });
  t.match(seenPeer, [[refusedId.id, { host: '10.4.0.10', port: Number }]]);
  t.equal(s.sw.peers.size, 0);
});

t.test('an inbound peer that a reactor fails on with a plain Error is refused; metrics count it as ERR_REJECTED', async (t) => {
  const boom = new Error('cannot init');
  class FailingInit extends RecordingReactor {
    override initPeer(): void {
      throw boom;
    }
  }
  const net = new MemoryNetwork();
  const metrics = new P2PMetrics();
  const s = await memSwitch(t, net, { metrics, reactors: [new FailingInit([{ id: 0x21 }], 'failing')] });
  const b = await memSwitch(t, net);
  const refused = nextRefusal(s.sw);
  await b.sw.dialPeerWithAddress(s.sw.listenAddr).catch(() => {});
  const [remote, err] = await refused;
  t.equal(err, boom);
  t.equal(remote, `${b.sw.nodeKey.id}@${b.transport.host}:${remote.split(':').at(-1)}`);
  t.match(await metrics.registry.metrics(), /switchboard_p2p_inbound_refused_total\{reason="ERR_REJECTED"\} 1/);
});

t.test('the inbound limit: a newcomer is refused with the limit named when no inbound peer may be replaced', async (t) => {
  const net = new MemoryNetwork();
  const s = await memSwitch(t, net, { config: { maxNumInboundPeers: 1, inboundEvictIdleMs: 0 } });
  const [b, c] = [await memSwitch(t, net), await memSwitch(t, net)];
  const bIn = peerAdded(s.sw, b.sw.nodeKey.id, WAIT);
  await b.sw.dialPeerWithAddress(s.sw.listenAddr);
  await bIn;
  const refused = nextRefusal(s.sw);
  await c.sw.dialPeerWithAddress(s.sw.listenAddr).catch(() => {});
  t.match((await refused)[1], { code: 'ERR_TOO_MANY_PEERS', message: 'inbound limit 1 reached' });
});

t.test('a connection from our own node ID is refused as a self connection', async (t) => {
  const net = new MemoryNetwork();
  const key = NodeKey.generate();
  const s = await memSwitch(t, net, { key });
  const elsewhere = net.transport('10.6.0.2');
  const refused = nextRefusal(s.sw);
  await dialAs(t, elsewhere, key, s.sw);
  t.match((await refused)[1], { code: 'ERR_SELF_CONNECTION', message: 'connected to ourselves' });
  t.equal(s.sw.peers.size, 0);
});

t.test('a second connection dialed by the same connected node is refused as a duplicate', async (t) => {
  const net = new MemoryNetwork();
  const s = await memSwitch(t, net);
  const b = await memSwitch(t, net);
  const bIn = peerAdded(s.sw, b.sw.nodeKey.id, WAIT);
  await b.sw.dialPeerWithAddress(s.sw.listenAddr);
  const first = await bIn;
  const refused = nextRefusal(s.sw);
  await dialAs(t, net.transport('10.6.0.3'), b.sw.nodeKey, s.sw); // b's identity again, dialed by it again
  t.match((await refused)[1], { code: 'ERR_DUPLICATE_PEER', message: `already connected to ${b.sw.nodeKey.id}` });
  t.equal(s.sw.peers.get(b.sw.nodeKey.id), first, 'the first connection stays');
});

t.test('a connection that waits for the reactors to start is refused when the Switch stops instead', async (t) => {
  const net = new MemoryNetwork();
  const gate = deferred();
  class SlowStart extends RecordingReactor {
    override async start(): Promise<void> {
      await gate.promise;
    }
  }
  const s = await memSwitch(t, net, { noStart: true, reactors: [new SlowStart([{ id: 0x21 }], 'slow')] });
  t.teardown(() => gate.resolve());
  const starting = s.sw.start().catch((e: unknown) => e);
  const b = await memSwitch(t, net);
  const refused = nextRefusal(s.sw);
  let added = 0;
  s.sw.on('peer:add', () => added++);
  await b.sw.dialPeerWithAddress(s.sw.listenAddr);
  // s's side of the handshake ends just after b's (no event for it: a bounded poll); s then holds the peer for its reactors
  for (let i = 0; i < 1000 && s.sw.handshakingCount > 0; i++) await new Promise((r) => setTimeout(r, 1));
  t.equal(s.sw.handshakingCount, 0);
  await s.sw.stop();
  t.match((await refused)[1], { code: 'ERR_SWITCH_STOPPED', message: 'switch is not running' });
  t.equal(added, 0);
  t.equal(s.sw.peers.size, 0);
  gate.resolve();
  await starting;
});

t.test('a peer that reconnects while its removal is still running is added only once the removal has finished', async (t) => {
  const net = new MemoryNetwork();
  const release = deferred();
  const log: string[] = [];
  class SlowRemove extends RecordingReactor {
    override initPeer(p: Peer): void {
      log.push('init');
      super.initPeer(p);
    }
    override async removePeer(): Promise<void> {
      log.push('remove-start');
      await release.promise;
      log.push('remove-done');
    }
  }
  const s = await memSwitch(t, net, { reactors: [new SlowRemove([{ id: 0x21 }], 'slow')] });
  t.teardown(() => release.resolve());
  const b = await memSwitch(t, net);
  await s.sw.dialPeerWithAddress(b.sw.listenAddr);
  const bGone = peerRemoved(b.sw, s.sw.nodeKey.id, WAIT);
  s.sw.stopPeerForError(s.sw.peers.get(b.sw.nodeKey.id)!, new Error('go away'));
  await bGone;
  const atB = peerAdded(b.sw, s.sw.nodeKey.id, WAIT);
  const dial = s.sw.dialPeerWithAddress(b.sw.listenAddr);
  await atB; // the handshake is done: s now waits for the removal
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  t.same(log, ['init', 'remove-start'], 'not added while removePeer runs');
  t.equal(s.sw.peers.has(b.sw.nodeKey.id), false);
  release.resolve();
  await dial;
  t.same(log, ['init', 'remove-start', 'remove-done', 'init']);
});

t.test('a peer that a reactor stops in addPeer is not started nor announced', async (t) => {
  class Refusing extends RecordingReactor {
    override addPeer(p: Peer): void {
      super.addPeer(p);
      this.switch.stopPeerForError(p, new Error('not today'));
    }
  }
  const net = new MemoryNetwork();
  const s = await memSwitch(t, net, { reactors: [new Refusing([{ id: 0x21 }], 'refusing')] });
  const b = await memSwitch(t, net);
  let announced = 0;
  s.sw.on('peer:add', () => announced++);
  const removed = peerRemoved(s.sw, b.sw.nodeKey.id, WAIT);
  const peer = await s.sw.dialPeerWithAddress(b.sw.listenAddr);
  t.match(await removed, { code: 'ERR_PEER_ERROR' });
  t.equal(announced, 0, 'no peer:add');
  t.equal(peer.isStopped, true);
  t.equal(s.sw.peers.size, 0);
});

t.test('a dial that finds the node connected inbound meanwhile: the connection dialed by the lower ID survives', async (t) => {
  const [k1, k2] = [NodeKey.generate(), NodeKey.generate()];
  const [low, high] = k1.id < k2.id ? [k1, k2] : [k2, k1];
  for (const [ours, theirs, outboundWins] of [
    [low, high, true],
    [high, low, false],
  ] as const) {
    const net = new MemoryNetwork();
    const gate = deferred();
    // only our outbound dial (to the listen port) waits in the peer filter, not the inbound connection
    const a = await memSwitch(t, net, { key: ours, peerFilters: [(_info, remote) => (remote.port === 26656 ? gate.promise : undefined)] });
    const b = await memSwitch(t, net, { key: theirs });
    const dial = a.sw.dialPeerWithAddress(b.sw.listenAddr).then(
      (p) => p,
      (e: SwitchboardError) => e,
    );
    const inbound = peerAdded(a.sw, theirs.id, WAIT);
    await dialAs(t, net.transport(), theirs, a.sw); // the same node, dialing us meanwhile
    const first = await inbound;
    t.equal(first.isOutbound(), false);
    const removed = outboundWins ? peerRemoved(a.sw, theirs.id, WAIT) : undefined;
    gate.resolve();
    const result = await dial;
    if (outboundWins) {
      t.match(await removed, { code: 'ERR_PEER_STOPPED', reason: 'replaced' }, 'our ID is lower: the inbound one is replaced');
      t.equal(a.sw.peers.get(theirs.id), result);
      t.equal((result as Peer).isOutbound(), true);
    } else {
      t.match(
        result,
        { code: 'ERR_DUPLICATE_PEER', message: `already connected to ${theirs.id}` },
        'their ID is lower: our dial is refused',
      );
      t.equal(a.sw.peers.get(theirs.id), first);
    }
  }
});
