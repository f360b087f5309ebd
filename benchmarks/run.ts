/**
 * The benchmark suite's command line (`npm run bench -- [options]`): runs the
 * selected workloads (see `workloads.ts`), shows a progress line, prints the
 * results table, and writes a Markdown report, a JSON report and an SVG chart
 * to `benchmarks/results/`.
 *
 * ```
 * npm run bench                      # everything, encrypted, 3 runs (≈ 10 min)
 * npm run bench -- --quick           # counts ÷10, 1 run (< 1 min)
 * npm run bench -- --plaintext       # MConnection without SecretConnection
 * npm run bench -- --only W1,W4 --runs 5
 * npm run bench -- --only W1,W3 --runs 1 --profile   # CPU profiles of sender and receiver
 * npm run bench -- --only W5 --mconn sendRate=300000000   # experiment with MConnConfig
 * npm run bench -- --wait-quiet 120  # wait for other work on a shared machine to stop before each run
 * ```
 *
 * Exit status: 0 when every run completed (targets missed or not), 1 when a
 * run failed, 2 on bad options.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_MCONN_CONFIG, type MConnConfig } from '../lib/conn/mconn-config.js';
import { renderChart } from './chart.js';
import { measureCryptoCeiling } from './crypto-ceiling.js';
import { findProfiles, summarizeProfile } from './profile-summary.js';
import { markLoad, otherWorkPct, waitForQuiet } from './host-load.js';
import { Progress } from './progress.js';
import { median, summarize } from './stats.js';
import {
  attachRatios,
  type BenchReport,
  type CaseResult,
  caseResult,
  checkTargets,
  collectMeta,
  renderMarkdown,
  renderTerminal,
} from './report.js';
import { type BenchOptions, buildCases, type Sample, WORKLOAD_IDS, type WorkloadId } from './workloads.js';

const DEFAULT_OUT = fileURLToPath(new URL('./results/', import.meta.url));

function parseOnly(v: string): Set<WorkloadId> {
  const ids = v
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  for (const id of ids)
    if (!(WORKLOAD_IDS as readonly string[]).includes(id))
      throw new InvalidArgumentError(`unknown workload ${id} (expected ${WORKLOAD_IDS.join(', ')})`);
  return new Set(ids as WorkloadId[]);
}

function parseMconn(v: string): Partial<MConnConfig> {
  const out: Record<string, number> = {};
  for (const kv of v.split(',').filter(Boolean)) {
    const [k, val] = kv.split('=');
    if (!k || !(k in DEFAULT_MCONN_CONFIG))
      throw new InvalidArgumentError(`unknown MConnConfig key ${k} (expected ${Object.keys(DEFAULT_MCONN_CONFIG).join(', ')})`);
    const n = Number(val);
    if (val === undefined || !Number.isFinite(n)) throw new InvalidArgumentError(`--mconn ${k} needs a number`);
    out[k] = n;
  }
  return out as Partial<MConnConfig>;
}

/** True when `taskset` works here and there are at least 2 CPUs. */
function canPin(): boolean {
  return cpus().length >= 2 && spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds ≥ 0');
  return n;
}

function parseRuns(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('--runs must be a positive integer');
  return n;
}

/** Parse argv, run, report. Resolves with the exit status. */
async function main(argv: string[]): Promise<number> {
  const cmd = new Command()
    .name('bench')
    .description(
      'switchboard benchmark suite: MConnection throughput, latency, priority isolation, fan-out and scale, against a raw TCP baseline',
    )
    .option('--quick', 'counts ÷10, one run, W6 up to 10 peers, W7 100 peers (under a minute)', false)
    .option('--plaintext', 'run the MConnection without SecretConnection (W1–W7)', false)
    .option('--only <ids>', `comma-separated workloads (${WORKLOAD_IDS.join(',')}); W1–W4 bring their W8 baseline`, parseOnly)
    .option('--runs <n>', 'runs per case; the median is reported (default 3, quick 1)', parseRuns)
    .option('--no-baseline', 'do not run the W8 baseline next to W1–W4')
    .option('--profile', 'write V8 CPU profiles of the W1–W3 MConnection senders and receivers and summarise them', false)
    .option(
      '--mconn <key=value,...>',
      'experiment: override MConnConfig fields, e.g. sendRate=300000000 (flagged in the report)',
      parseMconn,
    )
    .option('--no-pin', 'do not pin the point-to-point processes to CPUs (pinned with taskset by default, when available)')
    .option(
      '--wait-quiet <seconds>',
      'before each run, wait up to this long for other work on the machine to stop (default 0)',
      parseSeconds,
      0,
    )
    .option('--out <dir>', 'directory for the reports', DEFAULT_OUT)
    .exitOverride();
  try {
    cmd.parse(argv);
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const a = cmd.opts<{
    quick: boolean;
    plaintext: boolean;
    only?: Set<WorkloadId>;
    runs?: number;
    baseline: boolean;
    profile: boolean;
    mconn?: Partial<MConnConfig>;
    waitQuiet: number;
    pin: boolean;
    out: string;
  }>();
  // one time for the file names and the report's date: the start
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const name = `${stamp}-${a.plaintext ? 'plaintext' : 'encrypted'}${a.quick ? '-quick' : ''}${a.mconn ? '-custom' : ''}`;
  const opts: BenchOptions = {
    quick: a.quick,
    runs: a.runs ?? (a.quick ? 1 : 3),
    plaintext: a.plaintext,
    only: a.only ?? new Set(WORKLOAD_IDS),
    baseline: a.baseline,
    profileDir: a.profile ? join(a.out, `${name}-profiles`) : undefined,
    mconn: a.mconn ?? {},
    pin: a.pin && canPin(),
  };
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });

  const cases = buildCases(opts);
  const progress = new Progress(cases.length * opts.runs);
  progress.status('measuring the encryption ceiling');
  const crypto = measureCryptoCeiling();
  const started = Date.now();
  const results: CaseResult[] = [];
  const allBusy: number[] = [];
  for (const c of cases) {
    const samples: Sample[] = [];
    const errors: string[] = [];
    const busy: number[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      progress.step(`${c.id} ${c.title} · ${c.link} · run ${run}/${opts.runs}`);
      progress.status('checking background load');
      busy.push(
        await waitForQuiet(a.waitQuiet * 1000, (b) =>
          progress.status(`waiting for a quiet machine (other work uses ${Math.round(b)} % of it)`),
        ),
      );
      const mark = markLoad();
      try {
        const sample = await c.run({ run, status: (s) => progress.status(s) });
        const other = otherWorkPct(
          mark,
          sample.procs.reduce((x, p) => x + p.totalCpuMs, 0),
        );
        sample.metrics.otherWorkPct = other;
        busy.push(other);
        samples.push(sample);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        errors.push(msg);
        progress.log(`${c.id} run ${run} failed: ${msg.split('\n')[0]}`);
      }
    }
    results.push(caseResult(c, samples, errors, busy));
    allBusy.push(...busy);
  }
  progress.done();

  attachRatios(results);
  const report: BenchReport = {
    meta: collectMeta(opts, startedAt, (Date.now() - started) / 1000, crypto, {
      maxBusyPct: summarize(allBusy).max,
      medianBusyPct: median(allBusy),
    }),
    cases: results,
    targets: checkTargets(results, opts.plaintext),
  };
  if (opts.profileDir) report.profiles = findProfiles([opts.profileDir]).map((f) => summarizeProfile(f));

  mkdirSync(a.out, { recursive: true });
  const files = { md: join(a.out, `${name}.md`), json: join(a.out, `${name}.json`), svg: join(a.out, `${name}.svg`) };
  writeFileSync(files.svg, renderChart(report));
  writeFileSync(files.md, renderMarkdown(report, `${name}.svg`));
  writeFileSync(files.json, JSON.stringify(report, null, 2) + '\n');
  console.log(renderTerminal(report));
  console.log(
    `\nReports: ${Object.values(files)
      .map((f) => relative(process.cwd(), f))
      .join(', ')}`,
  );
  if (opts.profileDir) console.log(`CPU profiles: ${relative(process.cwd(), opts.profileDir)} (summaries in the Markdown report)`);
  return results.some((r) => r.errors.length > 0) ? 1 : 0;
}

main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
