/**
 * Benchmark results: per-case summaries (median and min–max over the runs,
 * CPU and peak RSS of each process), ratios to the W8 baseline, the target
 * checks, and their renderings — a terminal table, a Markdown report and a
 * JSON report.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { DEFAULT_MCONN_CONFIG, type MConnConfig } from '../lib/conn/mconn-config.js';
import type { ProfileSummary } from './profile-summary.js';
import { renderProfileSummaries } from './profile-summary.js';
import type { CryptoCeiling } from './crypto-ceiling.js';
import { BUSY_THRESHOLD_PCT } from './host-load.js';
import { BENCH_SEND_QUEUE_CAPACITY } from './link.js';
import { type Summary, summarize } from './stats.js';
import type { BenchCase, BenchOptions, MetricDef, Sample } from './workloads.js';

/** CPU and peak RSS of one process role across the runs. */
export interface ProcSummary {
  role: string;
  cpuPct: Summary;
  maxRssMiB: Summary;
}

/** The results of one case: its definition (without the runner) and what its runs measured. */
export interface CaseResult extends Omit<BenchCase, 'run'> {
  samples: Sample[];
  /** Messages of failed runs. */
  errors: string[];
  /** Every metric over the successful runs. */
  summary: Record<string, Summary>;
  procs: ProcSummary[];
  /** Median of the primary metric / the baseline's (set by {@link attachRatios}). */
  ratio?: number;
  /** Highest load of other work (% of all cores) measured before or during one of its runs. */
  backgroundBusyPct: number;
}

/** One target of the issue, checked. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** undefined when the case did not run or failed. */
  pass: boolean | undefined;
}

/** Where and how the benchmarks ran. */
export interface BenchMeta {
  /** When the session started (ISO 8601, UTC): the time the report files are named after. */
  date: string;
  host: { cpu: string; cores: number; memGiB: number; os: string; node: string };
  git?: { commit: string; dirty: boolean };
  mode: 'encrypted' | 'plaintext';
  /** Point-to-point processes pinned to CPUs (see `pinFor` in workloads.ts). */
  pinned: boolean;
  quick: boolean;
  runs: number;
  sendQueueCapacity: number;
  mconnConfig: MConnConfig;
  /** The `--mconn` overrides of the shipped defaults (empty: as shipped). */
  mconnOverrides: Partial<MConnConfig>;
  /** Kernel TCP buffer settings (min default max), which bound the bytes in flight (W5). */
  tcp: { rmem: string; wmem: string };
  /** ChaCha20-Poly1305 seal/open rate of 64 KiB frames on one core (the encrypted ceiling). */
  crypto: CryptoCeiling;
  /** Busy share of the machine (%) measured just before each run while no benchmark process ran: highest and median. */
  background: { maxBusyPct: number; medianBusyPct: number };
  durationS: number;
}

/** Everything written to the JSON report. */
export interface BenchReport {
  meta: BenchMeta;
  cases: CaseResult[];
  targets: TargetCheck[];
  profiles?: ProfileSummary[];
}

/** Summarise the samples of a case; `busyPct` are the loads of other work measured before and during its runs. */
export function caseResult(c: BenchCase, samples: Sample[], errors: string[], busyPct: number[]): CaseResult {
  const keys = new Set<string>([...c.metrics.map((m) => m.key), ...samples.flatMap((s) => Object.keys(s.metrics))]);
  const summary: Record<string, Summary> = {};
  for (const k of keys) summary[k] = summarize(samples.map((s) => s.metrics[k] ?? NaN));
  const roles = samples[0]?.procs.map((p) => p.role) ?? [];
  const procs = roles.map((role, i) => ({
    role,
    cpuPct: summarize(samples.map((s) => s.procs[i]?.cpuPct ?? NaN)),
    maxRssMiB: summarize(samples.map((s) => s.procs[i]?.maxRssMiB ?? NaN)),
  }));
  const busy = busyPct.filter(Number.isFinite);
  return {
    id: c.id,
    workload: c.workload,
    title: c.title,
    link: c.link,
    params: c.params,
    metrics: c.metrics,
    baselineId: c.baselineId,
    samples,
    errors,
    summary,
    procs,
    backgroundBusyPct: busy.length ? Math.max(...busy) : NaN,
  };
}

/** Set `ratio` of every case that has a baseline which ran. */
export function attachRatios(rs: CaseResult[]): void {
  for (const r of rs) {
    const b = r.baselineId ? rs.find((x) => x.id === r.baselineId) : undefined;
    if (!b) continue;
    const k = r.metrics[0]!.key;
    const v = r.summary[k]?.median ?? NaN;
    const bv = b.summary[k]?.median ?? NaN;
    if (Number.isFinite(v) && Number.isFinite(bv) && bv > 0) r.ratio = v / bv;
  }
}

const med = (r: CaseResult | undefined, k: string) => r?.summary[k]?.median ?? NaN;

/** Check the issue's targets that apply to this mode (encrypted as shipped, or plaintext). */
export function checkTargets(rs: CaseResult[], plaintext: boolean): TargetCheck[] {
  const get = (id: string) => rs.find((r) => r.id === id && r.samples.length > 0);
  const out: TargetCheck[] = [];
  const t = (target: string, r: CaseResult | undefined, measured: () => string, ok: () => boolean) =>
    out.push(r ? { target, measured: measured(), pass: ok() } : { target, measured: 'not run', pass: undefined });
  if (!plaintext) {
    const w1 = get('W1');
    t(
      'W1 ≥ 1,000,000 msgs/s',
      w1,
      () => `${fmt(med(w1, 'msgsPerSec'), 'msgs/s')} msgs/s`,
      () => med(w1, 'msgsPerSec') >= 1e6,
    );
    const w3 = get('W3');
    t(
      'W3 ≥ 350,000 msgs/s',
      w3,
      () => `${fmt(med(w3, 'msgsPerSec'), 'msgs/s')} msgs/s`,
      () => med(w3, 'msgsPerSec') >= 350_000,
    );
    const w2 = get('W2');
    t(
      'W2 ≥ 1 GB/s',
      w2,
      () => `${fmt(med(w2, 'MBps'), 'MB/s')} MB/s`,
      () => med(w2, 'MBps') >= 1000,
    );
    const w4 = get('W4');
    const w84 = get('W8/W4');
    t(
      'W4 p50 ≤ 2× W8 ping-pong p50',
      w4 && w84,
      () => `${fmt(med(w4, 'p50Us'), 'µs')} µs = ${fmt(w4!.ratio ?? NaN, '×')}× W8 (${fmt(med(w84, 'p50Us'), 'µs')} µs)`,
      () => (w4!.ratio ?? Infinity) <= 2,
    );
    const w5 = get('W5');
    t(
      'W5 ping p99 ≤ 2 ms while bulk saturates',
      w5,
      () => `${fmt(med(w5, 'p99Us'), 'µs')} µs (bulk ${fmt(med(w5, 'bulkMBps'), 'MB/s')} MB/s)`,
      () => med(w5, 'p99Us') <= 2000,
    );
    const w10 = get('W10');
    t(
      'W10 ping p99 ≤ 2× unpaused while another channel is paused',
      w10,
      () =>
        `${fmt(med(w10, 'p99Us'), 'µs')} µs = ${fmt(med(w10, 'p99Us') / med(w10, 'idleP99Us'), '×')}× unpaused (${fmt(med(w10, 'idleP99Us'), 'µs')} µs)`,
      () => med(w10, 'p99Us') <= 2 * med(w10, 'idleP99Us'),
    );
    const w7 = get('W7');
    t(
      'W7 ≤ 64 KiB RSS per idle peer',
      w7,
      () => `${fmt(med(w7, 'rssPerPeerKiB'), 'KiB')} KiB`,
      () => med(w7, 'rssPerPeerKiB') <= 64,
    );
  } else {
    for (const [id, min] of [
      ['W2', 0.6],
      ['W3', 0.4],
    ] as const) {
      const r = get(id);
      const b = get(`W8/${id}`);
      t(
        `plaintext ${id} ≥ ${min * 100} % of W8`,
        r && b,
        () => `${fmt(100 * (r!.ratio ?? NaN), '%')} % of W8`,
        () => (r!.ratio ?? 0) >= min,
      );
    }
  }
  return out;
}

/** Gather host, git and configuration facts; `startedAt` is when the session began (the report's date and file names). */
export function collectMeta(
  o: BenchOptions,
  startedAt: Date,
  durationS: number,
  crypto: CryptoCeiling,
  background: BenchMeta['background'],
): BenchMeta {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = sh('git', ['rev-parse', '--short', 'HEAD']);
  const proc = (p: string) => {
    try {
      return readFileSync(p, 'utf8').trim().replace(/\s+/g, ' ');
    } catch {
      return 'n/a';
    }
  };
  return {
    date: startedAt.toISOString(),
    host: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memGiB: Math.round(totalmem() / 2 ** 30),
      os: `${process.platform} ${release()}`,
      node: process.version,
    },
    git: commit ? { commit, dirty: (sh('git', ['status', '--porcelain']) ?? '') !== '' } : undefined,
    mode: o.plaintext ? 'plaintext' : 'encrypted',
    pinned: o.pin,
    quick: o.quick,
    runs: o.runs,
    sendQueueCapacity: BENCH_SEND_QUEUE_CAPACITY,
    mconnConfig: { ...DEFAULT_MCONN_CONFIG, ...o.mconn },
    mconnOverrides: { ...o.mconn },
    tcp: { rmem: proc('/proc/sys/net/ipv4/tcp_rmem'), wmem: proc('/proc/sys/net/ipv4/tcp_wmem') },
    crypto,
    background,
    durationS,
  };
}

// ---- formatting --------------------------------------------------------------

/** A number for a table: integers with thousands separators, small values with decimals. */
export function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  const digits = unit === '×' ? 2 : unit === 'msgs/s' ? 0 : a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 1 : 2;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtMetric(m: MetricDef, v: number): string {
  return m.label === m.unit ? `${fmt(v, m.unit)} ${m.unit}` : `${m.label} ${fmt(v, m.unit)} ${m.unit}`;
}

function fmtRatio(r: CaseResult): string {
  if (r.ratio === undefined) return '';
  return r.metrics[0]!.better === 'higher' ? `${fmt(100 * r.ratio, '%')} %` : `${fmt(r.ratio, '×')}×`;
}

/** The Range cell of a case with a single successful run (explained under the table). */
const ONE_RUN = '—';

const caseId = (r: CaseResult) => (r.backgroundBusyPct > BUSY_THRESHOLD_PCT ? `${r.id} ⚠` : r.id);

/**
 * The results table: one row per case with its primary figure (every figure
 * of a case is in the Markdown report's Details). Kept narrow (about 110
 * columns as Markdown) so it reads in a terminal and in a raw file.
 */
function resultsTable(rs: CaseResult[]): string[][] {
  const rows = rs.map((r) => {
    const p = r.metrics[0]!;
    const ok = r.samples.length > 0;
    const s = r.summary[p.key];
    let median = ok ? fmtMetric(p, s?.median ?? NaN) : 'FAILED';
    if (ok && r.errors.length > 0) median += ` (${r.errors.length} of ${r.samples.length + r.errors.length} runs failed)`;
    const range = !ok || !s ? '' : r.samples.length === 1 ? ONE_RUN : `${fmt(s.min, p.unit)}–${fmt(s.max, p.unit)}`;
    return [caseId(r), r.title, r.link, median, range, fmtRatio(r)];
  });
  return [['ID', 'Workload', 'Link', 'Median', 'Range (min–max)', 'vs W8'], ...rows];
}

/** The processes table: CPU and peak RSS of each process role, medians over the runs. */
function processTable(rs: CaseResult[]): string[][] {
  const rows = rs
    .filter((r) => r.procs.length > 0)
    .map((r) => [
      caseId(r),
      r.procs.map((x) => `${x.role} ${fmt(x.cpuPct.median, '%')}`).join(' · '),
      r.procs.map((x) => `${x.role} ${fmt(x.maxRssMiB.median, 'MiB')}`).join(' · '),
    ]);
  return [['ID', 'CPU % of one core', 'Peak RSS MiB'], ...rows];
}

/** The note under the results table when some case has a single run, else undefined. */
function oneRunNote(rep: BenchReport): string | undefined {
  if (!rep.cases.some((r) => r.samples.length === 1)) return undefined;
  return rep.meta.runs === 1
    ? `${ONE_RUN} in Range: 1 run per case${rep.meta.quick ? ' (quick mode)' : ''}, so no range; \`--runs N\` measures one`
    : `${ONE_RUN} in Range: only 1 of the runs of that case succeeded, so no range`;
}

/** Caveat printed with the targets of a quick run. */
const QUICK_NOTE = 'quick mode, indicative only: runs of tens of milliseconds are dominated by JIT warm-up';

/** Plain-text tables with aligned columns. */
function alignedTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
}

/** A Markdown table (cells escaped). */
function markdownTable(rows: string[][]): string[] {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${rows[0]!.join(' | ')} |`,
    `|${rows[0]!.map(() => '---').join('|')}|`,
    ...rows.slice(1).map((r) => `| ${r.map(esc).join(' | ')} |`),
  ];
}

/** The terminal rendering: header, results and processes tables, failed runs, targets. */
export function renderTerminal(rep: BenchReport): string {
  const note = oneRunNote(rep);
  const out = [
    headerLine(rep),
    '',
    ...alignedTable(resultsTable(rep.cases)),
    ...(note ? [note] : []),
    '',
    ...alignedTable(processTable(rep.cases)),
  ];
  const failed = rep.cases.flatMap((r) => r.errors.map((e) => `  ${r.id}: ${e.split('\n')[0]!.slice(0, 160)}`));
  if (failed.length > 0) out.push('', 'Failed runs:', ...failed);
  if (rep.targets.length > 0) {
    out.push('', rep.meta.quick ? `Targets (${QUICK_NOTE}):` : 'Targets:');
    for (const t of rep.targets) out.push(`  ${t.pass === undefined ? '  ?  ' : t.pass ? ' PASS' : ' MISS'}  ${t.target}: ${t.measured}`);
  }
  return out.join('\n');
}

/** A warning when other work competed for the CPUs before some run. */
function busyWarning(rep: BenchReport): string | undefined {
  const flagged = rep.cases.filter((c) => c.backgroundBusyPct > BUSY_THRESHOLD_PCT).map((c) => c.id);
  if (flagged.length === 0) return undefined;
  return `WARNING: other work used up to ${fmt(rep.meta.background.maxBusyPct, '%')} % of all cores before or during ${flagged.join(', ')} (marked ⚠): those figures are unreliable`;
}

function headerLine(rep: BenchReport): string {
  const m = rep.meta;
  const warn = busyWarning(rep);
  return [
    ...(warn ? [warn] : []),
    `switchboard benchmarks — ${m.mode}${m.quick ? ', quick' : ''}, ${m.runs} run${m.runs > 1 ? 's' : ''} per case (median shown), ${m.date}`,
    `${m.host.cpu}, ${m.host.cores} cores, ${m.host.memGiB} GiB, ${m.host.os}, Node ${m.host.node}${m.git ? `, commit ${m.git.commit}${m.git.dirty ? ' (dirty)' : ''}` : ''}`,
    `${m.pinned ? 'pinned: sender CPU 0 / receiver CPU 1, W4 both CPU 0; ' : 'not pinned; '}sender: trySend while true, else await send; sendQueueCapacity ${m.sendQueueCapacity} (W7: CometBFT default 1); ` +
      (Object.keys(m.mconnOverrides).length > 0
        ? `MConnection config CHANGED from the shipped defaults: ${JSON.stringify(m.mconnOverrides)}`
        : `MConnection defaults as shipped (maxPacketMsgPayloadSize ${m.mconnConfig.maxPacketMsgPayloadSize}, maxBatchBytes ${m.mconnConfig.maxBatchBytes}, flushThrottleMs ${m.mconnConfig.flushThrottleMs})`) +
      '; MB = 10^6 bytes',
    `encryption ceiling on one core (ChaCha20-Poly1305, 64 KiB frames): seal ${fmt(m.crypto.sealMBps, 'MB/s')} MB/s, open ${fmt(m.crypto.openMBps, 'MB/s')} MB/s`,
  ].join('\n');
}

/** Widest line of the Markdown report (tables, and prose wrapped to it), so a raw report reads in a terminal. */
export const MARKDOWN_WIDTH = 120;

/** A Markdown list item of `text`, wrapped at spaces to {@link MARKDOWN_WIDTH} with continuation lines indented. */
function bullet(text: string): string[] {
  const lines: string[] = [];
  let line = '-';
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > MARKDOWN_WIDTH && line.trim() !== '-') {
      lines.push(line);
      line = ' ';
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/** A configuration object as `key=value` pairs (one code span each, so a line can wrap between them). */
const pairs = (o: object) =>
  Object.entries(o)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(' ');

/** The unit of a figure in the Details tables. */
function unitOf(k: string, md: MetricDef | undefined): string {
  return md?.unit ?? (k === 'seconds' ? 's' : k.endsWith('Pct') ? '%' : k.endsWith('KiB') ? 'KiB' : k.endsWith('Us') ? 'µs' : '');
}

/**
 * The Markdown report. `chartFile` is linked when given. Every line outside
 * code blocks and the CPU-profile section fits {@link MARKDOWN_WIDTH}
 * columns given the workloads' titles: the results are split into a results
 * table (primary figure, range, ratio) and a processes table (CPU, RSS),
 * and every figure of a case is in its Details table. Dates are the
 * session's start, as the file names.
 */
export function renderMarkdown(rep: BenchReport, chartFile?: string): string {
  const m = rep.meta;
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out: string[] = [];
  out.push(`# switchboard benchmarks — ${m.mode}${m.quick ? ' (quick)' : ''}`, '');
  const bullets = [
    `Started: ${m.date}; took ${Math.round(m.durationS)} s`,
    `Host: ${m.host.cpu}, ${m.host.cores} cores, ${m.host.memGiB} GiB RAM, ${m.host.os}, Node ${m.host.node}`,
    m.git ? `Commit: ${m.git.commit}${m.git.dirty ? ' (working tree dirty)' : ''}` : 'Commit: unknown',
    `Runs per case: ${m.runs} (medians shown${m.runs > 1 ? ', min–max of the primary figure in "Range"' : ''})`,
    m.pinned
      ? 'CPU pinning (taskset): W1–W3, W5 and their W8 sender on CPU 0, receiver on CPU 1; W4 and W8/W4 both on CPU 0 (cross-CPU wake-ups would dominate the latency); W6/W7 not pinned'
      : 'CPU pinning: none (the OS places the processes)',
    `Sending: \`trySend\` while it returns true, \`await send\` when it does not; every benchmark channel has sendQueueCapacity **${m.sendQueueCapacity}** (W7 keeps CometBFT's default of 1)`,
    Object.keys(m.mconnOverrides).length > 0
      ? `MConnection config: ${pairs(m.mconnConfig)} — **changed from the shipped defaults by --mconn: ${pairs(m.mconnOverrides)}**`
      : `MConnection config as shipped: ${pairs(m.mconnConfig)}`,
    `Time = sender's first send → receiver's last message (process.hrtime.bigint in both processes); MB = 10^6 bytes; CPU % is of one core over each process's measured window; peak RSS is \`process.resourceUsage().maxRSS\``,
    `Kernel TCP buffers: rmem ${m.tcp.rmem}, wmem ${m.tcp.wmem}`,
    `Encryption ceiling (one core, node:crypto ChaCha20-Poly1305, ${m.crypto.frameBytes / 1024} KiB frames): seal ${fmt(m.crypto.sealMBps, 'MB/s')} MB/s, open ${fmt(m.crypto.openMBps, 'MB/s')} MB/s`,
    `Other work on the machine (measured before each run, and during it as machine busy time minus our processes' CPU): median ${fmt(m.background.medianBusyPct, '%')} %, highest ${fmt(m.background.maxBusyPct, '%')} % of all cores; cases above ${BUSY_THRESHOLD_PCT} % are marked ⚠`,
  ];
  out.push(...bullets.flatMap(bullet), '');
  const warn = busyWarning(rep);
  if (warn) out.push(...bullet(`**${warn}**`).map((l) => `> ${l.slice(2)}`), '');
  out.push('## Results', '', ...markdownTable(resultsTable(rep.cases)));
  const note = oneRunNote(rep);
  if (note) out.push('', `_${note}._`);
  out.push(
    '',
    'Every figure of each case is under Details; failed runs too.',
    '',
    '### Processes (medians)',
    '',
    ...markdownTable(processTable(rep.cases)),
    '',
  );
  if (rep.targets.length > 0) {
    out.push('## Targets', '', ...(rep.meta.quick ? [`_${QUICK_NOTE}._`, ''] : []), '| | Target | Measured |', '|---|---|---|');
    for (const t of rep.targets)
      out.push(`| ${t.pass === undefined ? '?' : t.pass ? '✅' : '❌'} | ${esc(t.target)} | ${esc(t.measured)} |`);
    out.push('');
  }
  if (chartFile) out.push('## Chart', '', `![throughput by message size and W5 latency](${chartFile})`, '');
  out.push('## Details', '');
  for (const r of rep.cases) {
    out.push(`### ${r.id} — ${r.title} (${r.link})`, '');
    out.push(
      ...bullet(
        `Parameters: ${Object.entries(r.params)
          .map(([k, v]) => `${k}=${typeof v === 'number' ? v.toLocaleString('en-US') : v}`)
          .join(', ')}`,
      ).map((l) => l.slice(2)),
      '',
    );
    if (r.samples.length > 0) {
      // one run: one value per figure (a min and max equal to it would only repeat it)
      const one = r.samples.length === 1;
      const row = (name: string, unit: string, x: { median: number; min: number; max: number }) =>
        one ? `| ${name} | ${fmt(x.median, unit)} |` : `| ${name} | ${fmt(x.median, unit)} | ${fmt(x.min, unit)} | ${fmt(x.max, unit)} |`;
      out.push(...(one ? ['| figure | value (1 run) |', '|---|---:|'] : ['| figure | median | min | max |', '|---|---:|---:|---:|']));
      for (const [k, s] of Object.entries(r.summary)) {
        const md = r.metrics.find((x) => x.key === k);
        const unit = unitOf(k, md);
        const name = md ? md.label : k;
        // a label that is its unit (`msgs/s`) is not followed by it again
        out.push(row(`${name}${unit && unit !== name ? ` (${unit})` : ''}`, unit, s));
      }
      for (const p of r.procs) {
        out.push(row(`${p.role} CPU (%)`, '%', p.cpuPct));
        out.push(row(`${p.role} peak RSS (MiB)`, 'MiB', p.maxRssMiB));
      }
      out.push('');
    }
    for (const e of r.errors) out.push('```', e, '```', '');
  }
  if (rep.profiles && rep.profiles.length > 0) out.push('## CPU profiles (self time)', '', renderProfileSummaries(rep.profiles));
  return out.join('\n');
}
