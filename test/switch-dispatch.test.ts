// How the Switch hands a peer's messages to its reactors: only on channels with a common version,
// through the reactor's message filter, with the reactor's backpressure (a Promise from `receive`
// pauses that channel), and, while the node is congested, with the fair share that pauses a
// heavy sender (issue #14). A RawPeer sends its packets in one write, so the order in which the
// Switch delivers them (or holds them) is exact; performance.now is stepped by hand.
import t from 'tap';
import type { Packet } from '../lib/conn/packet.js';
import type { SwitchboardError } from '../lib/errors.js';
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import type { Envelope } from '../lib/reactor.js';
import { Switch } from '../lib/switch.js';
import { peerAdded, peerRemoved } from '../lib/testing.js';
import type { P2PConfigInput } from '../lib/config.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { RawPeer } from './helpers/raw-peer.js';
import { NETWORK } from './helpers/target.js';
import { memSwitch } from './helpers/mem-switch.js';
import { RecordingReactor } from './helpers/switches.js';
import { deferred } from './helpers/net.js';
import { sleep, steppedClock, within } from './helpers/time.js';
import type { Teardown } from './helpers/teardown.js';

const WAIT = { timeoutMs: 5000 };
const CHANNELS = Uint8Array.from([0x20, 0x21, 0x22]);

/** A started Switch on 127.0.0.1 (network NETWORK) with `reactor`, stopped at teardown. */
async function target(t: Teardown, reactor: RecordingReactor, config: P2PConfigInput = {}): Promise<Switch> {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK },
    config: { listenAddress: '127.0.0.1:0', ...config },
  });
  sw.addReactor(reactor);
  await sw.start();
  t.teardown(() => sw.stop());
  return sw;
}

/** A RawPeer joined to `sw` (with channels 0x20..0x22 unless `versions` says otherwise), once `sw` has added it. */
async function rawPeer(t: Teardown, sw: Switch, channelVersions?: number[][]): Promise<{ raw: RawPeer; peer: Peer }> {
  const raw = await RawPeer.connect(t, sw.listenAddr.port);
  const added = peerAdded(sw, raw.key.id, WAIT);
  await raw.secretHandshake();
  await raw.exchangeNodeInfo(raw.nodeInfo({ channels: CHANNELS, channelVersions }));
  return { raw, peer: await added };
}

const msg = (channelId: number, text: string): Packet => ({ type: 'msg', channelId, eof: true, data: Buffer.from(text) });

/** The texts `reactor` received on `ch`. */
const texts = (reactor: RecordingReactor, ch: number) => reactor.received.filter((r) => r.ch === ch).map((r) => r.msg.toString());

/** Resolves once `reactor` has received a message on `ch`. */
async function receivedOn(reactor: RecordingReactor, ch: number): Promise<void> {
  for (let n = 1; !reactor.received.some((r) => r.ch === ch); n++) await within(reactor.receivedCount(n), 5000, `a message on ${ch}`);
}

t.test('a message on a channel without a common version is refused (ERR_CHANNEL_INACTIVE); no reactor sees it', async (t) => {
  const reactor = new RecordingReactor([{ id: 0x20 }, { id: 0x21, versions: [1] }, { id: 0x22 }]);
  const sw = await target(t, reactor);
  const { raw, peer } = await rawPeer(t, sw, [[1], [2], [1]]); // 0x21: we speak 1, it speaks 2
  t.equal(peer.channelVersion(0x21), undefined, '0x21 is inactive for this peer');
  const removed = peerRemoved(sw, raw.key.id, WAIT);
  raw.sendPackets(msg(0x21, 'not for you'), msg(0x20, 'after'));
  const reason = (await removed) as SwitchboardError;
  t.equal(reason.code, 'ERR_CHANNEL_INACTIVE');
  t.match(reason.message, 'message on channel 0x21, which has no common version with this peer');
  t.same(reactor.received, [], 'neither message reached the reactor');
});

t.test("a message the reactor's filter refuses disconnects its sender with ERR_MESSAGE_REJECTED", async (t) => {
  class Picky extends RecordingReactor {
    filterMessage(e: Envelope): boolean {
      return Buffer.from(e.message).toString() !== 'no';
    }
  }
  const reactor = new Picky([{ id: 0x20 }, { id: 0x21 }, { id: 0x22 }]);
  const sw = await target(t, reactor);
  const { raw } = await rawPeer(t, sw);
  const removed = peerRemoved(sw, raw.key.id, WAIT);
  raw.sendPackets(msg(0x20, 'yes'), msg(0x20, 'no'), msg(0x20, 'yes again'));
  const reason = (await removed) as SwitchboardError;
  t.equal(reason.code, 'ERR_MESSAGE_REJECTED');
  t.match(reason.message, "message on channel 0x20 refused by its reactor's filter");
  t.same(texts(reactor, 0x20), ['yes']);
});

t.test("a Promise from the reactor's receive holds the channel's next messages until it settles; other channels flow", async (t) => {
  const gate = deferred();
  class Slow extends RecordingReactor {
    override receive(e: Envelope): Promise<void> | undefined {
      super.receive(e);
      return e.channelId === 0x20 && this.received.length === 1 ? gate.promise : undefined;
    }
  }
  const reactor = new Slow([{ id: 0x20 }, { id: 0x21 }, { id: 0x22 }]);
  const sw = await target(t, reactor);
  const { raw } = await rawPeer(t, sw);
  raw.sendPackets(msg(0x20, 'one'), msg(0x20, 'two'), msg(0x22, 'other channel'));
  await receivedOn(reactor, 0x22);
  t.same(texts(reactor, 0x20), ['one'], "'two' is held while the reactor works on 'one'");
  gate.resolve();
  await within(reactor.receivedCount(3), 5000, "'two'");
  t.same(texts(reactor, 0x20), ['one', 'two']);
});

/**
 * A target with three raw peers: `slow` (never grants credit), `quiet` (sends nothing) and `heavy`;
 * with `congest`, the target queues more for `slow` than its window takes, so sends to it block.
 */
async function fairShareSetup(t: Teardown, opts: { congest: boolean; config?: P2PConfigInput }) {
  const step = steppedClock(t);
  const reactor = new RecordingReactor([
    { id: 0x20, sendQueueCapacity: 1 },
    { id: 0x21, sendQueueCapacity: 1 },
    { id: 0x22, sendQueueCapacity: 1 },
  ]);
  const sw = await target(t, reactor, { mconn: { maxSendWaiters: 8 }, ...opts.config });
  const slow = await rawPeer(t, sw);
  await rawPeer(t, sw); // quiet
  const heavy = await rawPeer(t, sw);
  if (opts.congest) for (let i = 0; i < 4; i++) void slow.peer.send(0x21, Buffer.alloc(64 * 1024));
  const waiting = slow.peer.mostSendWaiters; // blocked sends to the slow peer: the node is congested
  step(100); // the heavy peer's burst comes 100 ms after it connected: it receives at far more than twice the average
  heavy.raw.sendPackets(msg(0x20, 'h1'), msg(0x20, 'h2'), msg(0x20, 'h3'), msg(0x22, 'sentinel'));
  await receivedOn(reactor, 0x22);
  return { sw, reactor, step, slow, waiting };
}

t.test('while the node is congested, a heavy sender is paused until the congestion clears (re-checked each 10 ms)', async (t) => {
  const { sw, reactor, step, slow, waiting } = await fairShareSetup(t, { congest: true });
  t.ok(waiting >= 1, `sends to the slow peer block (${waiting} waiting)`);
  t.same(texts(reactor, 0x20), ['h1'], 'the heavy sender is paused after its first message');
  await sleep(60); // several re-checks: still congested
  t.same(texts(reactor, 0x20), ['h1'], 'still paused while the slow peer is behind');
  sw.stopPeerForError(slow.peer, new Error('gone'));
  await sleep(60); // re-checks within 10 ms of the last verdict reuse it
  t.same(texts(reactor, 0x20), ['h1'], 'the verdict is reused for 10 ms');
  step(10);
  await within(reactor.receivedCount(4), 3000, 'the held messages');
  t.same(texts(reactor, 0x20), ['h1', 'h2', 'h3'], 'once the verdict is recomputed, the held messages come, in order');
});

t.test('without congestion a heavy sender is not paused', async (t) => {
  const { reactor, waiting } = await fairShareSetup(t, { congest: false });
  t.equal(waiting, 0);
  t.same(texts(reactor, 0x20), ['h1', 'h2', 'h3']);
});

t.test('with throttleHeavySenders false a heavy sender is not paused, congested or not', async (t) => {
  const { reactor, waiting } = await fairShareSetup(t, { congest: true, config: { throttleHeavySenders: false } });
  t.ok(waiting >= 1);
  t.same(texts(reactor, 0x20), ['h1', 'h2', 'h3']);
});

t.test('broadcast: false (not a rejection) for a peer on which the channel is inactive', async (t) => {
  const net = new MemoryNetwork();
  const v1 = [{ id: 0x20 }, { id: 0x21, versions: [1] }];
  const a = await memSwitch(t, net, { channels: v1 });
  const b = await memSwitch(t, net, { channels: v1 });
  const c = await memSwitch(t, net, { channels: [{ id: 0x20 }, { id: 0x21, versions: [2] }] });
  await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  await a.sw.dialPeerWithAddress(c.sw.listenAddr);
  t.same(
    a.sw.peers.list().map((p) => p.id),
    [b.sw.nodeKey.id, c.sw.nodeKey.id],
  );
  t.same(await Promise.all(a.sw.broadcast(0x21, Buffer.from('v1 only'))), [true, false]);
  await b.reactor.receivedCount(1);
  t.equal(b.reactor.received[0]!.msg.toString(), 'v1 only');
});
