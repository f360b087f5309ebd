/**
 * `npm run fuzz`: mutation fuzzing of every decoder that reads peer bytes
 * (see scripts/fuzz/targets.ts), on every core, bounded in cases and time.
 *
 * ```
 * npm run fuzz                          # 1,000,000 cases, all cores, at most 9.5 minutes
 * npm run fuzz -- --cases 200000 --workers 2 --seed 42 --minutes 2
 * npm run fuzz -- --replay 42:1:12345   # rerun one case verbosely (seed:worker:case)
 * ```
 *
 * A crash is a thrown value that is not a `SwitchboardError` with an `ERR_*`
 * code, a broken decoder invariant, an unhandled rejection/exception, or a
 * hang (an async case not settling within 10 s, or a worker sending no
 * progress for `--hang-seconds`, default 30). An exception of the fuzzer's
 * own input generator or loop is a harness error, reported as such with the
 * case to replay, never as a crash or a hang. Prints per-target counts and
 * the closing line `fuzz: N cases, C crashes, H harness errors in T s (...)`
 * with the command that reruns the same cases (case `i` of worker `w` is
 * fixed by the seed; which worker runs which cases, by `--cases` and
 * `--workers`). Exits 1 on any crash or when fewer cases than asked ran
 * before the time limit, 2 on a harness error.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Fuzzer, describe, emptyStats, mergeStats, type FuzzStats } from './fuzz/runner.js';
import { allTargets } from './fuzz/targets.js';
import type { RunRequest, WorkerMessage } from './fuzz/worker.js';

interface Args {
  cases: number;
  workers: number;
  seed: number;
  minutes: number;
  hangSeconds: number;
  replay?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    cases: 1_000_000,
    workers: Math.max(1, availableParallelism()),
    seed: (Math.random() * 2 ** 31) >>> 0,
    minutes: 9.5,
    hangSeconds: 30,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = argv[i + 1];
    const num = (): number => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k} needs a non-negative number`);
      i++;
      return n;
    };
    if (k === '--cases') a.cases = Math.floor(num());
    else if (k === '--workers') a.workers = Math.max(1, Math.floor(num()));
    else if (k === '--seed') a.seed = Math.floor(num()) >>> 0;
    else if (k === '--minutes') a.minutes = num();
    else if (k === '--hang-seconds') a.hangSeconds = num();
    else if (k === '--replay') {
      a.replay = v;
      i++;
    } else if (k === '--help' || k === '-h') {
      process.stdout.write(
        'usage: npm run fuzz -- [--cases N] [--workers N] [--seed N] [--minutes M] [--hang-seconds S] [--replay seed:worker:case]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

async function replay(id: string): Promise<number> {
  const [seed, worker, i] = id.split(':').map(Number);
  if (![seed, worker, i].every((n) => Number.isInteger(n) && n! >= 0)) throw new Error('--replay wants seed:worker:case');
  const f = new Fuzzer(allTargets(), seed!, worker!);
  let c: ReturnType<Fuzzer['caseInput']>;
  try {
    c = f.caseInput(i!);
  } catch (err) {
    process.stdout.write(
      `case ${id}: HARNESS ERROR (a bug of the fuzzer, not of the code under test): the input generator of target ${f.targetOf(i!)} threw ${describe(err)}\n`,
    );
    return 2;
  }
  const { target, input } = c;
  process.stdout.write(`case ${id}: target ${target.name}, ${input.length} bytes\n${input.toString('hex')}\n`);
  const stats = emptyStats();
  await f.runCase(i!, stats);
  process.stdout.write(`${JSON.stringify(stats.perTarget[target.name])}\n`);
  for (const c of stats.crashList) process.stdout.write(`CRASH ${c.error}\n`);
  return stats.crashes > 0 ? 1 : 0;
}

const WORKER = fileURLToPath(new URL('./fuzz/worker.ts', import.meta.url));

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay) return replay(args.replay);
  const started = Date.now();
  const deadline = started + args.minutes * 60_000;
  const total = emptyStats();
  const perWorker = Math.ceil(args.cases / args.workers);
  const rss: number[] = [];
  let hangs = 0;
  let lastPrint = 0;
  /** Cases workers skipped because the fuzz loop itself failed (not the time limit). */
  let abandoned = 0;
  process.stdout.write(`fuzz: ${args.cases} cases on ${args.workers} workers, seed ${args.seed}, at most ${args.minutes} min\n`);

  const progress = (): void => {
    const now = Date.now();
    if (now - lastPrint < 10_000) return;
    lastPrint = now;
    const s = (now - started) / 1000;
    process.stdout.write(`  ${total.cases} cases, ${total.crashes} crashes, ${s.toFixed(0)} s (${Math.round(total.cases / s)}/s)\n`);
  };

  /** Run cases [from, to) of worker `w` in child processes, respawning after a hang (skipping the stuck batch). */
  const runWorker = async (w: number, from: number, to: number): Promise<void> => {
    let next = from;
    while (next < to && Date.now() < deadline) {
      next = await new Promise<number>((resolve) => {
        const child: ChildProcess = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        let at = next;
        let finished = false;
        let watchdog: NodeJS.Timeout;
        const arm = (): void => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => {
            // no progress: a hang (or a busy loop) in the current batch
            hangs++;
            const id = `${args.seed}:${w}:${at}..${at + 1000}`;
            const hang: FuzzStats = emptyStats();
            hang.crashes = 1;
            hang.crashList.push({
              id,
              target: '(unknown: replay the batch)',
              error: `hang: no progress for ${args.hangSeconds} s`,
              input: '',
              inputLength: 0,
            });
            mergeStats(total, hang);
            finished = true;
            child.kill('SIGKILL');
            resolve(at + 1000);
          }, args.hangSeconds * 1000);
        };
        arm();
        child.on('message', (m: WorkerMessage) => {
          if (m.type === 'progress') {
            at = m.next;
            mergeStats(total, m.delta);
            arm();
            progress();
          } else if (m.type === 'done') {
            rss.push(m.maxRssMb);
            at = m.next;
          } else if (m.type === 'harness-error') {
            // the fuzzer's own bug: report it as one and stop this worker (its next cases would hit it again)
            const h: FuzzStats = emptyStats();
            h.harnessErrors = 1;
            h.harnessList.push({
              id: `${args.seed}:${w}:${m.at}..${m.at + 1000}`,
              target: '(harness)',
              error: m.error,
              input: '',
              inputLength: 0,
            });
            mergeStats(total, h);
            abandoned += to - m.at;
            finished = true;
            clearTimeout(watchdog);
            child.kill('SIGKILL');
            resolve(to);
          }
        });
        child.on('exit', (code, signal) => {
          clearTimeout(watchdog);
          if (finished) return;
          finished = true;
          if (at < to && Date.now() < deadline) {
            // the worker died: count it as a crash of the batch it was in and go on after it
            const dead: FuzzStats = emptyStats();
            dead.crashes = 1;
            dead.crashList.push({
              id: `${args.seed}:${w}:${at}..${at + 1000}`,
              target: '(worker died)',
              error: `worker exited with ${signal ?? code}`,
              input: '',
              inputLength: 0,
            });
            mergeStats(total, dead);
            resolve(at + 1000);
          } else resolve(at);
        });
        const req: RunRequest = { type: 'run', seed: args.seed, worker: w, from: next, to, deadline };
        child.send(req);
      });
    }
  };

  await Promise.all(
    Array.from({ length: args.workers }, (_, w) => runWorker(w, 0, Math.max(0, Math.min(perWorker, args.cases - w * perWorker)))),
  );
  const secs = (Date.now() - started) / 1000;

  process.stdout.write('\ntarget        cases   accepted  crashes  refusals by code\n');
  for (const [name, t] of Object.entries(total.perTarget).sort()) {
    const codes = Object.entries(t.rejected)
      .sort((a, b) => b[1] - a[1])
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    process.stdout.write(
      `${name.padEnd(12)} ${String(t.cases).padStart(7)} ${String(t.accepted).padStart(10)} ${String(t.crashes).padStart(8)}  ${codes}\n`,
    );
  }
  for (const c of total.crashList)
    process.stdout.write(`\nCRASH ${c.id} [${c.target}] (${c.inputLength} bytes) ${c.error}\n  input: ${c.input}\n`);
  for (const c of total.harnessList) {
    process.stdout.write(
      `\nHARNESS ERROR ${c.id} [${c.target}] (a bug of the fuzzer, not of the code under test) ${c.error}\n  replay: npm run fuzz -- --replay ${c.id.split('..')[0]}\n`,
    );
  }
  process.stdout.write(`\npeak RSS per worker: ${rss.map((r) => `${r} MB`).join(', ') || 'n/a'}; hangs: ${hangs}\n`);
  process.stdout.write(
    `fuzz: ${total.cases} cases, ${total.crashes} crashes, ${total.harnessErrors} harness errors in ${secs.toFixed(1)} s (${args.workers} workers, seed ${args.seed})\n`,
  );
  process.stdout.write(`fuzz: rerun with npm run fuzz -- --seed ${args.seed} --cases ${args.cases} --workers ${args.workers}\n`);
  if (total.cases < args.cases) {
    if (abandoned > 0) process.stdout.write(`fuzz: ${abandoned} cases not run: a worker stopped on a harness error\n`);
    if (Date.now() >= deadline) process.stdout.write(`fuzz: stopped at the ${args.minutes}-minute limit before ${args.cases} cases\n`);
  }
  if (total.harnessErrors > 0) return 2;
  return total.crashes > 0 || total.cases < args.cases ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`fuzz: ${err.message}\n`);
    process.exit(2);
  },
);
