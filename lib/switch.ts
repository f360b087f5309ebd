/**
 * The Switch: owns the peers, routes each incoming message to the reactor
 * that registered its channel, dials and accepts peers under limits, and
 * keeps persistent peers connected — as CometBFT's `p2p.Switch`.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import pino, { type Logger } from 'pino';
import type { ChannelDescriptor } from './conn/channel.js';
import type { MConnConfig } from './conn/mconnection.js';
import { InvalidArgumentError, RejectedError, SwitchboardError } from './errors.js';
import { NetAddress } from './net-address.js';
import { NodeInfo, type ProtocolVersion } from './node-info.js';
import type { NodeKey } from './node-key.js';
import { Peer, PeerSet } from './peer.js';
import type { Reactor } from './reactor.js';
import { Transport, type UpgradedConn } from './transport.js';

/**
 * Switch settings. Times in ms.
 */
export interface SwitchConfig {
  /** `host:port` to listen on (`tcp://` prefix allowed; port 0 = any free port). Default `0.0.0.0:26656`, as CometBFT. */
  listenAddress: string;
  /** `host:port` to advertise in NodeInfo instead of the bound address. Default: the bound address. */
  externalAddress?: string;
  /** Inbound peers allowed (unconditional peers not counted). Default 40, as CometBFT. */
  maxNumInboundPeers: number;
  /** Outbound peers allowed, enforced on every dial (unconditional peers not counted). Default 10, as CometBFT. */
  maxNumOutboundPeers: number;
  /** TCP connect deadline (ms). Default 3000. */
  dialTimeoutMs: number;
  /** SecretConnection + NodeInfo deadline (ms). Default 20000. */
  handshakeTimeoutMs: number;
  /** Connections allowed in the handshake at once. Default 64. */
  maxHandshaking: number;
  /** Disable encryption (benchmarks/tests only). Default false. */
  plaintext: boolean;
  /** Persistent-peer redial: first phase interval (ms, plus up to 3 s jitter) and attempts. Default 5000 × 20, as CometBFT. */
  reconnectIntervalMs: number;
  reconnectAttempts: number;
  /** Persistent-peer redial: second phase base (ms): waits base^i… as CometBFT's 3^i s, for this many attempts. Default 3000 × 10. */
  reconnectBackoffBaseMs: number;
  reconnectBackoffAttempts: number;
  /** MConnection settings for every peer. */
  mconn: Partial<MConnConfig>;
}

/** Defaults of {@link SwitchConfig}. */
export const DEFAULT_SWITCH_CONFIG: Readonly<SwitchConfig> = Object.freeze({
  listenAddress: '0.0.0.0:26656',
  maxNumInboundPeers: 40,
  maxNumOutboundPeers: 10,
  dialTimeoutMs: 3_000,
  handshakeTimeoutMs: 20_000,
  maxHandshaking: 64,
  plaintext: false,
  reconnectIntervalMs: 5_000,
  reconnectAttempts: 20,
  reconnectBackoffBaseMs: 3_000,
  reconnectBackoffAttempts: 10,
  mconn: {},
});

/** The parts of our NodeInfo an application sets; id, channels and listenAddr are filled by the Switch. */
export interface NodeInfoSettings {
  /** Network (chain) name; peers must match. Default `switchboard`. */
  network?: string;
  /** Default: the first 8 characters of the node ID. */
  moniker?: string;
  version?: string;
  protocolVersion?: ProtocolVersion;
  other?: Record<string, string>;
}

/** Switch constructor options. */
export interface SwitchOptions {
  nodeKey: NodeKey;
  nodeInfo?: NodeInfoSettings;
  config?: Partial<SwitchConfig>;
  /** pino logger; default silent. Each peer gets a child logger `{ peer: id }`. */
  logger?: Logger;
}

/** What PEX's AddrBook offers the Switch (CometBFT's `AddrBook` interface). */
export interface SwitchAddrBook {
  markGood(id: string): void;
  addOurAddress?(addr: NetAddress): void;
  removeAddress?(addr: NetAddress): void;
}

/** Typed events of a Switch. */
export interface SwitchEvents {
  /** A peer passed the handshake and every reactor's `addPeer`. */
  'peer:add': [peer: Peer];
  /** A peer was removed; `reason` is the error, or undefined for a graceful stop. */
  'peer:remove': [peer: Peer, reason: unknown];
  /** A peer was stopped for an error. */
  'peer:error': [peer: Peer, err: unknown];
  /** A dial, or an inbound handshake, failed. `addr` is the dialed address or the remote socket. */
  'peer:dial-failed': [addr: string, err: SwitchboardError];
}

/**
 * The Switch. Construct, `addReactor` each reactor, `start()`.
 *
 * ```ts
 * const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '127.0.0.1:26656' } });
 * sw.addReactor('echo', new EchoReactor());
 * await sw.start();
 * await sw.dialPeerWithAddress('<id>@127.0.0.1:26657');
 * ```
 */
export class Switch extends EventEmitter<SwitchEvents> {
  readonly config: Readonly<SwitchConfig>;
  readonly nodeKey: NodeKey;
  /** The connected peers. */
  readonly peers = new PeerSet();
  readonly logger: Logger;
  private readonly reactors = new Map<string, Reactor>();
  private readonly reactorByCh: (Reactor | undefined)[] = new Array(256);
  private readonly channels: ChannelDescriptor[] = [];
  private readonly infoSettings: NodeInfoSettings;
  private info: NodeInfo | undefined;
  private transport: Transport | undefined;
  private bound: { host: string; port: number } | undefined;
  private running = false;
  private stopped = false;
  private readonly dialing = new Set<string>();
  private readonly reconnecting = new Map<string, AbortController>();
  private readonly persistentIds = new Set<string>();
  private readonly persistentAddrs: NetAddress[] = [];
  private readonly unconditionalIds = new Set<string>();
  private readonly privateIds = new Set<string>();
  private addrBook: SwitchAddrBook | undefined;

  /** @throws InvalidArgumentError for an invalid config or NodeInfo setting. */
  constructor(opts: SwitchOptions) {
    super();
    this.nodeKey = opts.nodeKey;
    this.config = { ...DEFAULT_SWITCH_CONFIG, ...opts.config };
    for (const k of ['maxNumInboundPeers', 'maxNumOutboundPeers'] as const) {
      if (!Number.isInteger(this.config[k]) || this.config[k] < 0) throw new InvalidArgumentError(`${k} must be a non-negative integer`);
    }
    this.infoSettings = opts.nodeInfo ?? {};
    this.logger = opts.logger ?? pino({ level: 'silent' });
  }

  /**
   * Register a reactor and its channels, as CometBFT's `AddReactor`.
   * @throws InvalidArgumentError (`ERR_CHANNEL_TAKEN`) when a channel id is already taken,
   *   (`ERR_INVALID_ARGUMENT`) when the name is taken or the Switch has started.
   */
  addReactor<R extends Reactor>(name: string, reactor: R): R {
    if (this.running || this.stopped) throw new InvalidArgumentError('reactors must be added before start()');
    if (this.reactors.has(name)) throw new InvalidArgumentError(`a reactor named ${name} is already added`);
    const chs = reactor.getChannels();
    const seen = new Set<number>();
    for (const ch of chs) {
      if (this.reactorByCh[ch.id] || seen.has(ch.id)) {
        throw new InvalidArgumentError(`channel 0x${ch.id.toString(16).padStart(2, '0')} of reactor ${name} is already taken`, 'ERR_CHANNEL_TAKEN');
      }
      seen.add(ch.id);
    }
    for (const ch of chs) {
      this.reactorByCh[ch.id] = reactor;
      this.channels.push(ch);
    }
    this.reactors.set(name, reactor);
    reactor.setSwitch(this);
    return reactor;
  }

  /** The reactor added under `name`. */
  reactor<R extends Reactor = Reactor>(name: string): R | undefined {
    return this.reactors.get(name) as R | undefined;
  }

  /** Let PEX's AddrBook learn good peers and our own address (CometBFT's `SetAddrBook`). */
  setAddrBook(book: SwitchAddrBook): void {
    this.addrBook = book;
  }

  /** Our NodeInfo (available after `start()`). @throws Error before start. */
  get nodeInfo(): NodeInfo {
    if (!this.info) throw new Error('Switch not started');
    return this.info;
  }

  /** The bound listen address `id@host:port` (after `start()`). */
  get listenAddr(): NetAddress {
    if (!this.info) throw new Error('Switch not started');
    return this.info.netAddress();
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /**
   * Start reactors, listen, and dial the persistent peers.
   * Rejects with the listen error (EADDRINUSE…) or InvalidArgumentError for a bad listen address.
   */
  async start(): Promise<void> {
    if (this.running || this.stopped) throw new InvalidArgumentError('a Switch can be started once');
    const { host, port } = parseListen(this.config.listenAddress);
    this.running = true;
    for (const r of this.reactors.values()) await r.start();
    this.transport = new Transport(
      {
        nodeKey: this.nodeKey,
        nodeInfo: () => this.nodeInfo,
        handshakeTimeoutMs: this.config.handshakeTimeoutMs,
        dialTimeoutMs: this.config.dialTimeoutMs,
        plaintext: this.config.plaintext,
        maxHandshaking: this.config.maxHandshaking,
      },
      (c) => this.onInbound(c),
      (err, remote) => {
        this.logger.debug({ remote, err: err.message, code: err.code }, 'inbound handshake failed');
        this.emit('peer:dial-failed', remote, err);
      },
    );
    try {
      this.bound = await this.transport.listen(host, port);
    } catch (err) {
      this.running = false;
      await this.transport.close();
      throw err;
    }
    const adv = this.config.externalAddress ? parseListen(this.config.externalAddress) : this.bound;
    this.info = NodeInfo.create({
      id: this.nodeKey.id,
      listenAddr: new NetAddress('', adv.host, adv.port).dialString(),
      network: this.infoSettings.network ?? 'switchboard',
      moniker: this.infoSettings.moniker ?? this.nodeKey.id.slice(0, 8),
      version: this.infoSettings.version ?? '',
      protocolVersion: this.infoSettings.protocolVersion,
      other: this.infoSettings.other ?? {},
      channels: Uint8Array.from(this.channels.map((c) => c.id)),
    });
    this.addrBook?.addOurAddress?.(this.listenAddr);
    this.logger.info({ listen: this.listenAddr.toString() }, 'switch started');
    for (const addr of this.persistentAddrs) this.reconnectToPeer(addr, true);
  }

  /** Stop listening, stop every peer (reactors get `removePeer`), then stop reactors. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    for (const ac of this.reconnecting.values()) ac.abort();
    this.reconnecting.clear();
    for (const p of this.peers.list()) this.stopAndRemovePeer(p, undefined);
    await this.transport?.close();
    for (const r of this.reactors.values()) await r.stop();
    this.logger.info('switch stopped');
  }

  // ---- peer lists -----------------------------------------------------

  /**
   * Mark addresses as persistent peers: dialed at start (or now, if
   * running) and redialed with backoff whenever they drop, as CometBFT's
   * `AddPersistentPeers`. @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) for a malformed address.
   */
  addPersistentPeers(addrs: readonly (string | NetAddress)[]): void {
    const parsed = addrs.map(toAddr);
    for (const a of parsed) {
      if (this.persistentIds.has(a.id)) continue;
      this.persistentIds.add(a.id);
      this.persistentAddrs.push(a);
      if (this.running && !this.peers.has(a.id)) this.reconnectToPeer(a, true);
    }
  }

  /** IDs that bypass the peer limits (CometBFT's `AddUnconditionalPeerIDs`). @throws InvalidArgumentError for a malformed ID. */
  addUnconditionalPeerIds(ids: readonly string[]): void {
    for (const id of ids) this.unconditionalIds.add(checkId(id));
  }

  /** IDs never gossiped to others (CometBFT's `AddPrivatePeerIDs`). @throws InvalidArgumentError for a malformed ID. */
  addPrivatePeerIds(ids: readonly string[]): void {
    for (const id of ids) this.privateIds.add(checkId(id));
  }

  /** True for a private peer ID. */
  isPrivatePeer(id: string): boolean {
    return this.privateIds.has(id);
  }

  /** True for a persistent peer ID. */
  isPersistentPeer(id: string): boolean {
    return this.persistentIds.has(id);
  }

  /** True for an unconditional peer ID. */
  isUnconditionalPeer(id: string): boolean {
    return this.unconditionalIds.has(id);
  }

  /** True while a dial to `id` is in progress. */
  isDialing(id: string): boolean {
    return this.dialing.has(id);
  }

  /** Outbound peers plus dials in progress (what counts against `maxNumOutboundPeers`). */
  numOutboundPeersAndDials(): number {
    let dialingCounted = 0;
    for (const id of this.dialing) if (!this.unconditionalIds.has(id)) dialingCounted++;
    let out = 0;
    for (const p of this.peers.list()) if (p.isOutbound() && !this.unconditionalIds.has(p.id)) out++;
    return out + dialingCounted;
  }

  // ---- dialing --------------------------------------------------------

  /**
   * Dial `addr` (`id@host:port`), handshake, and add the peer, as CometBFT's
   * `DialPeerWithAddress`. Resolves with the Peer once every reactor's
   * `addPeer` has run. Rejects with RejectedError (`ERR_SWITCH_STOPPED`,
   * `ERR_SELF_CONNECTION`, `ERR_DUPLICATE_PEER`, `ERR_TOO_MANY_PEERS`,
   * `ERR_DIAL`, `ERR_DIAL_TIMEOUT`, `ERR_PEER_ID_MISMATCH`), AuthError,
   * HandshakeError or NodeInfoError; each also emits `peer:dial-failed`.
   */
  async dialPeerWithAddress(addr: string | NetAddress, opts: { signal?: AbortSignal } = {}): Promise<Peer> {
    const a = toAddr(addr);
    try {
      if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
      if (a.id === this.nodeKey.id) throw new RejectedError('ERR_SELF_CONNECTION', `refusing to dial ourselves (${a})`);
      if (this.peers.has(a.id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already connected to ${a.id}`);
      if (this.dialing.has(a.id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already dialing ${a.id}`);
      if (!this.unconditionalIds.has(a.id) && this.numOutboundPeersAndDials() >= this.config.maxNumOutboundPeers) {
        throw new RejectedError('ERR_TOO_MANY_PEERS', `outbound limit ${this.config.maxNumOutboundPeers} reached`);
      }
      this.dialing.add(a.id);
      try {
        const up = await this.transport!.dial(a, opts.signal);
        try {
          return this.addPeer(up, a);
        } catch (err) {
          up.conn.destroy();
          throw err;
        }
      } finally {
        this.dialing.delete(a.id);
      }
    } catch (err) {
      const e = err instanceof SwitchboardError ? err : new RejectedError('ERR_DIAL', String(err), { cause: err });
      this.logger.debug({ addr: a.toString(), err: e.message, code: e.code }, 'dial failed');
      this.emit('peer:dial-failed', a.toString(), e);
      throw e;
    }
  }

  /**
   * Dial each address in the background, in random order, ignoring failures
   * (they are logged and emitted as `peer:dial-failed`), as CometBFT's
   * `DialPeersAsync`. @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) at once for a malformed address.
   */
  dialPeersAsync(addrs: readonly (string | NetAddress)[]): void {
    const parsed = addrs.map(toAddr);
    for (let i = parsed.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [parsed[i], parsed[j]] = [parsed[j], parsed[i]];
    }
    for (const a of parsed) {
      if (a.id === this.nodeKey.id || this.peers.has(a.id)) continue;
      this.dialPeerWithAddress(a).catch(() => {});
    }
  }

  /**
   * Redial a persistent peer until connected, as CometBFT's
   * `reconnectToPeer`: `reconnectAttempts` tries every `reconnectIntervalMs`
   * plus up to 3 s of jitter, then `reconnectBackoffAttempts` tries after
   * base^i … waits. Gives up quietly after that or when the Switch stops.
   */
  private reconnectToPeer(addr: NetAddress, immediate = false): void {
    if (this.reconnecting.has(addr.id) || !this.running) return;
    const ac = new AbortController();
    this.reconnecting.set(addr.id, ac);
    const cfg = this.config;
    const jitter = () => Math.random() * Math.min(3000, cfg.reconnectIntervalMs);
    const delays: number[] = immediate ? [0] : [];
    for (let i = 0; i < cfg.reconnectAttempts; i++) delays.push(cfg.reconnectIntervalMs + jitter());
    for (let i = 1; i <= cfg.reconnectBackoffAttempts; i++) delays.push(cfg.reconnectBackoffBaseMs * Math.pow(3, i - 1) + jitter());
    const attempt = (i: number): void => {
      if (ac.signal.aborted || !this.running) return;
      if (this.peers.has(addr.id)) return this.endReconnect(addr.id, ac);
      if (i >= delays.length) {
        this.logger.warn({ addr: addr.toString() }, 'giving up on persistent peer');
        return this.endReconnect(addr.id, ac);
      }
      const t = setTimeout(() => {
        ac.signal.removeEventListener('abort', clear);
        if (ac.signal.aborted || !this.running) return;
        if (this.peers.has(addr.id)) return this.endReconnect(addr.id, ac);
        this.dialPeerWithAddress(addr, { signal: ac.signal }).then(
          () => this.endReconnect(addr.id, ac),
          (err: SwitchboardError) => {
            // someone else connected it, or it connected to us: done
            if (this.peers.has(addr.id)) return this.endReconnect(addr.id, ac);
            this.logger.debug({ addr: addr.toString(), attempt: i, code: err.code }, 'persistent peer redial failed');
            attempt(i + 1);
          },
        );
      }, delays[i]);
      const clear = () => clearTimeout(t);
      ac.signal.addEventListener('abort', clear, { once: true });
    };
    attempt(0);
  }

  private endReconnect(id: string, ac: AbortController): void {
    if (this.reconnecting.get(id) === ac) this.reconnecting.delete(id);
  }

  // ---- accepting and adding -------------------------------------------

  private onInbound(up: UpgradedConn): void {
    const id = up.nodeInfo.id;
    try {
      if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
      if (!this.unconditionalIds.has(id) && this.numInboundCounted() >= this.config.maxNumInboundPeers) {
        throw new RejectedError('ERR_TOO_MANY_PEERS', `inbound limit ${this.config.maxNumInboundPeers} reached`);
      }
      this.addPeer(up, undefined);
    } catch (err) {
      up.conn.destroy();
      const e = err as SwitchboardError;
      this.logger.debug({ peer: id, err: e.message, code: e.code }, 'inbound peer refused');
      this.emit('peer:dial-failed', `${id}@${up.remoteHost}:${up.remotePort}`, e);
    }
  }

  private numInboundCounted(): number {
    let n = 0;
    for (const p of this.peers.list()) if (!p.isOutbound() && !this.unconditionalIds.has(p.id)) n++;
    return n;
  }

  /**
   * Create the Peer, run every reactor's `initPeer` then `addPeer`, then
   * start its connection (so `receive` never precedes `addPeer`).
   * @throws RejectedError (`ERR_SELF_CONNECTION`, `ERR_DUPLICATE_PEER`).
   */
  private addPeer(up: UpgradedConn, dialedAddr: NetAddress | undefined): Peer {
    const id = up.nodeInfo.id;
    if (id === this.nodeKey.id) throw new RejectedError('ERR_SELF_CONNECTION', 'connected to ourselves');
    if (this.peers.has(id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already connected to ${id}`);
    if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
    const log = this.logger.child({ peer: id });
    const reactorByCh = this.reactorByCh;
    const peer: Peer = new Peer({
      conn: up.conn,
      nodeInfo: up.nodeInfo,
      outbound: up.outbound,
      persistent: this.persistentIds.has(id),
      remoteHost: up.remoteHost,
      remotePort: up.remotePort,
      dialedAddr,
      channels: this.channels,
      mconnConfig: this.config.mconn,
      onReceive: (channelId, message) => reactorByCh[channelId]!.receive({ channelId, src: peer, message }),
      onError: (err) => {
        log.info({ err: err.message, code: err.code }, 'peer connection failed');
        this.stopPeerForError(peer, err);
      },
    });
    for (const r of this.reactors.values()) r.initPeer(peer);
    this.peers.add(peer);
    for (const r of this.reactors.values()) {
      try {
        r.addPeer(peer);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'reactor addPeer failed');
      }
    }
    if (this.peers.get(id) === peer) {
      peer.mconn.start();
      log.info({ addr: peer.remoteAddr.toString(), outbound: peer.isOutbound(), moniker: peer.nodeInfo.moniker }, 'peer added');
      this.emit('peer:add', peer);
    }
    return peer;
  }

  // ---- removing -------------------------------------------------------

  /**
   * Disconnect `peer` because of `reason`, as CometBFT's `StopPeerForError`:
   * every reactor's `removePeer` runs once, `peer:error` and `peer:remove`
   * are emitted, and a persistent peer is redialed with backoff.
   * No-op for a peer that is already removed.
   */
  stopPeerForError(peer: Peer, reason: unknown): void {
    if (!this.stopAndRemovePeer(peer, reason)) return;
    this.emit('peer:error', peer, reason);
    if (peer.isPersistent() && this.running) {
      const addr = peer.isOutbound() ? peer.remoteAddr : peer.nodeInfo.netAddress();
      this.reconnectToPeer(addr);
    }
  }

  /**
   * Write everything queued to `peer`, then disconnect it without an error,
   * as CometBFT's `StopPeerGracefully`. Reactors get `removePeer(peer, undefined)`.
   * Not redialed.
   */
  async stopPeerGracefully(peer: Peer): Promise<void> {
    if (this.peers.get(peer.id) !== peer) return;
    await peer.mconn.flushStop();
    this.stopAndRemovePeer(peer, undefined);
  }

  /** Tell the AddrBook the peer behaved well (CometBFT's `MarkPeerAsGood`). */
  markPeerAsGood(peer: Peer): void {
    this.addrBook?.markGood(peer.id);
  }

  /**
   * Queue `msg` on `channelId` to every connected peer, as CometBFT's
   * `Broadcast`: one promise per peer (in `peers.list()` order), each
   * resolving as that peer's `send` does.
   */
  broadcast(channelId: number, msg: Uint8Array): Promise<boolean>[] {
    return this.peers.list().map((p) => p.send(channelId, msg));
  }

  private stopAndRemovePeer(peer: Peer, reason: unknown): boolean {
    if (!this.peers.remove(peer)) {
      peer.mconn.stop();
      return false;
    }
    peer.mconn.stop();
    for (const r of this.reactors.values()) {
      try {
        r.removePeer(peer, reason);
      } catch (err) {
        this.logger.error({ peer: peer.id, err: (err as Error).message }, 'reactor removePeer failed');
      }
    }
    this.logger.info({ peer: peer.id, reason: reason instanceof Error ? reason.message : reason }, 'peer removed');
    this.emit('peer:remove', peer, reason);
    return true;
  }
}

function toAddr(a: string | NetAddress): NetAddress {
  return typeof a === 'string' ? NetAddress.parse(a.trim()) : a;
}

function checkId(id: string): string {
  if (!/^[0-9a-f]{40}$/.test(id)) throw new InvalidArgumentError(`invalid node ID ${JSON.stringify(id)}`, 'ERR_INVALID_ADDRESS');
  return id;
}

/** Parse a listen address `[tcp://]host:port` where port may be 0. */
function parseListen(s: string): { host: string; port: number } {
  const raw = s.replace(/^tcp:\/\//, '');
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(raw);
  const host = m ? (m[1] ?? m[2]) : '';
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535 || (m[1] !== undefined && isIP(host) !== 6)) {
    throw new InvalidArgumentError(`invalid listen address ${JSON.stringify(s)} (expected host:port)`, 'ERR_INVALID_ADDRESS');
  }
  return { host, port };
}
