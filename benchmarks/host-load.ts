/**
 * Background CPU load checks, from `/proc/stat`: how busy the machine is
 * while no benchmark process runs (before each run), and how much CPU other
 * work took during a run (the machine's busy time minus what our own
 * processes report). Other work on a small machine (tests, builds) makes the
 * figures unreliable; the report flags cases that ran while it was above
 * {@link BUSY_THRESHOLD_PCT} of all cores.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Background load (% of all cores) above which a case is flagged. */
export const BUSY_THRESHOLD_PCT = 25;

/** Length of a `/proc/stat` tick (ms): USER_HZ is 100 on Linux. */
const TICK_MS = 10;

function cpuTimes(): { idle: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { idle, total };
  } catch {
    return undefined;
  }
}

/** A point from which {@link otherWorkPct} measures. */
export interface LoadMark {
  ticks: { idle: number; total: number } | undefined;
  ownCpu: NodeJS.CpuUsage;
  t: number;
}

/** Mark the start of a run. */
export function markLoad(): LoadMark {
  return { ticks: cpuTimes(), ownCpu: process.cpuUsage(), t: performance.now() };
}

/**
 * Share of all cores (%) that work other than ours used since `mark`: the
 * machine's busy time minus this process's CPU and `childCpuMs` (the
 * lifetime CPU our child processes reported). NaN without `/proc/stat`.
 */
export function otherWorkPct(mark: LoadMark, childCpuMs: number): number {
  const now = cpuTimes();
  const wallMs = performance.now() - mark.t;
  if (!mark.ticks || !now || wallMs <= 0) return NaN;
  const busyMs = (now.total - mark.ticks.total - (now.idle - mark.ticks.idle)) * TICK_MS;
  const own = process.cpuUsage(mark.ownCpu);
  const other = busyMs - (own.user + own.system) / 1000 - childCpuMs;
  return Math.max(0, (100 * other) / (wallMs * cpus().length));
}

/**
 * Wait until the background load is at most {@link BUSY_THRESHOLD_PCT}, for
 * at most `maxWaitMs`; resolves with the last load measured.
 */
export async function waitForQuiet(maxWaitMs: number, onWait?: (busyPct: number) => void): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const busy = await backgroundBusyPct();
    if (!(busy > BUSY_THRESHOLD_PCT) || Date.now() >= deadline) return busy;
    onWait?.(busy);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Busy share of all cores (%) over the next `ms` milliseconds, or NaN where
 * `/proc/stat` is not available. Call it while the benchmark itself is idle.
 */
export async function backgroundBusyPct(ms = 250): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total <= a.total) return NaN;
  return 100 * (1 - (b.idle - a.idle) / (b.total - a.total));
}
