import t from 'tap';
import { runSimulation } from '../cli/simulation.js';
import { renderPlot, renderTable } from '../cli/simulate.js';

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

t.test('bad settings are refused before anything starts', async (t) => {
  await t.rejects(runSimulation({ nodes: 2 }), RangeError);
  await t.rejects(runSimulation({ nodes: 10, seeds: 0 }), RangeError);
});
