// MConnection's receive path and the stream events it reacts to, driven byte by byte over a fake stream: what is
// written and when (a stream that does not take a write, MAX_BATCHES_PER_TURN, grants), the send-stall clock, window
// rules, reassembly and delivery, a channel paused by its handler (held messages, withheld credit, the peer's FIN
// meanwhile), the receive deadlines across our own pauses, and how end, close and stream errors stop the connection.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { MConnection, type ReceiveHandler } from '../../lib/conn/mconnection.js';
import type { MConnConfig } from '../../lib/conn/mconn-config.js';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import { ConnectionClosedError, FlowControlError, ReceiveFailedError, SwitchboardError } from '../../lib/errors.js';
import { INITIAL_WINDOW, MAX_WINDOW, MSG_HEADER_SIZE, PACKET_PING, PacketDecoder, encodePacket } from '../../lib/conn/packet.js';
import { deferred } from '../helpers/net.js';
import { sleep, steppedClock } from '../helpers/time.js';
import { MIN_FRAGMENT } from '../../lib/conn/channel.js';

type Sent =
  | { type: 'ping' | 'pong' }
  | { type: 'window'; channelId: number; increment: number }
  | { type: 'msg'; channelId: number; eof: boolean; len: number };

/** A stream whose writes are recorded (and refused while `full`), whose events the test emits. */
class FakeStream extends EventEmitter {
  writes: Buffer[] = [];
  full = false;
  /** Thrown by the next write when set. */
  throwOnWrite: Error | undefined;
  ended = false;
  destroyed = false;
  writesAfterEnd = 0;
  pauses = 0;
  pausesAfterDestroy = 0;
  resumed = deferred();
  write(b: Uint8Array): boolean {
    if (this.throwOnWrite) throw this.throwOnWrite;
    if (this.ended) this.writesAfterEnd++;
    this.writes.push(Buffer.from(b));
    return !this.full;
  }
  pause(): this {
    this.pauses++;
    if (this.destroyed) this.pausesAfterDestroy++;
    return this;
  }
  resume(): this {
    this.resumed.resolve();
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
  /** Everything written, decoded. */
  sent(): Sent[] {
    const out: Sent[] = [];
    const dec = new PacketDecoder(
      {
        onControl: (type) => out.push({ type: type === PACKET_PING ? 'ping' : 'pong' }),
        onWindowUpdate: (channelId, increment) => out.push({ type: 'window', channelId, increment }),
        onMsg: (channelId, eof, data) => out.push({ type: 'msg', channelId, eof, len: data.length }),
      },
      1 << 20,
    );
    for (const w of this.writes) dec.push(w);
    return out;
  }
  /** The peer sends these packets, in one chunk. */
  peer(...packets: Parameters<typeof encodePacket>[0][]): void {
    this.emit('data', Buffer.concat(packets.map((p) => encodePacket(p))));
  }
}

const msg = (channelId: number, n: number, eof = true, fill = 0) => ({ type: 'msg' as const, channelId, eof, data: Buffer.alloc(n, fill) });
const turn = () => new Promise<void>((r) => setImmediate(r));

function conn(
  t: { teardown(fn: () => unknown): void },
  opts: { ch?: ChannelDescriptor[]; cfg?: Partial<MConnConfig>; onRecv?: ReceiveHandler; start?: boolean } = {},
) {
  const s = new FakeStream();
  const errors: SwitchboardError[] = [];
  const error = deferred<SwitchboardError>();
  const got: { ch: number; first: number; len: number }[] = [];
  const m = new MConnection(
    s as unknown as Duplex,
    opts.ch ?? [
      { id: 1, sendQueueCapacity: 100 },
      { id: 2, sendQueueCapacity: 100 },
    ],
    opts.onRecv ?? ((ch, b) => void got.push({ ch, first: b[0] ?? -1, len: b.length })),
    (e) => (errors.push(e), error.resolve(e)),
    { recvWindowBytes: INITIAL_WINDOW, ...opts.cfg },
  );
  if (opts.start !== false) m.start();
  t.teardown(() => m.stop());
  return { m, s, errors, error: error.promise, got };
}

t.test('a stream that does not take a write gets nothing more until it drains; the stall clock runs meanwhile', async (t) => {
  const { m, s } = conn(t);
  s.full = true;
  await turn(); // the first batch (a ping) is written and not taken
  t.same(s.sent(), [{ type: 'ping' }]);
  t.equal(s.listenerCount('drain'), 1, 'it waits for drain');
  t.equal(m.trySend(1, Buffer.alloc(100)), true);
  for (let i = 0; i < 3; i++) await turn();
  t.equal(s.writes.length, 1, 'nothing written while the stream is full');
  await sleep(5);
  t.ok(m.sendStalledMs > 0, `the stall clock runs (${m.sendStalledMs} ms)`);
  s.full = false;
  s.emit('drain');
  t.equal(m.sendStalledMs, 0, 'drained: not stalled');
  t.equal(s.writes.length, 1, 'the next write waits for the next turn');
  await turn();
  t.same(s.sent(), [{ type: 'ping' }, { type: 'msg', channelId: 1, eof: true, len: 100 }]);
});

t.test('a long queue is written at most 16 batches per event-loop turn, the rest in the next turns', async (t) => {
  const { m, s } = conn(t, { cfg: { maxPacketMsgPayloadSize: 1000, maxBatchBytes: 1024 }, start: false });
  let queued = 0;
  for (let i = 0; i < 40; i++) queued += Number(m.trySend(1, Buffer.alloc(1000)));
  t.equal(queued, 40);
  m.start();
  await turn();
  t.equal(s.writes.length, 16, 'one turn: 16 writes');
  await turn();
  t.equal(s.writes.length, 32, 'the next turn: 16 more');
  for (let i = 0; i < 5; i++) await turn();
  t.equal(s.sent().filter((p) => p.type === 'msg').length, 40, 'all written in the end');
});

t.test('a grant is written at once; into a full stream, and everything after it waits for drain', async (t) => {
  const { m, s, errors } = conn(t);
  await turn();
  const n = s.writes.length;
  s.peer(msg(1, 1000));
  t.equal(s.writes.length, n, 'under a quarter of the window consumed: no grant (no window update of 0)');
  s.full = true;
  s.peer(msg(1, INITIAL_WINDOW / 4));
  t.same(
    s.sent().slice(-1),
    [{ type: 'window', channelId: 1, increment: 1000 + INITIAL_WINDOW / 4 + 2 * MSG_HEADER_SIZE }],
    'granted in the same turn',
  );
  t.equal(s.listenerCount('drain'), 1, 'the stream did not take it: waiting for drain');
  t.equal(m.trySend(2, Buffer.alloc(10)), true);
  s.peer(msg(2, INITIAL_WINDOW / 4));
  for (let i = 0; i < 3; i++) await turn();
  t.equal(s.writes.length, n + 1, 'neither the message nor the next grant is written before drain');
  s.full = false;
  s.emit('drain');
  await turn();
  t.same(
    s.sent().slice(-2),
    [
      { type: 'window', channelId: 2, increment: INITIAL_WINDOW / 4 + MSG_HEADER_SIZE },
      { type: 'msg', channelId: 2, eof: true, len: 10 },
    ],
    'after drain: the grant, then the message',
  );
  t.same(errors, []);
});

t.test('after flushStop ended our side, what the peer sends draws no grant (no write after end)', async (t) => {
  const { m, s } = conn(t, { cfg: { flushStopTimeoutMs: 50 } });
  await turn();
  const stopped = m.flushStop();
  await turn();
  t.equal(s.ended, true, 'our side is ended');
  s.peer(msg(1, INITIAL_WINDOW / 4));
  t.equal(s.writesAfterEnd, 0);
  s.emit('end');
  await stopped;
});

t.test('the send-stall clock: armed when credit runs out with data queued, kept across pongs, reset by a grant', async (t) => {
  const { m, s } = conn(t, { cfg: { maxSendBufferBytes: 1 << 20 } });
  for (let i = 0; i < 5; i++) await turn();
  t.equal(m.sendStalledMs, 0, 'idle with nothing to send: not stalled');
  t.equal(m.trySend(1, Buffer.alloc(INITIAL_WINDOW + 10000)), true, 'more than the peer’s window, on channel 1 only');
  for (let i = 0; i < 10 && m.sendStalledMs === 0; i++) await turn();
  t.ok(m.sendStalledMs > 0, 'stalled once the window is used up');
  await sleep(30);
  s.peer({ type: 'ping' });
  await turn();
  t.same(s.sent().slice(-1), [{ type: 'pong' }]);
  t.ok(m.sendStalledMs >= 30, `a pong is no progress: the clock keeps running (${m.sendStalledMs.toFixed(1)} ms)`);
  s.full = true;
  s.peer({ type: 'ping' });
  await turn();
  t.equal(s.listenerCount('drain'), 1, 'the second pong was not taken');
  t.ok(m.sendStalledMs >= 30, `nor is a stream that does not take it (${m.sendStalledMs.toFixed(1)} ms)`);
  s.full = false;
  s.emit('drain');
  await turn();
  s.peer({ type: 'window', channelId: 1, increment: 20000 });
  t.equal(m.sendStalledMs, 0, 'a grant resets it');
  await turn();
  t.equal(
    s
      .sent()
      .filter((p) => p.type === 'msg')
      .reduce((n, p) => n + (p.type === 'msg' ? p.len : 0), 0),
    INITIAL_WINDOW + 10000,
    'the rest is written',
  );
});

t.test('credit that lets no queued packet out does not reset the send-stall clock (#14)', async (t) => {
  const step = steppedClock(t);
  const { m, s } = conn(t, { cfg: { maxSendBufferBytes: 1 << 20 } });
  t.equal(m.trySend(1, Buffer.alloc(INITIAL_WINDOW + 10000)), true, 'more than the peer’s window, on channel 1 only');
  for (let i = 0; i < 10 && m.sendStalledMs === 0; i++) await turn();
  step(50);
  t.equal(m.sendStalledMs, 50, 'stalled for the 50 ms stepped');
  s.peer({ type: 'window', channelId: 2, increment: 100_000 });
  await turn();
  step(50);
  t.equal(m.sendStalledMs, 100, 'a grant on channel 2, where nothing is queued, is no progress');
  s.peer({ type: 'window', channelId: 1, increment: 1 });
  await turn();
  step(50);
  t.equal(m.sendStalledMs, 150, 'nor is a grant on channel 1 too small for a packet');
  s.peer({ type: 'window', channelId: 1, increment: MSG_HEADER_SIZE + MIN_FRAGMENT });
  t.equal(m.sendStalledMs, 0, 'a grant that lets a packet out ends the stall');
});

t.test('a peer that grows our send window past 2^31−1 is ERR_FLOW_CONTROL, naming the channel and the size', async (t) => {
  const { s, error } = conn(t);
  s.peer({ type: 'window', channelId: 2, increment: MAX_WINDOW });
  const err = await error;
  t.ok(err instanceof FlowControlError);
  t.equal(err.code, 'ERR_FLOW_CONTROL');
  t.equal(err.message, `peer grew our send window on channel 0x02 to ${INITIAL_WINDOW + MAX_WINDOW} bytes, over ${MAX_WINDOW}`);
});

t.test('a handler that returns a value that is not a Promise (a JavaScript caller’s push count) does not pause its channel', async (t) => {
  const got: number[] = [];
  const { m, s, errors } = conn(t, { onRecv: ((_ch: number, b: Uint8Array) => got.push(b[0]!)) as unknown as ReceiveHandler });
  s.peer(msg(1, 10, true, 1), msg(1, 10, true, 2), msg(1, 10, true, 3));
  t.same(got, [1, 2, 3]);
  t.same(errors, []);
  t.equal(m.status().channels[0]!.paused, false);
});

t.test('the peer’s FIN while a channel is paused: its held messages are delivered first, then ERR_CONNECTION_CLOSED', async (t) => {
  const release = deferred();
  const got: string[] = [];
  const { s, errors, error } = conn(t, {
    onRecv: (ch, b) => {
      got.push(`${ch}:${b[0]}`);
      if (ch === 1 && b[0] === 1) return release.promise;
    },
  });
  s.peer(msg(1, 10, true, 1), msg(1, 10, true, 2), msg(2, 10, true, 9), msg(1, 10, true, 3));
  s.emit('end');
  s.emit('close');
  await turn();
  t.same(got, ['1:1', '2:9'], 'channel 2 is not paused');
  t.same(errors, [], 'no error while channel 1 holds messages');
  release.resolve();
  const err = await error;
  t.same(got, ['1:1', '2:9', '1:2', '1:3'], 'the held messages, in order, before the error');
  t.ok(err instanceof ConnectionClosedError);
  t.equal(err.code, 'ERR_CONNECTION_CLOSED');
  t.equal(err.message, 'connection closed by remote');
  t.equal(errors.length, 1);
});

t.test('the stream closing without the peer’s FIN (a reset) is ERR_CONNECTION_CLOSED', async (t) => {
  const { m, s, errors } = conn(t);
  s.emit('close');
  t.equal(errors.length, 1);
  t.ok(errors[0] instanceof ConnectionClosedError);
  t.equal(errors[0]!.code, 'ERR_CONNECTION_CLOSED');
  t.equal(errors[0]!.message, 'connection closed by remote');
  t.equal(m.isStopped, true);
});

t.test(
  'a stream error is ERR_SOCKET carrying it; a typed error from the stream is passed on as it is; a late one is ignored',
  async (t) => {
    const a = conn(t);
    const cause = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    a.s.emit('error', cause);
    t.equal(a.errors.length, 1);
    const err = a.errors[0]!;
    t.ok(err instanceof ConnectionClosedError);
    t.equal(err.code, 'ERR_SOCKET');
    t.equal(err.message, 'stream error: read ECONNRESET');
    t.equal(err.cause, cause);
    const b = conn(t);
    const typed = new FlowControlError('a typed error of the stream');
    b.s.emit('error', typed);
    t.same(b.errors.length, 1);
    t.equal(b.errors[0], typed);
    const c = conn(t);
    c.m.stop();
    c.s.emit('error', new Error('late'));
    t.same(c.errors, [], 'after stop: kept listening, nothing reported');
  },
);

t.test('stop() never calls onError: a paused handler’s Promise that rejects afterwards reports nothing', async (t) => {
  let reject!: (e: Error) => void;
  const { m, s, errors } = conn(t, { onRecv: () => new Promise((_, r) => (reject = r)) });
  s.peer(msg(1, 10));
  m.stop();
  reject(new Error('late'));
  for (let i = 0; i < 3; i++) await turn();
  t.same(errors, []);
});

t.test('errors are reported once: a paused handler that rejects after the connection failed is no second error', async (t) => {
  let reject!: (e: Error) => void;
  const { s, errors } = conn(t, { onRecv: () => new Promise((_, r) => (reject = r)) });
  s.peer(msg(1, 10));
  s.emit('data', Buffer.from([0xff]));
  reject(new Error('late'));
  for (let i = 0; i < 3; i++) await turn();
  t.equal(errors.length, 1);
  t.equal(errors[0]!.code, 'ERR_MALFORMED_PACKET');
});

t.test('a handler that throws is ERR_RECEIVE_FAILED with its error as the cause, on a held message too', async (t) => {
  const boom = new Error('boom');
  const a = conn(t, {
    onRecv: () => {
      throw boom;
    },
  });
  a.s.peer(msg(1, 10));
  t.equal(a.errors.length, 1);
  t.ok(a.errors[0] instanceof ReceiveFailedError);
  t.equal(a.errors[0]!.code, 'ERR_RECEIVE_FAILED');
  t.equal(a.errors[0]!.message, 'receive handler failed: boom');
  t.equal(a.errors[0]!.cause, boom);
  const release = deferred();
  const b = conn(t, {
    onRecv: (_ch, m) => {
      if (m[0] === 1) return release.promise;
      throw boom;
    },
  });
  b.s.peer(msg(1, 10, true, 1), msg(1, 10, true, 2));
  t.same(b.errors, [], 'the second message is held');
  release.resolve();
  const err = await b.error;
  t.ok(err instanceof ReceiveFailedError);
  t.equal(err.message, 'receive handler failed: boom');
  t.equal(err.cause, boom);
});

t.test('a write that throws stops the connection with that error', async (t) => {
  const { m, s, error } = conn(t, { start: false });
  s.throwOnWrite = new ConnectionClosedError('the sealed stream failed', { code: 'ERR_SOCKET' });
  m.start();
  t.equal(await error, s.throwOnWrite);
  t.equal(m.isStopped, true);
});

/** The window updates written for channel `id`. */
const grantsOf = (s: FakeStream, id: number) => s.sent().filter((p) => p.type === 'window' && p.channelId === id);

t.test('a channel that resumes with exactly 64 held messages takes them all and returns its credit in that turn', async (t) => {
  const release = deferred();
  const { s, got } = conn(t, {
    onRecv: (ch, b) => (got.push({ ch, first: b[0]!, len: b.length }), b[0] === 0 ? release.promise : undefined),
  });
  s.peer(...Array.from({ length: 65 }, (_, i) => msg(1, 250, true, i)));
  await turn();
  t.equal(got.length, 1);
  t.same(grantsOf(s, 1), [], 'no credit while paused');
  release.resolve();
  await release.promise; // after the connection's own reaction to it
  t.same(
    got.map((g) => g.first),
    Array.from({ length: 65 }, (_, i) => i),
  );
  t.same(grantsOf(s, 1), [{ type: 'window', channelId: 1, increment: 65 * (250 + MSG_HEADER_SIZE) }], 'credit returned at once');
});

t.test('a channel delivering 70 held messages over two turns holds what arrives between them behind the rest', async (t) => {
  const release = deferred();
  const { s, got } = conn(t, {
    onRecv: (ch, b) => (got.push({ ch, first: b[0]!, len: b.length }), b[0] === 0 ? release.promise : undefined),
  });
  s.peer(...Array.from({ length: 71 }, (_, i) => msg(1, 10, true, i)));
  release.resolve();
  await release.promise;
  t.equal(got.length, 65, 'the first message and 64 held ones in this turn');
  s.peer(msg(1, 10, true, 71));
  t.equal(got.length, 65, 'a new message waits behind the held ones');
  for (let i = 0; i < 5 && got.length < 72; i++) await turn();
  t.same(
    got.map((g) => g.first),
    Array.from({ length: 72 }, (_, i) => i),
    'all in order',
  );
});

t.test('a held message that pauses the channel again keeps its credit withheld until that one settles too', async (t) => {
  const r1 = deferred();
  const r2 = deferred();
  const { m, s, got } = conn(t, {
    onRecv: (ch, b) => {
      got.push({ ch, first: b[0]!, len: b.length });
      return b[0] === 1 ? r1.promise : b[0] === 2 ? r2.promise : undefined;
    },
  });
  s.peer(msg(1, 100, true, 1), msg(1, 16384, true, 2), msg(1, 100, true, 3));
  r1.resolve();
  await r1.promise;
  t.same(
    got.map((g) => g.first),
    [1, 2],
  );
  t.equal(m.status().channels[0]!.paused, true);
  t.same(grantsOf(s, 1), [], 'still no credit');
  r2.resolve();
  await r2.promise;
  t.same(
    got.map((g) => g.first),
    [1, 2, 3],
  );
  t.same(grantsOf(s, 1), [{ type: 'window', channelId: 1, increment: 16384 + 200 + 3 * MSG_HEADER_SIZE }]);
});

t.test('a handler that stops the connection: nothing more of that chunk is delivered, and the stream is left alone', async (t) => {
  const got: number[] = [];
  // a rate limit that the chunk exceeds: reading would pause for it
  const { m, s, errors } = conn(t, {
    cfg: { recvRate: 100_000, recvWindowBytes: 1 << 20 },
    onRecv: (_ch, b) => {
      got.push(b[0]!);
      m.stop();
    },
  });
  s.peer(...Array.from({ length: 5 }, (_, i) => msg(1, 16384, true, i)));
  t.same(got, [0], 'only the message whose handler stopped it');
  t.equal(s.destroyed, true);
  t.equal(s.pausesAfterDestroy, 0, 'no pause of a destroyed stream (nor a rate timer left behind)');
  t.same(errors, []);
});

// ---- receive deadlines on a stepped clock: the watchdog is called by hand, so each check sees exactly the time stepped ----

const deadlinesOnly = { sendStallTimeoutMs: 0, idleTimeoutMs: 0, packetTimeoutMs: 1000, messageTimeoutMs: 1000 };
const watchdog = (m: MConnection) => (m as unknown as { watchdog(): void }).watchdog();
const PACKET_STALL = 'a packet stayed incomplete for 1000 ms';

/** After `ms` more of the stepped clock no deadline is past yet (they are strict); 1 ms later exactly `message` (ERR_RECV_STALL). */
function stallsAfter(
  t: Test,
  step: (ms: number) => number,
  m: MConnection,
  errors: SwitchboardError[],
  ms: number,
  message: string,
  notYet: string,
): void {
  step(ms);
  watchdog(m);
  t.same(errors, [], notYet);
  step(1);
  watchdog(m);
  t.match(errors, [{ code: 'ERR_RECV_STALL', message }]);
}

t.test('a packet trickled in over several chunks: its deadline runs from its first byte', async (t) => {
  const step = steppedClock(t);
  const { m, s, errors } = conn(t, { cfg: deadlinesOnly });
  const p = encodePacket(msg(1, 100));
  s.emit('data', p.subarray(0, 10));
  step(600);
  s.emit('data', p.subarray(10, 20));
  stallsAfter(t, step, m, errors, 400, PACKET_STALL, 'at 1000 ms since its first byte: not yet');
});

t.test(
  'a steady stream whose chunks never end on a packet boundary is no stalled packet: each completed packet restarts the deadline',
  async (t) => {
    const step = steppedClock(t);
    const { m, s, errors, got } = conn(t, { cfg: deadlinesOnly });
    const p = encodePacket(msg(1, 100));
    s.emit('data', p.subarray(0, 50));
    for (let i = 0; i < 5; i++) {
      step(600);
      s.emit('data', Buffer.concat([p.subarray(50), p.subarray(0, 50)])); // the end of one packet, the start of the next
      watchdog(m);
    }
    t.equal(got.length, 5, 'a packet completed every 600 ms');
    t.same(errors, [], '3000 ms of packets, none incomplete for more than 600 ms');
    stallsAfter(t, step, m, errors, 1000, PACKET_STALL, 'the last one began 1000 ms ago: not yet');
  },
);

t.test('a chunk that ends on a packet boundary clears the packet deadline', async (t) => {
  const step = steppedClock(t);
  const { m, s, errors } = conn(t, { cfg: deadlinesOnly });
  const p = encodePacket(msg(1, 100));
  s.emit('data', p.subarray(0, 50));
  step(900);
  s.emit('data', p.subarray(50));
  step(5000);
  watchdog(m);
  t.same(errors, [], 'nothing incomplete: no packet deadline');
});

t.test('a message whose channel was paused: its deadline restarts when the handler settles', async (t) => {
  const step = steppedClock(t);
  const settle = deferred();
  let calls = 0;
  const { m, s, errors } = conn(t, { cfg: deadlinesOnly, onRecv: () => (++calls === 1 ? settle.promise : undefined) });
  s.peer(msg(1, 100), msg(1, 100, false)); // the first pauses channel 1; the second begins a message behind it
  t.equal(calls, 1);
  step(5000);
  watchdog(m);
  t.same(errors, [], 'a paused channel’s message does not count');
  settle.resolve();
  await turn();
  stallsAfter(
    t,
    step,
    m,
    errors,
    1000,
    'a message on channel 0x1 stayed incomplete for 1000 ms',
    'at 1000 ms since the handler settled: not yet (the peer could not send while we withheld credit)',
  );
});

t.test('a recvRate pause: the packet and message deadlines restart when reading resumes', async (t) => {
  const step = steppedClock(t);
  const cfg = { ...deadlinesOnly, recvRate: 100_000, recvWindowBytes: 1 << 20 };
  const { m, s, errors } = conn(t, { cfg });
  s.resumed = deferred(); // start() resumed the stream once
  // 70 fragments of an unfinished message on channel 2 (over the 64 KiB burst), then the start of a packet on channel 1
  const fragments = Array.from({ length: 70 }, () => encodePacket(msg(2, 1000, false)));
  s.emit('data', Buffer.concat([...fragments, encodePacket(msg(1, 100)).subarray(0, 5)]));
  t.ok(s.pauses > 0, 'reading paused for the rate');
  step(5000);
  watchdog(m);
  t.same(errors, [], 'no receive deadline while our own reader is paused');
  await s.resumed.promise;
  stallsAfter(t, step, m, errors, 1000, PACKET_STALL, 'at 1000 ms since reading resumed: not yet');
});

t.test('a recvRate pause with no packet or message in progress starts no receive deadline when reading resumes', async (t) => {
  const step = steppedClock(t);
  const { m, s, errors } = conn(t, { cfg: { ...deadlinesOnly, recvRate: 100_000, recvWindowBytes: 1 << 20 } });
  s.resumed = deferred();
  s.emit('data', Buffer.concat(Array.from({ length: 70 }, () => encodePacket(msg(2, 1000))))); // whole messages only
  t.ok(s.pauses > 0, 'reading paused for the rate');
  await s.resumed.promise;
  step(60_000);
  watchdog(m);
  t.same(errors, [], 'nothing incomplete: no deadline');
});

t.test('a paused channel with no message in progress starts no message deadline when its handler settles', async (t) => {
  const step = steppedClock(t);
  const settle = deferred();
  const { m, s, errors } = conn(t, { cfg: deadlinesOnly, onRecv: () => settle.promise });
  s.peer(msg(1, 100));
  settle.resolve();
  await turn();
  step(60_000);
  watchdog(m);
  t.same(errors, [], 'nothing incomplete: no deadline');
});

t.test('a paused channel’s held messages are not delivered once the connection is stopped', async (t) => {
  const settle = deferred();
  const got: number[] = [];
  const { m, s } = conn(t, { onRecv: (_ch, b) => (got.push(b[0]!), got.length === 1 ? settle.promise : undefined) });
  s.peer(msg(1, 10, true, 1), msg(1, 10, true, 2));
  t.same(got, [1], 'the second is held behind the first');
  m.stop();
  settle.resolve();
  await turn();
  t.same(got, [1], 'stopped: the held one is dropped');
});

t.test('a held message whose handler stops the connection: the messages held behind it are not delivered', async (t) => {
  const settle = deferred();
  const got: number[] = [];
  const { m, s } = conn(t, {
    onRecv: (_ch, b) => {
      got.push(b[0]!);
      if (got.length === 1) return settle.promise;
      if (got.length === 2) m.stop();
      return undefined;
    },
  });
  s.peer(msg(1, 10, true, 1), msg(1, 10, true, 2), msg(1, 10, true, 3));
  settle.resolve();
  await turn();
  t.same(got, [1, 2], 'the third is not delivered after the second stopped the connection');
});

t.test('the peer’s FIN with two channels paused: the close waits until both have delivered what they hold', async (t) => {
  const settles = [deferred(), deferred()];
  const got: number[] = [];
  const { s, errors, error } = conn(t, {
    onRecv: (ch, b) => {
      got.push(b[0]!);
      return b[0]! <= 2 ? settles[ch - 1]!.promise : undefined;
    },
  });
  s.peer(msg(1, 10, true, 1), msg(2, 10, true, 2), msg(1, 10, true, 3), msg(2, 10, true, 4));
  s.emit('end');
  t.same(got, [1, 2]);
  settles[0]!.resolve();
  await turn();
  t.same(got, [1, 2, 3], 'channel 1 delivered what it held');
  t.same(errors, [], 'no close yet: channel 2 still holds a message');
  settles[1]!.resolve();
  t.match(await error, { code: 'ERR_CONNECTION_CLOSED' });
  t.same(got, [1, 2, 3, 4], 'every message delivered before the close');
});
