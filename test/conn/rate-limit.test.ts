// MConnection's sendRate and recvRate limits: N bytes at L bytes/s take about
// (N − burst) / L seconds, where the token bucket's burst is max(L/10, 64 KiB)
// (lib/conn/flow-rate.ts). Lower bounds catch a limiter that is off; the send
// test's ratio bound (2.5× the expected time) catches one several times too strict.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import type { MConnConfig } from '../../lib/conn/mconn-config.js';
import { MConnection } from '../../lib/conn/mconnection.js';
import { deferred, pattern, socketPair } from '../helpers/net.js';

const MSG = 16 * 1024;

/** Sends `total` bytes from A to B with the given configs; resolves with the ms until B has them all. */
async function transfer(
  t: { teardown(fn: () => unknown): void },
  total: number,
  cfgA: Partial<MConnConfig>,
  cfgB: Partial<MConnConfig>,
): Promise<number> {
  const [sa, sb] = await socketPair(t);
  let got = 0;
  const done = deferred();
  const n = total / MSG;
  const a = new MConnection(
    sa,
    [{ id: 1, sendQueueCapacity: n }],
    () => {},
    () => {},
    cfgA,
  );
  const b = new MConnection(
    sb,
    [{ id: 1, recvMessageCapacity: MSG }],
    (_c, m) => {
      if ((got += m.length) >= total) done.resolve();
    },
    () => {},
    cfgB,
  );
  t.teardown(() => (a.stop(), b.stop()));
  a.start();
  b.start();
  const start = performance.now();
  for (let i = 0; i < n; i++) if (!a.trySend(1, pattern(MSG, i + 1))) throw new Error('queue full');
  await done.promise;
  return performance.now() - start;
}

/** The time (ms) `total` bytes need at `limit` bytes/s after the token bucket's initial burst. */
const expectedMs = (total: number, limit: number) => ((total - Math.max(limit / 10, 65536)) * 1000) / limit;

t.test('sendRate: 2 MiB at 2 MiB/s takes about the expected time (not less, not several times more)', async (t) => {
  const total = 2 << 20;
  const limit = 2 << 20;
  const ms = await transfer(t, total, { sendRate: limit }, {});
  const want = expectedMs(total, limit); // headers add under 0.1 %
  t.ok(ms >= want * 0.9, `took ${ms.toFixed(0)} ms, at least ~${want.toFixed(0)} ms`);
  t.ok(ms < want * 2.5, `took ${ms.toFixed(0)} ms, under 2.5× the expected ${want.toFixed(0)} ms`);
});

t.test('recvRate: the receiver reads 1 MiB at 1 MiB/s no faster than the limit', async (t) => {
  const total = 1 << 20;
  const limit = 1 << 20;
  const ms = await transfer(t, total, {}, { recvRate: limit });
  // the receiver may read one socket chunk (≤ 64 KiB) past its bucket before it pauses
  const want = expectedMs(total - 65536, limit);
  t.ok(ms >= want * 0.9, `took ${ms.toFixed(0)} ms, at least ~${want.toFixed(0)} ms`);
});
