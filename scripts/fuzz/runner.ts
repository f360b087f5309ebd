/**
 * The fuzz loop shared by `npm run fuzz` (scripts/fuzz.ts, one runner per
 * worker process) and the fast subset in `npm test`
 * (test/reliability/fuzz.test.ts).
 *
 * Case `i` of worker `w` under seed `s` is fully determined by
 * `mixSeed(s, w, i)`: which target, which corpus entry, which mutations,
 * which chunking. A crash report names `s:w:i`, and `npm run fuzz -- --replay
 * s:w:i` reruns exactly that case. An exception of the input generator is a
 * harness error (`FuzzStats.harnessErrors`), reported with its case id and
 * never counted as a crash of the code under test.
 *
 * @module
 */
import { isTypedRefusal, type FuzzTarget } from './targets.js';
import { mutate } from './mutate.js';
import { Rng, mixSeed } from './rng.js';

/** One crash: a thrown value that is not a typed SwitchboardError, a broken invariant, or a hang. */
export interface Crash {
  /** `seed:worker:case`, for `--replay`. */
  id: string;
  target: string;
  error: string;
  /** The input, hex (first 512 bytes). */
  input: string;
  inputLength: number;
}

/** Counts per target. */
export interface TargetStats {
  cases: number;
  accepted: number;
  /** Refusals by error code. */
  rejected: Record<string, number>;
  crashes: number;
}

/** Counts of a run (mergeable across workers). */
export interface FuzzStats {
  cases: number;
  crashes: number;
  /**
   * Errors of the fuzzer itself (its input generator or harness threw), not
   * of the code under test: the case did not run. Reported apart from crashes.
   */
  harnessErrors: number;
  perTarget: Record<string, TargetStats>;
  /** The first crashes (at most 20). */
  crashList: Crash[];
  /** The first harness errors (at most 20); `target` is the target whose generator failed, or `(harness)`. */
  harnessList: Crash[];
}

export function emptyStats(): FuzzStats {
  return { cases: 0, crashes: 0, harnessErrors: 0, perTarget: {}, crashList: [], harnessList: [] };
}

/** Add `b` into `a`. */
export function mergeStats(a: FuzzStats, b: FuzzStats): FuzzStats {
  a.cases += b.cases;
  a.crashes += b.crashes;
  for (const [name, t] of Object.entries(b.perTarget)) {
    const x = (a.perTarget[name] ??= { cases: 0, accepted: 0, rejected: {}, crashes: 0 });
    x.cases += t.cases;
    x.accepted += t.accepted;
    x.crashes += t.crashes;
    for (const [code, n] of Object.entries(t.rejected)) x.rejected[code] = (x.rejected[code] ?? 0) + n;
  }
  for (const c of b.crashList) if (a.crashList.length < 20) a.crashList.push(c);
  a.harnessErrors += b.harnessErrors;
  for (const c of b.harnessList) if (a.harnessList.length < 20) a.harnessList.push(c);
  return a;
}

export function describe(err: unknown): string {
  if (err instanceof Error)
    return `${err.name}${(err as { code?: unknown }).code ? ` ${String((err as { code?: unknown }).code)}` : ''}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n') ?? ''}`;
  return `non-Error thrown: ${String(err)}`;
}

/** Runs cases of a set of targets for one (seed, worker). */
export class Fuzzer {
  private readonly totalWeight: number;
  /** Set while a case runs: where an unhandled rejection or exception is attributed. */
  current: { id: string; target: string; input: Buffer } | undefined;

  constructor(
    readonly targets: readonly FuzzTarget[],
    readonly seed: number,
    readonly worker: number,
    /** Longest an async case may take before it counts as a hang (ms). */
    readonly caseTimeoutMs = 10_000,
  ) {
    this.totalWeight = targets.reduce((s, t) => s + t.weight, 0);
  }

  /** The target and input of case `i` (deterministic). */
  caseInput(i: number): { target: FuzzTarget; input: Buffer; rng: Rng } {
    const rng = new Rng(mixSeed(this.seed, this.worker, i));
    let w = rng.int(this.totalWeight);
    let target = this.targets[0]!;
    for (const t of this.targets) {
      if (w < t.weight) {
        target = t;
        break;
      }
      w -= t.weight;
    }
    const input = target.generate && rng.chance(0.25) ? Buffer.from(target.generate(rng)) : mutate(target.corpus, rng);
    return { target, input, rng };
  }

  /** Run case `i`, recording its outcome in `stats`. */
  async runCase(i: number, stats: FuzzStats): Promise<void> {
    const id = `${this.seed}:${this.worker}:${i}`;
    let c: ReturnType<Fuzzer['caseInput']>;
    try {
      c = this.caseInput(i);
    } catch (err) {
      // the fuzzer's own bug: the case never reached the code under test
      stats.cases++;
      this.recordHarnessError(stats, this.targetOf(i), id, `input generator threw: ${describe(err)}`);
      return;
    }
    const { target, input, rng } = c;
    const ts = (stats.perTarget[target.name] ??= { cases: 0, accepted: 0, rejected: {}, crashes: 0 });
    this.current = { id, target: target.name, input };
    stats.cases++;
    ts.cases++;
    try {
      const r = target.run(input, rng);
      if (r && typeof (r as Promise<void>).then === 'function') {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            r,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`hang: case did not settle within ${this.caseTimeoutMs} ms`)), this.caseTimeoutMs);
            }),
          ]);
        } finally {
          clearTimeout(timer);
        }
      }
      ts.accepted++;
    } catch (err) {
      if (isTypedRefusal(err)) ts.rejected[err.code] = (ts.rejected[err.code] ?? 0) + 1;
      else this.recordCrash(stats, target.name, id, input, describe(err));
    } finally {
      this.current = undefined;
    }
  }

  /** Record an error of the fuzzer itself (not a crash of the code under test). */
  recordHarnessError(stats: FuzzStats, target: string, id: string, error: string): void {
    stats.harnessErrors++;
    if (stats.harnessList.length < 20) stats.harnessList.push({ id, target, error, input: '', inputLength: 0 });
  }

  /** The name of case `i`'s target (its first random choice, made before any input is generated). */
  targetOf(i: number): string {
    const rng = new Rng(mixSeed(this.seed, this.worker, i));
    let w = rng.int(this.totalWeight);
    for (const t of this.targets) {
      if (w < t.weight) return t.name;
      w -= t.weight;
    }
    return this.targets[0]?.name ?? '(none)';
  }

  /** Record a crash (also used for hangs and unhandled errors seen by the host). */
  recordCrash(stats: FuzzStats, target: string, id: string, input: Buffer, error: string): void {
    stats.crashes++;
    const ts = (stats.perTarget[target] ??= { cases: 0, accepted: 0, rejected: {}, crashes: 0 });
    ts.crashes++;
    if (stats.crashList.length < 20)
      stats.crashList.push({ id, target, error, input: input.subarray(0, 512).toString('hex'), inputLength: input.length });
  }

  /**
   * Run cases `from` (inclusive) to `to` (exclusive), yielding to the event
   * loop every `batch` cases (so timers and async cases progress) and calling
   * `onBatch` with the next case index and the counts since the last call.
   * Stops early at `deadline` (ms since the epoch).
   */
  async runRange(
    from: number,
    to: number,
    opts: { batch?: number; deadline?: number; onBatch?: (next: number, delta: FuzzStats) => void } = {},
  ): Promise<{ next: number; stats: FuzzStats }> {
    const batch = opts.batch ?? 500;
    const total = emptyStats();
    let delta = emptyStats();
    let i = from;
    while (i < to) {
      const end = Math.min(to, i + batch);
      for (; i < end; i++) await this.runCase(i, delta);
      await new Promise<void>((r) => setImmediate(r));
      mergeStats(total, delta);
      opts.onBatch?.(i, delta);
      delta = emptyStats();
      if (opts.deadline !== undefined && Date.now() > opts.deadline) break;
    }
    return { next: i, stats: total };
  }
}
