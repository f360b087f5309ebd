/**
 * `switchboard simulate`: run {@link runSimulation} and print its report as
 * a table; write the time series as an SVG plot. With `--scale 100,300,1000`
 * it runs each size in a process of its own (so each peak RSS is that size's
 * alone) and reports how wall time and memory grow with the node count.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runSimulation, type Scenario, type SimulationReport } from './simulation.js';

/** Options of the `simulate` command. */
export interface SimulateCommandOptions {
  nodes: number;
  seeds: number;
  seed: number;
  latency: number;
  jitter: number;
  bandwidth: number;
  secret: boolean;
  maxOutbound: number;
  scenario: Scenario;
  timeout: number;
  svg: string;
  /** Print the report as JSON on stdout (no table, no plot). */
  json?: boolean;
  /** Node counts to run one after another, each in its own process (`nodes` is then ignored). */
  scale?: number[];
}

const fmt = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');

/** The report as a plain-text table. */
export function renderTable(r: SimulationReport): string {
  const last = r.samples.at(-1);
  const lines = [
    `nodes ${r.options.nodes} (seeds ${r.options.seeds}), links ${r.options.latencyMs} ± ${r.options.jitterMs} ms${r.options.bandwidth ? `, ${r.options.bandwidth} B/s` : ''}, ${r.options.secret ? 'SecretConnection' : 'plaintext'}, scenario ${r.options.scenario}`,
    `outbound target ${r.outboundTarget}; nodes at target (or connected to every other node) at the end: ${last ? `${last.atTarget}/${last.nodes}` : '—'}; converged after ${fmt(r.convergedMs)} ms`,
    `connections at the end: ${last?.connections ?? '—'}`,
    `traffic per node: ${fmt(r.bytesPerNode)} bytes, ${fmt(r.writesPerNode)} writes, ${fmt(r.gossipMsgsPerNode, 1)} gossip messages`,
    `wall ${fmt(r.wallMs)} ms, peak RSS ${fmt(r.peakRssBytes / 2 ** 20, 1)} MiB (${fmt(r.peakRssBytes / r.options.nodes / 2 ** 10)} KiB per node)`,
    '',
    'phase       reached   p50 ms   p99 ms   t50/t90/t100 ms        hops 50/90/100   dup/delivered   all at s',
  ];
  for (const p of r.propagations) {
    lines.push(
      [
        p.phase.padEnd(10),
        `${p.reached}/${p.expected}`.padStart(8),
        fmt(p.p50Ms).padStart(8),
        fmt(p.p99Ms).padStart(8),
        `${fmt(p.timeToMs[0])}/${fmt(p.timeToMs[1])}/${fmt(p.timeToMs[2])}`.padStart(17),
        `${fmt(p.hopsTo[0])}/${fmt(p.hopsTo[1])}/${fmt(p.hopsTo[2])}`.padStart(16),
        fmt(p.duplicatesPerDelivery, 2).padStart(15),
        fmt((p.publishedAtMs + p.timeToMs[2]) / 1000, 1).padStart(8),
      ].join('   '),
    );
  }
  return lines.join('\n');
}

/** The time series (nodes at target, connections) as an SVG line plot. */
export function renderPlot(r: SimulationReport): string {
  const W = 720;
  const H = 360;
  const L = 60;
  const T = 30;
  const PW = W - L - 150;
  const PH = H - T - 50;
  const s = r.samples;
  const tMax = Math.max(1, ...s.map((x) => x.t));
  const series: [string, string, (x: (typeof s)[number]) => number][] = [
    ['nodes at target', '#2b6cb0', (x) => x.atTarget],
    ['running nodes', '#888888', (x) => x.nodes],
    ['connections', '#c05621', (x) => x.connections],
  ];
  const yMax = Math.max(1, ...s.flatMap((x) => series.map(([, , f]) => f(x))));
  const X = (t: number) => (L + (t / tMax) * PW).toFixed(1);
  const Y = (v: number) => (T + PH - (v / yMax) * PH).toFixed(1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<text x="${L}" y="18" font-size="14">switchboard simulate: ${r.options.nodes} nodes, ${r.options.scenario}</text>`,
    `<line x1="${L}" y1="${T + PH}" x2="${L + PW}" y2="${T + PH}" stroke="#000"/><line x1="${L}" y1="${T}" x2="${L}" y2="${T + PH}" stroke="#000"/>`,
    `<text x="${L + PW / 2}" y="${H - 12}" text-anchor="middle">time (s)</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    const t = (tMax * i) / 4;
    out.push(`<text x="${L - 6}" y="${Y(v)}" text-anchor="end">${Math.round(v)}</text>`);
    out.push(`<text x="${X(t)}" y="${T + PH + 16}" text-anchor="middle">${(t / 1000).toFixed(1)}</text>`);
  }
  let prev = '';
  for (const x of s) {
    if (x.phase !== prev)
      out.push(
        `<line x1="${X(x.t)}" y1="${T}" x2="${X(x.t)}" y2="${T + PH}" stroke="#ccc" stroke-dasharray="4 3"/><text x="${X(x.t)}" y="${T - 4}" fill="#666">${x.phase}</text>`,
      );
    prev = x.phase;
  }
  series.forEach(([label, color, f], i) => {
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${s.map((x) => `${X(x.t)},${Y(f(x))}`).join(' ')}"/>`);
    out.push(
      `<rect x="${L + PW + 16}" y="${T + i * 20}" width="12" height="12" fill="${color}"/><text x="${L + PW + 34}" y="${T + i * 20 + 11}">${label}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

/** What a scale run keeps of one size's report. */
export interface ScalePoint {
  /** Nodes, seeds included. */
  nodes: number;
  /** Time until every non-seed node was at its target (ms since the nodes started dialing; NaN if not within the deadline). */
  convergedMs: number;
  /** When the first greeting had reached every node it should (ms since the start of the run; NaN if it never did). */
  greetedAllAtMs: number;
  /** Nodes the first greeting reached. */
  reached: number;
  /** Nodes the first greeting should have reached. */
  expected: number;
  /** Wall time of the run (ms). */
  wallMs: number;
  /** Peak RSS of the process (bytes). */
  peakRssBytes: number;
}

/** The {@link ScalePoint} of one report. */
export function scalePoint(r: SimulationReport): ScalePoint {
  const g = r.propagations[0];
  return {
    nodes: r.options.nodes,
    convergedMs: r.convergedMs,
    greetedAllAtMs: g ? g.publishedAtMs + g.timeToMs[2] : NaN,
    reached: g?.reached ?? 0,
    expected: g?.expected ?? 0,
    wallMs: r.wallMs,
    peakRssBytes: r.peakRssBytes,
  };
}

/** A scale run as a plain-text table: per size, and the growth per added node from the previous size. */
export function renderScaleTable(points: ScalePoint[]): string {
  const lines = ['nodes   converged s   greeting reached   all at s   wall s   peak RSS MiB   KiB/node   per added node: wall ms, RSS KiB'];
  points.forEach((p, i) => {
    const q = points[i - 1];
    const d = q ? p.nodes - q.nodes : 0;
    const growth = q && d > 0 ? `${fmt((p.wallMs - q.wallMs) / d, 1)}, ${fmt((p.peakRssBytes - q.peakRssBytes) / d / 1024)}` : '—';
    lines.push(
      [
        String(p.nodes).padStart(5),
        fmt(p.convergedMs / 1000, 1).padStart(11),
        `${p.reached}/${p.expected}`.padStart(16),
        fmt(p.greetedAllAtMs / 1000, 1).padStart(8),
        fmt(p.wallMs / 1000, 1).padStart(6),
        fmt(p.peakRssBytes / 2 ** 20, 1).padStart(12),
        fmt(p.peakRssBytes / p.nodes / 1024).padStart(8),
        growth.padStart(35),
      ].join('   '),
    );
  });
  return lines.join('\n');
}

/** A scale run as an SVG: wall time (s) and peak RSS (MiB) against the node count, two panels. */
export function renderScalePlot(points: ScalePoint[]): string {
  const W = 720;
  const H = 320;
  const T = 40;
  const PW = 270;
  const PH = H - T - 50;
  const nMax = Math.max(1, ...points.map((p) => p.nodes));
  const panel = (x0: number, title: string, color: string, f: (p: ScalePoint) => number): string[] => {
    const yMax = Math.max(1, ...points.map(f).filter(Number.isFinite));
    const X = (n: number) => (x0 + (n / nMax) * PW).toFixed(1);
    const Y = (v: number) => (T + PH - (v / yMax) * PH).toFixed(1);
    const ok = points.filter((p) => Number.isFinite(f(p)));
    return [
      `<text x="${x0}" y="${T - 10}">${title}</text>`,
      `<line x1="${x0}" y1="${T + PH}" x2="${x0 + PW}" y2="${T + PH}" stroke="#000"/><line x1="${x0}" y1="${T}" x2="${x0}" y2="${T + PH}" stroke="#000"/>`,
      `<text x="${x0 + PW / 2}" y="${H - 12}" text-anchor="middle">nodes</text>`,
      ...[0, 1, 2, 3, 4].map((i) => `<text x="${x0 - 6}" y="${Y((yMax * i) / 4)}" text-anchor="end">${Math.round((yMax * i) / 4)}</text>`),
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${ok.map((p) => `${X(p.nodes)},${Y(f(p))}`).join(' ')}"/>`,
      ...ok.map(
        (p) =>
          `<circle cx="${X(p.nodes)}" cy="${Y(f(p))}" r="3" fill="${color}"/><text x="${X(p.nodes)}" y="${T + PH + 16}" text-anchor="middle">${p.nodes}</text>`,
      ),
    ];
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<text x="60" y="18" font-size="14">switchboard simulate: cost by node count</text>`,
    ...panel(60, 'wall time (s)', '#2b6cb0', (p) => p.wallMs / 1000),
    ...panel(420, 'peak RSS (MiB)', '#c05621', (p) => p.peakRssBytes / 2 ** 20),
    '</svg>',
  ].join('\n');
}

/** Run `simulate --json` for `nodes` in a child process of this CLI; resolves with its report. */
function runChild(o: SimulateCommandOptions, nodes: number): Promise<SimulationReport> {
  const args = [
    ...process.execArgv,
    process.argv[1]!,
    'simulate',
    '--json',
    ...['--nodes', nodes, '--seeds', o.seeds, '--seed', o.seed, '--latency', o.latency, '--jitter', o.jitter].map(String),
    ...['--bandwidth', o.bandwidth, '--max-outbound', o.maxOutbound, '--scenario', o.scenario, '--timeout', o.timeout].map(String),
    ...(o.secret ? ['--secret'] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0 && code !== 1) return reject(new Error(`simulate --nodes ${nodes} exited with ${signal ?? code}`));
      try {
        resolve(JSON.parse(out) as SimulationReport);
      } catch (err) {
        reject(new Error(`simulate --nodes ${nodes} printed no report`, { cause: err }));
      }
    });
  });
}

/** Run the command: progress on stderr, the table on stdout, the plot to `o.svg`. Returns the exit code (1 when a greeting missed a node). */
export async function runSimulateCommand(o: SimulateCommandOptions): Promise<number> {
  if (o.scale) {
    const points: ScalePoint[] = [];
    for (const n of o.scale) {
      process.stderr.write(`simulating ${n} nodes\n`);
      points.push(scalePoint(await runChild(o, n)));
    }
    process.stdout.write(renderScaleTable(points) + '\n');
    writeFileSync(o.svg, renderScalePlot(points));
    process.stdout.write(`plot: ${o.svg}\n`);
    return points.every((p) => p.reached === p.expected) ? 0 : 1;
  }
  const tty = process.stderr.isTTY;
  let shown = -1;
  const report = await runSimulation({
    nodes: o.nodes,
    seeds: o.seeds,
    seed: o.seed,
    latencyMs: o.latency,
    jitterMs: o.jitter,
    bandwidth: o.bandwidth,
    secret: o.secret,
    maxOutbound: o.maxOutbound,
    scenario: o.scenario,
    phaseTimeoutMs: o.timeout,
    onProgress: (f, phase) => {
      const pct = Math.round(f * 100);
      if (pct === shown) return; // one line per percent, not per node
      shown = pct;
      const bar = '#'.repeat(Math.round(f * 30)).padEnd(30, '.');
      if (!o.json) process.stderr.write(tty ? `\r[${bar}] ${pct}% ${phase.padEnd(12)}` : `${pct}% ${phase}\n`);
    },
  });
  if (o.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return report.propagations.every((p) => p.reached === p.expected) ? 0 : 1;
  }
  if (tty) process.stderr.write('\n');
  process.stdout.write(renderTable(report) + '\n');
  writeFileSync(o.svg, renderPlot(report));
  process.stdout.write(`plot: ${o.svg}\n`);
  return report.propagations.every((p) => p.reached === p.expected) ? 0 : 1;
}
