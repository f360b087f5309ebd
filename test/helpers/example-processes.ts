// Run `switchboard example <name>` in child processes: write to stdin, wait
// for stdout lines. Killed at teardown. No sleeps: every wait is for a line
// (with a deadline that only turns a hang into a readable failure).
import { childEnv, tsImport } from './child-env.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Teardown } from './teardown.js';

const cli = fileURLToPath(new URL('../../cli/index.ts', import.meta.url));

/** A running example node. */
export class ExampleProcess {
  readonly lines: string[] = [];
  stderr = '';
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string | null>;
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpExecArray) => void }[] = [];
  private exitedWith: number | string | null | undefined;
  /** `id@host:port` once started. */
  addr = '';
  id = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitedWith = code ?? signal;
        resolve(this.exitedWith);
      }),
    );
    createInterface({ input: child.stdout }).on('line', (l) => {
      this.lines.push(l);
      this.waiters = this.waiters.filter((w) => {
        const m = w.re.exec(l);
        if (m && this.lines.length - 1 >= w.from) w.resolve(m);
        return !m || this.lines.length - 1 < w.from;
      });
    });
  }

  /**
   * The first line at index ≥ `from` matching `re` (already printed or
   * future). Rejects when the process exits first, or after `deadlineMs`.
   */
  waitFor(re: RegExp, { from = 0, deadlineMs = 20_000 } = {}): Promise<RegExpExecArray> {
    for (const line of this.lines.slice(from)) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const fail = (why: string) =>
        reject(new Error(`${this.name}: ${why} waiting for ${re}\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
      const timer = setTimeout(() => fail(`no line within ${deadlineMs} ms`), deadlineMs);
      this.waiters.push({
        re,
        from,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        fail(`exited (${code})`);
      });
    });
  }

  /** Lines matching `re` so far. */
  count(re: RegExp): number {
    return this.lines.filter((l) => re.test(l)).length;
  }

  /** Write one line to stdin. */
  write(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Send `signal` and resolve with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string | null> {
    if (this.exitedWith === undefined) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Start `switchboard example <example> …args` and wait until it listens.
 * Adds `--moniker <name>` unless `opts.moniker` is false, and `--listen
 * 127.0.0.1:0` (no fixed port shared with other test runs) unless `args`
 * has `--listen` or `opts.listen` is false.
 */
export async function startExample(
  t: Teardown,
  name: string,
  example: string,
  args: string[],
  opts: { moniker?: boolean; listen?: boolean } = {},
): Promise<ExampleProcess> {
  const extra = [
    ...(opts.moniker === false ? [] : ['--moniker', name]),
    ...(opts.listen === false || args.includes('--listen') ? [] : ['--listen', '127.0.0.1:0']),
  ];
  const child = spawn(process.execPath, [...tsImport(), cli, 'example', example, ...extra, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: childEnv(),
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  const p = new ExampleProcess(name, child);
  const m = await p.waitFor(/^listening on (([0-9a-f]{40})@\S+)/);
  const [, addr, id] = m;
  if (addr === undefined || id === undefined) throw new Error(`${name}: no address in "${m[0]}"`);
  p.addr = addr;
  p.id = id;
  return p;
}

/**
 * A fresh directory removed at teardown. Unlike t.testdir() (one fixed path
 * per test name) two runs of the suite at once never share it.
 */
export function privateDir(t: Teardown, prefix = 'switchboard-example-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
