// `switchboard testnet` with a node that cannot start (its port is taken) says which node and why, and exits 1.
import { childEnv } from './helpers/child-env.js';
import t from 'tap';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));
const run = promisify(execFile);

/** Listen on 127.0.0.1:port; resolves false when the port is taken. */
function listen(srv: Server, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => resolve(true));
  });
}

t.test('a node whose port is taken stops the testnet: it names the node and the reason, exit code 1', { timeout: 60_000 }, async (t) => {
  // a free port P for the seed (node0) with P+1 held by us (node1's port), found in at most 20 tries
  const blocker = createServer();
  t.teardown(() => blocker.close());
  let base = 0;
  for (let i = 0; i < 20 && base === 0; i++) {
    const probe = createServer();
    await listen(probe, 0);
    const p = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    if (p < 65000 && (await listen(blocker, p + 1))) base = p;
  }
  t.not(base, 0, 'found a free port with its neighbour held');
  const err = await run(
    process.execPath,
    ['--import', 'tsx', cli, 'testnet', '--nodes', '3', '--base-port', String(base), '--home', t.testdir()],
    { env: childEnv() },
  ).then(
    () => undefined,
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  t.ok(err, 'the testnet exits with an error');
  t.equal(err?.code, 1);
  const line = /testnet stopped: (.*)/.exec(err?.stderr ?? '')?.[1] ?? '';
  t.match(line, /^node1 failed to start \(exit code 1\): /, 'which node');
  t.match(line, /EADDRINUSE|in use/i, 'why');
  t.match(line, `127.0.0.1:${base + 1}`, 'which address');
  t.notMatch(err?.stdout, /✓/, 'no milestone was claimed');
});
