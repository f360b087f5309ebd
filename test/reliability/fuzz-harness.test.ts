/**
 * The fuzzer can be trusted: a bug of its own (an input generator that
 * throws) is a harness error with the case to replay, not a crash of the code
 * under test and not a hang; a case is fixed by (seed, worker, case); and the
 * generator bug that stopped the seed 574989332 run (worker 0, case 304,977:
 * a random map whose `__proto__` key replaced its prototype) stays fixed.
 * The fixed-seed fuzz pass CI runs is the 12,000-case slice in fuzz.test.ts.
 */
import t from 'tap';
import { Fuzzer, emptyStats } from '../../scripts/fuzz/runner.js';
import { allTargets, type FuzzTarget } from '../../scripts/fuzz/targets.js';

t.test('an input generator that throws is a harness error naming seed:worker:case; the run goes on', async (t) => {
  let calls = 0;
  const broken: FuzzTarget = {
    name: 'broken',
    weight: 1,
    corpus: [Buffer.from('x')],
    generate: () => {
      calls++;
      throw new TypeError('generator bug');
    },
    run: () => {},
  };
  const f = new Fuzzer([broken], 42, 3);
  const { stats, next } = await f.runRange(0, 400, { batch: 100 });
  t.equal(next, 400, 'every case ran or was reported');
  t.ok(calls > 0, 'the generator was used');
  t.equal(stats.harnessErrors, calls, 'each generator failure is one harness error');
  t.equal(stats.crashes, 0, 'none is counted as a crash of the code under test');
  t.match(stats.harnessList[0], { id: /^42:3:\d+$/, target: 'broken', error: /input generator threw: TypeError: generator bug/ });
  t.equal(stats.perTarget.broken!.accepted, 400 - calls, 'the other cases ran');
});

t.test('a case is reproducible from its seed, worker and index', async (t) => {
  const a = new Fuzzer(allTargets(), 574989332, 0);
  const b = new Fuzzer(allTargets(), 574989332, 0);
  for (const i of [0, 1, 777, 304_976, 304_977]) {
    const x = a.caseInput(i);
    const y = b.caseInput(i);
    t.equal(x.target.name, y.target.name, `case ${i}: same target`);
    t.ok(x.input.equals(y.input), `case ${i}: same input`);
    t.equal(a.targetOf(i), x.target.name, `case ${i}: targetOf names it before generating`);
  }
  t.notOk(new Fuzzer(allTargets(), 574989333, 0).caseInput(777).input.equals(a.caseInput(777).input), 'another seed, another input');
});

t.test('seed 574989332, worker 0, cases 304,900–305,000 (the generator bug): no harness error, no crash', async (t) => {
  const f = new Fuzzer(allTargets(), 574989332, 0);
  const stats = emptyStats();
  for (let i = 304_900; i < 305_000; i++) await f.runCase(i, stats);
  for (const c of [...stats.harnessList, ...stats.crashList]) t.comment(`${c.id} [${c.target}] ${c.error}`);
  t.equal(stats.harnessErrors, 0);
  t.equal(stats.crashes, 0);
  t.equal(stats.cases, 100);
});
