// An MConnection's keepalive on its own (lib/conn/keepalive.ts): what it writes, the protocol rules
// it holds the peer to, the pong timeout and its pause rules, and the RTT samples. Real timers with
// short intervals, awaited through the hooks; performance.now is stepped by hand for exact RTTs.
import t, { type Test } from 'tap';
import { Keepalive, KEEPALIVE_BYTES, RTT_PROBE_FIRST_MS, type KeepaliveHooks } from '../../lib/conn/keepalive.js';
import { PACKET_PING, PACKET_PONG } from '../../lib/conn/packet.js';
import type { SwitchboardError } from '../../lib/errors.js';
import { deferred } from '../helpers/net.js';
import { steppedClock } from '../helpers/time.js';

function harness(t: Test, pingIntervalMs = 60_000, pongTimeoutMs = 60_000, firstProbeMs?: number) {
  const failed = deferred<SwitchboardError>();
  let flushed = deferred<void>();
  const s = { flushes: 0, paused: false, readPausedCalls: 0, samples: [] as number[] };
  const hooks: KeepaliveHooks = {
    scheduleFlush: () => {
      s.flushes++;
      flushed.resolve();
    },
    fail: (err) => failed.resolve(err),
    readPaused: () => {
      s.readPausedCalls++;
      return s.paused;
    },
    sampled: (ms) => s.samples.push(ms),
  };
  const k = new Keepalive(pingIntervalMs, pongTimeoutMs, hooks, firstProbeMs);
  // the keepalive's timers are unref'd (they never hold a process open): this one holds the test's
  const hold = setInterval(() => {}, 1000);
  t.teardown(() => {
    k.stop();
    clearInterval(hold);
  });
  const buf = Buffer.alloc(16);
  /** The bytes one writeTo puts at offset 3. */
  const write = () => [...buf.subarray(3, k.writeTo(buf, 3))];
  const nextFlush = () => {
    flushed = deferred<void>();
    return flushed.promise;
  };
  return { k, s, write, failed: failed.promise, nextFlush };
}

t.test('start asks for a ping at once; writeTo writes a pending pong before the pending ping', async (t) => {
  const { k, s, write } = harness(t);
  t.equal(KEEPALIVE_BYTES, 2);
  t.equal(k.pending, false, 'nothing before start');
  t.same(write(), [], 'nothing to write');
  k.start();
  t.equal(k.pending, true, 'a first ping at once');
  t.equal(s.flushes, 0, 'the caller schedules the first flush');
  k.onPing();
  t.equal(s.flushes, 1, 'a ping from the peer schedules a flush');
  t.same(write(), [PACKET_PONG, PACKET_PING], 'pong first, then ping: two bytes');
  t.equal(k.pending, false);
  t.same(write(), [], 'each written once');
});

t.test('a pong we did not ask for is ERR_UNSOLICITED_PONG; the one we asked for is sampled once', async (t) => {
  const step = steppedClock(t);
  const { k, s, write } = harness(t);
  t.throws(() => k.onPong(), { code: 'ERR_UNSOLICITED_PONG', message: 'peer sent a pong we did not ask for' }, 'before any ping');
  k.start();
  write();
  step(80);
  k.onPong();
  t.same(s.samples, [80]);
  t.same(k.rtt, { latest: 80, smoothed: 80 }, 'the first sample as is');
  t.throws(() => k.onPong(), { code: 'ERR_UNSOLICITED_PONG' }, 'a second pong for the same ping');
});

t.test('RTT: latest sample and SRTT with alpha 1/8 (RFC 6298)', async (t) => {
  const step = steppedClock(t);
  const { k, s, write, nextFlush } = harness(t, 10);
  k.start();
  write();
  step(80);
  k.onPong();
  const flush = nextFlush();
  await flush; // the interval asks for the next ping once the pong is in
  t.equal(k.pending, true);
  write();
  step(160);
  k.onPong();
  t.same(s.samples, [80, 160]);
  t.same(k.rtt, { latest: 160, smoothed: 90 }, '80 + (160 − 80) / 8');
});

/** The delays of the timers `fn` sets (it runs synchronously; global setTimeout is observed only meanwhile). */
function timeoutsSetBy(fn: () => void): number[] {
  const real = globalThis.setTimeout;
  const delays: number[] = [];
  globalThis.setTimeout = ((cb: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return real(cb, ms);
  }) as typeof setTimeout;
  try {
    fn();
  } finally {
    globalThis.setTimeout = real;
  }
  return delays;
}

t.test('after each pong, an RTT probe at doubling delays while the delay is under the ping interval', async (t) => {
  const { k, s, write, nextFlush } = harness(t, 100, 60_000, 10);
  k.start();
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    t.same(write(), [PACKET_PING], `ping ${i} written`);
    const flush = nextFlush();
    const set = timeoutsSetBy(() => k.onPong());
    delays.push(...set);
    if (set.length > 0) await flush; // the probe asks for the next ping
  }
  t.same(delays, [10, 20, 40, 80], 'probes after 10, 20, 40 and 80 ms; none once the delay would be 160 ≥ 100');
  t.equal(s.samples.length, 5, 'every probe is a sampled round trip');
  const d = harness(t).k;
  d.start();
  d.writeTo(Buffer.alloc(2), 0);
  t.same(
    timeoutsSetBy(() => d.onPong()),
    [RTT_PROBE_FIRST_MS],
    `by default the first probe is ${RTT_PROBE_FIRST_MS} ms after the start ping's pong`,
  );
});

t.test('the interval asks for no ping while one is unanswered', async (t) => {
  const { k, s, write, nextFlush } = harness(t, 5);
  k.start();
  write(); // ping out, no pong
  const before = s.flushes;
  // the pong timer is 60 s: wait for a few intervals, bounded, through the timer queue itself
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 6));
  t.equal(s.flushes, before, 'no flush asked');
  t.equal(k.pending, false, 'no ping pending');
  k.onPong();
  await nextFlush();
  t.equal(k.pending, true, 'after the pong, the next interval asks for a ping');
});

t.test('more than 4 pings without our pong in between is ERR_PING_FLOOD; our pong resets the count', async (t) => {
  const { k } = harness(t);
  for (let i = 0; i < 4; i++) k.onPing();
  t.throws(() => k.onPing(), { code: 'ERR_PING_FLOOD', message: 'peer sent 5 pings without waiting for our pong' });
  const k2 = harness(t);
  for (let i = 0; i < 4; i++) k2.k.onPing();
  t.same(k2.write(), [PACKET_PONG], 'one pong answers them all');
  for (let i = 0; i < 4; i++) k2.k.onPing();
  t.throws(() => k2.k.onPing(), { code: 'ERR_PING_FLOOD' }, 'counted again from our pong');
});

t.test('no pong within pongTimeoutMs is ERR_PONG_TIMEOUT', async (t) => {
  const { k, write, failed } = harness(t, 60_000, 30);
  k.start();
  write();
  t.match(await failed, { code: 'ERR_PONG_TIMEOUT', message: 'no pong within 30 ms' });
});

t.test('a pong timeout while our reader is paused waits for it to resume, then runs again in full', async (t) => {
  const { k, s, write, failed } = harness(t, 60_000, 20);
  k.start();
  write();
  s.paused = true;
  // bounded wait for the timeout to have fired while paused (it asks readPaused() when it fires)
  for (let i = 0; i < 100 && s.readPausedCalls < 2; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(s.readPausedCalls, 2, 'armed (1 call), fired while paused (2)');
  s.paused = false;
  k.readerResumed();
  t.equal(s.readPausedCalls, 3, 're-armed on resume (3)');
  k.readerResumed();
  t.equal(s.readPausedCalls, 3, 'a second resume arms nothing more: the deferred timeout ran once');
  const err = await failed;
  t.equal(err.code, 'ERR_PONG_TIMEOUT', 'after the resume, a full timeout with no pong fails');
  t.equal(s.readPausedCalls, 4, 'fired (4)');
});

t.test('a round trip that spans a pause of our reader is not sampled, and its timeout is given once more', async (t) => {
  const step = steppedClock(t);
  const { k, s, write, failed } = harness(t, 60_000, 20);
  k.start();
  s.paused = true;
  write(); // armed while paused
  s.paused = false;
  step(500);
  k.onPong();
  t.same(s.samples, [], 'not sampled: the pause was ours');
  t.equal(k.rtt, undefined);
  const k2 = harness(t, 60_000, 20);
  k2.k.start();
  k2.write();
  k2.k.readerPaused(); // paused and resumed again before the timeout fires
  k2.k.readerResumed();
  const err = await k2.failed;
  t.equal(err.code, 'ERR_PONG_TIMEOUT');
  t.equal(k2.s.readPausedCalls, 4, 'armed (1), fired with a pause since the ping: re-armed (2, 3), fired (4)');
  t.equal(await Promise.race([failed, 'not failed']), 'not failed', 'the first keepalive got its pong: no timeout');
});

t.test('a pong clears a deferred timeout: resuming later arms nothing', async (t) => {
  const { k, s, write } = harness(t, 60_000, 10);
  k.start();
  write();
  s.paused = true;
  for (let i = 0; i < 100 && s.readPausedCalls < 2; i++) await new Promise((r) => setTimeout(r, 5));
  k.onPong();
  s.paused = false;
  const calls = s.readPausedCalls;
  k.readerResumed();
  t.equal(s.readPausedCalls, calls, 'no timer armed (arming asks readPaused)');
});

t.test('stop() clears the timers: no ping asked, no pong timeout after it', async (t) => {
  const { k, s, write, failed } = harness(t, 5, 10);
  k.start();
  write(); // a ping out: the pong timer runs
  k.stop();
  const flushes = s.flushes;
  // three pong timeouts' worth, bounded: nothing may fire
  for (let i = 0; i < 6; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(await Promise.race([failed, 'not failed']), 'not failed', 'no ERR_PONG_TIMEOUT after stop');
  t.equal(s.flushes, flushes, 'no ping asked after stop');
});
