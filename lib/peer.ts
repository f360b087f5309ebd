/**
 * Peer: a connected remote node, as CometBFT's `p2p.Peer` — its ID and
 * NodeInfo, its MConnection, and a small key/value store for reactors.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import type { ChannelDescriptor } from './conn/channel.js';
import { ChannelInactiveError } from './errors.js';
import type { ConnectionStatus } from './conn/connection-status.js';
import { MConnection, type ErrorHandler, type ReceiveHandler, type SendOptions } from './conn/mconnection.js';
import type { MConnConfig } from './conn/mconn-config.js';
import { NetAddress } from './net-address.js';
import type { NodeInfo } from './node-info.js';

/**
 * What a Peer is built from (the Switch constructs peers).
 * @internal
 */
export interface PeerInit {
  conn: Duplex;
  nodeInfo: NodeInfo;
  outbound: boolean;
  persistent: boolean;
  /** Address of the TCP socket's remote end. */
  remoteHost: string;
  /** For outbound peers: the address dialed. */
  dialedAddr?: NetAddress;
  channels: readonly ChannelDescriptor[];
  /** Channel id → the version agreed in the handshake (channels without one are inactive). */
  channelVersions: ReadonlyMap<number, number>;
  onReceive: ReceiveHandler;
  onError: ErrorHandler;
  /** Called with each keepalive round-trip sample (ms), e.g. the metrics' RTT histogram. */
  onRtt?: (rttMs: number) => void;
  mconnConfig?: Partial<MConnConfig>;
}

/**
 * A connected peer. Created by the Switch after a successful handshake;
 * reactors get it in `initPeer`/`addPeer`/`receive`/`removePeer`.
 */
export class Peer {
  /** Authenticated node ID (40 hex). */
  readonly id: string;
  /** What the peer said about itself in the handshake (validated). */
  readonly nodeInfo: NodeInfo;
  /**
   * The address to reach the peer at, `id@host:port`: the dialed address for
   * outbound peers, the socket's remote IP with the self-reported listen port
   * for inbound ones (CometBFT's `SocketAddr`/`NetAddress` split).
   */
  readonly remoteAddr: NetAddress;
  /** Remote IP of the TCP socket. */
  readonly remoteIp: string;
  /** The peer's MConnection: reached only through the Peer's methods. */
  private readonly mconn: MConnection;
  private readonly outbound: boolean;
  private readonly persistent: boolean;
  private readonly data = new Map<string, unknown>();
  /** Agreed version per channel id (0 = inactive or not advertised by the peer). */
  private readonly versions = new Uint32Array(256);

  /** @internal The Switch constructs peers. */
  constructor(init: PeerInit) {
    this.id = init.nodeInfo.id;
    this.nodeInfo = init.nodeInfo;
    this.outbound = init.outbound;
    this.persistent = init.persistent;
    this.remoteIp = init.remoteHost;
    let addr = init.dialedAddr;
    if (!addr) {
      // an inbound peer: the port it listens on (NodeInfo validation: 1..65535) at the IP it came from
      const selfReported = init.nodeInfo.netAddress();
      addr =
        selfReported.protocol !== 'tcp' ? selfReported : new NetAddress(this.id, init.remoteHost || selfReported.host, selfReported.port);
    }
    this.remoteAddr = addr;
    for (const [id, v] of init.channelVersions) this.versions[id] = v;
    this.mconn = new MConnection(init.conn, init.channels, init.onReceive, init.onError, init.mconnConfig);
    this.mconn.onRtt = init.onRtt;
  }

  /**
   * Start the connection: reading, the send routine and keepalive, as
   * CometBFT's `Peer.Start`. The Switch calls it once every reactor's
   * `addPeer` has run (so `receive` never precedes `addPeer`).
   */
  start(): void {
    this.mconn.start();
  }

  /**
   * Close the connection at once (queued messages are dropped), as CometBFT's
   * `Peer.Stop`; idempotent. It does not remove the peer from the Switch:
   * reactors call `stopPeerForError` or `stopPeerGracefully` on their host.
   */
  stop(): void {
    this.mconn.stop();
  }

  /**
   * Write every queued message, then close, as CometBFT's `Peer.FlushStop`.
   * Resolves once closed (at once when already stopped); never rejects.
   */
  flushStop(): Promise<void> {
    return this.mconn.flushStop();
  }

  /** True once the connection is stopped (by `stop`, `flushStop` or an error). */
  get isStopped(): boolean {
    return this.mconn.isStopped;
  }

  /**
   * When the last complete message arrived from the peer (`performance.now()`
   * ms; the connection's start until one has). The Switch evicts the idlest
   * inbound peer by it.
   */
  get lastMessageAt(): number {
    return this.mconn.lastMessageAt;
  }

  /**
   * Receive rate over the last quarter to half second (bytes/s): quicker
   * than `status()`'s 1 s average. The Switch compares peers by it to slow a flood.
   * @internal Read by the Switch's fair share.
   */
  get recentRecvRate(): number {
    return this.mconn.recentRecvRate;
  }

  /**
   * Blocked `send()` callers on this peer's busiest channel (bounded by `maxSendWaiters`): how far behind the peer is in taking what we send.
   * @internal Read by the Switch's fair share.
   */
  get mostSendWaiters(): number {
    return this.mconn.mostSendWaiters;
  }

  /**
   * How long (ms) the peer has let us send nothing though we have data for it; 0 while it takes data.
   * @internal Read by the Switch's fair share.
   */
  get sendStalledMs(): number {
    return this.mconn.sendStalledMs;
  }

  /** True when we dialed the peer. */
  isOutbound(): boolean {
    return this.outbound;
  }

  /** True when the peer is one of the Switch's persistent peers (redialed when it drops). */
  isPersistent(): boolean {
    return this.persistent;
  }

  /**
   * The version of channel `id` agreed with this peer in the handshake: the
   * highest version both advertise (as go-ethereum's `matchProtocols`), or
   * undefined when there is none or the peer lacks the channel — the channel
   * is then inactive for this peer. Reactors read it in `addPeer`.
   */
  channelVersion(id: number): number | undefined {
    return this.versions[id] || undefined;
  }

  /**
   * Blocking send, as CometBFT's `Peer.Send`: resolves true once queued, false
   * when the peer did not advertise `channelId`, after the send timeout
   * (default 10 s), on abort, or when the peer is stopped. See {@link MConnection.send}.
   * Rejects with ChannelInactiveError (`ERR_CHANNEL_INACTIVE`) when both
   * advertise the channel but have no common version; that rejection is
   * pre-handled, so `void peer.send(...)` is safe (a `.then` chained without a
   * rejection handler is not: check `channelVersion` first, or catch).
   */
  send(channelId: number, msg: Uint8Array, opts?: SendOptions): Promise<boolean> {
    if (!this.nodeInfo.hasChannel(channelId)) return Promise.resolve(false);
    if (this.versions[channelId] === 0) {
      // marked handled, so a fire-and-forget `void peer.send(...)` cannot crash the process
      // (a peer decides which versions it advertises); awaiting it still rejects
      const p = Promise.reject(this.inactive(channelId));
      p.catch(() => {});
      return p;
    }
    return this.mconn.send(channelId, msg, opts);
  }

  /** Non-blocking send, as CometBFT's `Peer.TrySend`: false when the queue is full, the peer lacks the channel, or it is inactive. */
  trySend(channelId: number, msg: Uint8Array): boolean {
    if (this.versions[channelId] === 0) return false;
    return this.mconn.trySend(channelId, msg);
  }

  /** True when `trySend(channelId, …)` would queue now (false on an inactive channel). */
  canSend(channelId: number): boolean {
    return this.versions[channelId] !== 0 && this.mconn.canSend(channelId);
  }

  private inactive(channelId: number): ChannelInactiveError {
    const hex = `0x${channelId.toString(16).padStart(2, '0')}`;
    return new ChannelInactiveError(
      channelId,
      `channel ${hex} is inactive for ${this.id}: no common version (peer has [${this.nodeInfo.channelVersionsOf(channelId)?.join(', ')}])`,
    );
  }

  /** A value a reactor stored on this peer (`undefined` when none). */
  get<T = unknown>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  /** Store a value on this peer for the life of the connection. */
  set(key: string, value: unknown): void {
    this.data.set(key, value);
  }

  /** The MConnection's status: queues, rates, bytes. */
  status(): ConnectionStatus {
    return this.mconn.status();
  }

  /** `Peer{id@host:port in|out}` for logs. */
  toString(): string {
    return `Peer{${this.remoteAddr} ${this.outbound ? 'out' : 'in'}}`;
  }
}

/**
 * The Switch's set of connected peers, as CometBFT's `PeerSet`.
 * Read-only to applications.
 */
export class PeerSet {
  private readonly byId = new Map<string, Peer>();
  private outboundCount = 0;

  /** True when a peer with this ID is connected. */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** The connected peer with this ID, or undefined. */
  get(id: string): Peer | undefined {
    return this.byId.get(id);
  }

  /** A snapshot of the connected peers. */
  list(): Peer[] {
    return [...this.byId.values()];
  }

  /** Number of connected peers. */
  get size(): number {
    return this.byId.size;
  }

  /** Connected peers we dialed. */
  numOutbound(): number {
    return this.outboundCount;
  }
  /** Connected peers that dialed us. */
  numInbound(): number {
    return this.byId.size - this.outboundCount;
  }

  /** @internal Used by the Switch. Returns false when the ID is already present. */
  add(peer: Peer): boolean {
    if (this.byId.has(peer.id)) return false;
    this.byId.set(peer.id, peer);
    if (peer.isOutbound()) this.outboundCount++;
    return true;
  }

  /** @internal Used by the Switch. Returns false when that exact peer was not present. */
  remove(peer: Peer): boolean {
    if (this.byId.get(peer.id) !== peer) return false;
    this.byId.delete(peer.id);
    if (peer.isOutbound()) this.outboundCount--;
    return true;
  }
}
