// The Switch's log lines an operator reads (docs/operations.md, "Logs"): start and stop, peers
// added and removed, failed connections (a remote hang-up at debug, any other failure at info),
// refused dials and inbound connections (debug, with their code), bans and evictions.
import t from 'tap';
import type { SwitchboardError } from '../lib/errors.js';
import type { Envelope } from '../lib/reactor.js';
import { peerAdded, peerRemoved } from '../lib/testing.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { LogRecorder, memSwitch } from './helpers/mem-switch.js';
import { RecordingReactor } from './helpers/switches.js';
import { steppedClock } from './helpers/time.js';

const WAIT = { timeoutMs: 5000 };
const DEBUG = 20;
const INFO = 30;

/** Refuses (throws in `receive`) any message "bad". */
class Refusing extends RecordingReactor {
  override receive(e: Envelope): void {
    if (Buffer.from(e.message).toString() === 'bad') throw new Error('bad message');
    super.receive(e);
  }
}

t.test('start, peer added, peer connection failed (hang-up at debug, other errors at info), peer removed, stop', async (t) => {
  const net = new MemoryNetwork();
  const log = new LogRecorder();
  const a = await memSwitch(t, net, {
    logger: log.logger,
    moniker: 'alice',
    channels: [{ id: 0x22 }],
    reactors: [new Refusing([{ id: 0x20 }], 'refusing')],
  });
  t.match(log.withMsg('switch started'), [{ level: INFO, listen: a.sw.listenAddr.toString() }]);
  const b = await memSwitch(t, net, { moniker: 'bob' });
  const c = await memSwitch(t, net, { moniker: 'carol' });
  await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const cIn = peerAdded(a.sw, c.sw.nodeKey.id, WAIT);
  await c.sw.dialPeerWithAddress(a.sw.listenAddr);
  await cIn;
  t.match(log.withMsg('peer added'), [
    { level: INFO, peer: b.sw.nodeKey.id, addr: b.sw.listenAddr.toString(), outbound: true, moniker: 'bob' },
    { level: INFO, peer: c.sw.nodeKey.id, addr: c.sw.listenAddr.toString(), outbound: false, moniker: 'carol' },
  ]);

  // b hangs up: ordinary, at debug
  const bGone = peerRemoved(a.sw, b.sw.nodeKey.id, WAIT);
  b.sw.stopPeerForError(b.sw.peers.get(a.sw.nodeKey.id)!, new Error('bye'));
  const hangUp = await bGone;
  t.equal(hangUp.code, 'ERR_CONNECTION_CLOSED');
  // a's reactor refuses c's message: a failure worth info
  const cGone = peerRemoved(a.sw, c.sw.nodeKey.id, WAIT);
  await c.sw.peers.get(a.sw.nodeKey.id)!.send(0x20, Buffer.from('bad'));
  const refused = await cGone;
  t.not(refused.code, 'ERR_CONNECTION_CLOSED');
  t.match(log.withMsg('peer connection failed'), [
    { level: DEBUG, peer: b.sw.nodeKey.id, code: 'ERR_CONNECTION_CLOSED', err: hangUp.message },
    { level: INFO, peer: c.sw.nodeKey.id, code: refused.code, err: refused.message },
  ]);
  t.match(log.withMsg('peer removed'), [
    { level: INFO, peer: b.sw.nodeKey.id, code: 'ERR_CONNECTION_CLOSED', reason: hangUp.message },
    { level: INFO, peer: c.sw.nodeKey.id, code: refused.code, reason: refused.message },
  ]);
  t.same(log.withMsg('switch stopped'), []);
  await a.sw.stop();
  t.match(log.withMsg('switch stopped'), [{ level: INFO }]);
});

t.test('a failed dial and a refused inbound connection are logged at debug with their code; a ban at info', async (t) => {
  const net = new MemoryNetwork();
  const log = new LogRecorder();
  const a = await memSwitch(t, net, { logger: log.logger });
  await a.sw.dialPeerWithAddress(a.sw.listenAddr).catch(() => {});
  t.match(log.withMsg('dial failed'), [
    { level: DEBUG, addr: a.sw.listenAddr.toString(), code: 'ERR_SELF_CONNECTION', err: `refusing to dial ourselves (${a.sw.listenAddr})` },
  ]);
  const b = await memSwitch(t, net);
  a.sw.banPeer(b.sw.nodeKey.id, 60_000);
  t.match(log.withMsg('banned'), [{ level: INFO, target: b.sw.nodeKey.id, durationMs: 60_000 }]);
  const refusedAtA = new Promise<[string, SwitchboardError]>((resolve) => a.sw.once('peer:dial-failed', (r, e) => resolve([r, e])));
  await b.sw.dialPeerWithAddress(a.sw.listenAddr).catch(() => {});
  const [remote, err] = await refusedAtA;
  t.equal(err.code, 'ERR_BANNED');
  t.match(
    log.withMsg('inbound connection refused').filter((r) => r.level === DEBUG),
    [{ remote, code: 'ERR_BANNED', err: err.message }],
  );
});

t.test('with every inbound slot taken, a newcomer replaces the idlest inbound peer: the reason says how long it was idle', async (t) => {
  const step = steppedClock(t);
  const net = new MemoryNetwork();
  const log = new LogRecorder();
  const a = await memSwitch(t, net, { logger: log.logger, config: { maxNumInboundPeers: 1, inboundEvictIdleMs: 500 } });
  const [idle, newcomer] = [await memSwitch(t, net), await memSwitch(t, net)];
  const idleIn = peerAdded(a.sw, idle.sw.nodeKey.id, WAIT);
  await idle.sw.dialPeerWithAddress(a.sw.listenAddr);
  await idleIn;
  step(1234);
  const evicted = peerRemoved(a.sw, idle.sw.nodeKey.id, WAIT);
  const newIn = peerAdded(a.sw, newcomer.sw.nodeKey.id, WAIT);
  await newcomer.sw.dialPeerWithAddress(a.sw.listenAddr);
  t.match(await evicted, {
    code: 'ERR_PEER_EVICTED',
    message: 'replaced by a new inbound peer: no message for 1234 ms while every inbound slot was taken',
  });
  await newIn;
  t.match(log.withMsg('inbound slots full: replacing the idlest inbound peer'), [
    { level: INFO, peer: idle.sw.nodeKey.id, by: newcomer.sw.nodeKey.id },
  ]);
  t.equal(a.sw.peers.size, 1);
});
