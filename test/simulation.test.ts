import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runSimulation } from '../cli/simulation.js';
import { renderPlot, renderScaleTable, renderTable, type ScalePoint } from '../cli/simulate.js';
import { childEnv, tsImport } from './helpers/child-env.js';

t.test('20 nodes from one seed over memory links: PEX converges and a greeting reaches every node', async (t) => {
  const phases: string[] = [];
  const r = await runSimulation({
    nodes: 20,
    seeds: 1,
    latencyMs: 20,
    jitterMs: 5,
    phaseTimeoutMs: 25_000,
    onProgress: (_f, p) => phases.push(p),
  });
  t.equal(r.outboundTarget, 10);
  t.ok(Number.isFinite(r.convergedMs), `converged (after ${Math.round(r.convergedMs)} ms)`);
  const last = r.samples.at(-1)!;
  t.equal(last.nodes, 19, 'every non-seed node is running');
  t.equal(last.atTarget, 19, 'every node is at its outbound target or connected to every other node');
  const g = r.propagations[0]!;
  t.equal(g.expected, 18);
  t.equal(g.reached, 18, 'the greeting reached every other node');
  t.ok(g.timeToMs[2] >= 20, 'no node got it sooner than one link latency');
  t.ok(g.hopsTo[0] >= 1 && g.hopsTo[2] >= g.hopsTo[0]);
  t.ok(g.duplicatesPerDelivery >= 0);
  t.ok(r.bytesPerNode > 0 && r.gossipMsgsPerNode > 0);
  t.equal(phases.at(-1), 'done');
  const table = renderTable(r);
  t.match(table, /nodes 20 \(seeds 1\)/);
  t.match(table, /greeting\s+18\/18/);
  const svg = renderPlot(r);
  t.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.match(svg, /<polyline/);
  t.match(svg, /<\/svg>$/);
});

t.test('partition and heal by PEX alone: a greeting reaches its half during the partition and every node after heal', async (t) => {
  const r = await runSimulation({ nodes: 14, seeds: 1, latencyMs: 10, jitterMs: 2, phaseTimeoutMs: 25_000, scenario: 'partition' });
  const [greeting, partition, heal] = r.propagations;
  t.equal(greeting!.reached, greeting!.expected);
  t.equal(partition!.expected, 6, "the author's half, without the author");
  t.equal(partition!.reached, 6);
  t.equal(heal!.expected, 12);
  t.equal(heal!.reached, 12, 'after heal the greeting crossed the former cut: PEX reconnected the halves');
  t.ok(r.samples.some((s) => s.phase === 'heal'));
});

t.test('three seeds: a greeting reaches the nodes of every seed (no part per seed, no closed group of the first nodes)', async (t) => {
  const r = await runSimulation({ nodes: 30, seeds: 3, latencyMs: 10, jitterMs: 2, phaseTimeoutMs: 30_000 });
  t.ok(Number.isFinite(r.convergedMs), 'converged');
  const g = r.propagations[0]!;
  t.equal(g.expected, 26);
  t.equal(g.reached, 26, 'the greeting reached the nodes of every seed');
  t.ok(g.publishedAtMs > 0 && g.publishedAtMs < r.wallMs);
});

t.test('scale table: one row per size, growth per added node from the previous size', async (t) => {
  const p = (nodes: number, wallMs: number, rssMiB: number): ScalePoint => ({
    nodes,
    convergedMs: wallMs / 2,
    greetedAllAtMs: wallMs * 0.8,
    reached: nodes - 2,
    expected: nodes - 2,
    wallMs,
    peakRssBytes: rssMiB * 2 ** 20,
  });
  const lines = renderScaleTable([p(100, 10_000, 100), p(300, 30_000, 300)]).split('\n');
  t.equal(lines.length, 3, 'a header and two rows');
  t.match(lines[1]!, /^\s+100\s+5\.0\s+98\/98\s+8\.0\s+10\.0\s+100\.0\s+1024\s+—$/);
  // 200 nodes more: 20 s more wall (100 ms per node), 200 MiB more (1024 KiB per node)
  t.match(lines[2]!, /^\s+300\s+15\.0\s+298\/298\s+24\.0\s+30\.0\s+300\.0\s+1024\s+100\.0, 1024$/);
});

t.test('switchboard simulate --scale 6,9: each size in its own process, a table and a plot', async (t) => {
  const dir = t.testdir();
  const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));
  const svg = join(dir, 'scale.svg');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      ...tsImport(),
      cli,
      'simulate',
      '--scale',
      '6,9',
      '--seeds',
      '1',
      '--latency',
      '5',
      '--jitter',
      '1',
      '--timeout',
      '30000',
      '--svg',
      svg,
    ],
    { env: childEnv(), timeout: 120_000 },
  );
  const rows = stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l));
  t.equal(rows.length, 2, stdout);
  t.match(rows[0]!, /^\s+6\s+\S+\s+4\/4\s/, 'every node got the greeting, 6 nodes');
  t.match(rows[1]!, /^\s+9\s+\S+\s+7\/7\s/, 'and 9');
  t.match(readFileSync(svg, 'utf8'), /^<svg [^>]*>[\s\S]*wall time[\s\S]*peak RSS[\s\S]*<\/svg>$/);
});

t.test('bad settings are refused before anything starts', async (t) => {
  await t.rejects(runSimulation({ nodes: 2 }), RangeError);
  await t.rejects(runSimulation({ nodes: 10, seeds: 0 }), RangeError);
});
