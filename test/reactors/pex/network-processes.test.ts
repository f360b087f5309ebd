// `switchboard testnet` networks of node processes started from one seed: every node reaches its
// outbound target (or connects to every other node) through PEX, and once the network has converged
// it stays quiet: at most one connection cycle per node per minute (the seed's crawl; before the fix
// a node short of its target redialed the seed on every 1 s tick, ~50 cycles a minute).
import { childEnv } from '../../helpers/child-env.js';
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../cli/index.ts', import.meta.url));

type Test = import('tap').Test;

/** Milestone lines of a testnet: `✓ every node reached …` or `✓ PEX settled …` (+ one line per node short of its target). */
const TARGETS = /^✓ (every node reached its outbound target \((\d+)\)|PEX settled in \d+ ms: \d+ of \d+ nodes reached their outbound target \((\d+)\))/;
const GOSSIP = /^✓ all \d+ nodes heard all \d+ greetings/;
const SHORT = /^ {2}(node\d+): (\d+)\/(\d+) outbound, (\d+) inbound: every other node already connected$/;
/** A node's `+ peer` line: `<moniker padded to 8> + peer <moniker> (…)`. */
const PEER_UP = /^(\S+)\s+\+ peer (\S+) /;

/**
 * Runs `switchboard testnet --nodes n` until both milestones are out, then for `quietMs` more;
 * returns the milestone lines and how many connections each node made in the quiet window.
 */
async function runTestnet(t: Test, nodes: number, quietMs: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'testnet', '--nodes', String(nodes), '--base-port', '0', '--home', t.testdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(),
  });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let targets = '';
  const short: RegExpExecArray[] = [];
  let gossip = false;
  let quiet = false;
  const cycles = new Map<string, string[]>();
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (quiet) {
        const m = PEER_UP.exec(line);
        if (m) cycles.set(m[1]!, [...(cycles.get(m[1]!) ?? []), m[2]!]);
        return;
      }
      if (TARGETS.test(line)) targets = line;
      const s = SHORT.exec(line);
      if (s && targets) short.push(s);
      if (GOSSIP.test(line)) gossip = true;
      // the milestones, then the short-of-target lines that follow the first at once
      if (targets && gossip && !quiet) {
        setTimeout(() => {
          quiet = true;
          setTimeout(resolve, quietMs);
        }, 100);
      }
    });
    void exited.then(() => reject(new Error(`testnet exited early: ${stderr}`)));
  });
  child.kill('SIGINT');
  return { targets, short, cycles, code: await exited };
}

/** Checks the milestone says exactly what was reached, and counts the connection cycles of the quiet window. */
function checkQuiet(t: Test, r: Awaited<ReturnType<typeof runTestnet>>, nodes: number, target: number, quietMs: number): void {
  const m = TARGETS.exec(r.targets);
  t.ok(m, `a PEX milestone: ${r.targets}`);
  t.equal(Number(m?.[2] ?? m?.[3]), target, `outbound target ${target}`);
  for (const s of r.short) {
    const [, name, out, tgt, inb] = s;
    t.ok(Number(out) < Number(tgt), `${name} is named because it is short of its target (${out}/${tgt})`);
    t.ok(Number(out) + Number(inb) >= nodes - 2, `${name}: ${out} out + ${inb} in covers every other non-seed node`);
  }
  if (m?.[3] !== undefined) t.ok(r.short.length > 0, 'a "PEX settled" line names the nodes short of their target');
  // at most 1 cycle per node per minute, rounded up to whole cycles for the window
  const bound = Math.ceil(quietMs / 60_000);
  for (let i = 1; i < nodes; i++) {
    const name = `node${i}`;
    const made = r.cycles.get(name) ?? [];
    t.ok(made.length <= bound, `${name}: ${made.length} connection(s) in ${quietMs / 1000} s after convergence (≤ ${bound})`, { diag: { peers: made } });
  }
  // the seed crawls each node at most once per 2 minutes (minTimeBetweenCrawls)
  const seed = r.cycles.get('seed') ?? [];
  t.ok(seed.length <= (nodes - 1) * Math.ceil(quietMs / 120_000), `seed: ${seed.length} connection(s), at most one crawl per node`, { diag: { peers: seed } });
  t.equal(r.code, 0, 'Ctrl-C stops the testnet cleanly');
}

t.test('6 node processes converge through PEX, then stay quiet for 20 s', { timeout: 120_000 }, async (t) => {
  const quietMs = 20_000;
  const r = await runTestnet(t, 6, quietMs);
  checkQuiet(t, r, 6, 2, quietMs);
});

t.test('20 node processes (a seed and 19 nodes that know only the seed) converge, then stay quiet for 20 s', { timeout: 240_000 }, async (t) => {
  const quietMs = 20_000;
  const r = await runTestnet(t, 20, quietMs);
  checkQuiet(t, r, 20, 9, quietMs);
});
