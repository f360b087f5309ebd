/**
 * The view model of `switchboard testnet --ui`: {@link TestnetView} folds the
 * nodes' IPC reports ({@link NodeReport}) into one picture — nodes,
 * connections (dialer → listener), per-connection and per-channel byte rates
 * — as a JSON-safe {@link ViewState}, which `server.ts` serves and `page.js`
 * draws.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { NodeReport, PeerStats } from '../node.js';
import type { RttStatus } from '../../lib/conn/keepalive.js';

/** How long a closed connection stays on the graph (dashed), ms. */
export const RECENTLY_CLOSED_MS = 30_000;

/** One node of a {@link ViewState}. */
export interface ViewNode {
  index: number;
  id: string;
  moniker: string;
  seed: boolean;
  state: 'starting' | 'up' | 'exited';
  /** `host:port` once the node listens. */
  listen: string;
  peers: number;
  outbound: number;
  /** Distinct greetings heard from other nodes. */
  heard: number;
  /** Wire rates over all its connections, bytes/s. */
  sendRate: number;
  recvRate: number;
  bytesSent: number;
  bytesRecv: number;
}

/** One channel of a connection; `fwd` is dialer → listener, `back` listener → dialer. */
export interface ViewChannel {
  id: number;
  name: string;
  fwdRate: number;
  backRate: number;
  fwdBytes: number;
  backBytes: number;
}

/** One connection of a {@link ViewState}: `from` dialed `to` (node indexes). */
export interface ViewEdge {
  from: number;
  to: number;
  /** False for a connection closed in the last {@link RECENTLY_CLOSED_MS}. */
  live: boolean;
  /** When it opened / closed, ms since the testnet started. */
  since: number;
  closed?: number;
  /** Wire rates (headers included), bytes/s. */
  fwdRate: number;
  backRate: number;
  channels: ViewChannel[];
  /** Keepalive round-trip time of the link (ms), latest and smoothed (SRTT); absent until the first pong. */
  rttMs?: RttStatus;
}

/** What `/state.json` and `/events` carry. */
export interface ViewState {
  network: string;
  /** Outbound target of the non-seed nodes. */
  target: number;
  /** ms since the testnet started. */
  elapsed: number;
  /** When (ms since start) every node reached its target / heard every greeting. */
  milestones: { targets?: number; gossip?: number };
  stopping: boolean;
  nodes: ViewNode[];
  edges: ViewEdge[];
}

interface ChannelSample {
  name: string;
  bytesSent: number;
  bytesRecv: number;
  sendRate: number;
  recvRate: number;
}

interface PeerSample {
  at: number;
  sendRate: number;
  recvRate: number;
  bytesSent: number;
  bytesRecv: number;
  channels: Map<number, ChannelSample>;
  rttMs?: RttStatus;
}

interface EdgeRecord {
  from: number;
  to: number;
  since: number;
  closed?: number;
}

/**
 * The testnet as the nodes report it. Feed it with {@link report} and
 * {@link exited}; read it with {@link snapshot}; it emits `change` after
 * every update.
 */
export class TestnetView extends EventEmitter<{ change: [] }> {
  private readonly started: number;
  private readonly nodes: ViewNode[];
  private readonly byId = new Map<string, number>();
  /** Per node: its connected peers (ID → we dialed it). */
  private readonly peers: Map<string, boolean>[];
  /** Per node: the last stats sample of each connected peer. */
  private readonly samples: Map<string, PeerSample>[];
  private readonly heard: Set<string>[];
  private readonly edges = new Map<string, EdgeRecord>();
  private readonly milestones: ViewState['milestones'] = {};
  private stopping = false;

  /**
   * @param nodes the testnet's nodes in index order (node 0 the seed when `seed` says so)
   * @param now clock in ms (injectable for tests)
   */
  constructor(
    nodes: readonly { id: string; moniker: string; seed: boolean }[],
    private readonly info: { network: string; target: number },
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.started = now();
    this.nodes = nodes.map((n, index) => ({
      index,
      id: n.id,
      moniker: n.moniker,
      seed: n.seed,
      state: 'starting',
      listen: '',
      peers: 0,
      outbound: 0,
      heard: 0,
      sendRate: 0,
      recvRate: 0,
      bytesSent: 0,
      bytesRecv: 0,
    }));
    nodes.forEach((n, i) => this.byId.set(n.id, i));
    this.peers = nodes.map(() => new Map());
    this.samples = nodes.map(() => new Map());
    this.heard = nodes.map(() => new Set());
  }

  /** Fold in one report of node `i`. */
  report(i: number, r: NodeReport): void {
    const node = this.nodes[i];
    if (!node) return;
    switch (r.type) {
      case 'ready':
        node.state = 'up';
        node.listen = r.listen.slice(r.listen.indexOf('@') + 1);
        break;
      case 'peer':
        if (r.up) this.peers[i]!.set(r.peer, r.outbound);
        else if (this.peers[i]!.get(r.peer) === r.outbound) this.peers[i]!.delete(r.peer);
        node.outbound = r.numOutbound;
        this.reconcileEdges();
        break;
      case 'message':
        if (r.origin !== node.id) this.heard[i]!.add(r.origin);
        node.heard = this.heard[i]!.size;
        break;
      case 'stats':
        this.fold(i, r.at, r.peers);
        // a snapshot of the node's peers: it corrects whatever the events left out of order
        this.peers[i] = new Map(r.peers.map((p) => [p.peer, p.outbound]));
        this.reconcileEdges();
        break;
    }
    this.emit('change');
  }

  /** Node `i`'s process exited. */
  exited(i: number): void {
    const node = this.nodes[i];
    if (!node) return;
    node.state = 'exited';
    this.peers[i]!.clear();
    this.samples[i]!.clear();
    this.reconcileEdges();
    this.emit('change');
  }

  /** Record a milestone (ms since start) of the testnet. */
  milestone(name: keyof ViewState['milestones'], ms: number): void {
    this.milestones[name] = ms;
    this.emit('change');
  }

  /** The testnet is shutting down. */
  stop(): void {
    this.stopping = true;
    this.emit('change');
  }

  /** The current picture (a fresh object, JSON-safe). */
  snapshot(): ViewState {
    const t = this.now() - this.started;
    for (const [k, e] of this.edges) if (e.closed !== undefined && t - e.closed > RECENTLY_CLOSED_MS) this.edges.delete(k);
    const nodes = this.nodes.map((n, i) => {
      let sendRate = 0,
        recvRate = 0,
        bytesSent = 0,
        bytesRecv = 0;
      for (const s of this.samples[i]!.values()) {
        sendRate += s.sendRate;
        recvRate += s.recvRate;
        bytesSent += s.bytesSent;
        bytesRecv += s.bytesRecv;
      }
      return { ...n, peers: this.peers[i]!.size, sendRate, recvRate, bytesSent, bytesRecv };
    });
    const edges = [...this.edges.values()].map((e): ViewEdge => {
      const live = e.closed === undefined;
      const base = { from: e.from, to: e.to, live, since: e.since, ...(live ? {} : { closed: e.closed }) };
      if (!live) return { ...base, fwdRate: 0, backRate: 0, channels: [] };
      // the dialer's view of the connection, else the listener's mirrored
      const fromSide = this.samples[e.from]!.get(this.nodes[e.to]!.id);
      const toSide = this.samples[e.to]!.get(this.nodes[e.from]!.id);
      const s = fromSide ?? toSide;
      const mirrored = !fromSide;
      if (!s) return { ...base, fwdRate: 0, backRate: 0, channels: [] };
      const channels = [...s.channels].map(([id, c]) => ({
        id,
        name: c.name,
        fwdRate: mirrored ? c.recvRate : c.sendRate,
        backRate: mirrored ? c.sendRate : c.recvRate,
        fwdBytes: mirrored ? c.bytesRecv : c.bytesSent,
        backBytes: mirrored ? c.bytesSent : c.bytesRecv,
      }));
      const rtt = s.rttMs ?? (mirrored ? undefined : toSide?.rttMs);
      return {
        ...base,
        fwdRate: mirrored ? s.recvRate : s.sendRate,
        backRate: mirrored ? s.sendRate : s.recvRate,
        channels,
        ...(rtt ? { rttMs: rtt } : {}),
      };
    });
    edges.sort((a, b) => a.from - b.from || a.to - b.to);
    return {
      network: this.info.network,
      target: this.info.target,
      elapsed: t,
      milestones: { ...this.milestones },
      stopping: this.stopping,
      nodes,
      edges,
    };
  }

  /** Live edges = every node's peers, each as dialer → listener; vanished ones are marked closed. */
  private reconcileEdges(): void {
    const t = this.now() - this.started;
    const live = new Set<string>();
    this.peers.forEach((peers, i) => {
      for (const [id, outbound] of peers) {
        const j = this.byId.get(id);
        if (j === undefined || j === i) continue;
        const [from, to] = outbound ? [i, j] : [j, i];
        const key = `${from}>${to}`;
        live.add(key);
        const e = this.edges.get(key);
        if (!e || e.closed !== undefined) this.edges.set(key, { from, to, since: t });
      }
    });
    for (const [k, e] of this.edges) if (!live.has(k) && e.closed === undefined) e.closed = t;
  }

  /** Per-channel rates from the byte totals of two consecutive samples. */
  private fold(i: number, at: number, peers: readonly PeerStats[]): void {
    const prev = this.samples[i]!;
    const next = new Map<string, PeerSample>();
    for (const p of peers) {
      const old = prev.get(p.peer);
      const dt = old ? (at - old.at) / 1000 : 0;
      const channels = new Map<number, ChannelSample>();
      for (const c of p.channels) {
        const o = old?.channels.get(c.id);
        // a reconnect restarts the totals: no rate until the next sample
        const rate = (now: number, before: number | undefined) =>
          dt > 0 && before !== undefined && now >= before ? (now - before) / dt : 0;
        channels.set(c.id, {
          name: c.name,
          bytesSent: c.bytesSent,
          bytesRecv: c.bytesRecv,
          sendRate: rate(c.bytesSent, o?.bytesSent),
          recvRate: rate(c.bytesRecv, o?.bytesRecv),
        });
      }
      next.set(p.peer, {
        at,
        sendRate: p.sendRate,
        recvRate: p.recvRate,
        bytesSent: p.bytesSent,
        bytesRecv: p.bytesRecv,
        channels,
        ...(p.rttMs ? { rttMs: p.rttMs } : {}),
      });
    }
    this.samples[i] = next;
  }
}
