// Run `switchboard node` in child processes for tests; killed at teardown.
import { childEnv, tsImport } from './child-env.js';

/** `switchboard node` children record coverage (test/helpers/child-env.ts): they are how cli/node.ts is counted. */
const COVERED = { coverage: true };
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Teardown } from './teardown.js';

const cli = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

/** A `switchboard node` child process: resolves once it listens, with its ID and listen address. */
export async function startNodeProcess(
  t: Teardown,
  args: string[],
): Promise<{ child: ChildProcess; id: string; addr: string; lines: string[]; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [...tsImport(COVERED), cli, 'node', '--log-level', 'silent', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: childEnv(COVERED),
  });
  t.teardown(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const addr = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      lines.push(l);
      const addr = / listening on (\S+)/.exec(l)?.[1];
      if (addr !== undefined) resolve(addr);
    });
    void exited.then((code) => reject(new Error(`node exited (${code}) before listening: ${stderr}`)));
  });
  const [id = ''] = addr.split('@');
  return { child, id, addr, lines, exited };
}
