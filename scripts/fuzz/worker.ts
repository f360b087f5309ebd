/**
 * A fuzz worker process (forked by scripts/fuzz.ts with tsx): runs a range
 * of cases and reports counts over IPC after every batch, which doubles as
 * the heartbeat the parent uses to detect a hang.
 *
 * Messages in: `{ type: 'run', seed, worker, from, to, deadline }`.
 * Messages out: `{ type: 'progress', next, delta }` per batch, then
 * `{ type: 'done', next, maxRssMb }`, or `{ type: 'harness-error', at, error }`
 * when the fuzz loop itself threw (a bug of the fuzzer: the worker stops).
 *
 * @module
 */
import { Fuzzer, describe, emptyStats, type FuzzStats } from './runner.js';
import { allTargets } from './targets.js';

export interface RunRequest {
  type: 'run';
  seed: number;
  worker: number;
  from: number;
  to: number;
  deadline: number;
}

export type WorkerMessage =
  | { type: 'progress'; next: number; delta: FuzzStats }
  | { type: 'done'; next: number; maxRssMb: number }
  | { type: 'harness-error'; at: number; error: string };

const send = (m: WorkerMessage): void => void process.send?.(m);

let fuzzer: Fuzzer | undefined;
/** Crashes seen outside a case's own try/catch (unhandled rejections, stray exceptions). */
let stray = emptyStats();

function strayCrash(kind: string, err: unknown): void {
  const cur = fuzzer?.current;
  const text = `${kind}: ${err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err)}`;
  if (fuzzer) fuzzer.recordCrash(stray, cur?.target ?? '(between cases)', cur?.id ?? '(unknown)', cur?.input ?? Buffer.alloc(0), text);
}
process.on('unhandledRejection', (err) => strayCrash('unhandledRejection', err));
process.on('uncaughtException', (err) => strayCrash('uncaughtException', err));

process.on('message', (m: RunRequest) => {
  if (m.type !== 'run') return;
  fuzzer = new Fuzzer(allTargets(), m.seed, m.worker);
  let at = m.from;
  void fuzzer
    .runRange(m.from, m.to, {
      batch: 1000,
      deadline: m.deadline,
      onBatch: (next, delta) => {
        if (stray.crashes > 0) {
          const s = stray;
          stray = emptyStats();
          delta.crashes += s.crashes;
          for (const [k, v] of Object.entries(s.perTarget)) {
            const x = (delta.perTarget[k] ??= { cases: 0, accepted: 0, rejected: {}, crashes: 0 });
            x.crashes += v.crashes;
          }
          delta.crashList.push(...s.crashList);
        }
        at = next;
        send({ type: 'progress', next, delta });
      },
    })
    .then(
      ({ next }) => {
        send({ type: 'done', next, maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) });
        process.disconnect?.();
      },
      (err: unknown) => {
        // not a crash of the code under test: the loop itself failed, in the batch starting at `at`
        process.send?.({ type: 'harness-error', at, error: describe(err) } satisfies WorkerMessage, () => process.disconnect?.());
      },
    );
});
