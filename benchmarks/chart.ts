/**
 * The results chart, as hand-written SVG (no dependency): throughput by
 * message size (W1 64 B, W3 1 KiB, W2 256 KiB; MConnection next to the raw
 * TCP baseline W8) and ping latency (W8 and W4 on an idle link, W5 on the
 * idle link and under bulk load; p50 and p99 on a log scale, with the 2 ms
 * W5 target as a dashed line, labelled in the legend below the plot so that
 * no bar covers the label).
 *
 * @module
 */
import type { BenchReport, CaseResult } from './report.js';
import { fmt } from './report.js';

const W = 980;
const H = 460;
const PANEL_W = 440;
const PLOT_TOP = 70;
const PLOT_H = 280;
const COLORS = ['#2f6fdf', '#9aa5b1', '#e07b39', '#c23b3b'];

interface Bar {
  label: string;
  value: number;
  color: string;
  note?: string;
}
interface Group {
  label: string;
  bars: Bar[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

/** "Nice" linear ticks from 0 to at least `max`. */
function linearTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step; v += step) ticks.push(v);
  return ticks;
}

/** One bar panel at x offset `x0`; `log` uses a base-10 scale. */
function panel(x0: number, title: string, unit: string, groups: Group[], log: boolean, refLine?: { value: number; label: string }): string {
  const out: string[] = [];
  const left = x0 + 60;
  const plotW = PANEL_W - 70;
  const bottom = PLOT_TOP + PLOT_H;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v) => Number.isFinite(v) && v > 0);
  out.push(text(x0 + PANEL_W / 2, 30, title, 'text-anchor="middle" font-size="15" font-weight="bold"'));
  if (values.length === 0) {
    out.push(text(x0 + PANEL_W / 2, PLOT_TOP + PLOT_H / 2, 'no data', 'text-anchor="middle" fill="#888"'));
    return out.join('\n');
  }
  let y: (v: number) => number;
  let ticks: number[];
  if (log) {
    const all = refLine ? [...values, refLine.value] : values;
    const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...all) * 1.01));
    ticks = [];
    for (let v = lo; v <= hi * 1.001; v *= 10) ticks.push(v);
    y = (v) => bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_H;
  } else {
    ticks = linearTicks(Math.max(...values));
    const top = ticks[ticks.length - 1]!;
    y = (v) => bottom - (v / top) * PLOT_H;
  }
  for (const t of ticks) {
    const ty = y(t);
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#e3e3e3"/>`);
    out.push(text(left - 6, ty + 4, t >= 1000 ? t.toLocaleString('en-US') : String(t), 'text-anchor="end" font-size="11" fill="#555"'));
  }
  out.push(
    text(
      x0 + 14,
      PLOT_TOP + PLOT_H / 2,
      unit,
      `font-size="12" fill="#555" transform="rotate(-90 ${x0 + 14} ${PLOT_TOP + PLOT_H / 2})" text-anchor="middle"`,
    ),
  );
  out.push(`<line x1="${left}" x2="${left + plotW}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`);
  const gw = plotW / groups.length;
  groups.forEach((g, gi) => {
    const n = Math.max(1, g.bars.length);
    const bw = Math.min(44, (gw - 16) / n);
    const gx = left + gi * gw + (gw - bw * n) / 2;
    g.bars.forEach((b, bi) => {
      if (!Number.isFinite(b.value) || b.value <= 0) return;
      const bx = gx + bi * bw;
      const by = y(b.value);
      out.push(
        `<rect class="bar" x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(bw - 3).toFixed(1)}" height="${(bottom - by).toFixed(1)}" fill="${b.color}"><title>${esc(`${g.label} · ${b.label}: ${fmt(b.value, unit)} ${unit}`)}</title></rect>`,
      );
      out.push(text(bx + (bw - 3) / 2, by - 4, fmt(b.value, unit), 'class="bar-label" text-anchor="middle" font-size="10"'));
      if (b.note) out.push(text(bx + (bw - 3) / 2, by - 15, b.note, 'class="bar-label" text-anchor="middle" font-size="9" fill="#555"'));
    });
    out.push(text(left + gi * gw + gw / 2, bottom + 18, g.label, 'text-anchor="middle" font-size="12"'));
  });
  // legend: two entries a row below the plot, the reference line's last (its label there, clear of the bars)
  const legend = [...new Map(groups.flatMap((g) => g.bars).map((b) => [b.label, b.color])).entries()];
  const slot = (i: number) => ({ lx: left + (i % 2) * (plotW / 2), ly: bottom + 40 + Math.floor(i / 2) * 18 });
  legend.forEach(([label, color], i) => {
    const { lx, ly } = slot(i);
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color}"/>`);
    out.push(text(lx + 18, ly, label, 'font-size="12"'));
  });
  if (refLine) {
    const ry = y(refLine.value);
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${ry.toFixed(1)}" y2="${ry.toFixed(1)}" stroke="#c23b3b" stroke-dasharray="6 4"/>`,
    );
    const { lx, ly } = slot(legend.length);
    out.push(`<line x1="${lx}" x2="${lx + 12}" y1="${ly - 4}" y2="${ly - 4}" stroke="#c23b3b" stroke-dasharray="4 2" stroke-width="2"/>`);
    out.push(text(lx + 18, ly, refLine.label, 'class="target-label" font-size="12" fill="#c23b3b"'));
  }
  return out.join('\n');
}

/** The chart of a report, as an SVG document. */
export function renderChart(rep: BenchReport): string {
  const get = (id: string): CaseResult | undefined => rep.cases.find((c) => c.id === id && c.samples.length > 0);
  const v = (id: string, k: string) => get(id)?.summary[k]?.median ?? NaN;
  const linkName = rep.meta.mode === 'plaintext' ? 'MConnection plaintext' : 'MConnection encrypted';
  const sizes: [string, string][] = [
    ['64 B (W1)', 'W1'],
    ['1 KiB (W3)', 'W3'],
    ['256 KiB (W2)', 'W2'],
  ];
  const thr: Group[] = sizes.map(([label, id]) => ({
    label,
    bars: [
      { label: linkName, value: v(id, 'MBps'), color: COLORS[0]!, note: msgsNote(v(id, 'msgsPerSec')) },
      { label: 'raw TCP (W8)', value: v(`W8/${id}`, 'MBps'), color: COLORS[1]!, note: msgsNote(v(`W8/${id}`, 'msgsPerSec')) },
    ],
  }));
  const lat: Group[] = (['p50', 'p99'] as const).map((p) => ({
    label: p,
    bars: [
      { label: 'W8 raw, idle', value: v('W8/W4', `${p}Us`), color: COLORS[1]! },
      { label: 'W4 idle', value: v('W4', `${p}Us`), color: COLORS[0]! },
      { label: 'W5 idle link', value: v('W5', p === 'p50' ? 'idleP50Us' : 'idleP99Us'), color: COLORS[2]! },
      { label: 'W5 under bulk', value: v('W5', `${p}Us`), color: COLORS[3]! },
    ],
  }));
  const m = rep.meta;
  const sub = `${m.mode}${m.quick ? ', quick' : ''} · ${m.host.cores} cores · Node ${m.host.node} · ${m.date.slice(0, 16).replace('T', ' ')}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(W / 2, H - 8, sub, 'text-anchor="middle" font-size="11" fill="#777"'),
    panel(20, 'Throughput by message size (payload MB/s)', 'MB/s', thr, false),
    panel(20 + PANEL_W + 60, 'Ping round trip (µs, log scale)', 'µs', lat, true, { value: 2000, label: 'W5 p99 target 2 ms' }),
    '</svg>',
    '',
  ].join('\n');
}

function msgsNote(v: number): string | undefined {
  if (!Number.isFinite(v)) return undefined;
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M/s` : v >= 1e3 ? `${Math.round(v / 1e3)}k/s` : `${Math.round(v)}/s`;
}
