// The send side of an MConnection as its user sees it (lib/conn/mconnection.ts up to scheduleFlush): the constructor's
// argument errors, start and stop on the stream, the getters the Switch reads (mostSendWaiters, sendStalledMs), the
// send buffer's per-channel share, flushStop's refusals and its two bounded waits, and flushThrottleMs.
// The receive path, window updates and pause/resume are in mconnection-receive.test.ts.
import t from 'tap';
import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import type { MConnConfig } from '../../lib/conn/mconn-config.js';
import { MConnection } from '../../lib/conn/mconnection.js';
import { INITIAL_WINDOW, MSG_HEADER_SIZE, PACKET_PONG, PacketDecoder, encodePacket } from '../../lib/conn/packet.js';
import { InvalidArgumentError, SwitchboardError } from '../../lib/errors.js';
import { recordingPeer } from '../helpers/recording-peer.js';

type Teardown = { teardown(fn: () => unknown): void };

const LONG = 100_000;
const GUARD_MS = 10_000;

function mconn(t: Teardown, d: Duplex, chs: ChannelDescriptor[] = [{ id: 1 }], cfg: Partial<MConnConfig> = {}) {
  const errors: SwitchboardError[] = [];
  const c = new MConnection(
    d,
    chs,
    () => {},
    (e) => void errors.push(e),
    cfg,
  );
  t.teardown(() => c.stop());
  return { c, errors };
}

/** `p` settled within GUARD_MS (the guard's timer is cleared either way). */
async function settlesSoon(p: Promise<unknown>): Promise<boolean> {
  const ac = new AbortController();
  const r = await Promise.race([p.then(() => true), sleep(GUARD_MS, false, { signal: ac.signal }).catch(() => false)]);
  ac.abort();
  return r;
}

const turn = () => new Promise((r) => setImmediate(r));

t.test('the constructor names what is wrong: no channels, a duplicate channel id (in hex)', async (t) => {
  const { d } = recordingPeer(t);
  const make = (chs: ChannelDescriptor[]) =>
    new MConnection(
      d,
      chs,
      () => {},
      () => {},
    );
  const err = t.throws(() => make([]), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'an MConnection needs at least one channel',
  });
  t.type(err, InvalidArgumentError);
  t.throws(() => make([{ id: 0x2a }, { id: 1 }, { id: 0x2a }]), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'duplicate channel id 0x2a',
  });
  t.type(make([{ id: 0 }, { id: 255 }]), MConnection, 'the ends of the id range are two channels');
});

t.test('a channel id the connection does not have: send rejects, trySend and canSend throw, each naming the id', async (t) => {
  const { d } = recordingPeer(t);
  const { c } = mconn(t, d, [{ id: 1 }, { id: 2 }]);
  const want = { name: 'InvalidArgumentError', code: 'ERR_INVALID_ARGUMENT', message: 'unknown channel 0x09' };
  await t.rejects(c.send(9, Buffer.from('x')), want);
  t.throws(() => c.trySend(9, Buffer.from('x')), want);
  t.throws(() => c.canSend(9), want);
  t.throws(() => c.canSend(0xff), { message: 'unknown channel 0xff' });
});

t.test('each channel may always hold its share (maxSendBufferBytes ÷ channels) of a full send buffer, and no more', async (t) => {
  const { d } = recordingPeer(t);
  // not started: nothing is written, so what is queued stays held
  const chs = [1, 2].map((id) => ({ id, sendQueueCapacity: 10 }));
  const { c } = mconn(t, d, chs, { maxSendBufferBytes: 1000 });
  t.equal(c.trySend(1, Buffer.alloc(600)), true, 'a channel holding nothing is always accepted');
  t.equal(c.trySend(1, Buffer.alloc(300)), true, 'within the buffer: 900 of 1000');
  t.equal(c.trySend(1, Buffer.alloc(300)), false, 'over the buffer (1200) and over the share of channel 1 (500)');
  t.equal(c.sendBufferedBytes, 900);
  t.equal(c.trySend(2, Buffer.alloc(400)), true, 'channel 2 holds nothing yet');
  t.equal(c.trySend(2, Buffer.alloc(100)), true, 'the buffer is full, but channel 2 holds 500: its share exactly');
  t.equal(c.trySend(2, Buffer.alloc(1)), false, 'one byte past the share');
  t.equal(c.sendBufferedBytes, 1400);
});

t.test('mostSendWaiters is the blocked senders of the busiest channel', async (t) => {
  const { d } = recordingPeer(t);
  const { c } = mconn(t, d, [
    { id: 1, sendQueueCapacity: 1 },
    { id: 2, sendQueueCapacity: 1 },
    { id: 3, sendQueueCapacity: 1 },
  ]);
  t.equal(c.mostSendWaiters, 0);
  for (const id of [1, 2, 3]) t.equal(c.trySend(id, Buffer.from('q')), true);
  const blocked = [2, 1, 3, 1, 1, 3].map((id) => c.send(id, Buffer.from('w'), { timeoutMs: 0 }));
  t.equal(c.mostSendWaiters, 3, 'channel 1 has three waiting, channel 3 (the last) two, channel 2 one');
  c.stop();
  t.same(await Promise.all(blocked), [false, false, false, false, false, false], 'stop releases them all');
  t.equal(c.mostSendWaiters, 0);
});

t.test('sendStalledMs: 0 while the peer takes data, the time since it stopped granting credit, 0 again once it grants', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { sendStallTimeoutMs: 0 });
  t.equal(c.sendStalledMs, 0, 'before start');
  c.start();
  t.equal(c.sendStalledMs, 0, 'started, nothing pending');
  const before = performance.now();
  t.equal(c.trySend(1, Buffer.alloc(INITIAL_WINDOW + 5000)), true);
  await p.written(INITIAL_WINDOW); // the whole initial window goes out; the rest waits for credit
  await turn();
  const mid = performance.now(); // the stall began before this
  await sleep(20); // time passing is what is measured
  const g1 = performance.now();
  const stalled = c.sendStalledMs;
  const g2 = performance.now();
  t.ok(stalled >= g1 - mid && stalled > 0, `stalled ${stalled.toFixed(1)} ms, at least the ${(g1 - mid).toFixed(1)} ms slept`);
  t.ok(stalled <= g2 - before, `and no more than the ${(g2 - before).toFixed(1)} ms since the send`);
  const all = p.total();
  p.grant(10_000);
  await p.written(all + 5000);
  await turn();
  t.equal(c.sendBufferedBytes, 0, 'the rest went out');
  t.equal(c.sendStalledMs, 0, 'the peer granted: no stall');
});

t.test('status().durationMs is 0 before start, then the time since start', async (t) => {
  const { d } = recordingPeer(t);
  const { c } = mconn(t, d);
  t.equal(c.status().durationMs, 0);
  const t0 = performance.now();
  c.start();
  const t1 = performance.now();
  await sleep(5);
  const g1 = performance.now();
  const ms = c.status().durationMs;
  const g2 = performance.now();
  t.ok(ms >= g1 - t1 && ms <= g2 - t0, `durationMs ${ms.toFixed(1)} within [${(g1 - t1).toFixed(1)}, ${(g2 - t0).toFixed(1)}]`);
});

t.test('start is idempotent, and does nothing after stop: one data listener, each message delivered once', async (t) => {
  const { d } = recordingPeer(t);
  const got: string[] = [];
  const c = new MConnection(
    d,
    [{ id: 1 }],
    (_ch, msg) => void got.push(Buffer.from(msg).toString()),
    () => {},
  );
  t.teardown(() => c.stop());
  c.start();
  c.start();
  t.equal(d.listenerCount('data'), 1);
  t.equal(d.listenerCount('close'), 1);
  const seen = new Promise((r) => d.once('data', r)); // after ours: ours has run when it fires
  d.push(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.from('once') }));
  await seen;
  t.same(got, ['once']);

  const { d: d2 } = recordingPeer(t);
  const { c: c2 } = mconn(t, d2);
  c2.stop();
  c2.start();
  t.equal(d2.listenerCount('data'), 0, 'a stopped connection does not start');
  t.equal(d2.listenerCount('end'), 0);
});

t.test('a stream closed under the connection (no end from the peer) stops it with ConnectionClosedError', async (t) => {
  const { d } = recordingPeer(t);
  const { c, errors } = mconn(t, d);
  c.start();
  await turn();
  d.destroy();
  await new Promise((r) => d.once('close', r));
  t.equal(c.isStopped, true);
  t.equal(errors.length, 1);
  t.match(errors[0], { name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED', message: 'connection closed by remote' });
});

t.test('stop detaches from the stream: no data, drain, end or close listener is left, only a guard for late errors', async (t) => {
  const p = recordingPeer(t, { holdWrites: true });
  const { c, errors } = mconn(t, p.d);
  c.start();
  t.equal(c.trySend(1, Buffer.alloc(100)), true);
  await p.written(1);
  await turn();
  t.equal(p.d.listenerCount('drain'), 1, 'the backed-up stream is waited on');
  c.stop();
  for (const ev of ['data', 'drain', 'end', 'close']) t.equal(p.d.listenerCount(ev), 0, ev);
  t.ok(p.d.listenerCount('error') >= 1, 'error');
  p.d.emit('error', new Error('late'));
  t.same(errors, [], 'stop does not report');
});

t.test('flushStop on a connection never started stops it at once: queued messages are dropped, no FIN', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: LONG });
  t.equal(c.trySend(1, Buffer.from('never sent')), true);
  t.equal(await settlesSoon(c.flushStop()), true);
  t.equal(c.isStopped, true);
  t.equal(p.total(), 0, 'nothing written');
  t.equal(p.d.writableEnded, false, 'no FIN');
  t.equal(c.sendBufferedBytes, 0);
});

t.test('flushStop after stop resolves at once (even with a ping that was never written)', async (t) => {
  const { d } = recordingPeer(t);
  const { c } = mconn(t, d, [{ id: 1 }], { flushStopTimeoutMs: LONG });
  c.start(); // its first ping waits for the flush of the next turn
  c.stop();
  t.equal(await settlesSoon(c.flushStop()), true);
});

t.test('flushStop refuses new messages from the moment it is called, and gives up on the peer after flushStopTimeoutMs', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: 100, sendStallTimeoutMs: 0 });
  c.start();
  t.equal(c.canSend(1), true);
  t.equal(c.trySend(1, Buffer.alloc(INITIAL_WINDOW * 2)), true, 'more than the peer lets us send');
  const t0 = performance.now();
  const done = c.flushStop();
  t.equal(c.isStopped, false, 'still writing');
  t.equal(c.canSend(1), false, 'canSend');
  t.equal(c.trySend(1, Buffer.from('late')), false, 'trySend');
  t.equal(await c.send(1, Buffer.from('late')), false, 'send');
  t.equal(await settlesSoon(done), true, 'the wait for the queue is bounded');
  t.ok(performance.now() - t0 >= 2 * 100 - 2, 'it waited for the queue, then for the peer to close, each 100 ms');
  t.equal(c.isStopped, true);
  t.equal(p.d.writableEnded, true, 'our FIN was sent when the first wait ran out');
  t.equal(c.canSend(1), false, 'canSend after stop');
});

t.test('stop() while flushStop waits for the queues ends flushStop at once, without a FIN', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: LONG, sendStallTimeoutMs: 0 });
  c.start();
  c.trySend(1, Buffer.alloc(INITIAL_WINDOW * 2));
  await p.written(INITIAL_WINDOW);
  const done = c.flushStop();
  await turn();
  c.stop();
  t.equal(await settlesSoon(done), true);
  t.equal(p.afterFin(), -1, 'no FIN');
});

t.test('after flushStop sent our FIN nothing more is written: a ping of the peer gets no pong, and no error', async (t) => {
  const p = recordingPeer(t);
  const { c, errors } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: LONG });
  c.start();
  const done = c.flushStop(); // the first ping and window update go out, then our FIN
  await p.ended;
  const seen = new Promise((r) => p.d.once('data', r));
  p.d.push(encodePacket({ type: 'ping' }));
  await seen;
  await turn();
  await turn();
  t.equal(p.afterFin(), 0, 'nothing written after the FIN');
  t.same(errors, []);
  p.d.push(null); // the peer closes too
  t.equal(await settlesSoon(done), true);
  t.same(errors, [], 'a clean close');
});

t.test('an enqueue on a channel already backlogged keeps its recentlySent (only an idle channel catches up)', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(
    t,
    p.d,
    [
      { id: 1, priority: 1 },
      { id: 2, priority: 2 },
    ],
    { sendStallTimeoutMs: 0 },
  );
  c.start();
  c.trySend(1, Buffer.alloc(INITIAL_WINDOW * 2));
  c.trySend(2, Buffer.alloc(INITIAL_WINDOW * 2));
  await p.written(2 * INITIAL_WINDOW); // both windows used up; both channels still hold most of their message
  await turn();
  const [s1, s2] = c.status().channels;
  t.ok(s1!.sendCredit < MSG_HEADER_SIZE + 1024 && s2!.sendCredit < MSG_HEADER_SIZE + 1024, 'no credit left');
  t.ok(s2!.recentlySent / 2 < s1!.recentlySent, 'channel 2 is behind by ratio');
  t.equal(c.trySend(1, Buffer.from('more')), true);
  t.equal(c.status().channels[0]!.recentlySent, s1!.recentlySent, 'channel 1 keeps its place');
});

t.test('flushThrottleMs delays the first write by that long', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushThrottleMs: 50 });
  const t0 = performance.now();
  c.start();
  c.trySend(1, Buffer.from('hello'));
  await p.written(1);
  const ms = performance.now() - t0;
  t.ok(ms >= 49, `first write after ${ms.toFixed(1)} ms`);
  t.equal(p.chunks.length, 1, 'the ping, the grants and the message in one write');
});

t.test('canSend is false while flushStop waits for the peer to close, and after stop, even with room in the queue', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: LONG });
  c.start();
  t.equal(c.canSend(1), true, 'an empty queue: room');
  const done = c.flushStop();
  await p.ended; // nothing queued: our FIN is out, and the connection waits for the peer's
  t.equal(c.isStopped, false, 'still waiting for the peer');
  t.equal(c.canSend(1), false, 'stopping: no more sends');
  c.stop();
  await done;
  t.equal(c.canSend(1), false, 'stopped');
  const q = mconn(t, recordingPeer(t).d, [{ id: 1 }]);
  q.c.start();
  q.c.stop();
  t.equal(q.c.canSend(1), false, 'stopped without flushStop');
});

t.test('flushStop writes everything queued before its FIN, waiting for the credit the peer grants', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }, { id: 2 }], { flushStopTimeoutMs: LONG, sendStallTimeoutMs: 0 }); // channel 2 idle
  c.start();
  t.equal(c.trySend(1, Buffer.alloc(INITIAL_WINDOW + 5000)), true, 'more than the peer’s window');
  await p.written(INITIAL_WINDOW);
  const done = c.flushStop();
  for (let i = 0; i < 5; i++) await turn();
  t.equal(p.afterFin(), -1, 'no FIN while data waits for credit');
  p.grant(10_000);
  await p.ended;
  t.equal(c.sendBufferedBytes, 0, 'all of it was written before the FIN');
  t.ok(p.total() >= INITIAL_WINDOW + 5000, `${p.total()} bytes written`);
  p.d.push(null);
  t.equal(await settlesSoon(done), true);
});

t.test('flushStop right after a ping arrived writes the pong before its FIN', async (t) => {
  const p = recordingPeer(t);
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: LONG });
  c.start();
  // the start ping and the opening window updates are written first: then only the pong is pending
  for (let i = 0; i < 100 && p.chunks.length === 0; i++) await turn();
  let done: Promise<void> | undefined;
  // our listener runs after the connection's: the ping is read and its pong not yet written
  p.d.once('data', () => (done = c.flushStop()));
  p.d.push(encodePacket({ type: 'ping' }));
  await p.ended;
  let pongs = 0;
  const dec = new PacketDecoder({ onControl: (type) => void (type === PACKET_PONG && pongs++), onMsg() {} }, 1 << 20);
  dec.push(Buffer.concat(p.chunks.slice(0, p.chunks.length - p.afterFin())));
  t.equal(pongs, 1, 'the pong went out before the FIN');
  p.d.push(null);
  t.equal(await settlesSoon(done!), true);
});

t.test('flushStop right after a message arrived writes the window update it earned before its FIN', async (t) => {
  const p = recordingPeer(t);
  // a window of the protocol's initial size: no opening update, and a quarter of it (16 KiB) earns one
  const { c } = mconn(t, p.d, [{ id: 1 }], { flushStopTimeoutMs: LONG, recvWindowBytes: INITIAL_WINDOW });
  c.start();
  for (let i = 0; i < 100 && p.chunks.length === 0; i++) await turn(); // the start ping written
  let done: Promise<void> | undefined;
  p.d.once('data', () => (done = c.flushStop()));
  p.d.push(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.alloc(INITIAL_WINDOW / 4) }));
  await p.ended;
  const grants: number[] = [];
  const dec = new PacketDecoder({ onControl() {}, onWindowUpdate: (_ch, inc) => void grants.push(inc), onMsg() {} }, 1 << 20);
  dec.push(Buffer.concat(p.chunks.slice(0, p.chunks.length - p.afterFin())));
  t.same(grants, [MSG_HEADER_SIZE + INITIAL_WINDOW / 4], 'the credit of the message went back before the FIN');
  p.d.push(null);
  t.equal(await settlesSoon(done!), true);
});
