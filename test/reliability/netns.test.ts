/**
 * Across hosts: three `switchboard node` processes in three network
 * namespaces of their own (10.77.0.1-3 on a bridge in a fourth namespace);
 * a second test runs the same over links delayed 50 ms and losing 1 % of
 * packets (netem), skipped with its reason where the kernel has no netem. n2 and n3 know
 * only n1 (a persistent peer); they discover each other through PEX
 * (addrBookStrict off: 10/8 is private), connect directly, and every node
 * hears every node's gossip greeting.
 *
 * Needs root and iproute2 (`ip`; `tc` and sch_netem for the second test);
 * skipped with the reason otherwise.
 * The namespaces have unique names and are deleted at teardown; nothing is
 * created in the host's own namespace.
 */
import { childEnv, tsImport } from '../helpers/child-env.js';
import t, { type Test } from 'tap';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NodeKey } from '../../lib/node-key.js';

const CLI = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why namespaces cannot be used here, or undefined when they can (probed by creating and deleting one). */
function cannotUseNamespaces(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (network namespaces need CAP_NET_ADMIN)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'no `ip` command (install iproute2)';
  }
  return inScratchNamespace(() => undefined);
}

/** Why netem cannot be used here, or undefined when it can (probed on a veth link in a scratch namespace). */
function cannotUseNetem(): string | undefined {
  return inScratchNamespace((probe) => {
    try {
      ip('-n', probe, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
      ip('netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'd0', 'root', 'netem', 'delay', '50ms', 'loss', '1%');
      return undefined;
    } catch (err) {
      // e.g. a kernel without sch_netem ("Specified qdisc kind is unknown"), or no `tc`
      return `netem unavailable: ${stderrOf(err)}`;
    }
  });
}

/** Run `probe` in a namespace made for it and deleted after; why one cannot be made, or what `probe` says. */
function inScratchNamespace(probe: (name: string) => string | undefined): string | undefined {
  const name = `sbprobe${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', name);
  } catch (err) {
    return `\`ip netns add\` failed: ${stderrOf(err)}`;
  }
  try {
    return probe(name);
  } finally {
    try {
      ip('netns', 'del', name);
    } catch {
      // best effort
    }
  }
}

function stderrOf(err: unknown): string {
  return String((err as { stderr?: Buffer }).stderr ?? err).trim();
}

const reason = cannotUseNamespaces();
const netemReason = reason ?? cannotUseNetem();

t.test('three nodes in three network namespaces: connect, discover, gossip', { skip: reason ?? false, timeout: 90_000 }, (t) =>
  threeNodes(t, false),
);

t.test('the same over links with netem 50 ms delay and 1 % loss', { skip: netemReason ?? false, timeout: 120_000 }, (t) =>
  threeNodes(t, true),
);

async function threeNodes(t: Test, netem: boolean): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  const hub = `sb${tag}h`;
  const ns = [1, 2, 3].map((i) => `sb${tag}n${i}`);
  const created: string[] = [];
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) c.kill('SIGKILL');
    for (const n of created) {
      try {
        ip('netns', 'del', n);
      } catch {
        // already gone
      }
    }
  });

  // topology: a bridge in the hub namespace, one veth pair per node namespace
  for (const n of [hub, ...ns]) {
    ip('netns', 'add', n);
    created.push(n);
  }
  ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
  ip('-n', hub, 'link', 'set', 'br0', 'up');
  for (let i = 0; i < 3; i++) {
    const n = ns[i]!;
    ip('-n', n, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `p${i + 1}`, 'netns', hub);
    ip('-n', n, 'addr', 'add', `10.77.0.${i + 1}/24`, 'dev', 'eth0');
    ip('-n', n, 'link', 'set', 'eth0', 'up');
    ip('-n', n, 'link', 'set', 'lo', 'up');
    ip('-n', hub, 'link', 'set', `p${i + 1}`, 'master', 'br0');
    ip('-n', hub, 'link', 'set', `p${i + 1}`, 'up');
    if (netem) {
      execFileSync('ip', ['netns', 'exec', n, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', '50ms', 'loss', '1%'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const shown = execFileSync('ip', ['netns', 'exec', n, 'tc', 'qdisc', 'show', 'dev', 'eth0']).toString();
      t.match(shown, /netem .*delay 50ms loss 1%/, `n${i + 1}'s link delays 50 ms and loses 1 %`);
    }
  }

  // keys first, so n2 and n3 can be given n1's address
  const home = t.testdir();
  const keys = [1, 2, 3].map((i) => {
    const k = NodeKey.generate();
    k.save(join(home, `n${i}`, 'config', 'node_key.json'));
    return k;
  });
  const n1 = `${keys[0]!.id}@10.77.0.1:26656`;
  const listening = [false, false, false];
  let stopping = false;
  const heard = [new Set<string>(), new Set<string>(), new Set<string>()];
  const peersOf = [new Set<string>(), new Set<string>(), new Set<string>()];
  const waiters: (() => void)[] = [];
  const changed = () => waiters.splice(0).forEach((w) => w());

  const until = (pred: () => boolean, ms: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${what}: not within ${ms} ms (heard ${JSON.stringify(heard.map((h) => [...h]))}, peers ${JSON.stringify(peersOf.map((p) => [...p]))})`,
            ),
          ),
        ms,
      );
      const check = () => (pred() ? (clearTimeout(timer), resolve()) : waiters.push(check));
      check();
    });

  const started = performance.now();
  for (let i = 0; i < 3; i++) {
    const args = [
      ...tsImport(),
      CLI,
      'node',
      '--home',
      join(home, `n${i + 1}`),
      '--listen',
      `10.77.0.${i + 1}:26656`,
      '--network',
      'netns-test',
      '--moniker',
      `n${i + 1}`,
      '--addr-book-lax',
      '--ensure-peers-period',
      '500',
      '--say',
      `hello from n${i + 1}`,
      '--log-level',
      'warn',
      '--log-format',
      'json',
      ...(i > 0 ? ['--persistent-peers', n1] : []),
    ];
    const child = spawn('ip', ['netns', 'exec', ns[i]!, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    child.once('exit', (code, sig) => {
      if (!stopping) t.comment(`n${i + 1} exited (${sig ?? code}): ${stderr}`);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = / heard "hello from (n\d)"/.exec(line);
      if (m) heard[i]!.add(m[1]!);
      const p = /\+ peer (n\d) /.exec(line);
      if (p) peersOf[i]!.add(p[1]!);
      if (/ listening on /.test(line)) listening[i] = true;
      changed();
    });
    // n1 first: the others dial it as soon as they start
    if (i === 0) await until(() => listening[0]!, 30_000, 'n1 listens');
  }
  await until(() => peersOf[1]!.has('n1') && peersOf[2]!.has('n1'), 30_000, 'n2 and n3 connect to n1');
  t.pass(`n2 and n3 connected to n1 across namespaces (${(performance.now() - started).toFixed(0)} ms)`);
  await until(() => peersOf[1]!.has('n3') || peersOf[2]!.has('n2'), 30_000, 'n2 and n3 discover each other');
  t.pass(`n2 and n3 discovered each other through PEX and connected directly (${(performance.now() - started).toFixed(0)} ms)`);
  await until(() => heard.every((h, i) => [1, 2, 3].every((j) => j === i + 1 || h.has(`n${j}`))), 30_000, 'gossip delivered');
  t.pass(`every node heard both other nodes' greetings (${(performance.now() - started).toFixed(0)} ms)`);
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(
    children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))),
  );
  children.length = 0;
}

if (reason) t.comment(`network-namespace tests skipped: ${reason}`);
else if (netemReason) t.comment(`netem test skipped: ${netemReason}`);
