// The benchmark reports, rendered from synthetic results (no benchmark runs):
// the Markdown report fits 120 columns, shows a range only when there is
// one (and says why not in a quick run), names each unit once, and dates
// itself by the session's start; the chart's W5 target label is clear of
// every bar.
import t from 'tap';
import { buildCases, WORKLOAD_IDS, type BenchOptions, type Sample } from '../../benchmarks/workloads.js';
import {
  attachRatios,
  caseResult,
  checkTargets,
  collectMeta,
  MARKDOWN_WIDTH,
  renderMarkdown,
  renderTerminal,
  type BenchReport,
} from '../../benchmarks/report.js';
import { renderChart } from '../../benchmarks/chart.js';

/** A large plausible value per unit (wide numbers make wide tables). */
const BIG: Record<string, number> = { 'msgs/s': 1_234_567, 'MB/s': 1_234.5, µs: 12_345, KiB: 123.4, '%': 99.9, 'round trips': 10_000 };

/** A report of every case the real workloads define (full or quick), each with `runs` synthetic samples. */
function syntheticReport(quick: boolean, runs: number, edit?: (rep: BenchReport) => void): BenchReport {
  const o: BenchOptions = { quick, runs, plaintext: false, only: new Set(WORKLOAD_IDS), baseline: true, mconn: {}, pin: true };
  const cases = buildCases(o).map((c) => {
    const samples: Sample[] = Array.from({ length: runs }, (_, r) => ({
      metrics: Object.fromEntries([
        ...c.metrics.map((m) => [m.key, (BIG[m.unit] ?? 1000) * (1 + r / 10)]),
        ['seconds', 1.5],
        ['otherWorkPct', 3],
      ]),
      procs: ['sender', 'receiver'].map((role) => ({
        role,
        cpuPct: 101.5,
        cpuMs: 1,
        wallMs: 1,
        maxRssMiB: 1234.5,
        startUs: 0,
        endUs: 1,
        totalCpuMs: 5,
      })),
    }));
    return caseResult(c, samples, [], [3]);
  });
  attachRatios(cases);
  const meta = collectMeta(
    o,
    new Date('2026-12-01T20:00:00.000Z'),
    600,
    { frameBytes: 65536, sealMBps: 1200, openMBps: 1100 },
    { maxBusyPct: 3, medianBusyPct: 2 },
  );
  const rep: BenchReport = { meta, cases, targets: checkTargets(cases, false) };
  edit?.(rep);
  return rep;
}

/** Lines of Markdown outside fenced code blocks. */
function proseLines(md: string): string[] {
  let inCode = false;
  return md.split('\n').filter((l) => (l.startsWith('```') ? ((inCode = !inCode), false) : !inCode));
}

/** The cells of the results table's rows (the table under "## Results"). */
function resultRows(md: string): string[][] {
  const lines = md.split('\n');
  const from = lines.indexOf('## Results') + 2;
  const rows: string[][] = [];
  for (let i = from + 2; lines[i]?.startsWith('|'); i++) rows.push(lines[i]!.slice(2, -2).split(' | '));
  return rows;
}

t.test(`Markdown: every line fits ${MARKDOWN_WIDTH} columns, full and quick, with the widest plausible figures`, async (t) => {
  t.equal(MARKDOWN_WIDTH, 120);
  for (const [quick, runs] of [
    [false, 3],
    [true, 1],
  ] as const) {
    const rep = syntheticReport(quick, runs, (r) => {
      r.cases[0]!.backgroundBusyPct = 90; // a ⚠ mark and the warning line
      r.meta.background.maxBusyPct = 90;
      r.cases[1]!.errors.push(`run 2: ${'a long error message '.repeat(20)}`);
    });
    const md = renderMarkdown(rep, '20261201-200000-encrypted.svg');
    const lines = proseLines(md);
    const widest = lines.reduce((a, l) => (l.length > a.length ? l : a), '');
    t.ok(widest.length <= MARKDOWN_WIDTH, `${quick ? 'quick' : 'full'}: widest line ${widest.length} columns: ${widest}`);
    t.ok(lines.filter((l) => l.startsWith('|')).length >= 2 * rep.cases.length, 'the tables hold a row per case');
    t.match(md, /^```\nrun 2: a long error/m, "a failed run's message is in Details, in full");
  }
});

t.test('Range: min–max with several runs; with one run, "—" and a note saying 1 run', async (t) => {
  const full = renderMarkdown(syntheticReport(false, 3));
  const fullRows = resultRows(full);
  t.equal(fullRows[0]![0], 'W1');
  t.equal(fullRows[0]![4], '1,234,567–1,481,480', 'W1 range of the primary figure over 3 runs');
  t.ok(
    fullRows.every((r) => /^[\d,.]+–[\d,.]+$/.test(r[4]!)),
    'every case has a range',
  );
  t.notMatch(full, /1 run per case/);

  const quick = renderMarkdown(syntheticReport(true, 1));
  const quickRows = resultRows(quick);
  t.ok(quickRows.length > 0 && quickRows.every((r) => r[4] === '—'), 'no range cell is blank');
  t.match(quick, /^_— in Range: 1 run per case \(quick mode\), so no range; `--runs N` measures one\._$/m);
  t.match(quick, /^\| figure \| value \(1 run\) \|$/m, 'Details show one value per figure, not three equal ones');

  const oneLeft = renderMarkdown(syntheticReport(false, 3, (r) => void r.cases[0]!.samples.splice(1)));
  t.equal(resultRows(oneLeft)[0]![4], '—');
  t.match(oneLeft, /only 1 of the runs of that case succeeded/);
});

t.test('labels: a unit is named once (no "msgs/s (msgs/s)")', async (t) => {
  for (const md of [renderMarkdown(syntheticReport(false, 3)), renderTerminal(syntheticReport(false, 3))]) {
    t.notMatch(md, /(?<!\S)(\S+) \(\1\)/, 'no label followed by itself in parentheses');
    t.notMatch(md, /msgs\/s msgs\/s|MB\/s MB\/s/);
  }
  const md = renderMarkdown(syntheticReport(false, 3));
  t.match(md, /^\| msgs\/s \| 1,358,024 \| 1,234,567 \| 1,481,480 \|$/m, 'the msgs/s row of W1');
  t.match(md, /^\| p50 \(µs\) \| /m, 'a label that is not its unit keeps the unit');
});

t.test("the report is dated by the session's start, as the file names are", async (t) => {
  const rep = syntheticReport(false, 3);
  t.equal(rep.meta.date, '2026-12-01T20:00:00.000Z');
  t.match(renderMarkdown(rep), /^- Started: 2026-12-01T20:00:00\.000Z; took 600 s$/m);
  t.match(renderTerminal(rep), /, 2026-12-01T20:00:00\.000Z$/m);
  t.match(renderChart(rep), /2026-12-01 20:00</);
});

/** A box in SVG user units. */
interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}
const attr = (tag: string, name: string) => Number(new RegExp(`\\s${name}="([^"]+)"`).exec(tag)?.[1] ?? NaN);

/** The box of a `<text>`: its em box, at least 0.6 em per character wide (wider than the glyphs of a sans-serif face). */
function textBox(el: string): Box {
  const size = attr(el, 'font-size');
  const x = attr(el, 'x');
  const y = attr(el, 'y');
  const w = 0.6 * size * />([^<]*)</.exec(el)![1]!.length;
  const anchor = /text-anchor="(\w+)"/.exec(el)?.[1] ?? 'start';
  const x0 = anchor === 'middle' ? x - w / 2 : anchor === 'end' ? x - w : x;
  return { x0, y0: y - size, x1: x0 + w, y1: y + 0.25 * size };
}
const overlap = (a: Box, b: Box) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

t.test('chart: the W5 target label does not touch any bar or bar label, whatever the latencies', async (t) => {
  // latencies around the 2 ms line, where the old label (drawn on the line, at the right) sat on the p99 bars
  for (const [p50, p99] of [
    [60, 2300],
    [900, 3000],
    [1900, 2100],
    [50, 90_000],
  ] as const) {
    const rep = syntheticReport(true, 1, (r) => {
      for (const c of r.cases.filter((x) => ['W4', 'W5', 'W8/W4'].includes(x.id))) {
        for (const k of ['p50Us', 'idleP50Us']) c.summary[k] = { median: p50, min: p50, max: p50 };
        for (const k of ['p99Us', 'idleP99Us']) c.summary[k] = { median: p99, min: p99, max: p99 };
      }
    });
    const svg = renderChart(rep);
    const labels = [...svg.matchAll(/<text [^>]*class="target-label"[^>]*>[^<]*<\/text>/g)].map((m) => m[0]);
    t.equal(labels.length, 1, 'one target label');
    t.match(labels[0], />W5 p99 target 2 ms</);
    const label = textBox(labels[0]!);
    const bars = [...svg.matchAll(/<rect class="bar" [^>]*>/g)].map((m): Box => {
      const [x, y, w, h] = ['x', 'y', 'width', 'height'].map((a) => attr(m[0], a));
      return { x0: x!, y0: y!, x1: x! + w!, y1: y! + h! };
    });
    const barLabels = [...svg.matchAll(/<text [^>]*class="bar-label"[^>]*>[^<]*<\/text>/g)].map((m) => textBox(m[0]));
    t.equal(bars.length, 14, 'every bar is drawn (6 throughput, 8 latency)');
    t.same(
      bars.filter((b) => overlap(b, label)),
      [],
      `p50 ${p50} µs, p99 ${p99} µs: no bar under the label`,
    );
    t.same(
      barLabels.filter((b) => overlap(b, label)),
      [],
      "nor a bar's value",
    );
    t.ok(label.y1 <= attr(/<svg [^>]*>/.exec(svg)![0], 'height') - 20, 'the label is inside the picture, above the footer');
  }
});
