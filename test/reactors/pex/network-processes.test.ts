// A 20-process network started from one seed reaches every node's outbound target through PEX.
import { childEnv, tsImport } from '../../helpers/child-env.js';
import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../../cli/index.ts', import.meta.url));

t.test('20 node processes (a seed and 19 nodes that know only the seed) all reach their outbound target', { timeout: 180_000 }, async (t) => {
  const child = spawn(process.execPath, [...tsImport(), cli, 'testnet', '--nodes', '20', '--base-port', '0', '--home', t.testdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(),
  });
  t.teardown(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let reached = '';
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('✓ every node reached its outbound target')) {
        reached = line;
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`testnet exited early: ${stderr}`)));
  });
  t.match(reached, /target \(9\) through PEX in \d+ ms/);
  child.kill('SIGINT');
  t.equal(await exited, 0);
});
