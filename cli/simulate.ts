/**
 * `switchboard simulate`: run {@link runSimulation} and print its report as
 * a table; write the time series as an SVG plot.
 *
 * @module
 */
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
    'phase       reached   p50 ms   p99 ms   t50/t90/t100 ms        hops 50/90/100   dup/delivered',
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

/** Run the command: progress on stderr, the table on stdout, the plot to `o.svg`. Returns the exit code (1 when a greeting missed a node). */
export async function runSimulateCommand(o: SimulateCommandOptions): Promise<number> {
  const tty = process.stderr.isTTY;
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
      const bar = '#'.repeat(Math.round(f * 30)).padEnd(30, '.');
      process.stderr.write(tty ? `\r[${bar}] ${Math.round(f * 100)}% ${phase.padEnd(12)}` : `${Math.round(f * 100)}% ${phase}\n`);
    },
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(renderTable(report) + '\n');
  writeFileSync(o.svg, renderPlot(report));
  process.stdout.write(`plot: ${o.svg}\n`);
  return report.propagations.every((p) => p.reached === p.expected) ? 0 : 1;
}
