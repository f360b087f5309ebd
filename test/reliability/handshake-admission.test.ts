/**
 * Issue #14, row 1: `maxHandshaking` silent TCP connections, each re-opened
 * as soon as the node closes it, from the same address (127.0.0.1) as the
 * honest peers. At least 95 % of the honest handshakes must still complete;
 * every refused or evicted connection is counted by reason in
 * `inbound_refused_total` and logged at info at most once per reason per
 * interval, with the count.
 */
import t from 'tap';
import net, { type Socket } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { P2PMetrics } from '../../lib/metrics.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { startTarget } from '../helpers/target.js';
import { within, sleep } from '../helpers/time.js';

const MAX_HANDSHAKING = 16;
const HONEST = 20;
const LOG_INTERVAL_MS = 1000;

/** Keeps `n` silent connections to `port` open, re-opening each as soon as it closes, until stopped. */
function silentFlood(port: number, n: number): { stop(): Promise<void>; opened: () => number } {
  let running = true;
  let opened = 0;
  const live = new Set<Socket>();
  const closed: Promise<void>[] = [];
  const open = (): void => {
    if (!running) return;
    opened++;
    const s = net.connect(port, '127.0.0.1');
    live.add(s);
    s.on('error', () => {});
    s.resume();
    closed.push(
      new Promise((r) =>
        s.once('close', () => {
          live.delete(s);
          r();
          setImmediate(open);
        }),
      ),
    );
  };
  for (let i = 0; i < n; i++) open();
  return {
    opened: () => opened,
    async stop() {
      running = false;
      for (const s of live) s.destroy();
      await Promise.all(closed);
    },
  };
}

t.test(`${MAX_HANDSHAKING} silent connections re-opened as fast as they are closed do not keep honest peers out`, async (t) => {
  const lines: { msg: string; reason?: string; count?: number }[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  const metrics = new P2PMetrics();
  const target = await startTarget(
    t,
    { maxHandshaking: MAX_HANDSHAKING, refusalLogIntervalMs: LOG_INTERVAL_MS },
    { metrics, logger: pino({ level: 'info' }, sink) },
  );
  const flood = silentFlood(target.port, MAX_HANDSHAKING);
  t.teardown(() => flood.stop());
  // the flood has filled the handshake table before the first honest peer comes
  for (let i = 0; i < 1000 && target.sw.handshakingCount < MAX_HANDSHAKING; i++) await sleep(5);
  t.equal(target.sw.handshakingCount, MAX_HANDSHAKING, 'the silent connections fill the handshake table');

  let ok = 0;
  const started = performance.now();
  for (let i = 0; i < HONEST; i++) {
    const raw = await RawPeer.connect(t, target.port);
    try {
      await within(raw.join(), 5000, `honest handshake ${i}`);
      ok++;
    } catch {
      // refused: counted below
    }
    raw.destroy();
  }
  const ms = performance.now() - started;
  const opened = flood.opened();
  await flood.stop();
  t.comment(`${ok}/${HONEST} honest handshakes completed in ${ms.toFixed(0)} ms while the flood opened ${opened} connections`);
  t.ok(ok >= Math.ceil(HONEST * 0.95), `at least 95 % of the honest handshakes completed (${ok}/${HONEST})`);
  t.ok(opened > MAX_HANDSHAKING * 2, 'the flood kept re-opening its connections');

  const refused = await metrics.registry.getSingleMetricAsString('switchboard_p2p_inbound_refused_total');
  const evicted = Number(/reason="ERR_HANDSHAKE_EVICTED"} (\d+)/.exec(refused)?.[1] ?? 0);
  t.ok(evicted >= HONEST, `evicted silent connections are counted by reason (ERR_HANDSHAKE_EVICTED: ${evicted})`);

  // one info line per reason per interval, carrying the count
  await target.sw.stop();
  const refusalLines = lines.filter((l) => l.msg === 'inbound connections refused' || l.msg === 'inbound connection refused');
  const intervals = Math.ceil((performance.now() - started) / LOG_INTERVAL_MS) + 2;
  const reasons = new Set(refusalLines.map((l) => l.reason)).size;
  t.ok(refusalLines.length > 0, 'refusals are logged at info');
  t.ok(
    refusalLines.length <= reasons * intervals,
    `rate-limited: ${refusalLines.length} lines for ${evicted} evictions over ${intervals} intervals`,
  );
  const counted = refusalLines.reduce((n, l) => n + (l.count ?? 1), 0);
  t.ok(counted >= evicted, `the logged counts add up to every refusal (${counted} ≥ ${evicted})`);
});

t.test('a connection that sends nothing is closed after handshakeKeyTimeoutMs, not handshakeTimeoutMs', async (t) => {
  const target = await startTarget(t, { handshakeKeyTimeoutMs: 300, handshakeTimeoutMs: 20_000 });
  const raw = await RawPeer.connect(t, target.port);
  const started = performance.now();
  const refusal = await target.log.forRaw(raw, 5000);
  t.equal(refusal.code, 'ERR_HANDSHAKE_TIMEOUT', 'refused with ERR_HANDSHAKE_TIMEOUT');
  await within(raw.closed, 3000, 'the silent socket is closed');
  t.ok(performance.now() - started < 3000, 'well before the 20 s handshake deadline');
});
