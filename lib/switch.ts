/**
 * The Switch: owns the peers, routes each incoming message to the reactor
 * that registered its channel, dials and accepts peers under limits,
 * filters and bans, and keeps persistent peers connected — as CometBFT's
 * `p2p.Switch`, with the fixes listed in docs/operations.md (outbound limit
 * on every dial path, applied timeouts, tie-break of simultaneous dials,
 * bans that the AddrBook persists).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import pino, { type Logger } from 'pino';
import { channelIdHex, type ChannelDescriptor } from './conn/channel.js';
import { parseP2PConfig, type P2PConfig, type P2PConfigInput } from './config.js';
import {
  ChannelInactiveError,
  InvalidArgumentError,
  ListenError,
  NotStartedError,
  PeerError,
  PeerStoppedError,
  RejectedError,
  SwitchboardError,
} from './errors.js';
import type { P2PMetrics } from './metrics.js';
import { NetAddress } from './net-address.js';
import { matchChannelVersions, NodeInfo, type ProtocolVersion } from './node-info.js';
import { isValidNodeId, type NodeKey } from './node-key.js';
import { Peer, PeerSet } from './peer.js';
import type { Reactor, ReactorHost, SwitchAddrBook } from './reactor.js';
import type { RemoteEndpoint, Transport } from './transport.js';
import { MultiplexTransport, type UpgradedConn } from './transport-multiplex.js';

/** The parts of our NodeInfo an application sets; id, channels and listenAddr are filled by the Switch. */
export interface NodeInfoSettings {
  /** Network (chain) name; peers must match. Default `switchboard`. */
  network?: string;
  /** Default: the first 8 characters of the node ID. */
  moniker?: string;
  /** The application's version string. Default `''`. */
  version?: string;
  /** Default `{ p2p: 1, block: 0, app: 0 }`. */
  protocolVersion?: ProtocolVersion;
  /** Free-form string pairs peers can see (at most 16). Default `{}`. */
  other?: Record<string, string>;
}

/**
 * Runs for each inbound connection before the handshake, as CometBFT's
 * `ConnFilterFunc`. Throw or reject to refuse (`ERR_FILTER`, with the filter's
 * message); taking longer than `filterTimeoutMs` refuses with `ERR_FILTER_TIMEOUT`.
 */
export type ConnFilter = (remote: RemoteEndpoint) => void | Promise<void>;

/**
 * Runs for each peer, inbound and outbound, after the handshake and before
 * any reactor sees it, as CometBFT's `PeerFilterFunc`. Same refusal rules as
 * {@link ConnFilter}.
 */
export type PeerFilter = (info: NodeInfo, remote: RemoteEndpoint) => void | Promise<void>;

/** Switch constructor options. */
export interface SwitchOptions {
  /** Our identity. */
  nodeKey: NodeKey;
  /** What we tell peers about ourselves. */
  nodeInfo?: NodeInfoSettings;
  /** Any subset of {@link P2PConfig}; validated, defaults filled. */
  config?: P2PConfigInput;
  /** pino logger; default silent. Each peer gets a child logger `{ peer: id }`. */
  logger?: Logger;
  /** prom-client metrics; default none. */
  metrics?: P2PMetrics;
  /** Run for each inbound connection before the handshake. */
  connFilters?: ConnFilter[];
  /** Run for each peer after the handshake, before any reactor sees it. */
  peerFilters?: PeerFilter[];
  /**
   * What carries connections (`listenAddress` must be of its protocol):
   * default a TCPTransport with `dialTimeoutMs`. SecretConnection, the
   * NodeInfo handshake and admission run on top of any transport. The
   * Switch closes it on `stop()`.
   */
  transport?: Transport;
}

/** Typed events of a Switch. */
export interface SwitchEvents {
  /** A peer passed the handshake, the filters and every reactor's `addPeer`. */
  'peer:add': [peer: Peer];
  /**
   * A peer was removed. `reason.code` says why: `ERR_PEER_STOPPED` for a
   * local stop without an error (`Switch.stop`, `stopPeerGracefully`, a
   * replaced duplicate connection; see {@link PeerStoppedError}),
   * `ERR_CONNECTION_CLOSED` when the remote closed it, otherwise the error
   * that stopped it (`ERR_PONG_TIMEOUT`, `ERR_BANNED`, a reactor's error, …).
   */
  'peer:remove': [peer: Peer, reason: SwitchboardError];
  /** A peer was stopped for an error (after `peer:remove`, with the same `err`). */
  'peer:error': [peer: Peer, err: SwitchboardError];
  /**
   * A dial failed, or an inbound connection was refused. `addr` is the dialed
   * `id@host:port`, or the remote `host:port` (with `id@` once known).
   */
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
export class Switch extends EventEmitter<SwitchEvents> implements ReactorHost {
  /** The effective p2p settings (validated, defaults filled in). */
  readonly config: Readonly<P2PConfig>;
  /** Our identity. */
  readonly nodeKey: NodeKey;
  /** The connected peers. */
  readonly peers = new PeerSet();
  /** The Switch's pino logger (silent unless one was passed). */
  readonly logger: Logger;
  private readonly reactors = new Map<string, Reactor>();
  private readonly reactorByCh: (Reactor | undefined)[] = new Array(256);
  private readonly channels: ChannelDescriptor[] = [];
  private readonly infoSettings: NodeInfoSettings;
  private readonly metrics: P2PMetrics | undefined;
  private readonly connFilters: ConnFilter[];
  private readonly peerFilters: PeerFilter[];
  private info: NodeInfo | undefined;
  private transport: MultiplexTransport | undefined;
  private readonly rawTransport: Transport | undefined;
  private running = false;
  private stopped = false;
  private readonly dialing = new Set<string>();
  private readonly reconnecting = new Map<string, AbortController>();
  private readonly persistentIds = new Set<string>();
  private readonly persistentAddrs: NetAddress[] = [];
  private readonly unconditionalIds = new Set<string>();
  private readonly privateIds = new Set<string>();
  /** Banned node IDs and IPs → end of the ban (ms since the epoch). */
  private readonly bans = new Map<string, number>();
  /** Peers whose reactors' `removePeer` is still running (async), by ID. */
  private readonly removals = new Map<string, Promise<void>>();
  private addrBook: SwitchAddrBook | undefined;
  /** Inbound refusals not logged yet, by reason (logged once per `refusalLogIntervalMs`). */
  private readonly refusalCounts = new Map<string, number>();
  private refusalLogTimer: NodeJS.Timeout | undefined;
  /** When `congested()` last computed its verdict (performance.now ms), and the verdict. */
  private congestionCheckedAt = -Infinity;
  private congestionCached = false;
  /** Settles when every reactor's `start` has (or `stop()` ran): inbound peers wait for it. */
  private readonly reactorsReady: Promise<void>;
  private readonly reactorsStarted: () => void;

  /** @throws InvalidArgumentError for an invalid config (every bad field listed) or a malformed peer list. */
  constructor(opts: SwitchOptions) {
    super();
    let started!: () => void;
    this.reactorsReady = new Promise<void>((resolve) => (started = resolve));
    this.reactorsStarted = started;
    this.nodeKey = opts.nodeKey;
    this.config = parseP2PConfig(opts.config ?? {});
    this.infoSettings = opts.nodeInfo ?? {};
    this.logger = opts.logger ?? pino({ level: 'silent' });
    this.metrics = opts.metrics;
    this.metrics?.attach({ peers: () => this.peers.list() });
    this.connFilters = opts.connFilters ?? [];
    this.peerFilters = opts.peerFilters ?? [];
    this.rawTransport = opts.transport;
    parseListen(this.config.listenAddress);
    if (this.config.externalAddress) parseListen(this.config.externalAddress);
    this.addUnconditionalPeerIds(this.config.unconditionalPeerIds);
    this.addPrivatePeerIds(this.config.privatePeerIds);
    this.addPersistentPeers(this.config.persistentPeers);
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
        throw new InvalidArgumentError(`channel ${channelIdHex(ch.id)} of reactor ${name} is already taken`, 'ERR_CHANNEL_TAKEN');
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

  /** Let PEX's AddrBook learn good peers, our address, and persist bans (CometBFT's `SetAddrBook`). */
  setAddrBook(book: SwitchAddrBook): void {
    this.addrBook = book;
  }

  /**
   * Our NodeInfo, with the address actually listened on: available once
   * `start()` has listened, i.e. from the reactors' `start()` on.
   * @throws NotStartedError (`ERR_NOT_STARTED`) before that.
   */
  get nodeInfo(): NodeInfo {
    if (!this.info) throw new NotStartedError('the Switch has no NodeInfo before start() has listened');
    return this.info;
  }

  /** The advertised listen address `id@host:port` (as {@link nodeInfo}). @throws NotStartedError (`ERR_NOT_STARTED`) before `start()` has listened. */
  get listenAddr(): NetAddress {
    return this.nodeInfo.netAddress();
  }

  /** True between `start()` and `stop()`. */
  get isRunning(): boolean {
    return this.running;
  }

  /** Inbound connections in the handshake right now. */
  get handshakingCount(): number {
    return this.transport?.handshakingCount ?? 0;
  }

  /**
   * Start in CometBFT's node order: listen, build our NodeInfo with the
   * address actually listened on (and give it to the AddrBook as ours), start
   * the reactors in `addReactor` order (they see `nodeInfo`), then admit
   * inbound peers and dial the persistent peers.
   * Rejects with ListenError (`ERR_LISTEN`, the system error as `cause`:
   * `EADDRINUSE`, `EACCES`, …) when it cannot listen on `listenAddress`,
   * with a reactor's `start` error (the listener is closed again), or with
   * InvalidArgumentError when started twice.
   */
  async start(): Promise<void> {
    if (this.running || this.stopped) throw new InvalidArgumentError('a Switch can be started once');
    const listen = parseListen(this.config.listenAddress);
    this.running = true;
    this.transport = new MultiplexTransport(
      {
        transport: this.rawTransport,
        nodeKey: this.nodeKey,
        nodeInfo: () => this.nodeInfo,
        handshakeTimeoutMs: this.config.handshakeTimeoutMs,
        dialTimeoutMs: this.config.dialTimeoutMs,
        plaintext: this.config.plaintext,
        maxHandshaking: this.config.maxHandshaking,
        handshakeKeyTimeoutMs: this.config.handshakeKeyTimeoutMs,
        maxHandshakingPerIp: this.config.maxHandshakingPerIp,
        maxInboundConnRatePerIp: this.config.maxInboundConnRatePerIp,
        filterConn: (h, p) => this.filterConn(h, p),
      },
      (c) => void this.onInbound(c),
      (err, remote) => this.refused(remote, err),
    );
    let bound: NetAddress;
    try {
      bound = await this.transport.listen(listen);
    } catch (err) {
      this.running = false;
      await this.transport.close();
      throw new ListenError(listen.protocol === 'unix' ? listen.dialString() : listen.host, listen.port, err);
    }
    const adv = this.config.externalAddress ? parseListen(this.config.externalAddress) : bound;
    try {
      this.info = NodeInfo.create({
        id: this.nodeKey.id,
        listenAddr: adv.dialString(),
        network: this.infoSettings.network ?? 'switchboard',
        moniker: this.infoSettings.moniker ?? this.nodeKey.id.slice(0, 8),
        version: this.infoSettings.version ?? '',
        protocolVersion: this.infoSettings.protocolVersion,
        other: this.infoSettings.other ?? {},
        channels: Uint8Array.from(this.channels.map((c) => c.id)),
        // each channel's versions, ascending (NodeInfo rejects duplicates and out-of-range values)
        channelVersions: this.channels.map((c) => [...(c.versions ?? [1])].sort((a, b) => a - b)),
      });
    } catch (err) {
      this.running = false;
      await this.transport.close();
      throw err;
    }
    this.addrBook?.addOurAddress?.(this.listenAddr);
    // registered first, so that their outbound slots are held while reactors start (PEX's first round sees them); dialed once they have
    for (const addr of this.persistentAddrs) this.reconnectToPeer(addr, true);
    try {
      for (const r of this.reactors.values()) await r.start();
    } catch (err) {
      this.running = false;
      for (const ac of this.reconnecting.values()) ac.abort();
      this.reconnecting.clear();
      await this.transport.close();
      throw err;
    } finally {
      this.reactorsStarted();
    }
    this.logger.info({ listen: this.listenAddr.toString() }, 'switch started');
  }

  /**
   * Stop listening, stop every peer (reactors get `removePeer` with a
   * PeerStoppedError, `ERR_PEER_STOPPED`, reason `'switch-stop'`), then stop
   * reactors. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.reactorsStarted();
    for (const ac of this.reconnecting.values()) ac.abort();
    this.reconnecting.clear();
    for (const p of this.peers.list()) this.stopAndRemovePeer(p, new PeerStoppedError('switch-stop'));
    clearTimeout(this.refusalLogTimer);
    this.flushRefusalLog();
    await this.transport?.close();
    await Promise.allSettled(this.removals.values());
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

  /**
   * Outbound peers plus dials in progress, unconditional ones not counted,
   * plus one slot held by each persistent peer without an outbound
   * connection (connected inbound, or away and being redialed) — what
   * `maxNumOutboundPeers` bounds. The held slots stop PEX from filling every
   * outbound slot while a persistent peer is inbound or away, which would
   * refuse its redial with `ERR_TOO_MANY_PEERS` for good.
   */
  numOutboundPeersAndDials(): number {
    let n = 0;
    // a dial counts until it is an outbound peer (an inbound connection of the same node may be replaced by it)
    for (const id of this.dialing) if (!this.unconditionalIds.has(id) && !this.peers.get(id)?.isOutbound()) n++;
    for (const p of this.peers.list()) if (p.isOutbound() && !this.unconditionalIds.has(p.id)) n++;
    return n + this.slotsHeldByPersistentPeers(true);
  }

  /** Outbound slots held by persistent peers connected inbound, and (with `away`) by those being redialed but not dialed right now. */
  private slotsHeldByPersistentPeers(away: boolean): number {
    let n = 0;
    for (const id of this.persistentIds) {
      if (this.unconditionalIds.has(id) || this.dialing.has(id)) continue;
      const p = this.peers.get(id);
      if (p ? !p.isOutbound() : away && this.reconnecting.has(id)) n++;
    }
    return n;
  }

  // ---- bans -----------------------------------------------------------

  /**
   * Disconnect and refuse a node for `durationMs`: by node ID (40 hex), by
   * address `id@host:port` (bans the ID, and the IP as `banIpScope` says:
   * by default only a routable IP, so a fresh key from the same public
   * address cannot walk back in while loopback and private networks are not
   * banned wholesale), or by bare IP. Dials to
   * it and connections from it fail with `ERR_BANNED` until the ban ends.
   * With an AddrBook (PEX), address bans are also persisted in the book, so
   * they survive a restart. @throws InvalidArgumentError for a malformed target or duration.
   */
  banPeer(target: string | NetAddress, durationMs: number): void {
    if (!(Number.isFinite(durationMs) && durationMs > 0)) throw new InvalidArgumentError(`ban duration must be > 0 ms, got ${durationMs}`);
    const until = Date.now() + durationMs;
    const keys: string[] = [];
    let addr: NetAddress | undefined;
    if (typeof target === 'string' && isValidNodeId(target)) keys.push(target);
    else if (typeof target === 'string' && isIP(target)) keys.push(target);
    else {
      addr = toAddr(target);
      keys.push(addr.id);
      const scope = this.config.banIpScope;
      if (scope === 'all' || (scope === 'routable' && isIP(addr.host) && ipaddr.process(addr.host).range() === 'unicast'))
        keys.push(addr.host);
    }
    for (const k of keys) this.bans.set(k, Math.max(until, this.bans.get(k) ?? 0));
    const err = new RejectedError('ERR_BANNED', `banned for ${durationMs} ms`);
    for (const p of this.peers.list()) {
      if (keys.includes(p.id) || keys.includes(p.remoteIp)) {
        addr ??= p.remoteAddr;
        this.stopAndRemovePeer(p, err);
        this.emit('peer:error', p, err);
      }
    }
    if (addr) this.addrBook?.markBad?.(addr, durationMs);
    this.logger.info({ target: String(target), durationMs }, 'banned');
  }

  /** True while `idOrIp` (a node ID or an IP) is banned. */
  isBanned(idOrIp: string): boolean {
    const until = this.bans.get(idOrIp);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.bans.delete(idOrIp);
    return false;
  }

  private checkBanned(id: string | undefined, host: string, port: number): void {
    if ((id && this.isBanned(id)) || this.isBanned(host)) throw new RejectedError('ERR_BANNED', `${id ? `${id}@` : ''}${host} is banned`);
    if (id && host && port && this.addrBook?.isBanned?.(new NetAddress(id, host, port))) {
      throw new RejectedError('ERR_BANNED', `${id}@${host}:${port} is banned in the address book`);
    }
  }

  // ---- dialing --------------------------------------------------------

  /**
   * Dial `addr` (`id@host:port`), handshake, and add the peer, as CometBFT's
   * `DialPeerWithAddress`. Resolves with the Peer once every reactor's
   * `addPeer` has run. Rejects with RejectedError (`ERR_SWITCH_STOPPED`,
   * `ERR_SELF_CONNECTION`, `ERR_DUPLICATE_PEER`, `ERR_TOO_MANY_PEERS`,
   * `ERR_BANNED`, `ERR_FILTER`, `ERR_FILTER_TIMEOUT`, `ERR_DIAL`,
   * `ERR_DIAL_TIMEOUT`, `ERR_PEER_ID_MISMATCH`), AuthError (`ERR_AUTH`: the
   * remote is not `addr.id`), HandshakeError or NodeInfoError; each also
   * emits `peer:dial-failed`. An aborted `signal` rejects with `ERR_DIAL`.
   */
  async dialPeerWithAddress(addr: string | NetAddress, opts: { signal?: AbortSignal } = {}): Promise<Peer> {
    const a = toAddr(addr);
    try {
      if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
      if (a.id === this.nodeKey.id) throw new RejectedError('ERR_SELF_CONNECTION', `refusing to dial ourselves (${a})`);
      if (this.peers.has(a.id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already connected to ${a.id}`);
      if (this.dialing.has(a.id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already dialing ${a.id}`);
      this.checkBanned(a.id, a.host, a.port);
      // a persistent peer's dial may use the slots held for persistent peers that are away (its own included)
      const outbound =
        this.numOutboundPeersAndDials() -
        (this.persistentIds.has(a.id) ? this.slotsHeldByPersistentPeers(true) - this.slotsHeldByPersistentPeers(false) : 0);
      if (!this.unconditionalIds.has(a.id) && outbound >= this.config.maxNumOutboundPeers) {
        throw new RejectedError('ERR_TOO_MANY_PEERS', `outbound limit ${this.config.maxNumOutboundPeers} reached`);
      }
      this.dialing.add(a.id);
      try {
        const up = await this.transport!.dial(a, opts.signal);
        try {
          await this.runPeerFilters(up);
          const peer = await this.addPeer(up, a);
          this.metrics?.dialed('ok');
          return peer;
        } catch (err) {
          up.conn.destroy();
          throw err;
        }
      } finally {
        this.dialing.delete(a.id);
      }
    } catch (err) {
      const e = err instanceof SwitchboardError ? err : new RejectedError('ERR_DIAL', String(err), { cause: err });
      this.metrics?.dialed(e.code);
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
   * The waits (ms) before each redial of a persistent peer, as CometBFT's
   * `reconnectToPeer`: `reconnectAttempts` × (`reconnectIntervalMs` + up to
   * 3 s jitter), then `reconnectBackoffAttempts` × (`reconnectBackoffBaseMs`
   * · 3^i + jitter). Exposed for tests and operators.
   */
  reconnectSchedule(random: () => number = Math.random): number[] {
    const c = this.config;
    const jitter = () => random() * Math.min(3000, c.reconnectIntervalMs);
    const delays: number[] = [];
    for (let i = 0; i < c.reconnectAttempts; i++) delays.push(c.reconnectIntervalMs + jitter());
    for (let i = 0; i < c.reconnectBackoffAttempts; i++) delays.push(c.reconnectBackoffBaseMs * Math.pow(3, i) + jitter());
    return delays;
  }

  /** Redial a persistent peer until connected, the schedule runs out, or the Switch stops. */
  private reconnectToPeer(addr: NetAddress, immediate = false): void {
    if (this.reconnecting.has(addr.id) || !this.running) return;
    const ac = new AbortController();
    this.reconnecting.set(addr.id, ac);
    const delays = this.reconnectSchedule();
    if (immediate) delays.unshift(0);
    const done = () => {
      if (this.reconnecting.get(addr.id) === ac) this.reconnecting.delete(addr.id);
    };
    const attempt = (i: number): void => {
      if (ac.signal.aborted || !this.running) return;
      if (this.peers.has(addr.id)) return done();
      if (i >= delays.length) {
        this.logger.warn({ addr: addr.toString() }, 'giving up on persistent peer');
        return done();
      }
      const t = setTimeout(() => {
        ac.signal.removeEventListener('abort', clear);
        if (ac.signal.aborted || !this.running) return;
        if (this.peers.has(addr.id)) return done();
        // the first dial at start waits for the reactors (a no-op later)
        this.reactorsReady
          .then(() => this.dialPeerWithAddress(addr, { signal: ac.signal }))
          .then(done, (err: SwitchboardError) => {
            if (this.peers.has(addr.id)) return done(); // it connected to us meanwhile
            this.logger.debug({ addr: addr.toString(), attempt: i, code: err.code }, 'persistent peer redial failed');
            attempt(i + 1);
          });
      }, delays[i]);
      const clear = () => clearTimeout(t);
      ac.signal.addEventListener('abort', clear, { once: true });
    };
    attempt(0);
  }

  // ---- accepting and adding -------------------------------------------

  /** Before the handshake of an inbound connection: bans by IP, duplicate IPs, connection filters. */
  private async filterConn(host: string, port: number): Promise<void> {
    if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
    this.checkBanned(undefined, host, port);
    if (!this.config.allowDuplicateIp && this.peers.list().some((p) => p.remoteIp === host)) {
      throw new RejectedError('ERR_DUPLICATE_IP', `a peer from ${host} is already connected`);
    }
    for (const f of this.connFilters) await this.withFilterTimeout(() => f({ host, port }), `connection filter for ${host}:${port}`);
  }

  private async runPeerFilters(up: UpgradedConn): Promise<void> {
    const remote = { host: up.remoteHost, port: up.remotePort };
    for (const f of this.peerFilters) await this.withFilterTimeout(() => f(up.nodeInfo, remote), `peer filter for ${up.nodeInfo.id}`);
  }

  private withFilterTimeout(run: () => void | Promise<void>, what: string): Promise<void> {
    const ms = this.config.filterTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RejectedError('ERR_FILTER_TIMEOUT', `${what} took longer than ${ms} ms`)), ms);
      Promise.resolve()
        .then(run)
        .then(
          () => (clearTimeout(timer), resolve()),
          (err: unknown) => {
            clearTimeout(timer);
            reject(
              err instanceof RejectedError
                ? err
                : new RejectedError('ERR_FILTER', `${what} refused: ${(err as Error)?.message ?? err}`, { cause: err }),
            );
          },
        );
    });
  }

  private async onInbound(up: UpgradedConn): Promise<void> {
    try {
      await this.reactorsReady; // as CometBFT's acceptRoutine, which runs once the reactors have started
      await this.runPeerFilters(up);
      await this.addPeer(up, undefined);
    } catch (err) {
      up.conn.destroy();
      this.refused(`${up.nodeInfo.id}@${up.remoteHost}:${up.remotePort}`, err as SwitchboardError);
    }
  }

  private refused(remote: string, err: SwitchboardError): void {
    const reason = err.code ?? 'ERR_REJECTED';
    this.metrics?.inboundRefused(reason);
    this.logger.debug({ remote, err: err.message, code: err.code }, 'inbound connection refused');
    this.countRefusal(reason, remote);
    this.emit('peer:dial-failed', remote, err);
  }

  /**
   * Log refusals at info, rate-limited: the first of a reason at once, the
   * rest as one line per reason per `refusalLogIntervalMs` with the count.
   */
  private countRefusal(reason: string, remote: string): void {
    if (!this.refusalLogTimer) {
      this.logger.info({ reason, remote }, 'inbound connection refused');
      this.refusalLogTimer = setTimeout(() => {
        this.refusalLogTimer = undefined;
        this.flushRefusalLog();
      }, this.config.refusalLogIntervalMs);
      this.refusalLogTimer.unref();
      return;
    }
    this.refusalCounts.set(reason, (this.refusalCounts.get(reason) ?? 0) + 1);
  }

  private flushRefusalLog(): void {
    for (const [reason, count] of this.refusalCounts)
      this.logger.info({ reason, count, intervalMs: this.config.refusalLogIntervalMs }, 'inbound connections refused');
    this.refusalCounts.clear();
  }

  /**
   * Admit an upgraded connection as a Peer: wait for any unfinished removal
   * of the same ID, apply the checks, run every reactor's `initPeer` then
   * `addPeer`, then start its connection (so `receive` never precedes
   * `addPeer`). Simultaneous connections between two nodes are resolved by
   * a tie-break both sides agree on: the connection dialed by the node with
   * the lower ID survives.
   * @throws RejectedError (`ERR_SELF_CONNECTION`, `ERR_DUPLICATE_PEER`, `ERR_TOO_MANY_PEERS`, `ERR_BANNED`, `ERR_SWITCH_STOPPED`).
   */
  private async addPeer(up: UpgradedConn, dialedAddr: NetAddress | undefined): Promise<Peer> {
    const id = up.nodeInfo.id;
    for (let pending = this.removals.get(id); pending; pending = this.removals.get(id)) await pending;
    if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
    if (id === this.nodeKey.id) throw new RejectedError('ERR_SELF_CONNECTION', 'connected to ourselves');
    this.checkBanned(id, up.remoteHost, up.outbound ? up.remotePort : up.nodeInfo.netAddress().port);
    const existing = this.peers.get(id);
    if (existing) {
      const initiator = up.outbound ? this.nodeKey.id : id;
      const existingInitiator = existing.isOutbound() ? this.nodeKey.id : id;
      if (!(initiator < existingInitiator)) throw new RejectedError('ERR_DUPLICATE_PEER', `already connected to ${id}`);
      // The new connection wins the tie-break: replace the old one quietly (no redial).
      this.stopAndRemovePeer(existing, new PeerStoppedError('replaced'));
      return this.addPeer(up, dialedAddr);
    }
    if (!up.outbound && !this.unconditionalIds.has(id) && this.numInboundCounted() >= this.config.maxNumInboundPeers) {
      const idle = this.idlestReplaceableInbound();
      if (!idle) throw new RejectedError('ERR_TOO_MANY_PEERS', `inbound limit ${this.config.maxNumInboundPeers} reached`);
      const err = new RejectedError(
        'ERR_PEER_EVICTED',
        `replaced by a new inbound peer: no message for ${Math.round(performance.now() - idle.lastMessageAt)} ms while every inbound slot was taken`,
      );
      this.logger.info({ peer: idle.id, by: id }, 'inbound slots full: replacing the idlest inbound peer');
      this.stopPeerForError(idle, err);
      return this.addPeer(up, dialedAddr);
    }
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
      channelVersions: matchChannelVersions(this.nodeInfo, up.nodeInfo),
      mconnConfig: this.config.mconn,
      onRtt: this.metrics?.observeRtt,
      onReceive: (channelId, message) => {
        // a conforming peer sends only on channels with a common version (its Peer refuses the others)
        if (peer.channelVersion(channelId) === undefined)
          throw new ChannelInactiveError(
            channelId,
            `message on channel 0x${channelId.toString(16)}, which has no common version with this peer`,
          );
        const r = reactorByCh[channelId]!;
        const e = { channelId, src: peer, message };
        if (r.filterMessage && !r.filterMessage(e)) {
          throw new RejectedError('ERR_MESSAGE_REJECTED', `message on channel ${channelIdHex(channelId)} refused by its reactor's filter`);
        }
        return r.receive(e) ?? this.fairShare(peer);
      },
      onError: (err) => {
        // a remote hang-up is ordinary (a seed answering, a crawler, a restart): `peer removed` says it at info
        log[err.code === 'ERR_CONNECTION_CLOSED' ? 'debug' : 'info']({ err: err.message, code: err.code }, 'peer connection failed');
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
      peer.start();
      log.info({ addr: peer.remoteAddr.toString(), outbound: peer.isOutbound(), moniker: peer.nodeInfo.moniker }, 'peer added');
      this.emit('peer:add', peer);
    }
    return peer;
  }

  /**
   * The inbound peer a newcomer may replace when inbound slots are full, as
   * Tendermint 0.35's `MaxConnectedUpgrade`: the one (never persistent or
   * unconditional) that has sent no message for longest, if for at least
   * `inboundEvictIdleMs`.
   */
  private idlestReplaceableInbound(): Peer | undefined {
    const min = this.config.inboundEvictIdleMs;
    if (min <= 0) return undefined;
    let best: Peer | undefined;
    for (const p of this.peers.list()) {
      if (p.isOutbound() || p.isPersistent() || this.unconditionalIds.has(p.id)) continue;
      if (!best || p.lastMessageAt < best.lastMessageAt) best = p;
    }
    return best && performance.now() - best.lastMessageAt >= min ? best : undefined;
  }

  /**
   * Fair share of the node's work (issue #14): while the node is congested —
   * some live peer has at least an eighth of `maxSendWaiters` blocked
   * senders on a channel, i.e. we produce for it faster than it takes (a
   * slow reader runs out of window now and then; one that has granted no
   * credit for 5 s is not counted: it is stuck, and dropped at
   * `sendStallTimeoutMs`) — a peer receiving at more than twice the
   * average rate of all peers is slowed: its reading pauses (its window
   * closes, backpressure reaches it) until the congestion clears, re-checked
   * every 10 ms and at most 1 s per message. Honest peers sending at a
   * modest rate are never paused, so their messages are not dropped behind
   * a flood. Returns undefined when `peer` may go on at once.
   */
  private fairShare(peer: Peer): Promise<void> | undefined {
    if (!this.config.throttleHeavySenders || !this.congested(peer.lastMessageAt)) return undefined;
    const peers = this.peers.list();
    if (peers.length < 2) return undefined;
    let total = 0;
    for (const p of peers) total += p.recentRecvRate;
    if (!(peer.recentRecvRate > (2 * total) / peers.length)) return undefined;
    return new Promise<void>((resolve) => {
      const started = performance.now();
      const check = () => {
        if (peer.isStopped || !this.running || !this.congested(performance.now()) || performance.now() - started >= 1000) return resolve();
        setTimeout(check, 10).unref();
      };
      setTimeout(check, 10).unref();
    });
  }

  /**
   * True when some live peer has at least an eighth of `maxSendWaiters`
   * blocked senders (see {@link fairShare}). It costs O(peers × channels), so
   * it is computed at most once per `CONGESTION_RECHECK_MS` and cached:
   * the receive path asks it for every message, passing the time of the read
   * that brought the message (`now`, performance.now() ms) so that it reads
   * no clock per message either.
   */
  private congested(now: number): boolean {
    if (now - this.congestionCheckedAt < CONGESTION_RECHECK_MS) return this.congestionCached;
    this.congestionCheckedAt = now;
    const mark = this.config.mconn.maxSendWaiters / 8;
    let congested = false;
    for (const p of this.peers.list()) {
      if (p.mostSendWaiters >= mark && p.sendStalledMs < CONGESTION_STALL_GRACE_MS) {
        congested = true;
        break;
      }
    }
    return (this.congestionCached = congested);
  }

  private numInboundCounted(): number {
    let n = 0;
    for (const p of this.peers.list()) if (!p.isOutbound() && !this.unconditionalIds.has(p.id)) n++;
    return n;
  }

  // ---- removing -------------------------------------------------------

  /**
   * Disconnect `peer` because of `reason`, as CometBFT's `StopPeerForError`:
   * every reactor's `removePeer` runs once, `peer:remove` then `peer:error`
   * are emitted, and a persistent peer is redialed with backoff (inbound
   * ones at their self-reported address). No-op for a peer already removed.
   * @param reason a SwitchboardError is passed on as it is; anything else
   *   (an Error thrown in a reactor, a string) is wrapped in a PeerError
   *   (`ERR_PEER_ERROR`) with the original as its `cause`.
   */
  stopPeerForError(peer: Peer, reason: unknown): void {
    const err = reason instanceof SwitchboardError ? reason : new PeerError(reason);
    if (!this.stopAndRemovePeer(peer, err)) return;
    this.emit('peer:error', peer, err);
    if (peer.isPersistent() && this.running) {
      const addr = peer.isOutbound() ? peer.remoteAddr : peer.nodeInfo.netAddress();
      this.reconnectToPeer(addr);
    }
  }

  /**
   * Write everything queued to `peer`, then disconnect it without an error,
   * as CometBFT's `StopPeerGracefully`. Reactors get `removePeer` with a
   * PeerStoppedError (`ERR_PEER_STOPPED`, reason `'graceful'`). Not redialed.
   */
  async stopPeerGracefully(peer: Peer): Promise<void> {
    if (this.peers.get(peer.id) !== peer) return;
    await peer.flushStop();
    this.stopAndRemovePeer(peer, new PeerStoppedError('graceful'));
  }

  /** Tell the AddrBook the peer behaved well (CometBFT's `MarkPeerAsGood`). */
  markPeerAsGood(peer: Peer): void {
    this.addrBook?.markGood(peer.id);
  }

  /**
   * Queue `msg` on `channelId` to every connected peer, as CometBFT's
   * `Broadcast`: one promise per peer (in `peers.list()` order), each
   * resolving as that peer's `send` does — false (never a rejection) for a
   * peer on which the channel is inactive (no common version).
   */
  broadcast(channelId: number, msg: Uint8Array): Promise<boolean>[] {
    return this.peers.list().map((p) => (p.channelVersion(channelId) === undefined ? Promise.resolve(false) : p.send(channelId, msg)));
  }

  /** Remove from the set, stop the connection, run reactors' removePeer. False if it was not in the set. */
  private stopAndRemovePeer(peer: Peer, reason: SwitchboardError): boolean {
    peer.stop();
    if (!this.peers.remove(peer)) return false;
    this.metrics?.peerGone(peer);
    const pending: Promise<unknown>[] = [];
    for (const r of this.reactors.values()) {
      try {
        const res = r.removePeer(peer, reason);
        if (res && typeof (res as Promise<void>).then === 'function') pending.push(res as Promise<void>);
      } catch (err) {
        this.logger.error({ peer: peer.id, err: (err as Error).message }, 'reactor removePeer failed');
      }
    }
    if (pending.length > 0) {
      // a reconnect of this ID waits until every reactor has finished removing it
      const done: Promise<void> = Promise.allSettled(pending).then(() => {
        if (this.removals.get(peer.id) === done) this.removals.delete(peer.id);
      });
      this.removals.set(peer.id, done);
    }
    this.logger.info({ peer: peer.id, reason: reason.message, code: reason.code }, 'peer removed');
    this.emit('peer:remove', peer, reason);
    return true;
  }
}

/** A peer that has let us send nothing for longer than this (ms) no longer counts as a congested consumer: it is stuck. */
const CONGESTION_STALL_GRACE_MS = 5000;
/** How long (ms) the Switch's congestion verdict is reused before it is computed again. */
const CONGESTION_RECHECK_MS = 10;

function toAddr(a: string | NetAddress): NetAddress {
  return typeof a === 'string' ? NetAddress.parse(a.trim()) : a;
}

function checkId(id: string): string {
  if (!isValidNodeId(id)) throw new InvalidArgumentError(`invalid node ID ${JSON.stringify(id)}`, 'ERR_INVALID_ADDRESS');
  return id;
}

/** Parse a listen address `[tcp://]host:port` (port may be 0) or `unix:///path`. @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`). */
function parseListen(s: string): NetAddress {
  return NetAddress.parseListen(s);
}
