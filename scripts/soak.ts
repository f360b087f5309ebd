/**
 * `npm run soak`: faults and churn, bounded in time.
 *
 * 1. AddrBook crash loop: a child adds addresses and saves in a loop and is
 *    SIGKILLed at random moments (`--kills`, default 200); after every kill
 *    the book must load cleanly and hold everything its last completed save
 *    held (test/reliability/addrbook-crash.ts).
 * 2. Churn: `--nodes` (default 20) node processes (scripts/soak/node.ts: a
 *    Switch with PEX and gossip) on 127.0.0.1, each with two persistent
 *    peers (i+1 and i+5 mod N), gossiping every 2 s. Every
 *    `--restart-every` ms (default 3000) for `--minutes` (default 5) one
 *    node (never one of the 5 anchors, nodes 0-4) is killed — SIGKILL three
 *    times in four, SIGTERM otherwise — and restarted on the same port and
 *    home; its four persistent links (to i±1, i±5) must all come back.
 *    File descriptors (/proc/<pid>/fd) and heap (after a GC, over IPC) of the
 *    anchors, which live through all the churn, are measured after warm-up
 *    and at the end; every child reports unhandled rejections and uncaught
 *    exceptions.
 *
 * ```
 * npm run soak                           # 200 kills, then 5 minutes of churn with 20 nodes
 * npm run soak -- --minutes 1 --kills 50
 * npm run soak -- --minutes 1 --kills 0 --signal term   # graceful stops only
 * ```
 *
 * Closing line: `soak: N restarts, M reconnects, U unhandled, fds A→B, heap X→Y MB`
 * (fds and heap summed over the anchors). Exits 1 when a persistent peer
 * did not come back, anything was unhandled, a node died on its own, an
 * honest peer was removed for a protocol violation (ERR_MALFORMED_PACKET,
 * ERR_BAD_FRAME, …), the AddrBook loop found a problem, or fds/heap grew
 * beyond the slack.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeKey } from '../lib/node-key.js';
import { addrBookKillLoop } from '../test/reliability/addrbook-crash.js';
import type { NodeSpec, SoakReport } from './soak/node.js';

interface Args {
  minutes: number;
  nodes: number;
  restartEveryMs: number;
  kills: number;
  keep: boolean;
  signal: 'mixed' | 'kill' | 'term';
}

function parseArgs(argv: string[]): Args {
  const a: Args = { minutes: 5, nodes: 20, restartEveryMs: 3000, kills: 200, keep: false, signal: 'mixed' };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k} needs a non-negative number`);
      return n;
    };
    if (k === '--minutes') a.minutes = num();
    else if (k === '--nodes') a.nodes = Math.max(7, Math.floor(num()));
    else if (k === '--restart-every') a.restartEveryMs = Math.max(500, num());
    else if (k === '--kills') a.kills = Math.floor(num());
    else if (k === '--keep') a.keep = true;
    else if (k === '--signal') {
      const v = argv[++i];
      if (v !== 'mixed' && v !== 'kill' && v !== 'term') throw new Error('--signal is mixed, kill or term');
      a.signal = v;
    } else if (k === '--help' || k === '-h') {
      process.stdout.write(
        'usage: npm run soak -- [--minutes M] [--nodes N] [--restart-every MS] [--kills K] [--signal mixed|kill|term] [--keep]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

const NODE = fileURLToPath(new URL('./soak/node.ts', import.meta.url));
/** Codes an honest peer never causes: seeing one in the soak is a bug. */
const PROTOCOL_VIOLATIONS = new Set([
  'ERR_MALFORMED_PACKET',
  'ERR_UNKNOWN_CHANNEL',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_RECEIVE_FAILED',
  'ERR_BAD_FRAME',
  'ERR_AUTH',
  'ERR_NONCE_EXHAUSTED',
  'ERR_INVALID_NODE_INFO',
  'ERR_INCOMPATIBLE_PEER',
  'ERR_MESSAGE_REJECTED',
  'ERR_BANNED',
]);
const ANCHORS = 5;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (s: string) => process.stdout.write(`${s}\n`);

/** Resolves with `p`, or with `fallback` after `ms`. */
function orAfter<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)))]).finally(() => clearTimeout(timer));
}

/** A port below the ephemeral range that is free right now (so restarts rarely collide with outgoing connections). */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 1000; tries++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    if (taken.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free port in 20000-29999');
}

type Stats = Extract<SoakReport, { type: 'stats' }>;

class NodeProc {
  child: ChildProcess | undefined;
  readonly peers = new Set<string>();
  unhandled: string[] = [];
  /** Exits we did not cause. */
  crashes: string[] = [];
  readonly removedCodes = new Map<string, number>();
  private expectingExit = false;
  private waiters: (() => void)[] = [];
  private statsWaiter: ((s: Stats) => void) | undefined;
  private debugWaiter: ((s: SoakReport) => void) | undefined;

  /** What this node's Switch knows about `id` (diagnostics of a failure). */
  debug(id: string): Promise<SoakReport | undefined> {
    if (!this.child?.connected) return Promise.resolve(undefined);
    const p = new Promise<SoakReport>((r) => (this.debugWaiter = r));
    this.child.send({ type: 'debug', about: id });
    return orAfter(p, 5000, undefined);
  }
  private stderr = '';

  constructor(
    readonly index: number,
    readonly id: string,
    readonly home: string,
    readonly port: number,
    readonly persistent: string[],
  ) {}

  get addr(): string {
    return `${this.id}@127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private changed(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Start and resolve once it listens (retrying a few times on a failed start, e.g. a port still in use). */
  async start(): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      if (await this.startOnce()) return;
      await sleep(300);
    }
    throw new Error(`node ${this.index} did not start: ${this.stderr.slice(-1000)}`);
  }

  private startOnce(): Promise<boolean> {
    this.peers.clear();
    this.expectingExit = false;
    this.stderr = '';
    const spec: NodeSpec = { index: this.index, home: this.home, port: this.port, persistentPeers: this.persistent };
    const child = fork(NODE, [JSON.stringify(spec)], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child = child;
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    return new Promise<boolean>((resolve) => {
      let ready = false;
      child.on('message', (m: SoakReport) => {
        if (m.type === 'ready') {
          ready = true;
          resolve(true);
        } else if (m.type === 'peer') {
          if (m.up) this.peers.add(m.peer);
          else {
            this.peers.delete(m.peer);
            const code = m.code ?? 'graceful';
            this.removedCodes.set(code, (this.removedCodes.get(code) ?? 0) + 1);
          }
          this.changed();
        } else if (m.type === 'unhandled') {
          this.unhandled.push(`node ${this.index} ${m.kind}: ${m.error}`);
        } else if (m.type === 'stats') {
          this.statsWaiter?.(m);
          this.statsWaiter = undefined;
        } else if (m.type === 'debug') {
          this.debugWaiter?.(m);
          this.debugWaiter = undefined;
        } else if (m.type === 'fatal') {
          this.stderr += `\nfatal: ${m.error}`;
        }
      });
      child.once('exit', (code, signal) => {
        this.peers.clear();
        this.changed();
        if (!ready) return resolve(false);
        if (!this.expectingExit) this.crashes.push(`node ${this.index} exited on its own (${signal ?? code}): ${this.stderr.slice(-1000)}`);
      });
    });
  }

  /** Kill with `signal` and wait for the exit (SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    if (
      (await orAfter(
        exited.then(() => true),
        5000,
        false,
      )) === false
    ) {
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Resolves true once connected to every ID in `ids`, false after `ms`. */
  async waitPeers(ids: string[], ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!ids.every((id) => this.peers.has(id))) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await orAfter(new Promise<void>((r) => this.waiters.push(r)), left, undefined);
    }
    return true;
  }

  stats(): Promise<Stats | undefined> {
    if (!this.child?.connected) return Promise.resolve(undefined);
    const p = new Promise<Stats>((r) => (this.statsWaiter = r));
    this.child.send({ type: 'stats' });
    return orAfter(p, 5000, undefined);
  }

  fds(): number {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return NaN;
    }
  }
}

async function addrBookPhase(kills: number): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-soak-book-'));
  try {
    log(`soak: AddrBook crash loop, ${kills} SIGKILLs in the middle of saves`);
    const r = await addrBookKillLoop({ dir, kills, onRound: (i) => (i + 1) % 50 === 0 && log(`  ${i + 1} kills`) });
    for (const p of r.problems.slice(0, 20)) log(`  PROBLEM ${p}`);
    log(
      `soak: addrbook: ${r.kills} kills (${r.midSave} between an add and its completed save), ${r.saves} saves completed, ` +
        `${r.problems.length} problems, ${r.tempFilesLeft} temp files left, ${(r.ms / 1000).toFixed(1)} s`,
    );
    return r.problems.length === 0 && r.kills === kills;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function churnPhase(a: Args): Promise<boolean> {
  const root = mkdtempSync(join(tmpdir(), 'switchboard-soak-'));
  const nodes: NodeProc[] = [];
  let parentUnhandled = 0;
  const onParentUnhandled = (err: unknown) => {
    parentUnhandled++;
    log(`soak: parent unhandled: ${String(err)}`);
  };
  process.on('unhandledRejection', onParentUnhandled);
  try {
    const N = a.nodes;
    const ports = new Set<number>();
    const keys = Array.from({ length: N }, (_, i) => {
      const k = NodeKey.generate();
      k.save(join(root, `n${i}`, 'config', 'node_key.json'));
      return k;
    });
    const portOf: number[] = [];
    for (let i = 0; i < N; i++) portOf.push(await freeLowPort(ports));
    const addr = (i: number) => `${keys[i]!.id}@127.0.0.1:${portOf[i]}`;
    const targets = (i: number) => [(i + 1) % N, (i + 5) % N];
    for (let i = 0; i < N; i++) nodes.push(new NodeProc(i, keys[i]!.id, join(root, `n${i}`), portOf[i]!, targets(i).map(addr)));
    /** IDs a node must be linked to: its persistent peers and the nodes that have it as one. */
    const links = (i: number) => [...new Set([(i + 1) % N, (i + 5) % N, (i - 1 + N) % N, (i - 5 + N) % N])].map((j) => keys[j]!.id);

    log(
      `soak: churn, ${N} node processes, persistent links i→i+1 and i→i+5, one restart every ${a.restartEveryMs} ms for ${a.minutes} min (anchors 0-${ANCHORS - 1} never restarted)`,
    );
    const t0 = performance.now();
    await Promise.all(nodes.map((n) => n.start()));
    log(`  ${N} nodes listening after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const meshed = await Promise.all(nodes.map((n) => n.waitPeers(links(n.index), 60_000)));
    if (!meshed.every(Boolean))
      throw new Error(`the mesh did not form: nodes ${meshed.flatMap((ok, i) => (ok ? [] : [i])).join(', ')} lack persistent links`);
    log(`  every persistent link up after ${((performance.now() - t0) / 1000).toFixed(1)} s; warming up 10 s`);
    await sleep(10_000);

    const measure = async () => {
      const anchors = nodes.slice(0, ANCHORS);
      const stats = await Promise.all(anchors.map((n) => n.stats()));
      return {
        fds: anchors.reduce((s, n) => s + n.fds(), 0),
        heap: stats.reduce((s, x) => s + (x?.heapUsedMb ?? NaN), 0),
        rss: stats.reduce((s, x) => s + (x?.rssMb ?? NaN), 0),
        peers: anchors.reduce((s, n) => s + n.peers.size, 0),
        allFds: nodes.reduce((s, n) => s + n.fds(), 0),
        heard: stats.reduce((s, x) => s + (x?.heard ?? 0), 0),
      };
    };
    const start = await measure();
    log(
      `  start: anchors fds ${start.fds} (${start.peers} peers), heap ${start.heap.toFixed(1)} MB, rss ${start.rss.toFixed(0)} MB; all nodes fds ${start.allFds}`,
    );

    let restarts = 0;
    let reconnects = 0;
    const failures: string[] = [];
    const reconnectMs: number[] = [];
    const deadline = performance.now() + a.minutes * 60_000;
    let last = -1;
    while (performance.now() < deadline) {
      const tick = performance.now();
      let k: number;
      do k = ANCHORS + Math.floor(Math.random() * (N - ANCHORS));
      while (k === last && N - ANCHORS > 1);
      last = k;
      const node = nodes[k]!;
      const signal: NodeJS.Signals = a.signal === 'term' || (a.signal === 'mixed' && restarts % 4 === 3) ? 'SIGTERM' : 'SIGKILL';
      await node.stop(signal);
      await node.start();
      const up = performance.now();
      const want = links(k);
      const ok = await node.waitPeers(want, 20_000);
      restarts++;
      const back = want.filter((id) => node.peers.has(id)).length;
      reconnects += back;
      if (ok) reconnectMs.push(performance.now() - up);
      else {
        const missing = want.filter((id) => !node.peers.has(id)).map((id) => nodes.find((n) => n.id === id)!);
        const detail = (
          await Promise.all(
            missing.map(
              async (m) =>
                `node ${m.index} (${m.peers.has(node.id) ? 'has' : 'lacks'} node ${k} in its peers; ${targets(m.index).includes(k) ? 'redials it' : `is dialed by it`}; its view: ${JSON.stringify(await m.debug(node.id))}; node ${k}'s view: ${JSON.stringify(await node.debug(m.id))})`,
            ),
          )
        ).join('; ');
        failures.push(
          `restart ${restarts} (node ${k}, ${signal}): only ${back} of ${want.length} persistent links back after 20 s: missing ${detail}`,
        );
      }
      if (restarts % 20 === 0) {
        const left = Math.max(0, (deadline - performance.now()) / 1000);
        log(`  ${restarts} restarts, ${reconnects} reconnects, ${failures.length} failures, ${left.toFixed(0)} s left`);
      }
      const wait = a.restartEveryMs - (performance.now() - tick);
      if (wait > 0 && performance.now() + wait < deadline) await sleep(wait);
    }
    // settle: every node back on its links, then measure again
    await Promise.all(nodes.map((n) => n.waitPeers(links(n.index), 20_000)));
    await sleep(5_000);
    const end = await measure();
    log(
      `  end:   anchors fds ${end.fds} (${end.peers} peers), heap ${end.heap.toFixed(1)} MB, rss ${end.rss.toFixed(0)} MB; all nodes fds ${end.allFds}`,
    );

    const unhandled = nodes.flatMap((n) => n.unhandled);
    const crashes = nodes.flatMap((n) => n.crashes);
    const codes = new Map<string, number>();
    for (const n of nodes) for (const [c, x] of n.removedCodes) codes.set(c, (codes.get(c) ?? 0) + x);
    reconnectMs.sort((x, y) => x - y);
    const pct = (p: number) =>
      reconnectMs.length ? reconnectMs[Math.min(reconnectMs.length - 1, Math.floor(reconnectMs.length * p))]!.toFixed(0) : 'n/a';
    for (const f of failures.slice(0, 10)) log(`  FAILURE ${f}`);
    for (const u of unhandled.slice(0, 10)) log(`  UNHANDLED ${u}`);
    for (const c of crashes.slice(0, 10)) log(`  CRASH ${c}`);
    log(`  all persistent links back after a restart in: median ${pct(0.5)} ms, p95 ${pct(0.95)} ms, max ${pct(1)} ms`);
    log(
      `  peer removals by reason (all nodes): ${[...codes]
        .sort((x, y) => y[1] - x[1])
        .map(([c, x]) => `${c} ${x}`)
        .join(', ')}`,
    );
    // between honest nodes, churn explains closed connections and duplicates — never a protocol violation
    const violations = [...codes].filter(([c]) => PROTOCOL_VIOLATIONS.has(c));
    for (const [c, x] of violations) log(`  VIOLATION ${x} peers removed with ${c} between honest nodes`);
    log(`  gossip messages the anchors accepted as new: ${start.heard} at start, ${end.heard} at the end`);
    // flat: fds may follow the number of connections; heap within 50 % + 10 MB of its start
    const fdSlack = Math.max(0, end.peers - start.peers) + 10;
    const fdsFlat = end.fds - start.fds <= fdSlack;
    const heapFlat = end.heap <= start.heap * 1.5 + 10;
    if (!fdsFlat) log(`  FDS GREW: ${start.fds} → ${end.fds} (slack ${fdSlack})`);
    if (!heapFlat) log(`  HEAP GREW: ${start.heap.toFixed(1)} → ${end.heap.toFixed(1)} MB`);
    const totalUnhandled = unhandled.length + parentUnhandled;
    log(
      `soak: ${restarts} restarts, ${reconnects} reconnects, ${totalUnhandled} unhandled, fds ${start.fds}→${end.fds}, heap ${start.heap.toFixed(1)}→${end.heap.toFixed(1)} MB`,
    );
    return (
      failures.length === 0 &&
      totalUnhandled === 0 &&
      crashes.length === 0 &&
      violations.length === 0 &&
      fdsFlat &&
      heapFlat &&
      restarts > 0
    );
  } finally {
    process.off('unhandledRejection', onParentUnhandled);
    await Promise.all(nodes.map((n) => n.stop('SIGTERM')));
    if (!a.keep) rmSync(root, { recursive: true, force: true });
    else log(`  homes kept in ${root}`);
  }
}

async function main(): Promise<number> {
  const a = parseArgs(process.argv.slice(2));
  const started = performance.now();
  let ok = true;
  if (a.kills > 0) ok = (await addrBookPhase(a.kills)) && ok;
  if (a.minutes > 0) ok = (await churnPhase(a)) && ok;
  log(`soak: ${ok ? 'passed' : 'FAILED'} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`soak: ${err.stack ?? err.message}\n`);
    process.exit(2);
  },
);
