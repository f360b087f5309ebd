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
import pino, { type Logger } from 'pino';
import { channelIdHex } from './conn/channel.js';
import { parseP2PConfig, type P2PConfig } from './config.js';
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
import { banKeys, BanList } from './ban-list.js';
import { anyPeerCongested, slowHeavySender } from './fair-share.js';
import type { P2PMetrics } from './metrics.js';
import { NetAddress } from './net-address.js';
import { matchChannelVersions, type NodeInfo } from './node-info.js';
import { ourNodeInfo, type NodeInfoSettings } from './node-info-settings.js';
import { runFilter, type ConnFilter, type PeerFilter } from './peer-filters.js';
import { isValidNodeId, type NodeKey } from './node-key.js';
import { countedInbound, idlestReplaceableInbound } from './inbound-eviction.js';
import { Peer, PeerSet } from './peer.js';
import { PersistentPeers, reconnectSchedule } from './persistent-peers.js';
import type { Reactor, ReactorHost, SwitchAddrBook } from './reactor.js';
import { ReactorSet } from './reactor-set.js';
import { RefusalLog } from './refusal-log.js';
import type { SwitchEvents, SwitchOptions } from './switch-options.js';
import type { Transport } from './transport.js';
import { MultiplexTransport, type UpgradedConn } from './transport-multiplex.js';

/**
 * The Switch. Construct, `addReactor` each reactor, `start()`.
 *
 * ```ts
 * const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '127.0.0.1:26656' } });
 * sw.addReactor(new EchoReactor()); // registered under its name, 'echo'
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
  private readonly reactors = new ReactorSet();
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
  private readonly persistent: PersistentPeers;
  private readonly unconditionalIds = new Set<string>();
  private readonly privateIds = new Set<string>();
  private readonly bans = new BanList();
  private addrBook: SwitchAddrBook | undefined;
  private readonly refusalLog: RefusalLog;
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
    this.refusalLog = new RefusalLog(this.logger, this.config.refusalLogIntervalMs);
    this.persistent = new PersistentPeers({
      config: this.config,
      peers: this.peers,
      logger: this.logger,
      running: () => this.running,
      reactorsReady: () => this.reactorsReady,
      dial: (addr, signal) => this.dialPeerWithAddress(addr, { signal }),
      isUnconditional: (id) => this.unconditionalIds.has(id),
      isDialing: (id) => this.dialing.has(id),
    });
    NetAddress.parseListen(this.config.listenAddress);
    if (this.config.externalAddress) NetAddress.parseListen(this.config.externalAddress);
    this.addUnconditionalPeerIds(this.config.unconditionalPeerIds);
    this.addPrivatePeerIds(this.config.privatePeerIds);
    this.addPersistentPeers(this.config.persistentPeers);
  }

  /**
   * Register a reactor and its channels under the reactor's own `name` (what
   * {@link Switch.reactor} finds and logs show); returns the reactor. As
   * CometBFT's `AddReactor(name, reactor)`, except that the name is not passed
   * again: a reactor has one name, its `name`.
   * @throws InvalidArgumentError (`ERR_CHANNEL_TAKEN`) when a channel id is already taken,
   *   (`ERR_INVALID_ARGUMENT`) when the name is taken or the Switch has started.
   */
  addReactor<R extends Reactor>(reactor: R): R {
    const name = reactor.name;
    if (this.running || this.stopped) throw new InvalidArgumentError('reactors must be added before start()');
    this.reactors.add(name, reactor);
    reactor.setSwitch(this);
    return reactor;
  }

  /** The reactor whose `name` is `name`, if added. */
  reactor<R extends Reactor = Reactor>(name: string): R | undefined {
    return this.reactors.byName.get(name) as R | undefined;
  }

  /** Let PEX's AddrBook learn good peers, our address, and persist bans (CometBFT's `SetAddrBook`). */
  setAddrBook(book: SwitchAddrBook): void {
    this.addrBook = book;
  }

  /**
   * Our NodeInfo, with the address actually listened on: available once `start()` has listened, i.e. from the reactors' `start()`
   * on.
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
   * Start in CometBFT's node order: listen, build our NodeInfo with the address actually listened on (and give it to the AddrBook
   * as ours), start the reactors in `addReactor` order (they see `nodeInfo`), then admit inbound peers and dial the persistent
   * peers. Rejects with ListenError (`ERR_LISTEN`, the system error as `cause`: `EADDRINUSE`, `EACCES`, …) when it cannot listen
   * on `listenAddress`, with a reactor's `start` error (the listener is closed again), or with InvalidArgumentError when started
   * twice.
   */
  async start(): Promise<void> {
    if (this.running || this.stopped) throw new InvalidArgumentError('a Switch can be started once');
    const listen = NetAddress.parseListen(this.config.listenAddress);
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
    try {
      const bound = await this.transport.listen(listen).catch((err: unknown) => {
        throw new ListenError(listen.protocol === 'unix' ? listen.dialString() : listen.host, listen.port, err);
      });
      const adv = this.config.externalAddress ? NetAddress.parseListen(this.config.externalAddress) : bound;
      this.info = ourNodeInfo(this.nodeKey.id, adv.dialString(), this.infoSettings, this.reactors.channels);
    } catch (err) {
      this.running = false;
      await this.transport.close();
      throw err;
    }
    this.addrBook?.addOurAddress?.(this.listenAddr);
    // registered first, so that their outbound slots are held while reactors start (PEX's first round sees them); dialed once they have
    for (const addr of this.persistent.addrs) this.persistent.redial(addr, true);
    try {
      for (const r of this.reactors.byName.values()) await r.start();
    } catch (err) {
      this.running = false;
      this.persistent.stopAll();
      await this.transport.close();
      throw err;
    } finally {
      this.reactorsStarted();
    }
    this.logger.info({ listen: this.listenAddr.toString() }, 'switch started');
  }

  /**
   * Stop listening, stop every peer (reactors get `removePeer` with a PeerStoppedError, `ERR_PEER_STOPPED`, reason
   * `'switch-stop'`), then stop reactors. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.reactorsStarted();
    this.persistent.stopAll();
    for (const p of this.peers.list()) this.stopAndRemovePeer(p, new PeerStoppedError('switch-stop'));
    this.refusalLog.stop();
    await this.transport?.close();
    await this.reactors.allRemoved();
    for (const r of this.reactors.byName.values()) await r.stop();
    this.logger.info('switch stopped');
  }

  // ---- peer lists -----------------------------------------------------

  /**
   * Mark addresses as persistent peers: dialed at start (or now, if running) and redialed with backoff whenever they drop, as
   * CometBFT's `AddPersistentPeers`. @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) for a malformed address.
   */
  addPersistentPeers(addrs: readonly (string | NetAddress)[]): void {
    for (const a of addrs.map(toAddr)) if (this.persistent.add(a) && this.running && !this.peers.has(a.id)) this.persistent.redial(a, true);
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
    return this.persistent.ids.has(id);
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
   * Outbound peers plus dials in progress, unconditional ones not counted, plus one slot held by each persistent peer without an
   * outbound connection (connected inbound, or away and being redialed) — what `maxNumOutboundPeers` bounds. The held slots stop
   * PEX from filling every outbound slot while a persistent peer is inbound or away, which would refuse its redial with
   * `ERR_TOO_MANY_PEERS` for good.
   */
  numOutboundPeersAndDials(): number {
    let n = 0;
    // a dial counts until it is an outbound peer (an inbound connection of the same node may be replaced by it)
    for (const id of this.dialing) if (!this.unconditionalIds.has(id) && !this.peers.get(id)?.isOutbound()) n++;
    for (const p of this.peers.list()) if (p.isOutbound() && !this.unconditionalIds.has(p.id)) n++;
    return n + this.persistent.slotsHeld(true);
  }

  // ---- bans -----------------------------------------------------------

  /**
   * Disconnect and refuse a node for `durationMs`: by node ID (40 hex), by address `id@host:port` (bans the ID, and the IP as
   * `banIpScope` says: by default only a routable IP, so a fresh key from the same public address cannot walk back in while
   * loopback and private networks are not banned wholesale), or by bare IP. Dials to it and connections from it fail with
   * `ERR_BANNED` until the ban ends. With an AddrBook (PEX), address bans are also persisted in the book, so they survive a
   * restart. @throws InvalidArgumentError for a malformed target or duration.
   */
  banPeer(target: string | NetAddress, durationMs: number): void {
    if (!(Number.isFinite(durationMs) && durationMs > 0)) throw new InvalidArgumentError(`ban duration must be > 0 ms, got ${durationMs}`);
    let addr = typeof target === 'string' && (isValidNodeId(target) || isIP(target)) ? undefined : toAddr(target);
    const keys = addr ? banKeys(addr, this.config.banIpScope) : [target as string];
    this.bans.ban(keys, Date.now() + durationMs);
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
    return this.bans.has(idOrIp);
  }

  // ---- dialing --------------------------------------------------------

  /**
   * Dial `addr` (`id@host:port`), handshake, and add the peer, as CometBFT's `DialPeerWithAddress`. Resolves with the Peer once
   * every reactor's `addPeer` has run. Rejects with RejectedError (`ERR_SWITCH_STOPPED`, `ERR_SELF_CONNECTION`,
   * `ERR_DUPLICATE_PEER`, `ERR_TOO_MANY_PEERS`, `ERR_BANNED`, `ERR_FILTER`, `ERR_FILTER_TIMEOUT`, `ERR_DIAL`, `ERR_DIAL_TIMEOUT`,
   * `ERR_PEER_ID_MISMATCH`), AuthError (`ERR_AUTH`: the remote is not `addr.id`), HandshakeError or NodeInfoError; each also
   * emits `peer:dial-failed`. An aborted `signal` rejects with `ERR_DIAL`.
   */
  async dialPeerWithAddress(addr: string | NetAddress, opts: { signal?: AbortSignal } = {}): Promise<Peer> {
    const a = toAddr(addr);
    try {
      if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
      if (a.id === this.nodeKey.id) throw new RejectedError('ERR_SELF_CONNECTION', `refusing to dial ourselves (${a})`);
      if (this.peers.has(a.id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already connected to ${a.id}`);
      if (this.dialing.has(a.id)) throw new RejectedError('ERR_DUPLICATE_PEER', `already dialing ${a.id}`);
      this.bans.check(a.id, a.host, a.port, this.addrBook);
      // a persistent peer's dial may use the slots held for persistent peers that are away (its own included)
      const outbound =
        this.numOutboundPeersAndDials() -
        (this.persistent.ids.has(a.id) ? this.persistent.slotsHeld(true) - this.persistent.slotsHeld(false) : 0);
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
   * Dial each address in the background, in random order, ignoring failures (they are logged and emitted as `peer:dial-failed`),
   * as CometBFT's `DialPeersAsync`. @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) at once for a malformed address.
   */
  dialPeersAsync(addrs: readonly (string | NetAddress)[]): void {
    const order = addrs.map((a) => ({ a: toAddr(a), key: Math.random() })).sort((x, y) => x.key - y.key);
    for (const { a } of order) {
      if (a.id === this.nodeKey.id || this.peers.has(a.id)) continue;
      this.dialPeerWithAddress(a).catch(() => {});
    }
  }

  /**
   * The waits (ms) before each redial of a persistent peer, as CometBFT's `reconnectToPeer`: `reconnectAttempts` ×
   * (`reconnectIntervalMs` + up to 3 s jitter), then `reconnectBackoffAttempts` × (`reconnectBackoffBaseMs` · 3^i + jitter).
   * Exposed for tests and operators.
   */
  reconnectSchedule(random: () => number = Math.random): number[] {
    return reconnectSchedule(this.config, random);
  }

  // ---- accepting and adding -------------------------------------------

  /** Before the handshake of an inbound connection: bans by IP, duplicate IPs, connection filters. */
  private async filterConn(host: string, port: number): Promise<void> {
    if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
    this.bans.check(undefined, host, port, this.addrBook);
    if (!this.config.allowDuplicateIp && this.peers.list().some((p) => p.remoteIp === host)) {
      throw new RejectedError('ERR_DUPLICATE_IP', `a peer from ${host} is already connected`);
    }
    for (const f of this.connFilters)
      await runFilter(() => f({ host, port }), `connection filter for ${host}:${port}`, this.config.filterTimeoutMs);
  }

  private async runPeerFilters(up: UpgradedConn): Promise<void> {
    const remote = { host: up.remoteHost, port: up.remotePort };
    for (const f of this.peerFilters)
      await runFilter(() => f(up.nodeInfo, remote), `peer filter for ${up.nodeInfo.id}`, this.config.filterTimeoutMs);
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
    this.refusalLog.count(reason, remote);
    this.emit('peer:dial-failed', remote, err);
  }

  /**
   * Admit an upgraded connection as a Peer: wait for any unfinished removal of the same ID, apply the checks, run every reactor's
   * `initPeer` then `addPeer`, then start its connection (so `receive` never precedes `addPeer`). Simultaneous connections
   * between two nodes are resolved by a tie-break both sides agree on: the connection dialed by the node with the lower ID
   * survives.
   * @throws RejectedError (`ERR_SELF_CONNECTION`, `ERR_DUPLICATE_PEER`, `ERR_TOO_MANY_PEERS`, `ERR_BANNED`,
   * `ERR_SWITCH_STOPPED`).
   */
  private async addPeer(up: UpgradedConn, dialedAddr: NetAddress | undefined): Promise<Peer> {
    const id = up.nodeInfo.id;
    for (let pending = this.reactors.removal(id); pending; pending = this.reactors.removal(id)) await pending;
    if (!this.running) throw new RejectedError('ERR_SWITCH_STOPPED', 'switch is not running');
    if (id === this.nodeKey.id) throw new RejectedError('ERR_SELF_CONNECTION', 'connected to ourselves');
    this.bans.check(id, up.remoteHost, up.outbound ? up.remotePort : up.nodeInfo.netAddress().port, this.addrBook);
    const existing = this.peers.get(id);
    if (existing) {
      const initiator = up.outbound ? this.nodeKey.id : id;
      const existingInitiator = existing.isOutbound() ? this.nodeKey.id : id;
      if (!(initiator < existingInitiator)) throw new RejectedError('ERR_DUPLICATE_PEER', `already connected to ${id}`);
      // The new connection wins the tie-break: replace the old one quietly (no redial).
      this.stopAndRemovePeer(existing, new PeerStoppedError('replaced'));
      return this.addPeer(up, dialedAddr);
    }
    if (
      !up.outbound &&
      !this.unconditionalIds.has(id) &&
      countedInbound(this.peers, this.unconditionalIds) >= this.config.maxNumInboundPeers
    ) {
      const idle = idlestReplaceableInbound(this.peers, this.unconditionalIds, this.config.inboundEvictIdleMs);
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
    const reactorByCh = this.reactors.byChannel;
    const peer: Peer = new Peer({
      conn: up.conn,
      nodeInfo: up.nodeInfo,
      outbound: up.outbound,
      persistent: this.persistent.ids.has(id),
      remoteHost: up.remoteHost,
      dialedAddr,
      channels: this.reactors.channels,
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
    for (const r of this.reactors.byName.values()) r.initPeer(peer);
    this.peers.add(peer);
    this.reactors.addPeer(peer, log);
    if (this.peers.get(id) === peer) {
      peer.start();
      log.info({ addr: peer.remoteAddr.toString(), outbound: peer.isOutbound(), moniker: peer.nodeInfo.moniker }, 'peer added');
      this.emit('peer:add', peer);
    }
    return peer;
  }

  /** Fair share of the node's work (issue #14, see fair-share.ts): undefined when `peer` may go on at once, else a pause of its reading. */
  private fairShare(peer: Peer): Promise<void> | undefined {
    if (!this.config.throttleHeavySenders || !this.congested(peer.lastMessageAt)) return undefined;
    return slowHeavySender(peer, this.peers.list(), () => this.running && this.congested(performance.now()));
  }

  /**
   * Whether the node is congested (`anyPeerCongested`), computed at most once per `CONGESTION_RECHECK_MS` and cached: the receive
   * path asks it for every message, passing the time of the read that brought it (`now`, performance.now() ms) so that it reads
   * no clock per message either.
   */
  private congested(now: number): boolean {
    if (now - this.congestionCheckedAt < CONGESTION_RECHECK_MS) return this.congestionCached;
    this.congestionCheckedAt = now;
    return (this.congestionCached = anyPeerCongested(this.peers.list(), this.config.mconn.maxSendWaiters));
  }

  // ---- removing -------------------------------------------------------

  /**
   * Disconnect `peer` because of `reason`, as CometBFT's `StopPeerForError`: every reactor's `removePeer` runs once,
   * `peer:remove` then `peer:error` are emitted, and a persistent peer is redialed with backoff (inbound ones at their
   * self-reported address). No-op for a peer already removed.
   * @param reason a SwitchboardError is passed on as it is; anything else (an Error thrown in a reactor, a string) is wrapped
   * in a PeerError (`ERR_PEER_ERROR`) with the original as its `cause`.
   */
  stopPeerForError(peer: Peer, reason: unknown): void {
    const err = reason instanceof SwitchboardError ? reason : new PeerError(reason);
    if (!this.stopAndRemovePeer(peer, err)) return;
    this.emit('peer:error', peer, err);
    if (peer.isPersistent() && this.running) {
      this.persistent.redial(peer.isOutbound() ? peer.remoteAddr : peer.nodeInfo.netAddress());
    }
  }

  /**
   * Write everything queued to `peer`, then disconnect it without an error, as CometBFT's `StopPeerGracefully`. Reactors get
   * `removePeer` with a PeerStoppedError (`ERR_PEER_STOPPED`, reason `'graceful'`). Not redialed.
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
   * Queue `msg` on `channelId` to every connected peer, as CometBFT's `Broadcast`: one promise per peer (in `peers.list()`
   * order), each resolving as that peer's `send` does — false (never a rejection) for a peer on which the channel is inactive (no
   * common version).
   */
  broadcast(channelId: number, msg: Uint8Array): Promise<boolean>[] {
    return this.peers.list().map((p) => (p.channelVersion(channelId) === undefined ? Promise.resolve(false) : p.send(channelId, msg)));
  }

  /** Remove from the set, stop the connection, run reactors' removePeer. False if it was not in the set. */
  private stopAndRemovePeer(peer: Peer, reason: SwitchboardError): boolean {
    peer.stop();
    if (!this.peers.remove(peer)) return false;
    this.metrics?.peerGone(peer);
    this.reactors.removePeer(peer, reason, this.logger);
    this.logger.info({ peer: peer.id, reason: reason.message, code: reason.code }, 'peer removed');
    this.emit('peer:remove', peer, reason);
    return true;
  }
}

/** How long (ms) the Switch's congestion verdict is reused before it is computed again. */
const CONGESTION_RECHECK_MS = 10;

function toAddr(a: string | NetAddress): NetAddress {
  return typeof a === 'string' ? NetAddress.parse(a.trim()) : a;
}

function checkId(id: string): string {
  if (!isValidNodeId(id)) throw new InvalidArgumentError(`invalid node ID ${JSON.stringify(id)}`, 'ERR_INVALID_ADDRESS');
  return id;
}
