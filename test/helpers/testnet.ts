/**
 * Runs `switchboard testnet` in a child process for tests: waits for its milestones and the seed's
 * first crawl, then counts each node's connections in a quiet window, and checks them against
 * "at most one connection cycle per node per minute". Killed at teardown.
 *
 * Why after the first crawl: before the fix, once the crawl had put the seed's address in the
 * nodes' books, a node short of its target redialed the seed on every 1 s tick (~50 a minute).
 */
import { childEnv } from './child-env.js';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

/** The target milestone of a testnet: all at the target, or some connected to every other node instead (then one line per such node). */
const TARGETS = /^✓ every node reached its outbound target \((\d+)\)( or is connected to every other node,)? through PEX in \d+ ms/;
const GOSSIP = /^✓ all \d+ nodes heard all \d+ greetings/;
const SHORT = /^ {2}(node\d+): (\d+)\/(\d+) outbound, (\d+) inbound: every other node already connected$/;
/** A node's `+ peer` line: `<moniker padded to 8> + peer <moniker> (…)`. */
const PEER_UP = /^(\S+)\s+\+ peer (\S+) /;
/** The seed's crawl dialing a node. */
const CRAWL = /^seed\s+\+ peer node\d+ \(outbound/;
/** After the first crawl, time for its address to spread through PEX before the quiet window, ms. */
const SPREAD_MS = 3_000;

/**
 * Runs `switchboard testnet --nodes n` until both milestones are out and the seed has crawled
 * (plus {@link SPREAD_MS}), then for `quietMs` more; returns the milestone lines and the peers each
 * node connected to in the quiet window.
 */
export async function runTestnet(t: Test, nodes: number, quietMs: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'testnet', '--nodes', String(nodes), '--base-port', '0', '--home', t.testdir()],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: childEnv(),
    },
  );
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let targets = '';
  const short: RegExpExecArray[] = [];
  let gossip = false;
  let crawled = false;
  let waiting = false;
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
      if (CRAWL.test(line)) crawled = true;
      if (targets && gossip && crawled && !waiting) {
        waiting = true;
        setTimeout(() => {
          quiet = true;
          setTimeout(resolve, quietMs);
        }, SPREAD_MS);
      }
    });
    void exited.then(() => reject(new Error(`testnet exited early: ${stderr}`)));
  });
  child.kill('SIGINT');
  return { targets, short, cycles, code: await exited };
}

/**
 * Checks the milestone says exactly what was reached (a node named short of its target is connected
 * to every other node), that each node made at most ⌈quietMs / 1 min⌉ connections in the quiet window
 * (the seed: one crawl per node), and that Ctrl-C stopped the testnet with exit code 0.
 */
export function checkQuiet(t: Test, r: Awaited<ReturnType<typeof runTestnet>>, nodes: number, target: number, quietMs: number): void {
  const m = TARGETS.exec(r.targets);
  t.ok(m, `a PEX milestone: ${r.targets}`);
  t.equal(Number(m?.[1]), target, `outbound target ${target}`);
  for (const s of r.short) {
    const [, name, out, tgt, inb] = s;
    t.ok(Number(out) < Number(tgt), `${name} is named because it is short of its target (${out}/${tgt})`);
    t.ok(Number(out) + Number(inb) >= nodes - 2, `${name}: ${out} out + ${inb} in covers every other non-seed node`);
  }
  t.equal(r.short.length > 0, m?.[2] !== undefined, 'nodes short of their target are named exactly when the line says some are');
  // at most 1 cycle per node per minute, rounded up to whole cycles for the window
  const bound = Math.ceil(quietMs / 60_000);
  for (let i = 1; i < nodes; i++) {
    const name = `node${i}`;
    const made = r.cycles.get(name) ?? [];
    t.ok(made.length <= bound, `${name}: ${made.length} connection(s) in ${quietMs / 1000} s after convergence (≤ ${bound})`, {
      diag: { peers: made },
    });
  }
  // the seed crawls each node at most once per 2 minutes (minTimeBetweenCrawls)
  const seed = r.cycles.get('seed') ?? [];
  t.ok(seed.length <= (nodes - 1) * Math.ceil(quietMs / 120_000), `seed: ${seed.length} connection(s), at most one crawl per node`, {
    diag: { peers: seed },
  });
  t.equal(r.code, 0, 'Ctrl-C stops the testnet cleanly');
}
