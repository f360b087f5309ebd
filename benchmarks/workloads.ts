/**
 * The workloads W1–W10: their exact definitions (kept fixed so results compare
 * across versions) and the driver side of one run of each, which spawns the
 * peer processes, sequences them over IPC and turns their reports into
 * metrics.
 *
 * | id | what | full | quick (`--quick`) |
 * |----|------|------|-------------------|
 * | W1 | bulk small: messages of 64 B one way | 1,000,000 | 100,000 |
 * | W2 | bulk large: messages of 256 KiB one way | 4,000 | 400 |
 * | W3 | medium: messages of 1 KiB one way | 200,000 | 20,000 |
 * | W4 | latency: 64 B ping-pong, warm-up + timed round trips | 1,000 + 10,000 | 100 + 1,000 |
 * | W5 | ping-pong on a priority-10 channel: as W4 on the idle link, then while a priority-1 channel is saturated with 256 KiB messages: 100 warm-up + up to 10,000 timed round trips, at most 20 s | as left | 10 + 1,000, at most 4 s |
 * | W6 | fan-out: a Switch broadcasting 1 KiB messages to 1, 10, 100 peer Switches; 200,000 deliveries in total | 1/10/100 peers | 20,000 deliveries, 1/10 peers |
 * | W7 | scale: one Switch with N idle peers: memory per peer, idle CPU | 1,000 peers (4 processes) | 100 peers (2 processes) |
 * | W8 | raw TCP baseline: W1–W4 over `RawConnection` (raw-tcp.ts) | as W1–W4 | as W1–W4 |
 * | W10 | paused channel: ping-pong on a priority-10 channel, unpaused, then for 10 s while the receiver's reactor of the other channel (16 KiB messages, kept full by the sender) is paused | as left | 10 + 1,000, at most 4 s |
 * | W9 | request/response: 64 B requests answered with 64 B by a `RequestReactor`, 16 in flight on one peer (two Switches), warm-up + timed requests | 1,000 + 50,000 | 100 + 5,000 |
 *
 * Two OS processes on 127.0.0.1 (more for W6/W7), one MConnection, one
 * channel unless said otherwise; time = the sender's first send to the
 * receiver's last message (`process.hrtime.bigint()` in both). MB = 10^6 bytes.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MConnConfig } from '../lib/conn/mconn-config.js';
import { type ChildMsg, type LoadedPhase, type PeerHandle, type ProcStats, type RoleSpec, spawnPeer, type StreamParams } from './ipc.js';
import { LINK_LABELS, type LinkKind } from './link.js';

/** Workload ids. */
export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W7' | 'W8' | 'W9' | 'W10';
/** Every workload, in run order. */
export const WORKLOAD_IDS: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8', 'W9', 'W10'];

/** How a benchmark session runs. */
export interface BenchOptions {
  /** Counts ÷10, W6 up to 10 peers, W7 100 peers. */
  quick: boolean;
  /** Runs per case (the median is reported). */
  runs: number;
  /** MConnection without SecretConnection (W1–W7). */
  plaintext: boolean;
  /** Workloads to run. W1–W4 also run their W8 baseline unless `baseline` is false. */
  only: ReadonlySet<WorkloadId>;
  /** Run the W8 baseline of each selected W1–W4. */
  baseline: boolean;
  /** Write V8 CPU profiles of the W1–W3 MConnection senders and receivers here. */
  profileDir?: string;
  /** MConnection config overrides for experiments (`--mconn`); empty = as shipped. */
  mconn: Partial<MConnConfig>;
  /**
   * Pin the point-to-point processes with `taskset`: sender on CPU 0 and
   * receiver on CPU 1 for the bulk workloads and W5, both on CPU 0 for the
   * W4/W8 ping-pong (see {@link pinFor}). False: the OS places them.
   */
  pin: boolean;
}

/** One figure a case reports. */
export interface MetricDef {
  key: string;
  label: string;
  /** Unit shown after the number. */
  unit: string;
  better: 'higher' | 'lower';
}

/** What one run of a case measured. */
export interface Sample {
  metrics: Record<string, number>;
  procs: ProcStats[];
}

/** What a run may use besides the options. */
export interface RunContext {
  /** Describe the current step (shown on the progress line). */
  status(text: string): void;
  /** 1-based run number. */
  run: number;
}

/** One row of the results: a workload on one link kind with one parameter set. */
export interface BenchCase {
  /** Unique id: `W1`, `W6/10`, `W8/W1`. */
  id: string;
  workload: WorkloadId;
  title: string;
  /** What carries the messages. */
  link: string;
  params: Record<string, number | string>;
  /** Figures reported; the first is the primary one (ratios, targets, chart). */
  metrics: MetricDef[];
  /** Id of the W8 case this one is compared with. */
  baselineId?: string;
  run(ctx: RunContext): Promise<Sample>;
}

const MSGS: MetricDef = { key: 'msgsPerSec', label: 'msgs/s', unit: 'msgs/s', better: 'higher' };
const MBPS: MetricDef = { key: 'MBps', label: 'MB/s', unit: 'MB/s', better: 'higher' };
const P50: MetricDef = { key: 'p50Us', label: 'p50', unit: 'µs', better: 'lower' };
const P99: MetricDef = { key: 'p99Us', label: 'p99', unit: 'µs', better: 'lower' };

/** Bulk workload parameters (W1–W3). */
const BULK = {
  W1: { title: 'bulk small', size: 64, count: 1_000_000 },
  W2: { title: 'bulk large', size: 256 * 1024, count: 4_000 },
  W3: { title: 'medium', size: 1024, count: 200_000 },
} as const;
/** W4/W5 ping size (bytes), warm-up and timed round trips. */
const PING = { size: 64, warmup: 1_000, count: 10_000 } as const;
/** W5 bulk message size (bytes). */
const W5_BULK_SIZE = 256 * 1024;
/** W10: size of the messages on the paused channel (bytes) and how long the pause lasts (ms). */
const W10_BULK_SIZE = 16 * 1024;
const W10_PAUSE_MS = 10_000;
/** W5 loaded phase: warm-up and timed round trips, and the most time spent on timed ones (ms). */
const W5_LOADED = { warmup: 100, count: 10_000, maxMs: 20_000, quickMaxMs: 4_000 } as const;
/** W6: message size, total deliveries, peer counts, most peer processes. */
const FANOUT = { size: 1024, deliveries: 200_000, peers: [1, 10, 100], quickPeers: [1, 10], maxProcs: 10 } as const;
/** W7: peers, peer processes, idle window and settle time (ms). */
const SCALE = {
  peers: 1000,
  quickPeers: 100,
  procs: 4,
  quickProcs: 2,
  idleMs: 10_000,
  quickIdleMs: 3_000,
  settleMs: 2_000,
  quickSettleMs: 1_000,
} as const;

/** W9: request/response size (bytes), requests in flight, warm-up and timed requests. */
const REQUESTS = { size: 64, inFlight: 16, warmup: 1_000, count: 50_000 } as const;

/** Scale a count for quick mode (÷10). */
const scaled = (n: number, o: BenchOptions) => (o.quick ? Math.max(1, Math.round(n / 10)) : n);
/** Time allowed for one step of a run (ms). */
const stepTimeout = (o: BenchOptions, long = false) => (long ? 600_000 : o.quick ? 120_000 : 300_000);

/** The cases selected by `o`, in run order. */
export function buildCases(o: BenchOptions): BenchCase[] {
  const link: LinkKind = o.plaintext ? 'plain' : 'mconn';
  const cases: BenchCase[] = [];
  const raw: BenchCase[] = [];
  const wantRaw = (w: WorkloadId) => o.only.has('W8') || (o.baseline && o.only.has(w));
  for (const w of ['W1', 'W2', 'W3'] as const) {
    const p = BULK[w];
    const count = scaled(p.count, o);
    const mk = (k: LinkKind, id: string): BenchCase => ({
      id,
      workload: k === 'raw' ? 'W8' : w,
      title: `${p.title} ${fmtSize(p.size)}${k === 'raw' ? ` (${w})` : ''}`,
      link: LINK_LABELS[k],
      params: { size: p.size, count },
      metrics: p.size >= 65536 ? [MBPS, MSGS] : [MSGS, MBPS],
      baselineId: k === 'raw' ? undefined : `W8/${w}`,
      run: (ctx) => runBulk(k, p.size, count, o, ctx, `${id.replace('/', '-')}`),
    });
    if (o.only.has(w)) cases.push(mk(link, w));
    if (wantRaw(w)) raw.push(mk('raw', `W8/${w}`));
  }
  const warmup = scaled(PING.warmup, o);
  const pings = scaled(PING.count, o);
  if (o.only.has('W4')) {
    cases.push({
      id: 'W4',
      workload: 'W4',
      title: `latency ${PING.size} B ping-pong`,
      link: LINK_LABELS[link],
      params: { size: PING.size, warmup, count: pings },
      metrics: [P50, P99],
      baselineId: 'W8/W4',
      run: (ctx) => runPingPong(link, warmup, pings, o, ctx),
    });
  }
  if (wantRaw('W4')) {
    raw.push({
      id: 'W8/W4',
      workload: 'W8',
      title: `latency ${PING.size} B ping-pong (W4)`,
      link: LINK_LABELS.raw,
      params: { size: PING.size, warmup, count: pings },
      metrics: [P50, P99],
      run: (ctx) => runPingPong('raw', warmup, pings, o, ctx),
    });
  }
  if (o.only.has('W5')) {
    const loaded: LoadedPhase = {
      warmup: scaled(W5_LOADED.warmup, o),
      count: scaled(W5_LOADED.count, o),
      maxMs: o.quick ? W5_LOADED.quickMaxMs : W5_LOADED.maxMs,
    };
    cases.push({
      id: 'W5',
      workload: 'W5',
      title: `priority isolation: ping under ${fmtSize(W5_BULK_SIZE)} bulk`,
      link: LINK_LABELS[link],
      params: {
        size: PING.size,
        idleWarmup: warmup,
        idleCount: pings,
        loadedWarmup: loaded.warmup,
        loadedMaxCount: loaded.count,
        loadedMaxMs: loaded.maxMs,
        bulkSize: W5_BULK_SIZE,
        pingPriority: 10,
        bulkPriority: 1,
      },
      metrics: [
        P99,
        P50,
        { key: 'idleP50Us', label: 'idle p50', unit: 'µs', better: 'lower' },
        { key: 'idleP99Us', label: 'idle p99', unit: 'µs', better: 'lower' },
        { key: 'bulkMBps', label: 'bulk', unit: 'MB/s', better: 'higher' },
        { key: 'loadedRoundTrips', label: 'timed under load', unit: 'round trips', better: 'higher' },
      ],
      run: (ctx) => runPriority('priority', link, warmup, pings, loaded, o, ctx),
    });
  }
  if (o.only.has('W10')) {
    const loaded: LoadedPhase = {
      warmup: scaled(W5_LOADED.warmup, o),
      count: scaled(W5_LOADED.count, o),
      maxMs: o.quick ? W5_LOADED.quickMaxMs : W10_PAUSE_MS,
    };
    cases.push({
      id: 'W10',
      workload: 'W10',
      title: 'ping beside a paused channel',
      link: LINK_LABELS[link],
      params: {
        size: PING.size,
        idleWarmup: warmup,
        idleCount: pings,
        loadedWarmup: loaded.warmup,
        loadedMaxCount: loaded.count,
        loadedMaxMs: loaded.maxMs,
        bulkSize: W10_BULK_SIZE,
      },
      metrics: [
        P99,
        P50,
        { key: 'idleP50Us', label: 'unpaused p50', unit: 'µs', better: 'lower' },
        { key: 'idleP99Us', label: 'unpaused p99', unit: 'µs', better: 'lower' },
        { key: 'loadedRoundTrips', label: 'timed while paused', unit: 'round trips', better: 'higher' },
      ],
      run: (ctx) => runPriority('paused', link, warmup, pings, loaded, o, ctx),
    });
  }
  if (o.only.has('W9')) {
    const warmupR = scaled(REQUESTS.warmup, o);
    const countR = scaled(REQUESTS.count, o);
    cases.push({
      id: 'W9',
      workload: 'W9',
      title: `request/response ${REQUESTS.size} B, ${REQUESTS.inFlight} in flight`,
      link: `Switch ${o.plaintext ? 'plaintext' : 'encrypted'}`,
      params: { size: REQUESTS.size, inFlight: REQUESTS.inFlight, warmup: warmupR, count: countR },
      metrics: [{ key: 'requestsPerSec', label: 'requests/s', unit: 'req/s', better: 'higher' }, P50, P99],
      run: (ctx) => runRequests(warmupR, countR, o, ctx),
    });
  }
  if (o.only.has('W6')) {
    for (const peers of o.quick ? FANOUT.quickPeers : FANOUT.peers) {
      const deliveries = scaled(FANOUT.deliveries, o);
      const count = Math.ceil(deliveries / peers);
      cases.push({
        id: `W6/${peers}`,
        workload: 'W6',
        title: `fan-out (delivered) ${fmtSize(FANOUT.size)} to ${peers} peer${peers > 1 ? 's' : ''}`,
        link: `Switch ${o.plaintext ? 'plaintext' : 'encrypted'}`,
        params: { size: FANOUT.size, peers, messages: count, deliveries: count * peers },
        metrics: [MSGS, MBPS],
        run: (ctx) => runFanout(peers, count, o, ctx),
      });
    }
  }
  if (o.only.has('W7')) {
    const peers = o.quick ? SCALE.quickPeers : SCALE.peers;
    cases.push({
      id: 'W7',
      workload: 'W7',
      title: `scale: ${peers} idle peers`,
      link: `Switch ${o.plaintext ? 'plaintext' : 'encrypted'}`,
      params: { peers, idleMs: o.quick ? SCALE.quickIdleMs : SCALE.idleMs },
      metrics: [
        { key: 'rssPerPeerKiB', label: 'RSS/peer', unit: 'KiB', better: 'lower' },
        { key: 'idleCpuPct', label: 'idle CPU', unit: '%', better: 'lower' },
        { key: 'heapPerPeerKiB', label: 'heap/peer', unit: 'KiB', better: 'lower' },
        { key: 'externalPerPeerKiB', label: 'buffers/peer', unit: 'KiB', better: 'lower' },
        { key: 'externalPerPeerAfterMsgKiB', label: 'buffers/peer after 1 msg', unit: 'KiB', better: 'lower' },
      ],
      run: (ctx) => runScale(peers, o, ctx),
    });
  }
  return [...cases, ...raw];
}

/** `64 B`, `1 KiB`, `256 KiB`. */
export function fmtSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

// ---- drivers -------------------------------------------------------------

/** Children of the current run, killed if the run fails. */
class Children {
  readonly all: PeerHandle[] = [];
  private readonly profileDirs = new Map<PeerHandle, string>();
  /** Start a child; with `profileDir`, under `--cpu-prof` writing there; with `cpu`, pinned to it. */
  spawn(spec: RoleSpec, profileDir?: string, cpu?: number): PeerHandle {
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    if (spec.role === 'scale-hub') nodeArgs.push('--expose-gc');
    const h = spawnPeer(spec, { nodeArgs, cpu });
    this.all.push(h);
    if (profileDir) this.profileDirs.set(h, profileDir);
    return h;
  }
  /** For a profiled child: record its measured window next to the profile (`window.json`). */
  saveWindow(h: PeerHandle, p: ProcStats): void {
    const dir = this.profileDirs.get(h);
    if (dir) writeFileSync(join(dir, 'window.json'), JSON.stringify({ startUs: p.startUs, endUs: p.endUs }) + '\n');
  }
  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((c) => c.stop()));
  }
  killAll(): void {
    for (const c of this.all) c.kill();
  }
}

/** Run `body` with a set of children; they are stopped afterwards (killed on failure). */
async function withChildren<T>(body: (c: Children) => Promise<T>): Promise<T> {
  const c = new Children();
  try {
    const r = await body(c);
    await c.stopAll();
    return r;
  } catch (err) {
    c.killAll();
    throw err;
  }
}

/**
 * Where to write the CPU profile of a child of a W1–W3 MConnection case
 * when profiling: one directory per process, since every thread (the tsx
 * loader runs in a worker) writes its own file.
 */
function profileDir(o: BenchOptions, caseTag: string, role: string, ctx: RunContext): string | undefined {
  if (!o.profileDir || !/^W[123]$/.test(caseTag)) return undefined;
  const dir = join(o.profileDir, `${caseTag}-${role}-run${ctx.run}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * CPUs of the sender and the receiver of a point-to-point mode when pinning.
 * Throughput (bulk, and W5's bulk) gets one CPU per process, as two machines
 * would. The W4/W8 ping-pong puts both on one CPU: it measures the software
 * path, and a wake-up across CPUs costs 20–40 µs on a small VM, bimodally,
 * which would swamp the difference W4 is about.
 */
export function pinFor(mode: StreamParams['mode']): { sender: number; receiver: number } {
  return mode === 'pingpong' ? { sender: 0, receiver: 0 } : { sender: 0, receiver: 1 };
}

/** Start a stream server and client on `link` and wait until both are connected. */
async function streamPair(
  c: Children,
  p: StreamParams,
  o: BenchOptions,
  ctx: RunContext,
  tag: string,
): Promise<{ server: PeerHandle; client: PeerHandle }> {
  const t = stepTimeout(o);
  ctx.status('starting processes');
  const pin = o.pin ? pinFor(p.mode) : undefined;
  const server = c.spawn({ role: 'stream-server', ...p }, profileDir(o, tag, 'receiver', ctx), pin?.receiver);
  const { port } = await server.next('ready', t);
  const client = c.spawn({ role: 'stream-client', port: port!, ...p }, profileDir(o, tag, 'sender', ctx), pin?.sender);
  ctx.status('connecting');
  await Promise.all([client.next('connected', t), server.next('connected', t)]);
  return { server, client };
}

/** W1–W3 (and their W8): `count` messages of `size` bytes one way. */
function runBulk(link: LinkKind, size: number, count: number, o: BenchOptions, ctx: RunContext, tag: string): Promise<Sample> {
  return withChildren(async (c) => {
    const { server, client } = await streamPair(
      c,
      { mode: 'bulk', link, size, count, warmup: 0, bulkSize: size, loaded: NO_LOAD, mconn: o.mconn },
      o,
      ctx,
      tag,
    );
    ctx.status(`sending ${count.toLocaleString('en-US')} × ${fmtSize(size)}`);
    client.send({ cmd: 'go' });
    const rcv = await server.next('done', stepTimeout(o));
    client.send({ cmd: 'stop' });
    const snd = await client.next('done', stepTimeout(o));
    c.saveWindow(client, snd.proc);
    c.saveWindow(server, rcv.proc);
    checkDelivery(rcv, count);
    const s = elapsedS(snd, rcv);
    return { metrics: { msgsPerSec: count / s, MBps: (count * size) / 1e6 / s, seconds: s }, procs: [snd.proc, rcv.proc] };
  });
}

/** W4 (and its W8): ping-pong. */
function runPingPong(link: LinkKind, warmup: number, count: number, o: BenchOptions, ctx: RunContext): Promise<Sample> {
  return withChildren(async (c) => {
    const p: StreamParams = {
      mode: 'pingpong',
      link,
      size: PING.size,
      count,
      warmup,
      bulkSize: PING.size,
      loaded: NO_LOAD,
      mconn: o.mconn,
    };
    const { server, client } = await streamPair(c, p, o, ctx, 'W4');
    ctx.status(`${(warmup + count).toLocaleString('en-US')} round trips`);
    client.send({ cmd: 'go' });
    const snd = await client.next('done', stepTimeout(o));
    server.send({ cmd: 'stop' });
    const rcv = await server.next('done', stepTimeout(o));
    if (rcv.data.bad || snd.data.bad) throw new Error('payload marker check failed');
    return { metrics: pick(snd.data, ['p50Us', 'p99Us', 'meanUs', 'maxUs']), procs: [snd.proc, { ...rcv.proc, role: 'echo' }] };
  });
}

/**
 * W5: ping-pong on the idle link, then under bulk load on a lower-priority
 * channel; W10 (`paused`): the same, with the bulk channel's reactor paused
 * on the receiving side.
 */
function runPriority(
  mode: 'priority' | 'paused',
  link: LinkKind,
  warmup: number,
  count: number,
  loaded: LoadedPhase,
  o: BenchOptions,
  ctx: RunContext,
): Promise<Sample> {
  return withChildren(async (c) => {
    const p: StreamParams = {
      mode,
      link,
      size: PING.size,
      count,
      warmup,
      bulkSize: mode === 'priority' ? W5_BULK_SIZE : W10_BULK_SIZE,
      loaded,
      mconn: o.mconn,
    };
    const { server, client } = await streamPair(c, p, o, ctx, mode === 'priority' ? 'W5' : 'W10');
    ctx.status(
      mode === 'priority'
        ? `ping-pong on the idle link, then under bulk load (≤ ${loaded.maxMs / 1000} s)`
        : `ping-pong, then while the other channel is paused (${loaded.maxMs / 1000} s)`,
    );
    client.send({ cmd: 'go' });
    const snd = await client.next('done', stepTimeout(o));
    server.send({ cmd: 'stop' });
    const rcv = await server.next('done', stepTimeout(o));
    if (rcv.data.bad || snd.data.bad) throw new Error('payload marker check failed');
    return {
      metrics: {
        ...pick(snd.data, ['p50Us', 'p99Us', 'maxUs', 'idleP50Us', 'idleP99Us', 'idleMaxUs', 'loadedRoundTrips']),
        bulkMBps: rcv.data.bulkMBps ?? NaN,
      },
      procs: [snd.proc, rcv.proc],
    };
  });
}

/** W9: request/response on one peer with 16 in flight (both processes on one CPU when pinning, as W4). */
function runRequests(warmup: number, count: number, o: BenchOptions, ctx: RunContext): Promise<Sample> {
  return withChildren(async (c) => {
    const t = stepTimeout(o);
    const p = { plaintext: o.plaintext, mconn: o.mconn, size: REQUESTS.size, inFlight: REQUESTS.inFlight, warmup, count };
    const pin = o.pin ? pinFor('pingpong') : undefined;
    ctx.status('starting processes');
    const server = c.spawn({ role: 'request-server', ...p }, undefined, pin?.receiver);
    const { addr } = await server.next('ready', t);
    const client = c.spawn({ role: 'request-client', server: addr!, ...p }, undefined, pin?.sender);
    ctx.status('connecting');
    await Promise.all([client.next('connected', t), server.next('connected', t)]);
    ctx.status(`${(warmup + count).toLocaleString('en-US')} requests, ${REQUESTS.inFlight} in flight`);
    client.send({ cmd: 'go' });
    const snd = await client.next('done', t);
    server.send({ cmd: 'stop' });
    const rcv = await server.next('done', t);
    if (snd.data.bad) throw new Error('payload marker check failed');
    return { metrics: pick(snd.data, ['requestsPerSec', 'p50Us', 'p99Us', 'meanUs', 'maxUs']), procs: [snd.proc, rcv.proc] };
  });
}

/** W6: a hub Switch broadcasting `count` messages to `peers` peer Switches spread over ≤ 10 processes. */
function runFanout(peers: number, count: number, o: BenchOptions, ctx: RunContext): Promise<Sample> {
  return withChildren(async (c) => {
    const t = stepTimeout(o);
    ctx.status('starting hub');
    const hub = c.spawn({ role: 'fanout-hub', plaintext: o.plaintext, mconn: o.mconn, peers, count, size: FANOUT.size });
    const { addr } = await hub.next('ready', t);
    const split = spread(peers, Math.min(peers, FANOUT.maxProcs));
    ctx.status(`starting ${peers} peers in ${split.length} processes`);
    const procs = split.map((switches) =>
      c.spawn({ role: 'fanout-peers', plaintext: o.plaintext, mconn: o.mconn, hub: addr!, switches, count, size: FANOUT.size }),
    );
    await Promise.all([...procs.map((p) => p.next('connected', t)), hub.next('connected', t)]);
    ctx.status(`broadcasting ${count.toLocaleString('en-US')} × ${fmtSize(FANOUT.size)} to ${peers}`);
    hub.send({ cmd: 'go' });
    const dones = await Promise.all(procs.map((p) => p.next('done', t)));
    hub.send({ cmd: 'stop' });
    const hubDone = await hub.next('done', t);
    if (dones.some((d) => d.data.bad)) throw new Error('payload marker check failed');
    const t1 = dones.reduce((m, d) => (d.t1! > m ? d.t1! : m), 0n);
    const s = Number(t1 - hubDone.t0!) / 1e9;
    const delivered = peers * count;
    return {
      metrics: { msgsPerSec: delivered / s, MBps: (delivered * FANOUT.size) / 1e6 / s, seconds: s },
      procs: [
        hubDone.proc,
        sumProcs(
          `peers (${split.length} proc)`,
          dones.map((d) => d.proc),
        ),
      ],
    };
  });
}

/** W7: a hub Switch with `peers` idle peers (Switches spread over a few processes). */
function runScale(peers: number, o: BenchOptions, ctx: RunContext): Promise<Sample> {
  return withChildren(async (c) => {
    const t = stepTimeout(o, true);
    const idleMs = o.quick ? SCALE.quickIdleMs : SCALE.idleMs;
    const settleMs = o.quick ? SCALE.quickSettleMs : SCALE.settleMs;
    ctx.status('starting hub');
    const hub = c.spawn({ role: 'scale-hub', plaintext: o.plaintext, mconn: o.mconn, peers, idleMs, settleMs });
    const { addr } = await hub.next('ready', t);
    const split = spread(peers, o.quick ? SCALE.quickProcs : SCALE.procs);
    ctx.status(`connecting ${peers} peers from ${split.length} processes`);
    const procs = split.map((switches) => c.spawn({ role: 'scale-peers', plaintext: o.plaintext, mconn: o.mconn, hub: addr!, switches }));
    await Promise.all([...procs.map((p) => p.next('connected', t)), hub.next('connected', t)]);
    ctx.status(`measuring idle hub (${idleMs / 1000} s)`);
    hub.send({ cmd: 'go' });
    const hubDone = await hub.next('done', t);
    for (const p of procs) p.send({ cmd: 'stop' });
    const dones = await Promise.all(procs.map((p) => p.next('done', t)));
    return {
      metrics: { ...hubDone.data },
      procs: [
        hubDone.proc,
        sumProcs(
          `peers (${split.length} proc)`,
          dones.map((d) => d.proc),
        ),
      ],
    };
  });
}

// ---- helpers ---------------------------------------------------------------

/** The loaded phase of modes other than `priority` (unused). */
const NO_LOAD: LoadedPhase = { warmup: 0, count: 0, maxMs: 0 };

type Done = Extract<ChildMsg, { type: 'done' }>;

function elapsedS(snd: Done, rcv: Done): number {
  if (snd.t0 === undefined || rcv.t1 === undefined) throw new Error('missing timestamps');
  return Number(rcv.t1 - snd.t0) / 1e9;
}

function checkDelivery(rcv: Done, count: number): void {
  if (rcv.data.received !== count) throw new Error(`receiver got ${rcv.data.received} of ${count} messages`);
  if (rcv.data.bad) throw new Error(`${rcv.data.bad} messages failed the marker check`);
}

function pick(data: Record<string, number>, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, data[k] ?? NaN]));
}

/** `n` items over `parts` buckets as evenly as possible. */
function spread(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0)).filter((x) => x > 0);
}

/**
 * Several processes as one: their CPU time summed over the span from the
 * earliest window start to the latest window end (in % of one core, so up to
 * 100 × cores), peak RSS the largest.
 */
function sumProcs(role: string, ps: ProcStats[]): ProcStats {
  const startUs = Math.min(...ps.map((p) => p.startUs));
  const endUs = Math.max(...ps.map((p) => p.endUs));
  const cpuMs = ps.reduce((a, p) => a + p.cpuMs, 0);
  const wallMs = (endUs - startUs) / 1000;
  return {
    role,
    cpuPct: wallMs > 0 ? (100 * cpuMs) / wallMs : NaN,
    cpuMs,
    wallMs,
    maxRssMiB: Math.max(...ps.map((p) => p.maxRssMiB)),
    startUs,
    endUs,
    totalCpuMs: ps.reduce((a, p) => a + p.totalCpuMs, 0),
  };
}
