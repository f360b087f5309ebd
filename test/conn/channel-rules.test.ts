// The rules of one Channel at their edges: descriptor validation, the limit
// on blocked senders, abort and the signal's listener, the readiness and
// cutting rules at MIN_FRAGMENT and at the room's end, the send budget after
// a message is sent or the channel closed, the receive window's growth at its
// bounds, and messages kept while the reader is paused (copies, never views of
// a buffer the sender may reuse).
import t from 'tap';
import { getEventListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Channel, channelIdHex, fillChannelDescriptor, MIN_FRAGMENT, MIN_TUNING_RTT_MS } from '../../lib/conn/channel.js';
import { decodePacket, INITIAL_WINDOW, MSG_HEADER_SIZE } from '../../lib/conn/packet.js';

/** Cut the next packet of `ch` into a fresh buffer with `room` bytes; the payload length written, or null if nothing fit. */
function cut(ch: Channel, room: number, batchEmpty = false): number | null {
  const buf = Buffer.alloc(room);
  const end = ch.writePacketTo(buf, 0, room, 16384, batchEmpty);
  if (end === 0) return null;
  const p = decodePacket(buf.subarray(0, end));
  return p.type === 'msg' ? p.data.length : -1;
}

t.test('channelIdHex: 0x and two hex digits for 0..255, the plain value for anything else', async (t) => {
  t.equal(channelIdHex(0), '0x00');
  t.equal(channelIdHex(0x40), '0x40');
  t.equal(channelIdHex(255), '0xff');
  t.equal(channelIdHex(256), '256');
  t.equal(channelIdHex(-1), '-1');
  t.equal(channelIdHex(1.5), '1.5');
  t.equal(channelIdHex(NaN), 'NaN');
});

t.test('fillChannelDescriptor fills CometBFT defaults and refuses bad fields with messages that name them', async (t) => {
  t.same(fillChannelDescriptor({ id: 0 }), {
    id: 0,
    priority: 1,
    sendQueueCapacity: 1,
    recvBufferCapacity: 4096,
    recvMessageCapacity: 22020096,
    name: '0x00',
  });
  t.equal(fillChannelDescriptor({ id: 255 }).id, 255);
  for (const id of [-1, 256, 1.5, NaN]) {
    t.throws(() => fillChannelDescriptor({ id }), { code: 'ERR_INVALID_ARGUMENT', message: `channel id must be 0..255, got ${id}` });
  }
  for (const priority of [0, -1, NaN, Infinity, '2' as unknown as number]) {
    t.throws(() => fillChannelDescriptor({ id: 3, priority }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: `channel 0x03: priority must be > 0, got ${priority}`,
    });
  }
  t.equal(fillChannelDescriptor({ id: 3, priority: 0.5 }).priority, 0.5, 'a fractional priority is fine');
  for (const k of ['sendQueueCapacity', 'recvBufferCapacity', 'recvMessageCapacity'] as const) {
    for (const v of [0, -1, 1.5]) {
      t.throws(() => fillChannelDescriptor({ id: 4, [k]: v }), {
        code: 'ERR_INVALID_ARGUMENT',
        message: `channel 0x04: ${k} must be a positive integer, got ${v}`,
      });
    }
    t.equal(fillChannelDescriptor({ id: 4, [k]: 1 })[k], 1, `${k} 1 is fine`);
  }
});

t.test('a queued message is pending before the scheduler takes it', async (t) => {
  const ch = new Channel({ id: 1 });
  t.notOk(ch.hasPending);
  t.ok(ch.tryEnqueue(Buffer.alloc(1)));
  t.ok(ch.hasPending, 'queued, not yet being sent');
});

t.test('at most maxSendWaiters senders wait; the next one is refused at once', async (t) => {
  const ch = new Channel({ id: 1 }, 2);
  t.ok(ch.tryEnqueue(Buffer.alloc(1)));
  const a = ch.enqueueWait(Buffer.alloc(1), 0, undefined);
  const b = ch.enqueueWait(Buffer.alloc(1), 0, undefined);
  t.equal(await ch.enqueueWait(Buffer.alloc(1), 0, undefined), false, 'a third waiter is refused');
  t.equal(ch.waitingSenders, 2);
  ch.close();
  t.same(await Promise.all([a, b]), [false, false], 'close resolves the waiters with false');
});

t.test('an aborted sender leaves the queue of waiters, and its message is never queued', async (t) => {
  const ch = new Channel({ id: 1, sendQueueCapacity: 1 });
  t.ok(ch.tryEnqueue(Buffer.from('a')));
  const ac = new AbortController();
  const aborted = ch.enqueueWait(Buffer.from('x'), 0, ac.signal);
  const kept = ch.enqueueWait(Buffer.from('b'), 0, undefined);
  ac.abort();
  t.equal(await aborted, false);
  t.equal(ch.waitingSenders, 1, 'only the other sender still waits');
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no listener left on the signal');
  const sent: string[] = [];
  for (let i = 0; i < 4 && ch.ready(); i++) {
    const buf = Buffer.alloc(64);
    const end = ch.writePacketTo(buf, 0, 64, 16384, true);
    const p = decodePacket(buf.subarray(0, end));
    if (p.type === 'msg') sent.push(p.data.toString());
    ch.admitWaiters();
  }
  t.same(sent, ['a', 'b']);
  t.equal(await kept, true);
});

t.test('a sender admitted to the queue takes its listener off the caller’s signal', async (t) => {
  const ch = new Channel({ id: 1, sendQueueCapacity: 1 });
  const ac = new AbortController();
  t.ok(ch.tryEnqueue(Buffer.alloc(1)));
  const w = ch.enqueueWait(Buffer.alloc(1), 60_000, ac.signal);
  t.equal(getEventListeners(ac.signal, 'abort').length, 1);
  t.ok(ch.ready());
  ch.writePacketTo(Buffer.alloc(64), 0, 64, 16384, true);
  ch.admitWaiters();
  t.equal(await w, true);
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'a long-lived signal does not collect listeners');
});

t.test('ready(): a short rest needs only its own size in credit, a long one MIN_FRAGMENT', async (t) => {
  const short = new Channel({ id: 1 });
  short.sendCredit = MSG_HEADER_SIZE + 10;
  t.ok(short.tryEnqueue(Buffer.alloc(10)));
  t.ok(short.ready(), '10 bytes with credit for exactly 10');
  short.sendCredit -= 1;
  t.notOk(short.ready(), 'one byte short');

  // the rest of a partly sent message counts, not its whole length
  const ch = new Channel({ id: 2 });
  ch.sendCredit = MSG_HEADER_SIZE + 1500;
  t.ok(ch.tryEnqueue(Buffer.alloc(2000)));
  t.ok(ch.ready());
  t.equal(cut(ch, 4000), 1500, 'cut to the credit');
  ch.sendCredit = MSG_HEADER_SIZE + 500;
  t.ok(ch.ready(), 'the last 500 bytes need 500 bytes of credit');
  t.equal(cut(ch, 4000), 500);
  t.notOk(ch.hasPending);
});

t.test('writePacketTo fills the room: a rest that fits it exactly, a fragment of at least MIN_FRAGMENT, nothing smaller', async (t) => {
  const exact = new Channel({ id: 1 });
  exact.tryEnqueue(Buffer.alloc(100));
  t.ok(exact.ready());
  t.equal(cut(exact, MSG_HEADER_SIZE + 100), 100, 'a rest that fits the room exactly is written, even in a non-empty batch');

  const big = new Channel({ id: 2 });
  big.tryEnqueue(Buffer.alloc(5000));
  t.ok(big.ready());
  t.equal(cut(big, MSG_HEADER_SIZE + 2000), 2000, 'a fragment that fills the room');
  t.equal(cut(big, MSG_HEADER_SIZE + MIN_FRAGMENT), MIN_FRAGMENT, 'a fragment of exactly MIN_FRAGMENT');
  t.equal(cut(big, MSG_HEADER_SIZE + MIN_FRAGMENT - 1), null, 'a smaller tail of the room is left for the next batch');
  t.equal(cut(big, MSG_HEADER_SIZE + 100, true), 100, 'unless the batch is empty');
  t.equal(big.bytesSent, 2000 + MIN_FRAGMENT + 100);
});

t.test('a channel that sent its message may queue again within its share while the budget is full', async (t) => {
  const budget = { held: 0, max: 100, share: 50 };
  const ch = new Channel({ id: 1, sendQueueCapacity: 10 }, 8, budget);
  const stuck = new Channel({ id: 2, sendQueueCapacity: 100 }, 8, budget);
  t.ok(ch.tryEnqueue(Buffer.alloc(40)));
  t.ok(ch.ready());
  ch.writePacketTo(Buffer.alloc(100), 0, 100, 16384, true);
  t.equal(budget.held, 0);
  while (stuck.tryEnqueue(Buffer.alloc(10)));
  t.equal(budget.held, 100, 'the budget is full');
  t.ok(ch.tryEnqueue(Buffer.alloc(30)), 'the sent message no longer counts against the channel');
  t.ok(ch.tryEnqueue(Buffer.alloc(20)), 'its share is 50 bytes');
  t.notOk(ch.tryEnqueue(Buffer.alloc(1)));
});

t.test('close() returns the queued and the partly sent bytes to the shared budget', async (t) => {
  const budget = { held: 0, max: 1 << 20, share: 1 << 20 };
  const ch = new Channel({ id: 1, sendQueueCapacity: 10 }, 8, budget);
  const other = new Channel({ id: 2 }, 8, budget);
  t.ok(other.tryEnqueue(Buffer.alloc(5)));
  t.ok(ch.tryEnqueue(Buffer.alloc(3000)));
  for (let i = 0; i < 3; i++) t.ok(ch.tryEnqueue(Buffer.alloc(10)));
  t.ok(ch.ready());
  t.equal(cut(ch, MSG_HEADER_SIZE + 2000), 2000, 'the first message is partly sent');
  t.equal(budget.held, 5 + 3000 + 30);
  ch.close();
  t.equal(budget.held, 5, 'only the other channel’s bytes are held');
  t.notOk(ch.hasPending);
});

t.test('a peer past its window gets an error that says by how much', async (t) => {
  const ch = new Channel({ id: 3 });
  ch.chargeRecv(INITIAL_WINDOW);
  t.throws(() => ch.chargeRecv(7), {
    code: 'ERR_FLOW_CONTROL',
    message: `peer sent 7 bytes beyond the ${INITIAL_WINDOW}-byte window of channel 0x03`,
  });
});

/** A channel with a 1 MiB window opened at `start` ms; `evaluate` consumes 3/4 of it in quarters, the last at `at` ms, and returns the grants. */
function tuned(start = 0) {
  const W = 1 << 20;
  const q = W / 4;
  const ch = new Channel({ id: 1 });
  ch.openWindow(W, start);
  return {
    ch,
    W,
    evaluate(at: number, rttMs: number, maxWindow = 16 << 20, room = () => 16 << 20): number {
      let g = ch.release(q, start, rttMs, maxWindow, room);
      g += ch.release(q, start, rttMs, maxWindow, room);
      return g + ch.release(q, at, rttMs, maxWindow, room);
    },
  };
}

t.test('release(): the window grows only when 3/4 of it went by in under 4 × RTT × 3/4', async (t) => {
  const W = 1 << 20;
  const fast = tuned();
  t.equal(fast.evaluate(29.9, 10), 3 * (W / 4) + W, 'in 29.9 ms at RTT 10 ms: doubled');
  t.equal(fast.ch.recvWindow, 2 * W);
  const edge = tuned();
  edge.evaluate(30, 10);
  t.equal(edge.ch.recvWindow, W, 'in exactly 30 ms: not faster than the bound, no growth');
  const slow = tuned();
  slow.evaluate(40, 10);
  t.equal(slow.ch.recvWindow, W, 'in 40 ms: no growth');
  const late = tuned(1000);
  late.evaluate(1010, 10);
  t.equal(late.ch.recvWindow, 2 * W, 'the epoch is measured from its start (1000 ms), not from 0');
});

t.test('release(): no growth below MIN_TUNING_RTT_MS, growth at it', async (t) => {
  const W = 1 << 20;
  const below = tuned();
  below.evaluate(0, MIN_TUNING_RTT_MS / 2);
  t.equal(below.ch.recvWindow, W);
  const at = tuned();
  at.evaluate(0, MIN_TUNING_RTT_MS);
  t.equal(at.ch.recvWindow, 2 * W);
});

t.test('release(): growth stops at maxWindow and never shrinks the window when the connection has no room', async (t) => {
  const W = 1 << 20;
  const capped = tuned();
  capped.evaluate(0, 10, W + W / 2);
  t.equal(capped.ch.recvWindow, W + W / 2, 'grown to maxWindow, not doubled');
  const none = tuned();
  t.equal(
    none.evaluate(0, 10, 16 << 20, () => -100),
    3 * (W / 4),
    'only the consumed bytes are granted',
  );
  t.equal(none.ch.recvWindow, W, 'a connection over its budget does not shrink the window');
});

t.test('openWindow() never shrinks the window', async (t) => {
  const ch = new Channel({ id: 1 });
  t.equal(ch.openWindow(INITIAL_WINDOW / 2, 0), 0);
  t.equal(ch.recvWindow, INITIAL_WINDOW);
  t.equal(ch.recvCredit, INITIAL_WINDOW);
});

t.test('receive(): bytes counted, the start of a multi-packet message kept, a too-large message named', async (t) => {
  const ch = new Channel({ id: 5, recvMessageCapacity: 100 });
  t.equal(ch.recvStartedAt, 0);
  ch.receive(false, Buffer.alloc(10));
  const started = ch.recvStartedAt;
  t.ok(started > 0 && started <= performance.now(), 'the first fragment starts the clock');
  for (let i = 0; i < 1e6 && performance.now() === started; i++); // let the clock move
  ch.receive(false, Buffer.alloc(10));
  t.equal(ch.recvStartedAt, started, 'later fragments do not restart it');
  t.equal(ch.receive(true, Buffer.alloc(10))!.length, 30);
  t.equal(ch.recvStartedAt, 0, 'cleared at the end of the message');
  t.equal(ch.bytesRecv, 30);
  t.throws(() => ch.receive(true, Buffer.alloc(101)), {
    code: 'ERR_MESSAGE_TOO_LARGE',
    message: 'message on channel 0x05 exceeds recvMessageCapacity 100 bytes',
  });
});

t.test('a small fragment of a large buffer is copied: reusing the buffer does not change the message', async (t) => {
  const ch = new Channel({ id: 1 });
  const frame = Buffer.alloc(1000, 0x61);
  ch.receive(false, frame.subarray(0, 10));
  frame.fill(0x7a);
  const msg = ch.receive(true, Buffer.from('!'))!;
  t.equal(msg.toString(), 'a'.repeat(10) + '!');
});

t.test('held messages: in order, counted, copied when they are views of a larger buffer', async (t) => {
  const ch = new Channel({ id: 1 });
  t.equal(ch.nextHeld(), undefined);
  t.equal(ch.heldMessages, 0);
  const frame = Buffer.from('abcdefghij');
  ch.hold(frame.subarray(0, 3));
  const whole = Buffer.alloc(3, 'xyz'); // its own ArrayBuffer (Buffer.from would take a slice of the pool)
  ch.hold(whole);
  frame.fill(0);
  t.equal(ch.heldMessages, 2);
  t.equal(Buffer.from(ch.nextHeld()!).toString(), 'abc', 'the view was copied');
  t.equal(ch.heldMessages, 1);
  t.equal(ch.nextHeld(), whole, 'a whole buffer is kept as it is');
  t.equal(ch.heldMessages, 0);
  t.equal(ch.nextHeld(), undefined);
});
