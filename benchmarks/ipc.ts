/**
 * The protocol between the benchmark driver (parent) and its peer processes
 * (children, `peer-process.ts`): what a child is asked to be (a
 * {@link RoleSpec}, passed as JSON in argv), the messages it reports, the
 * commands it obeys, and the helpers on both sides.
 *
 * Every child runs on 127.0.0.1, reports `ready`, then `connected` once its
 * connections are up, waits for `go`, reports `done` (with its CPU and peak
 * RSS), and exits on `stop`. Timestamps are `process.hrtime.bigint()`
 * values: every process on one machine shares that monotonic clock, so a
 * sender's start and a receiver's end can be subtracted.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { MConnConfig } from '../lib/conn/mconn-config.js';
import type { LinkKind } from './link.js';
import type { RequestParams } from './request-roles.js';

/** What a stream child does (W1–W5, W8). */
export type StreamMode = 'bulk' | 'pingpong' | 'priority' | 'paused';

/** W5's loaded phase: warm-up round trips, then timed ones until `count` or `maxMs`, whichever first. */
export interface LoadedPhase {
  warmup: number;
  count: number;
  maxMs: number;
}

/** Parameters of the stream roles (`bulkSize` and `loaded` are used in `priority` and `paused` modes only). */
export interface StreamParams {
  mode: StreamMode;
  link: LinkKind;
  size: number;
  count: number;
  warmup: number;
  bulkSize: number;
  loaded: LoadedPhase;
  /** MConnection config overrides (`--mconn`). */
  mconn: Partial<MConnConfig>;
}

/** A child's role and parameters. */
export type RoleSpec =
  | ({ role: 'stream-server' } & StreamParams)
  | ({ role: 'stream-client'; port: number } & StreamParams)
  | { role: 'fanout-hub'; plaintext: boolean; mconn: Partial<MConnConfig>; peers: number; count: number; size: number }
  | { role: 'fanout-peers'; plaintext: boolean; mconn: Partial<MConnConfig>; hub: string; switches: number; count: number; size: number }
  | { role: 'scale-hub'; plaintext: boolean; mconn: Partial<MConnConfig>; peers: number; idleMs: number; settleMs: number }
  | { role: 'scale-peers'; plaintext: boolean; mconn: Partial<MConnConfig>; hub: string; switches: number }
  | ({ role: 'request-server' } & RequestParams)
  | ({ role: 'request-client'; server: string } & RequestParams);

/** CPU and memory of one process over its measured window. */
export interface ProcStats {
  role: string;
  /** CPU time (user + system) over the window / wall time of the window, in % of one core. */
  cpuPct: number;
  cpuMs: number;
  wallMs: number;
  /** Peak resident set size of the process's whole life (MiB), `process.resourceUsage().maxRSS`. */
  maxRssMiB: number;
  /** The window on the hrtime clock (µs), to cut a CPU profile to it. */
  startUs: number;
  endUs: number;
  /** CPU time of the whole process life so far (ms), start-up included (to tell our load from other work's). */
  totalCpuMs: number;
}

/** Messages a child sends to the parent. */
export type ChildMsg =
  | { type: 'ready'; port?: number; addr?: string }
  | { type: 'connected' }
  | { type: 'done'; proc: ProcStats; t0?: bigint; t1?: bigint; data: Record<string, number> }
  | { type: 'error'; message: string };

/** Commands the parent sends to a child. */
export type ParentCmd = { cmd: 'go' } | { cmd: 'stop' };

/**
 * Measures CPU (process.cpuUsage) and wall time (hrtime) between `start()`
 * and `stats()`. A meter never started measures from its creation.
 */
export class Meter {
  private cpu0 = process.cpuUsage();
  private t0 = process.hrtime.bigint();
  private started = false;

  /** Start the window now (only the first call counts). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.cpu0 = process.cpuUsage();
    this.t0 = process.hrtime.bigint();
  }

  /** The window so far, and the process's peak RSS. */
  stats(role: string): ProcStats {
    const c = process.cpuUsage(this.cpu0);
    const life = process.cpuUsage();
    const now = process.hrtime.bigint();
    const cpuMs = (c.user + c.system) / 1000;
    const wallMs = Number(now - this.t0) / 1e6;
    return {
      role,
      cpuPct: wallMs > 0 ? (100 * cpuMs) / wallMs : NaN,
      cpuMs,
      wallMs,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
      startUs: Number(this.t0 / 1000n),
      endUs: Number(now / 1000n),
      totalCpuMs: (life.user + life.system) / 1000,
    };
  }
}

// ---- child side --------------------------------------------------------

/** The child's end of the protocol. */
export interface ChildIpc {
  /** Report to the parent. */
  post(msg: ChildMsg): void;
  /** Resolves when the parent sends `cmd` (at once if it already did). */
  command(cmd: ParentCmd['cmd']): Promise<void>;
  /** Post `msg` (if given), then exit once it has been delivered. */
  exit(msg?: ChildMsg, code?: number): void;
}

/** Set up the child's IPC (exits when the parent goes away). */
export function childIpc(): ChildIpc {
  if (!process.send) throw new Error('peer-process must be started by the benchmark driver (no IPC channel)');
  const seen = new Set<string>();
  const waiting = new Map<string, (() => void)[]>();
  process.on('message', (m: ParentCmd) => {
    seen.add(m.cmd);
    const ws = waiting.get(m.cmd) ?? [];
    waiting.delete(m.cmd);
    for (const w of ws) w();
  });
  process.on('disconnect', () => process.exit(2));
  return {
    post: (msg) => process.send!(msg),
    command: (cmd) =>
      seen.has(cmd)
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const ws = waiting.get(cmd) ?? [];
            ws.push(resolve);
            waiting.set(cmd, ws);
          }),
    exit: (msg, code = 0) => {
      if (msg === undefined || !process.connected) process.exit(code);
      else process.send!(msg, () => process.exit(code));
    },
  };
}

// ---- parent side -------------------------------------------------------

/** A running child as the parent sees it. */
export interface PeerHandle {
  readonly spec: RoleSpec;
  readonly pid: number;
  /** The next message of `type` (messages are queued until asked for). Rejects on a child error, exit or timeout. */
  next<T extends ChildMsg['type']>(type: T, timeoutMs: number): Promise<Extract<ChildMsg, { type: T }>>;
  send(cmd: ParentCmd): void;
  /** Send `stop` and wait for the exit (killed after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
  /** Kill at once. */
  kill(): void;
}

const PEER_ENTRY = fileURLToPath(new URL('./peer-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Options of {@link spawnPeer}. */
export interface SpawnOptions {
  /** Extra Node flags (e.g. `--cpu-prof`, `--expose-gc`). */
  nodeArgs?: string[];
  /** Pin the process to this CPU (with `taskset`, Linux). */
  cpu?: number;
}

/**
 * Start a peer process: `node --import tsx benchmarks/peer-process.ts <spec>`,
 * run from the repository root, with IPC (advanced serialization, so bigint
 * timestamps pass). Node flags in the environment variable
 * `BENCH_NODE_ARGS` (space-separated, e.g. `--trace-gc`) are added to every
 * peer process, for debugging.
 */
export function spawnPeer(spec: RoleSpec, opts: SpawnOptions = {}): PeerHandle {
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const argv = [...extra, ...(opts.nodeArgs ?? []), '--import', 'tsx', PEER_ENTRY, JSON.stringify(spec)];
  const [cmd, args] = opts.cpu === undefined ? [process.execPath, argv] : ['taskset', ['-c', String(opts.cpu), process.execPath, ...argv]];
  const child: ChildProcess = spawn(cmd, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const inbox: ChildMsg[] = [];
  let waiter: { type: string; resolve: (m: ChildMsg) => void; reject: (e: Error) => void } | undefined;
  let failure: Error | undefined;
  let exited = false;
  const exitP = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      fail(new Error(`${spec.role} (pid ${child.pid}) exited (${signal ?? code}) before reporting`));
      resolve();
    });
  });
  const fail = (err: Error) => {
    failure ??= err;
    const w = waiter;
    waiter = undefined;
    w?.reject(failure);
  };
  const deliver = () => {
    if (!waiter) return;
    const i = inbox.findIndex((m) => m.type === waiter!.type);
    if (i < 0) return;
    const [m] = inbox.splice(i, 1);
    const w = waiter;
    waiter = undefined;
    w.resolve(m!);
  };
  child.on('message', (m: ChildMsg) => {
    if (m.type === 'error') fail(new Error(`${spec.role} (pid ${child.pid}): ${m.message}`));
    else {
      inbox.push(m);
      deliver();
    }
  });
  child.on('error', (err) => fail(err));
  return {
    spec,
    pid: child.pid ?? -1,
    next<T extends ChildMsg['type']>(type: T, timeoutMs: number) {
      return new Promise<Extract<ChildMsg, { type: T }>>((resolve, reject) => {
        if (waiter) return reject(new Error('concurrent next() on one peer'));
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`${spec.role} (pid ${child.pid}): no '${type}' within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
        waiter = {
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m as Extract<ChildMsg, { type: T }>);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        deliver();
        if (waiter && failure) fail(failure);
      });
    },
    send(cmd) {
      if (!exited && child.connected) child.send(cmd);
    },
    async stop(graceMs = 5000) {
      if (exited) return;
      this.send({ cmd: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exitP;
      clearTimeout(t);
    },
    kill() {
      if (!exited) child.kill('SIGKILL');
    },
  };
}
