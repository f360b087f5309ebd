/**
 * The in-memory transport: Switches in one process joined by simulated
 * links — one-way latency, jitter and bandwidth per pair of hosts,
 * partitions and heals — for tests and the simulator, as Tendermint 0.35's
 * `transport_memory.go` and js-libp2p's memory transport, with links.
 *
 * A {@link MemoryNetwork} is a virtual IP network: each
 * {@link MemoryTransport} owns one virtual host (an IP literal, e.g.
 * `10.0.0.7`) and listens on `host:port` addresses, so everything that
 * reads addresses — NodeInfo, PEX (whose wire format carries IP
 * literals), the AddrBook's groups, bans — works unchanged. The random
 * source (jitter) is {@link mulberry32} seeded from the network's seed, so
 * the same seed and the same writes give the same delivery times; the
 * event loop's timer granularity (1 ms) and the order in which Node runs
 * ready timers are what remains non-deterministic.
 *
 * @module
 */
import { isIP } from 'node:net';
import { InvalidArgumentError, RejectedError } from './errors.js';
import { memoryLink, type LinkProfile, type MemoryConn, type PipeContext } from './memory-link.js';
import { mulberry32 } from './mulberry32.js';
import { NetAddress } from './net-address.js';
import type { AcceptHandler, RawConnection, Transport } from './transport.js';

export type { LinkProfile } from './memory-link.js';

/** {@link MemoryNetwork} settings. */
export interface MemoryNetworkOptions {
  /** Seed of the PRNG behind jitter (any integer). Default 1. */
  seed?: number;
  /** The profile of every link not set with {@link MemoryNetwork.setLink}. Default no latency, unlimited bandwidth. */
  link?: LinkProfile;
  /** Bytes a writer may have waiting for serialisation on a bandwidth-limited link before its write is held, as a socket send buffer. Default 65536. */
  sendBufferBytes?: number;
}

/** Traffic counters of a network (bytes and chunks delivered, connections opened). */
export interface MemoryNetworkStats {
  /** Bytes delivered over every link. */
  bytes: number;
  /** Writes delivered. */
  chunks: number;
  /** Connections opened. */
  connections: number;
}

interface Live {
  a: string;
  b: string;
  ends: [MemoryConn, MemoryConn];
}

/**
 * The hub: hosts, listeners, link profiles, partitions.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a bad profile or seed.
 */
export class MemoryNetwork {
  /** Traffic so far. */
  readonly stats: MemoryNetworkStats = { bytes: 0, chunks: 0, connections: 0 };
  private readonly random: () => number;
  private defaultLink: LinkProfile;
  private readonly links = new Map<string, LinkProfile>();
  private readonly listeners = new Map<string, MemoryTransport>();
  private readonly hosts = new Set<string>();
  private readonly side = new Map<string, 'a' | 'b'>();
  private readonly live = new Set<Live>();
  private readonly sendBufferBytes: number;
  private nextHost = 1;
  private nextPort = 40_000;

  constructor(opts: MemoryNetworkOptions = {}) {
    const seed = opts.seed ?? 1;
    if (!Number.isInteger(seed)) throw new InvalidArgumentError(`seed must be an integer, got ${seed}`);
    this.random = mulberry32(seed);
    this.defaultLink = checkProfile(opts.link ?? {});
    this.sendBufferBytes = opts.sendBufferBytes ?? 65_536;
  }

  /**
   * A transport for virtual host `host` (an IP literal; default the next of
   * 10.0.0.1, 10.0.0.2, …). @throws InvalidArgumentError for a non-IP host or one already taken.
   */
  transport(host?: string): MemoryTransport {
    let h = host;
    if (h === undefined) {
      do {
        const n = this.nextHost++;
        h = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      } while (this.hosts.has(h));
    }
    if (!isIP(h)) throw new InvalidArgumentError(`a memory host must be an IP literal, got ${JSON.stringify(h)}`);
    if (this.hosts.has(h)) throw new InvalidArgumentError(`memory host ${h} is taken`);
    this.hosts.add(h);
    return new MemoryTransport(this, h);
  }

  /** Set the profile of the link between hosts `a` and `b`, both directions (connections already open use it from their next write). */
  setLink(a: string, b: string, profile: LinkProfile): void {
    const p = checkProfile(profile);
    this.links.set(pairKey(a, b), p);
    this.links.set(pairKey(b, a), p);
  }

  /** Set the profile of every link without its own. */
  setDefaultLink(profile: LinkProfile): void {
    this.defaultLink = checkProfile(profile);
  }

  /**
   * Cut every link between a host of `a` and a host of `b`: open connections
   * across the cut are reset at once (both ends error with `ECONNRESET`, as
   * a router answering with RST), new dials across it fail with
   * RejectedError `ERR_DIAL`. Replaces an earlier partition.
   */
  partition(a: Iterable<string>, b: Iterable<string>): void {
    this.side.clear();
    for (const h of a) this.side.set(h, 'a');
    for (const h of b) this.side.set(h, 'b');
    for (const l of [...this.live]) {
      if (this.cut(l.a, l.b))
        for (const e of l.ends) e.destroy(Object.assign(new Error('connection reset by the network partition'), { code: 'ECONNRESET' }));
    }
  }

  /** Remove the partition. */
  heal(): void {
    this.side.clear();
  }

  /** True when `a` and `b` are on opposite sides of the partition. */
  cut(a: string, b: string): boolean {
    const sa = this.side.get(a);
    const sb = this.side.get(b);
    return sa !== undefined && sb !== undefined && sa !== sb;
  }

  /** @internal */
  bind(host: string, port: number, t: MemoryTransport): number {
    let p = port;
    if (p === 0) while (this.listeners.has(`${host}:${(p = this.nextPort++)}`));
    const key = `${host}:${p}`;
    if (this.listeners.has(key)) throw Object.assign(new Error(`${key} is in use`), { code: 'EADDRINUSE' });
    this.listeners.set(key, t);
    return p;
  }

  /** @internal */
  unbind(host: string, port: number): void {
    this.listeners.delete(`${host}:${port}`);
  }

  /** @internal Open a connection from host `from` to `addr`; rejects (synchronously throws) `ERR_DIAL`. */
  connect(from: string, addr: NetAddress): { local: MemoryConn; remote: MemoryConn; remotePort: number } {
    const target = this.listeners.get(`${addr.host}:${addr.port}`);
    if (!target) throw new RejectedError('ERR_DIAL', `dial ${addr} failed: connection refused (no memory listener)`);
    if (this.cut(from, addr.host)) throw new RejectedError('ERR_DIAL', `dial ${addr} failed: network unreachable (partitioned)`);
    const ctx = (src: string, dst: string): PipeContext => ({
      now: () => performance.now(),
      random: this.random,
      profile: () => this.links.get(pairKey(src, dst)) ?? this.defaultLink,
      sendBufferBytes: this.sendBufferBytes,
      onDeliver: (n) => {
        this.stats.bytes += n;
        this.stats.chunks++;
      },
    });
    const ends = memoryLink(ctx(from, addr.host), ctx(addr.host, from));
    const l: Live = { a: from, b: addr.host, ends };
    this.live.add(l);
    let open = 2;
    for (const e of ends) e.once('close', () => --open === 0 && this.live.delete(l));
    this.stats.connections++;
    const localPort = this.nextPort++;
    target.deliver(ends[1], from, localPort);
    return { local: ends[0], remote: ends[1], remotePort: addr.port };
  }
}

/**
 * One virtual host's transport on a {@link MemoryNetwork}. Listens on
 * `host:port` of its own host (`0.0.0.0`/`::` mean its host; port 0 picks a
 * free one); dials any `host:port` of the network. Inbound connections have
 * the dialer's host and an ephemeral port as remote endpoint, so per-IP
 * admission limits and bans apply as on TCP.
 * `listen` rejects with an `EADDRINUSE` error; `dial` with RejectedError
 * `ERR_DIAL` (no listener, partitioned, aborted, a `unix` address) or
 * `ERR_SWITCH_STOPPED` after `close()`.
 */
export class MemoryTransport implements Transport {
  /** `'memory'`. */
  readonly protocol = 'memory';
  private onAccept: AcceptHandler | undefined;
  private port = 0;
  private closed = false;
  private readonly conns = new Set<MemoryConn>();

  /** @internal Use {@link MemoryNetwork.transport}. */
  constructor(
    /** The network. */
    readonly network: MemoryNetwork,
    /** This transport's virtual IP. */
    readonly host: string,
  ) {}

  /** Listen on `addr` (its host must be ours or unspecified). */
  async listen(addr: NetAddress, onAccept: AcceptHandler): Promise<NetAddress> {
    if (this.closed) throw new RejectedError('ERR_SWITCH_STOPPED', 'transport closed');
    const any = addr.host === '0.0.0.0' || addr.host === '::';
    if (addr.protocol !== 'tcp' || (!any && addr.host !== this.host)) {
      throw Object.assign(new Error(`memory host ${this.host} cannot listen on ${addr.dialString()}`), { code: 'EADDRNOTAVAIL' });
    }
    this.port = this.network.bind(this.host, addr.port, this);
    this.onAccept = onAccept;
    return new NetAddress('', this.host, this.port);
  }

  /** Connect to `addr` on the network (at once; the link's latency applies to the data). */
  async dial(addr: NetAddress, signal?: AbortSignal): Promise<RawConnection> {
    if (this.closed) throw new RejectedError('ERR_SWITCH_STOPPED', 'transport closed');
    if (addr.protocol !== 'tcp') throw new RejectedError('ERR_DIAL', `cannot dial ${addr} over the memory transport`);
    if (signal?.aborted) throw new RejectedError('ERR_DIAL', `dial ${addr} aborted`);
    const { local, remotePort } = this.network.connect(this.host, addr);
    this.track(local);
    return { conn: local, remote: { host: addr.host, port: remotePort }, bytesRead: () => local.received };
  }

  /** @internal An inbound connection from `from:port`. */
  deliver(conn: MemoryConn, from: string, port: number): void {
    if (this.closed || !this.onAccept) return void conn.destroy();
    this.track(conn);
    this.onAccept({ conn, remote: { host: from, port }, bytesRead: () => conn.received });
  }

  /** Stop listening and destroy every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.onAccept) this.network.unbind(this.host, this.port);
    for (const c of this.conns) c.destroy();
  }

  private track(c: MemoryConn): void {
    c.on('error', () => {});
    this.conns.add(c);
    c.once('close', () => this.conns.delete(c));
  }
}

function pairKey(a: string, b: string): string {
  return `${a}>${b}`;
}

function checkProfile(p: LinkProfile): LinkProfile {
  for (const k of ['latencyMs', 'jitterMs', 'bandwidth'] as const) {
    const v = p[k];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || v < 0))
      throw new InvalidArgumentError(`link ${k} must be a number ≥ 0, got ${v}`);
  }
  return { ...p };
}
