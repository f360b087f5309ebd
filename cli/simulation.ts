/**
 * The simulator behind `switchboard simulate`: N nodes (Switch + PEX +
 * gossip, built with `createNode`) in one process over a
 * {@link MemoryNetwork}, started from K seeds, with a scenario — churn,
 * partition and heal, a stalled node — sampled over time and summarised
 * (nodes at their outbound target, connections, gossip propagation, traffic,
 * duplicates).
 *
 * It lives in cli/ because the framework core (lib/) never imports reactors/
 * and the top-level layout is fixed (DESIGN.md).
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '../lib/errors.js';
import { NodeKey } from '../lib/node-key.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import type { Envelope } from '../lib/reactor.js';
import { createNode, type SwitchboardNode } from '../reactors/pex/index.js';
import { GossipReactor, type GossipMessage } from '../reactors/examples/gossip/reactor.js';

/** Scenarios run after the network has converged and a first greeting went round. */
export type Scenario = 'none' | 'churn' | 'partition' | 'stall';

/** Settings of {@link runSimulation} (ms for times, bytes/s for bandwidth). */
export interface SimulationOptions {
  /** Nodes, seeds included. Default 20. */
  nodes?: number;
  /** Seed nodes (seed mode). Default 3 (at most nodes − 2). */
  seeds?: number;
  /** PRNG seed of the links' jitter. Default 1. */
  seed?: number;
  /** One-way latency of every link (ms). Default 50. */
  latencyMs?: number;
  /** Jitter of every link (ms). Default 10. */
  jitterMs?: number;
  /** Bandwidth of every link (bytes/s), 0 unlimited. Default 0. */
  bandwidth?: number;
  /** Run SecretConnection on every link (slower). Default false. */
  secret?: boolean;
  /** `maxNumOutboundPeers` of every node. Default 10. */
  maxOutbound?: number;
  /**
   * PEX `ensurePeersPeriodMs`. Default 1000. The seeds' crawl runs at the
   * same period and crawls one address at most every 4 periods: CometBFT's
   * 30 s / 30 s / 2 min, scaled to this period.
   */
  ensurePeersPeriodMs?: number;
  /** Deadline of each phase (convergence, a greeting's spread) (ms). Default 60000. */
  phaseTimeoutMs?: number;
  /** Sampling period of the time series (ms). Default 250. */
  sampleMs?: number;
  /** Default `'none'`. */
  scenario?: Scenario;
  /** Called with a fraction 0..1 and the phase's name as the run progresses. */
  onProgress?: (fraction: number, phase: string) => void;
}

/** One point of the time series. */
export interface Sample {
  /** Since the start (ms). */
  t: number;
  /** Running non-seed nodes at their outbound target. */
  atTarget: number;
  /** Running non-seed nodes. */
  nodes: number;
  /** Connections (each counted once). */
  connections: number;
  /** Phase name at that time. */
  phase: string;
}

/** How one greeting spread. */
export interface Propagation {
  /** Phase in which it was published. */
  phase: string;
  /** When it was published (ms since the start of the run). */
  publishedAtMs: number;
  /** Nodes that should get it (running, not stalled, not the author, on the author's side of a partition). */
  expected: number;
  /** Nodes that got it before the deadline. */
  reached: number;
  /** Delivery time percentiles (ms since publish). */
  p50Ms: number;
  /** 99th percentile (ms). */
  p99Ms: number;
  /** Time until 50 %, 90 %, 100 % of `expected` had it (ms; NaN if never). */
  timeToMs: [number, number, number];
  /** Hops (relays + 1) of the node that made 50 %, 90 %, 100 % (NaN if never). */
  hopsTo: [number, number, number];
  /** Gossip messages received per delivered message, minus 1. */
  duplicatesPerDelivery: number;
}

/** What {@link runSimulation} measured. */
export interface SimulationReport {
  /** The settings with defaults filled. */
  options: Required<Omit<SimulationOptions, 'onProgress'>>;
  /** Outbound target of a non-seed node: min(maxOutbound, non-seeds − 1). */
  outboundTarget: number;
  /** Time until every non-seed node was at its target (ms; NaN if not within the deadline). */
  convergedMs: number;
  /** Greetings, in order. */
  propagations: Propagation[];
  /** The time series. */
  samples: Sample[];
  /** Bytes delivered per node (all links, both directions, averaged over nodes ever started). */
  bytesPerNode: number;
  /** Writes delivered per node. */
  writesPerNode: number;
  /** Gossip messages received per node. */
  gossipMsgsPerNode: number;
  /** Wall time of the run (ms). */
  wallMs: number;
  /** Peak resident set size seen (bytes). */
  peakRssBytes: number;
}

/** The gossip reactor, counting what it receives, that can be made to stall (stop reading). */
class SimGossip extends GossipReactor {
  received = 0;
  stalled = false;
  override receive(e: Envelope): void {
    this.received++;
    if (this.stalled) return new Promise<void>(() => {}) as never; // never settles: the connection stops reading
    super.receive(e);
  }
}

interface SimNode {
  node: SwitchboardNode;
  gossip: SimGossip;
  host: string;
  seed: boolean;
  running: boolean;
}

/**
 * Run one simulation. Resolves with the report; nodes, timers and the
 * address-book temp directory are cleaned up before it resolves.
 * @throws RangeError for nodes < 3 or > 5000, seeds < 1.
 */
export async function runSimulation(opts: SimulationOptions = {}): Promise<SimulationReport> {
  const o = {
    nodes: opts.nodes ?? 20,
    seeds: opts.seeds ?? 3,
    seed: opts.seed ?? 1,
    latencyMs: opts.latencyMs ?? 50,
    jitterMs: opts.jitterMs ?? 10,
    bandwidth: opts.bandwidth ?? 0,
    secret: opts.secret ?? false,
    maxOutbound: opts.maxOutbound ?? 10,
    ensurePeersPeriodMs: opts.ensurePeersPeriodMs ?? 1000,
    phaseTimeoutMs: opts.phaseTimeoutMs ?? 60_000,
    sampleMs: opts.sampleMs ?? 250,
    scenario: opts.scenario ?? 'none',
  };
  if (!Number.isInteger(o.nodes) || o.nodes < 3 || o.nodes > 5000) throw new RangeError(`nodes must be 3..5000, got ${o.nodes}`);
  o.seeds = Math.min(o.seeds, o.nodes - 2);
  if (!Number.isInteger(o.seeds) || o.seeds < 1) throw new RangeError(`seeds must be ≥ 1, got ${o.seeds}`);
  const progress = opts.onProgress ?? (() => {});
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'sb-sim-'));
  const net = new MemoryNetwork({ seed: o.seed, link: { latencyMs: o.latencyMs, jitterMs: o.jitterMs, bandwidth: o.bandwidth } });
  const nodes: SimNode[] = [];
  const samples: Sample[] = [];
  let phase = 'start';
  let peakRss = process.memoryUsage().rss;
  const nonSeeds = o.nodes - o.seeds;
  const target = Math.min(o.maxOutbound, nonSeeds - 1);
  const seedAddrs: string[] = [];

  /**
   * The next node's virtual host: a public unicast IPv4 address in a /16 of its own (11.0.0.1, 12.0.0.1, … 99.0.0.1,
   * 11.1.0.1, …), as nodes on the internet are, so the AddrBook buckets them as it would there (routabilityStrict on).
   * Under one private /16 every address would share one AddrBook group, whose new table holds 64 addresses.
   */
  let hosts = 0;
  const nextTransport = () => {
    const i = hosts++;
    return net.transport(`${11 + (i % 89)}.${Math.floor(i / 89) % 256}.${Math.floor(i / (89 * 256))}.1`);
  };
  const make = (seed: boolean, key = NodeKey.generate(), transport = nextTransport()): SimNode => {
    const i = nodes.length;
    const otherSeeds = seedAddrs.filter((a) => !a.startsWith(`${key.id}@`));
    const gossip = new SimGossip();
    const node = createNode({
      nodeKey: key,
      nodeInfo: { network: 'sim', moniker: `${seed ? 'seed' : 'node'}${i}` },
      config: {
        listenAddress: `${transport.host}:26656`,
        plaintext: !o.secret,
        maxNumOutboundPeers: o.maxOutbound,
        // each seed knows the other seeds, as operators configure them, and takes them beyond its inbound and
        // outbound limits (unconditional), so the seeds' crawls merge their books however busy they are
        seeds: seed ? otherSeeds : seedAddrs,
        unconditionalPeerIds: seed ? otherSeeds.map((a) => a.slice(0, a.indexOf('@'))) : [],
        seedMode: seed,
        ensurePeersPeriodMs: o.ensurePeersPeriodMs,
        crawlPeriodMs: o.ensurePeersPeriodMs,
        minTimeBetweenCrawlsMs: 4 * o.ensurePeersPeriodMs,
      },
      addrBookPath: join(dir, `addrbook-${i}.json`),
      reactors: [gossip],
      transport,
    });
    const n: SimNode = { node, gossip, host: transport.host, seed, running: false };
    nodes.push(n);
    return n;
  };
  const start = async (n: SimNode) => {
    await n.node.start();
    n.running = true;
  };
  const stop = async (n: SimNode) => {
    n.running = false;
    await n.node.stop();
  };
  const live = () => nodes.filter((n) => n.running && !n.seed);
  /** At its outbound target, or connected to every other running non-seed (the most it can have). */
  const atTarget = (n: SimNode, l: SimNode[]): boolean => {
    const peers = n.node.switch.peers;
    return peers.numOutbound() >= target || l.every((m) => m === n || peers.has(m.node.switch.nodeKey.id));
  };
  const sample = () => {
    const l = live();
    let conns = 0;
    for (const n of nodes) if (n.running) conns += n.node.switch.peers.numOutbound();
    samples.push({
      t: performance.now() - started,
      atTarget: l.filter((n) => atTarget(n, l)).length,
      nodes: l.length,
      connections: conns,
      phase,
    });
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const sampler = setInterval(sample, o.sampleMs);

  /** Poll `cond` each sample period until true or the phase deadline: the ms it took, or NaN. */
  const until = async (cond: () => boolean): Promise<number> => {
    const t0 = performance.now();
    for (let i = 0; performance.now() - t0 < o.phaseTimeoutMs && i < 1e6; i++) {
      if (cond()) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, Math.min(50, o.sampleMs)));
    }
    return cond() ? performance.now() - t0 : NaN;
  };
  const converged = () => {
    const l = live();
    return l.every((n) => atTarget(n, l));
  };

  const greet = async (author: SimNode, expectedNodes: SimNode[]): Promise<Propagation> => {
    const before = nodes.reduce((s, n) => s + n.gossip.received, 0);
    const firsts: { ms: number; hops: number }[] = [];
    const expected = new Set(expectedNodes.filter((n) => n !== author));
    let text = '';
    const listeners: [SimNode, (m: GossipMessage, from: unknown) => void][] = [];
    const t0 = performance.now();
    for (const n of expected) {
      const l = (m: GossipMessage, from: unknown) => {
        if (m.text === text && from !== undefined) firsts.push({ ms: performance.now() - t0, hops: m.hops + 1 });
      };
      n.gossip.events.on('message', l);
      listeners.push([n, l]);
    }
    text = `greeting ${phase} from ${author.node.switch.nodeInfo.moniker}`;
    author.gossip.publish(text);
    await until(() => firsts.length >= expected.size);
    for (const [n, l] of listeners) n.gossip.events.off('message', l);
    const received = nodes.reduce((s, n) => s + n.gossip.received, 0) - before;
    const times = firsts.map((f) => f.ms);
    const at = (q: number): number => {
      const k = Math.ceil(q * expected.size);
      const f = k >= 1 ? firsts[k - 1] : undefined;
      return f ? f.ms : NaN;
    };
    const hopsAt = (q: number): number => {
      const k = Math.ceil(q * expected.size);
      return k >= 1 && k <= firsts.length ? Math.max(...firsts.slice(0, k).map((f) => f.hops)) : NaN;
    };
    return {
      phase,
      publishedAtMs: t0 - started,
      expected: expected.size,
      reached: firsts.length,
      p50Ms: percentile(times, 0.5),
      p99Ms: percentile(times, 0.99),
      timeToMs: [at(0.5), at(0.9), at(1)],
      hopsTo: [hopsAt(0.5), hopsAt(0.9), hopsAt(1)],
      duplicatesPerDelivery: firsts.length ? received / firsts.length - 1 : NaN,
    };
  };

  const propagations: Propagation[] = [];
  let convergedMs: number;
  try {
    const seedKeys = Array.from({ length: o.seeds }, () => ({ key: NodeKey.generate(), transport: nextTransport() }));
    for (const s of seedKeys) seedAddrs.push(`${s.key.id}@${s.transport.host}:26656`);
    const seedNodes = seedKeys.map((s) => make(true, s.key, s.transport));
    // one after another: each seed's first round then finds the earlier seeds listening (its crawl would reach
    // them later anyway, a crawl period on)
    for (const n of seedNodes) await start(n);
    for (let i = 0; i < nonSeeds; i++) make(false);
    phase = 'converge';
    let done = 0;
    for (const n of nodes.filter((x) => !x.seed)) {
      await start(n);
      progress((++done / nonSeeds) * 0.3, 'start');
    }
    convergedMs = await until(converged);
    progress(0.5, 'converged');
    phase = 'greeting';
    propagations.push(await greet(nodeAt(live(), 0), live()));
    progress(0.6, 'greeting');
    if (o.scenario === 'churn') {
      phase = 'churn';
      const leave = live().slice(0, Math.max(1, Math.floor(nonSeeds / 10)));
      await Promise.all(leave.map(stop));
      const joined = leave.map(() => make(false));
      await Promise.all(joined.map(start));
      await until(converged);
      propagations.push(await greet(nodeAt(joined, 0), live()));
    } else if (o.scenario === 'partition') {
      phase = 'partition';
      const l = live();
      const a = l.slice(0, Math.ceil(l.length / 2));
      const b = l.slice(a.length);
      net.partition(
        [...nodes.filter((n) => n.seed), ...a].map((n) => n.host),
        b.map((n) => n.host),
      );
      propagations.push(await greet(nodeAt(a, 0), a));
      phase = 'heal';
      net.heal();
      propagations.push(await greet(nodeAt(a, 0), live()));
    } else if (o.scenario === 'stall') {
      phase = 'stall';
      const stalled = nodeAt(live(), 1);
      stalled.gossip.stalled = true;
      propagations.push(
        await greet(
          nodeAt(live(), 0),
          live().filter((n) => n !== stalled),
        ),
      );
    }
    progress(0.9, 'report');
    sample();
  } finally {
    clearInterval(sampler);
    await Promise.allSettled(nodes.filter((n) => n.running).map(stop));
    rmSync(dir, { recursive: true, force: true });
  }
  const ever = nodes.length;
  progress(1, 'done');
  return {
    options: o,
    outboundTarget: target,
    convergedMs,
    propagations,
    samples,
    bytesPerNode: net.stats.bytes / ever,
    writesPerNode: net.stats.chunks / ever,
    gossipMsgsPerNode: nodes.reduce((s, n) => s + n.gossip.received, 0) / ever,
    wallMs: performance.now() - started,
    peakRssBytes: peakRss,
  };
}

/** `xs[i]`, a node the scenario needs. @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when the simulation has too few nodes for it. */
function nodeAt(xs: readonly SimNode[], i: number): SimNode {
  const n = xs[i];
  if (!n) throw new InvalidArgumentError(`the scenario needs node ${i + 1} of a group of ${xs.length}: run more nodes`);
  return n;
}

/** The q-quantile (nearest rank) of `xs`, NaN when empty. */
function percentile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}
