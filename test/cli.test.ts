// The CLI in child processes: the README's testnet, and key management.
import { childEnv, tsImport } from './helpers/child-env.js';
import t, { type Test } from 'tap';
import { spawn, execFile } from 'node:child_process';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));
const run = promisify(execFile);
// these children record coverage (test/helpers/child-env.ts): they are how cli/ is counted
const COVERED = { coverage: true };
const node = (args: string[]) => run(process.execPath, [...tsImport(COVERED), cli, ...args], { env: childEnv(COVERED) });

/**
 * Runs `switchboard testnet --nodes 4 --base-port 0` in `home` until both milestones are out, then sends SIGINT to its process
 * group (as a terminal's Ctrl-C does); returns its stdout lines, the "heard" lines and its exit code.
 */
async function testnetUntilMilestones(t: Test, home: string) {
  // not covered: the testnet's node children would run under tsx and tap's loader at once (cli/testnet.ts adds
  // tsx), whose coverage does not merge with the run's (test/helpers/child-env.ts)
  const child = spawn(process.execPath, [...tsImport(), cli, 'testnet', '--nodes', '4', '--base-port', '0', '--home', home], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(),
    detached: true, // its own process group, so that the SIGINT below reaches every node
  });
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const heard: string[] = [];
  let stderr = '';
  const out: string[] = [];
  let targets = false;
  let gossip = false;
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      out.push(line);
      if (/^node\d +heard "hello from node\d"/.test(line)) heard.push(line);
      if (line.startsWith('✓ every node reached its outbound target (1)')) targets = true;
      if (line.startsWith('✓ all 3 nodes heard all 3 greetings')) gossip = true;
      if (targets && gossip) resolve();
    });
    void exited.then(() => reject(new Error(`testnet exited early: ${stderr}`)));
  });
  process.kill(-child.pid!, 'SIGINT');
  return { out, heard, code: await exited };
}

t.test(
  'switchboard testnet --nodes 4: a seed and three nodes find each other through PEX, every greeting reaches every node, exit 0 on SIGINT; again after a restart on new free ports',
  async (t) => {
    const home = t.testdir();
    const { out, heard, code } = await testnetUntilMilestones(t, home);
    t.equal(code, 0, 'exits 0 on Ctrl-C (SIGINT to the whole process group)');
    t.equal(out.at(-1), 'all nodes stopped', 'every node stopped cleanly (exit 0)');
    for (const i of [1, 2, 3]) {
      for (const j of [1, 2, 3].filter((j) => j !== i)) {
        t.equal(
          heard.filter((l) => l.startsWith(`node${i} `) && l.includes(`"hello from node${j}"`)).length,
          1,
          `node${i} heard node${j} exactly once`,
        );
      }
    }
    t.ok(existsSync(join(home, 'node1', 'config', 'node_key.json')), 'keys live in the node homes');
    t.ok(existsSync(join(home, 'node1', 'data', 'addrbook.json')), 'address books live in the node homes');
    // the same keys, other free ports: the books' addresses are all stale, and the nodes must not hold on to them
    const again = await testnetUntilMilestones(t, home);
    t.equal(again.code, 0, 'the restarted testnet reached both milestones and exits 0');
  },
);

t.test('keygen creates a 0600 key and refuses to overwrite; show-node-id prints the same ID', async (t) => {
  const home = t.testdir();
  const { stdout } = await node(['keygen', '--home', home]);
  const id = stdout.trim();
  t.match(id, /^[0-9a-f]{40}$/);
  t.equal(statSync(join(home, 'config', 'node_key.json')).mode & 0o777, 0o600);
  t.equal((await node(['show-node-id', '--home', home])).stdout.trim(), id);
  await t.rejects(
    node(['keygen', '--home', home]),
    { code: 1, stderr: new RegExp(`a node key already exists at .*\\(node ID ${id}\\)`) },
    'a second keygen refuses and names the existing key',
  );
});

t.test('show-node-id on a malformed key file fails with ERR_INVALID_KEY_FILE', async (t) => {
  const home = t.testdir({ config: { 'node_key.json': '{"priv_key":{"type":"ed25519","value":"AAAA"}}' } });
  await t.rejects(node(['show-node-id', '--home', home]), /ERR_INVALID_KEY_FILE/);
});
