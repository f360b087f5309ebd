import t from 'tap';
import type { MConnConfig } from '../../lib/conn/mconn-config.js';
import { MConnection } from '../../lib/conn/mconnection.js';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import { SwitchboardError } from '../../lib/errors.js';
import { INITIAL_WINDOW, MAX_WINDOW, MSG_HEADER_SIZE, PACKET_PING, PacketDecoder, encodePacket } from '../../lib/conn/packet.js';
import { deferred, pattern, socketPair } from '../helpers/net.js';
import { recordingPeer } from '../helpers/recording-peer.js';

type Got = { ch: number; msg: Buffer };

async function pair(
  t: { teardown(fn: () => unknown): void },
  opts: {
    chA?: ChannelDescriptor[];
    chB?: ChannelDescriptor[];
    cfgA?: Partial<MConnConfig>;
    cfgB?: Partial<MConnConfig>;
    onRecvB?: (ch: number, msg: Uint8Array) => void | Promise<unknown>;
    start?: boolean;
  } = {},
) {
  const [sa, sb] = await socketPair(t);
  const errA: SwitchboardError[] = [];
  const errB: SwitchboardError[] = [];
  const gotB: Got[] = [];
  const errorB = deferred<SwitchboardError>();
  const errorA = deferred<SwitchboardError>();
  const chs = [
    { id: 1, sendQueueCapacity: 100 },
    { id: 2, sendQueueCapacity: 100 },
  ];
  const a = new MConnection(
    sa,
    opts.chA ?? chs,
    () => {},
    (e) => (errA.push(e), errorA.resolve(e)),
    opts.cfgA,
  );
  const b = new MConnection(
    sb,
    opts.chB ?? chs,
    opts.onRecvB ?? ((ch, msg) => void gotB.push({ ch, msg: Buffer.from(msg) })),
    (e) => (errB.push(e), errorB.resolve(e)),
    opts.cfgB,
  );
  if (opts.start !== false) {
    a.start();
    b.start();
  }
  t.teardown(() => {
    a.stop();
    b.stop();
  });
  return { a, b, gotB, errA, errB, errorA: errorA.promise, errorB: errorB.promise };
}

/** Resolves when `cond()` holds, checking after each received message. */
function until(check: () => boolean, hook: { poll: (() => void) | null }): Promise<void> {
  return new Promise((resolve) => {
    if (check()) return resolve();
    hook.poll = () => {
      if (check()) {
        hook.poll = null;
        resolve();
      }
    };
  });
}

t.test('messages of 0 B, 1 B, one full packet, and 1 MiB arrive intact and in order per channel', async (t) => {
  const hook: { poll: (() => void) | null } = { poll: null };
  const got: Got[] = [];
  const max = 16384;
  const { a } = await pair(t, { onRecvB: (ch, msg) => (got.push({ ch, msg: Buffer.from(msg) }), hook.poll?.()) });
  const msgs: Got[] = [
    { ch: 1, msg: Buffer.alloc(0) },
    { ch: 2, msg: Buffer.from([7]) },
    { ch: 1, msg: pattern(max, 2) },
    { ch: 2, msg: pattern(1 << 20, 3) },
    { ch: 1, msg: pattern(max + 1, 4) },
    { ch: 1, msg: pattern(1 << 20, 5) },
    { ch: 2, msg: Buffer.from('after the big one') },
  ];
  for (const m of msgs) t.equal(await a.send(m.ch, m.msg), true);
  await until(() => got.length === msgs.length, hook);
  for (const ch of [1, 2]) {
    const sent = msgs.filter((m) => m.ch === ch).map((m) => m.msg.toString('hex'));
    const recv = got.filter((m) => m.ch === ch).map((m) => m.msg.toString('hex'));
    t.same(recv, sent, `channel ${ch} in order and intact`);
  }
});

t.test('trySend is false on a full queue and send resolves once there is room', async (t) => {
  const { a, gotB } = await pair(t, { chA: [{ id: 1, sendQueueCapacity: 1 }], chB: [{ id: 1 }], start: false });
  t.equal(a.canSend(1), true);
  t.equal(a.trySend(1, Buffer.from('one')), true);
  t.equal(a.canSend(1), false, 'canSend follows the channel capacity');
  t.equal(a.trySend(1, Buffer.from('two')), false, 'queue of 1 is full');
  let settled = false;
  const blocked = a.send(1, Buffer.from('three'), { timeoutMs: 0 }).then((v) => ((settled = true), v));
  await new Promise((r) => setImmediate(r));
  t.equal(settled, false, 'send waits while the queue is full');
  a.start();
  t.equal(await blocked, true, 'send resolves true once the queue drained');
  t.ok(gotB.length <= 2);
});

t.test('send resolves false after its timeout, on abort, and after stop', async (t) => {
  const { a } = await pair(t, { chA: [{ id: 1, sendQueueCapacity: 1 }], start: false });
  t.equal(a.trySend(1, Buffer.from('x')), true);
  t.equal(await a.send(1, Buffer.from('y'), { timeoutMs: 30 }), false, 'timeout');
  const ac = new AbortController();
  const p = a.send(1, Buffer.from('z'), { signal: ac.signal, timeoutMs: 0 });
  ac.abort();
  t.equal(await p, false, 'abort');
  const q = a.send(1, Buffer.from('w'), { timeoutMs: 0 });
  a.stop();
  t.equal(await q, false, 'stop releases blocked senders');
  t.equal(await a.send(1, Buffer.from('v')), false, 'send after stop');
  t.equal(a.trySend(1, Buffer.from('v')), false, 'trySend after stop');
});

t.test('an unknown local channel id is a typed argument error', async (t) => {
  const { a } = await pair(t);
  t.throws(() => a.trySend(9, Buffer.from('x')), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => a.canSend(9), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(a.send(9, Buffer.from('x')), { code: 'ERR_INVALID_ARGUMENT' }, 'send rejects rather than throwing');
});

t.test('a message over recvMessageCapacity stops the receiver with ERR_MESSAGE_TOO_LARGE', async (t) => {
  const { a, b, errorB, errB } = await pair(t, { chB: [{ id: 1, recvMessageCapacity: 1000 }], chA: [{ id: 1 }] });
  await a.send(1, pattern(5000));
  const err = await errorB;
  t.equal(err.code, 'ERR_MESSAGE_TOO_LARGE');
  t.equal(b.isStopped, true);
  t.equal(errB.length, 1, 'onError called exactly once');
});

t.test('a packet on an unknown channel stops the receiver with ERR_UNKNOWN_CHANNEL', async (t) => {
  const { a, errorB, errorA } = await pair(t, { chA: [{ id: 1 }, { id: 5 }], chB: [{ id: 1 }] });
  await a.send(5, Buffer.from('who owns 5?'));
  const err = await errorB;
  t.equal(err.code, 'ERR_UNKNOWN_CHANNEL');
  t.equal((await errorA).code, 'ERR_CONNECTION_CLOSED', 'the other side sees the close');
});

t.test('malformed bytes stop the connection with ERR_MALFORMED_PACKET, once', async (t) => {
  const [raw, sb] = await socketPair(t);
  const errs: SwitchboardError[] = [];
  const done = deferred();
  const b = new MConnection(
    sb,
    [{ id: 1 }],
    () => {},
    (e) => (errs.push(e), done.resolve()),
  );
  b.start();
  raw.write(Buffer.from([0xff, 0x00, 0x01]));
  raw.write(Buffer.from([0x03, 0x01, 0x07, 0, 0, 0, 0]));
  await done.promise;
  t.equal(errs[0]?.code, 'ERR_MALFORMED_PACKET');
  await new Promise((r) => setImmediate(r));
  t.equal(errs.length, 1);
});

t.test('a missing pong stops the connection with ERR_PONG_TIMEOUT', async (t) => {
  const [raw, sb] = await socketPair(t);
  raw.resume(); // reads our pings, never answers
  const done = deferred<SwitchboardError>();
  const b = new MConnection(sb, [{ id: 1 }], () => {}, done.resolve, { pingIntervalMs: 20, pongTimeoutMs: 60 });
  b.start();
  t.teardown(() => b.stop());
  t.equal((await done.promise).code, 'ERR_PONG_TIMEOUT');
});

t.test('pings are answered with pongs', async (t) => {
  const [raw, sb] = await socketPair(t);
  const b = new MConnection(
    sb,
    [{ id: 1 }],
    () => {},
    () => {},
  );
  b.start();
  t.teardown(() => b.stop());
  raw.write(encodePacket({ type: 'ping' }));
  const seen: number[] = [];
  const pong = deferred();
  const dec = new PacketDecoder(
    {
      onControl: (type) => (seen.push(type), type === 0x02 && pong.resolve()),
      onWindowUpdate: () => void seen.push(0x04),
      onMsg: () => {},
    },
    1 << 20,
  );
  raw.on('data', (c: Buffer) => dec.push(c));
  await pong.promise;
  t.same(seen, [0x01, 0x04, 0x02], 'our first ping and opening window update, then the pong');
  t.equal(PACKET_PING, 0x01);
});

t.test('a channel paused by its slow handler keeps keepalive going: no pong timeout, and the held messages follow in order', async (t) => {
  const release = deferred();
  const got: number[] = [];
  const first = deferred();
  const all = deferred();
  const { a, b, errB } = await pair(t, {
    chA: [{ id: 1, sendQueueCapacity: 10 }],
    chB: [{ id: 1 }],
    cfgB: { pingIntervalMs: 10, pongTimeoutMs: 30 },
    onRecvB: (_ch, msg) => {
      got.push(Buffer.from(msg).readUInt8(0));
      if (got.length === 3) all.resolve();
      if (got.length === 1) {
        first.resolve();
        return release.promise;
      }
    },
  });
  a.trySend(1, Buffer.from([1]));
  await first.promise;
  a.trySend(1, Buffer.from([2]));
  a.trySend(1, Buffer.from([3]));
  // Hold the handler for many ping intervals: the connection keeps reading, so B's pings are answered.
  const rtt0 = b.status().rttMs;
  await new Promise((r) => setTimeout(r, 300));
  t.same(errB, [], 'no pong timeout while one channel is paused');
  t.not(b.status().rttMs?.latest, rtt0?.latest, 'pongs kept arriving (fresh RTT samples) during the pause');
  release.resolve();
  await all.promise;
  t.same(got, [1, 2, 3], 'messages after the pause are delivered');
  t.same(errB, []);
});

t.test('a rejected receive handler stops the connection with ERR_RECEIVE_FAILED', async (t) => {
  const { a, errorB } = await pair(t, { onRecvB: () => Promise.reject(new Error('bad message')) });
  a.trySend(1, Buffer.from('x'));
  const err = await errorB;
  t.equal(err.code, 'ERR_RECEIVE_FAILED');
  t.match(err.message, /bad message/);
});

t.test('priority: with two channels saturated, bytes delivered follow the priority ratio', async (t) => {
  const bytes = new Map<number, number>();
  const target = 24 << 20;
  let total = 0;
  const done = deferred();
  const chs = [
    // queues deeper than one flush turn (16 × 64 KiB), so neither runs dry
    { id: 1, priority: 1, sendQueueCapacity: 64 },
    { id: 3, priority: 3, sendQueueCapacity: 64 },
  ];
  const { a } = await pair(t, {
    chA: chs,
    chB: chs,
    // windows large enough that the scheduler decides, not per-channel credit: a channel held back by its
    // window gets window ÷ round trip whatever its priority (as an HTTP/2 stream), which a receiver slowed
    // by other test files running beside it made visible (1.03 : 1 once in 7 runs with 1 MiB windows)
    cfgB: { recvWindowBytes: 8 << 20, maxRecvWindowBytes: 16 << 20 },
    onRecvB: (ch, msg) => {
      if (total >= target) return;
      bytes.set(ch, (bytes.get(ch) ?? 0) + msg.length);
      total += msg.length;
      if (total >= target) done.resolve();
    },
  });
  const msg = pattern(64 * 1024);
  let stop = false;
  const pump = async (ch: number) => {
    while (!stop && (await a.send(ch, msg, { timeoutMs: 0 })));
  };
  const pumps = [pump(1), pump(3)];
  await done.promise;
  stop = true;
  a.stop();
  await Promise.all(pumps);
  const ratio = (bytes.get(3) ?? 0) / (bytes.get(1) ?? 0);
  t.ok(ratio > 2.4 && ratio < 3.6, `priority 3 : 1 got ${ratio.toFixed(2)} : 1`);
});

/** Decode recorded bytes into [channelId, length] per msg packet. */
function packetsOf(bytes: Buffer): [number, number][] {
  const out: [number, number][] = [];
  const dec = new PacketDecoder({ onControl() {}, onMsg: (ch, _eof, data) => void out.push([ch, data.length]) }, 1 << 20);
  dec.push(bytes);
  return out;
}

t.test('a high-priority channel that sent a big message earlier is not starved afterwards', async (t) => {
  const rec = recordingPeer(t, { credit: [1, 2] });
  const chs = [
    { id: 1, priority: 1, sendQueueCapacity: 64 },
    { id: 2, priority: 10, sendQueueCapacity: 4 },
  ];
  const a = new MConnection(
    rec.d,
    chs,
    () => {},
    () => {},
  );
  t.teardown(() => a.stop());
  a.start();
  // 20 MiB on the priority-10 channel: its recentlySent/priority is now 2 MiB.
  const big = 20 << 20;
  a.trySend(2, pattern(big));
  await rec.written(big + MSG_HEADER_SIZE * Math.ceil(big / 16384));
  const mark = rec.total();
  // Saturate the priority-1 channel, then an urgent small message on channel 2.
  for (let i = 0; i < 64; i++) a.trySend(1, pattern(64 * 1024, i + 1));
  a.trySend(2, Buffer.from('urgent'));
  await rec.written(mark + 64 * 64 * 1024);
  const after = packetsOf(Buffer.concat(rec.chunks).subarray(mark));
  const urgentAt = after.findIndex(([ch, len]) => ch === 2 && len === 6);
  t.ok(urgentAt >= 0, 'urgent message written');
  const bulkBefore = after.slice(0, urgentAt).reduce((s, [, len]) => s + len, 0);
  // CometBFT's rule would send ~2 MiB of bulk first; start-time fair queuing sends it at once.
  t.ok(bulkBefore <= 64 * 1024, `urgent message waited behind ${bulkBefore} bulk bytes`);
});

t.test('the scheduler shares the link by priority, packet by packet', async (t) => {
  const rec = recordingPeer(t, { credit: [1, 2] });
  const chs = [
    { id: 1, priority: 1, sendQueueCapacity: 200 },
    { id: 2, priority: 5, sendQueueCapacity: 200 },
  ];
  const a = new MConnection(
    rec.d,
    chs,
    () => {},
    () => {},
  );
  t.teardown(() => a.stop());
  for (let i = 0; i < 200; i++) {
    a.trySend(1, pattern(16 * 1024, i + 1));
    a.trySend(2, pattern(16 * 1024, i + 7));
  }
  a.start();
  await rec.written(4 << 20);
  const first = packetsOf(Buffer.concat(rec.chunks)).slice(0, 120);
  const by = new Map<number, number>();
  for (const [ch, len] of first) by.set(ch, (by.get(ch) ?? 0) + len);
  const ratio = (by.get(2) ?? 0) / (by.get(1) ?? 0);
  t.ok(ratio > 4.5 && ratio < 5.5, `priority 5 : 1 got ${ratio.toFixed(2)} : 1 in the first 120 packets`);
});

t.test('flushStop writes every queued message, then closes', async (t) => {
  const hook: { poll: (() => void) | null } = { poll: null };
  const got: Buffer[] = [];
  const { a, errorB } = await pair(t, {
    chA: [{ id: 1, sendQueueCapacity: 1000 }],
    chB: [{ id: 1 }],
    onRecvB: (_c, m) => (got.push(Buffer.from(m)), hook.poll?.()),
  });
  for (let i = 0; i < 500; i++) t.equal(a.trySend(1, pattern(1000, i + 1)), true);
  await a.flushStop();
  t.equal(a.isStopped, true);
  t.equal(a.trySend(1, Buffer.from('late')), false, 'no sends after flushStop');
  t.equal((await errorB).code, 'ERR_CONNECTION_CLOSED', 'remote sees the close after the data');
  t.equal(got.length, 500, 'every queued message arrived before the close');
  t.ok(got.every((m, i) => m.equals(pattern(1000, i + 1))));
});

t.test('send rate limit bounds throughput', async (t) => {
  let total = 0;
  const done = deferred();
  const { a } = await pair(t, {
    chA: [{ id: 1, sendQueueCapacity: 1000 }],
    chB: [{ id: 1 }],
    cfgA: { sendRate: 1 << 20 },
    onRecvB: (_c, m) => {
      total += m.length;
      if (total >= 640 * 1024) done.resolve();
    },
  });
  const start = performance.now();
  for (let i = 0; i < 640; i++) a.trySend(1, pattern(1024, i + 1));
  await done.promise;
  const ms = performance.now() - start;
  // 640 KiB at 1 MiB/s with a 64 KiB burst: at least ~500 ms
  t.ok(ms > 400, `640 KiB at 1 MiB/s took ${ms.toFixed(0)} ms`);
});

t.test('status reports queues, priorities and bytes', async (t) => {
  const { a } = await pair(t, { start: false });
  a.trySend(1, Buffer.from('abc'));
  const s = a.status();
  t.equal(s.channels.length, 2);
  t.match(s.channels[0], { id: 1, priority: 1, sendQueueCapacity: 100, sendQueueSize: 1 });
});

t.test('invalid configuration and descriptors are typed errors', async (t) => {
  const [s] = await socketPair(t);
  const cases: [string, ChannelDescriptor[], Partial<MConnConfig>?][] = [
    ['no channels', []],
    ['a duplicate channel id', [{ id: 1 }, { id: 1 }]],
    ['a channel id over 255', [{ id: 256 }]],
    ['priority 0', [{ id: 1, priority: 0 }]],
    ['maxPacketMsgPayloadSize 0', [{ id: 1 }], { maxPacketMsgPayloadSize: 0 }],
    ['a negative pingIntervalMs', [{ id: 1 }], { pingIntervalMs: -1 }],
    ['idleTimeoutMs not above pingIntervalMs', [{ id: 1 }], { pingIntervalMs: 1000, idleTimeoutMs: 1000 }],
    ['maxRecvWindowBytes below recvWindowBytes', [{ id: 1 }], { recvWindowBytes: 1 << 20, maxRecvWindowBytes: 1 << 19 }],
    ['an unknown key', [{ id: 1 }], { pingIntervalMS: 5 } as Partial<MConnConfig>],
  ];
  for (const [what, chs, cfg] of cases) {
    t.throws(
      () =>
        new MConnection(
          s,
          chs,
          () => {},
          () => {},
          cfg,
        ),
      { code: 'ERR_INVALID_ARGUMENT' },
      what,
    );
  }
});

t.test('flow control: a sender writes no more than the window the receiver granted', async (t) => {
  const rec = recordingPeer(t);
  const a = new MConnection(
    rec.d,
    [{ id: 1, sendQueueCapacity: 100 }],
    () => {},
    () => {},
  );
  t.teardown(() => a.stop());
  a.start();
  for (let i = 0; i < 100; i++) a.trySend(1, pattern(16 * 1024, i + 1));
  const opening = 1 + 6; // our own first ping and opening window update, written first (control packets cost no credit)
  // a sender may leave under 1 KiB of credit unused rather than cut a tiny fragment
  await rec.written(opening + INITIAL_WINDOW - 1024);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  const first = rec.total();
  t.ok(first <= opening + INITIAL_WINDOW, `stops within the initial 64 KiB window (${first - opening} bytes)`);
  rec.grant(32 * 1024);
  await rec.written(first + 32 * 1024 - 1024);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  t.ok(rec.total() <= opening + INITIAL_WINDOW + 32 * 1024, `and goes on by no more than what was granted (${rec.total() - first} bytes)`);
});

t.test(
  'flow control: a packet beyond the granted window, or a window over 2^31-1, stops the connection with ERR_FLOW_CONTROL',
  async (t) => {
    const [raw, sb] = await socketPair(t);
    const done = deferred<SwitchboardError>();
    const b = new MConnection(sb, [{ id: 1 }], () => {}, done.resolve, {
      recvWindowBytes: INITIAL_WINDOW,
      maxPacketMsgPayloadSize: 1 << 20,
    });
    b.start();
    t.teardown(() => b.stop());
    raw.write(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.alloc(INITIAL_WINDOW) }));
    t.equal((await done.promise).code, 'ERR_FLOW_CONTROL', 'a 64 KiB + 7 B packet against a 64 KiB window');

    const [raw2, sc] = await socketPair(t);
    const done2 = deferred<SwitchboardError>();
    const c = new MConnection(sc, [{ id: 1 }], () => {}, done2.resolve);
    c.start();
    t.teardown(() => c.stop());
    raw2.write(encodePacket({ type: 'window', channelId: 1, increment: MAX_WINDOW }));
    t.equal((await done2.promise).code, 'ERR_FLOW_CONTROL', 'a grant past 2^31-1');
  },
);

t.test('flow control: a receiver paused by its handler stops the sender after the window', async (t) => {
  const release = deferred();
  let delivered = 0;
  const all = deferred();
  const { a } = await pair(t, {
    chA: [{ id: 1, sendQueueCapacity: 400 }],
    chB: [{ id: 1 }],
    cfgB: { recvWindowBytes: 256 * 1024 },
    onRecvB: () => {
      if (++delivered === 400) all.resolve();
      if (delivered === 1) return release.promise;
    },
  });
  for (let i = 0; i < 400; i++) a.trySend(1, pattern(16 * 1024, i + 1));
  // wait until the sender has used its window and gone quiet
  let last = -1;
  while (a.status().bytesSent !== last) {
    last = a.status().bytesSent;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(last <= 256 * 1024 + 64 * 1024, `sender stopped after ${last} bytes (window 256 KiB), not the 6.4 MB queued`);
  release.resolve();
  await all.promise;
  t.equal(delivered, 400, 'everything arrives once the handler resumes');
});
