/**
 * The PEX (peer exchange) reactor, as CometBFT's `p2p/pex/pex_reactor.go`:
 * it gossips addresses on channel 0x00, fills the {@link AddrBook}, and keeps
 * the Switch's outbound peer count up (`ensurePeers`); in seed mode it crawls
 * the network instead, answering each requester once and disconnecting it.
 *
 * Differences from CometBFT, each deliberate:
 * - outbound peers are added to the book (if absent) and marked good as soon
 *   as they connect (CometBFT leaves marking good to other reactors);
 * - addresses still backing off after a failed dial, or already being dialed,
 *   are skipped when picking (CometBFT picks them and then refuses to dial);
 * - a peer whose ID is banned in the book is disconnected right after it
 *   connects, inbound or outbound (CometBFT only skips banned addresses
 *   when picking);
 * - in seed mode a crawled peer is disconnected once it answered, or at the
 *   next crawl round if it did not (the Switch enforces `maxNumOutboundPeers`
 *   on every dial, so a crawler must free its slots; CometBFT's crawler
 *   bypasses the limit and waits `SeedDisconnectWaitPeriod`);
 * - a request answer never carries the requester's own or a private address;
 * - a configured seed is never put in the book (not even when a peer
 *   gossips its address), so `ensurePeers` does not redial it as an
 *   ordinary peer; an outbound peer that hangs up within
 *   {@link HANGUP_WINDOW_MS} of connecting (a seed-mode node answering and
 *   disconnecting, a full node) counts as a failed dial for the backoff;
 *   asking the seeds backs off exponentially while they do not get us a
 *   peer (CometBFT redials them on every tick while isolated).
 *
 * @module
 */
import pino, { type Logger } from 'pino';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import { InvalidArgumentError, RejectedError, type SwitchboardError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import type { Peer } from '../../lib/peer.js';
import { BaseReactor, type Envelope, type ReactorHost } from '../../lib/reactor.js';
import type { AddrBook } from './addrbook.js';
import { SeedCrawler } from './crawler.js';
import { HANGUP_WINDOW_MS, PexDialer } from './dialer.js';
import { PexAbuseError } from './errors.js';
import { decodePexMessage, encodePexAddrs, encodePexRequest, isPexWireAddress, MAX_PEX_MESSAGE_SIZE, PEX_CHANNEL } from './messages.js';
import { MAX_TIMER_MS, parsePEXSettings, type PEXReactorOptions, type PEXSettings } from './options.js';
import type { PeerState } from './peer-state.js';

/** Share of new addresses in a seed's answer (CometBFT's `biasToSelectNewPeers`, 30 %). */
export const SEED_BIAS_TOWARDS_NEW_ADDRS = 30;

/**
 * The PEX reactor. Add it to a Switch, which then starts and stops it:
 *
 * ```ts
 * const book = new AddrBook(join(home, 'addrbook.json'));
 * const pex = new PEXReactor(book, { seeds: ['<id>@seed.example.com:26656'] });
 * sw.addReactor(pex); // registered under its name, 'pex'
 * await sw.start();
 * ```
 *
 * Channel 0x00 ({@link PEX_CHANNEL}): priority 1, send queue 10, messages up
 * to {@link MAX_PEX_MESSAGE_SIZE} bytes (as CometBFT's `GetChannels`).
 *
 * Abuse control (as CometBFT): a peer's PexAddrs is accepted only in answer
 * to our PexRequest; a peer may send one PexRequest per `requestIntervalMs`
 * (the first two free); a malformed message, an unsolicited PexAddrs or a
 * request too soon disconnects the peer (`Switch.stopPeerForError`) and bans
 * it in the book for `banMs`.
 */
export class PEXReactor extends BaseReactor {
  /** The address book (started and stopped with the reactor). */
  readonly book: AddrBook;
  /** Seed (crawler) mode. */
  readonly seedMode: boolean;
  /** The parsed seed addresses. */
  readonly seeds: readonly NetAddress[];
  /** Effective settings (defaults filled in), ms; see {@link PEXSettings}. */
  readonly settings: Readonly<PEXSettings>;

  readonly #now: () => number;
  #logger: Logger | undefined;
  readonly #peers = new Map<Peer, PeerState>();
  readonly #dialer: PexDialer;
  readonly #crawler: SeedCrawler;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  /**
   * @param book the address book; create it with `routabilityStrict: false` on private networks.
   * @param opts see {@link PEXReactorOptions}.
   * @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) naming a malformed
   *   seed address; (`ERR_INVALID_ARGUMENT`) for a period
   *   (`ensurePeersPeriodMs`, `crawlPeriodMs`) outside 1..2^31−1 ms, another
   *   duration that is negative or not finite, a `maxAddrsPerResponse`
   *   outside 1..250, a `maxAttemptsToDial` < 1, or a `now` that is not a function.
   */
  constructor(book: AddrBook, opts: PEXReactorOptions = {}) {
    super('pex');
    if (!book || typeof book.pickAddress !== 'function') throw new InvalidArgumentError('PEXReactor needs an AddrBook');
    this.book = book;
    this.seedMode = opts.seedMode ?? false;
    this.seeds = (opts.seeds ?? []).map((s) => {
      try {
        return NetAddress.parse(typeof s === 'string' ? s.trim() : s);
      } catch (err) {
        throw new InvalidArgumentError(`invalid seed address: ${(err as Error).message}`, 'ERR_INVALID_ADDRESS', { cause: err });
      }
    });
    this.settings = Object.freeze(parsePEXSettings(opts));
    if (opts.now !== undefined && typeof opts.now !== 'function') throw new InvalidArgumentError('now must be a function returning ms');
    this.#now = opts.now ?? Date.now;
    this.#logger = opts.logger;
    const ctx = {
      book,
      settings: this.settings,
      seeds: this.seeds,
      now: () => this.#now(),
      log: () => this.log,
      host: () => this.switch,
      alive: () => this.#alive(),
    };
    this.#dialer = new PexDialer({ ...ctx, askSomePeerForAddrs: () => this.#askSomePeerForAddrs() });
    this.#crawler = new SeedCrawler({
      ...ctx,
      seeds: this.seeds,
      peers: this.#peers,
      dialer: this.#dialer,
      requestAddrs: (p) => this.requestAddrs(p),
    });
  }

  /** Channel 0x00: priority 1, send queue 10, `recvMessageCapacity` {@link MAX_PEX_MESSAGE_SIZE} (as CometBFT). */
  getChannels(): ChannelDescriptor[] {
    return [{ id: PEX_CHANNEL, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: MAX_PEX_MESSAGE_SIZE, name: 'pex' }];
  }

  /**
   * Called by `Switch.addReactor`: also hands the book to the Switch
   * (`setAddrBook`), as CometBFT's node setup; the Switch gives the book our
   * own address (`addOurAddress`) once it listens, before it starts reactors.
   */
  override setSwitch(host: ReactorHost): void {
    super.setSwitch(host);
    host.setAddrBook(this.book);
  }

  /**
   * Load the book and start its periodic save (`book.start()`), then run
   * the first round of the `ensurePeers` loop — or, in seed mode, of the
   * crawl loop (dial the seeds first if any, else crawl at once). Called by
   * `Switch.start()` once it listens and has its NodeInfo, so dialing is
   * possible at once. Timers are unref'd. @throws the book's fs error.
   */
  override start(): void {
    if (this.#running) return;
    this.book.start();
    this.#running = true;
    if (!this.#alive()) return; // not started by a running Switch: nothing to dial with
    if (this.seedMode) this.#crawlTick(true);
    else this.#ensureTick(true);
  }

  /** Stop the loops and stop the book (which saves it). Called by `Switch.stop()`. @throws (rejects with) the save error. */
  override async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#peers.clear();
    await this.book.stop();
  }

  // ------------------------------------------------------------------ peers

  /**
   * A peer connected, as CometBFT's `AddPeer`:
   * - a peer whose ID is banned in the book (and is neither persistent nor
   *   unconditional) is disconnected at once with `ERR_BANNED`;
   * - outbound: its address is added to the book if absent (unless it is a
   *   configured seed: seeds disconnect after answering, so they are not
   *   worth redialing from the book) and marked good; if the book needs
   *   addresses we send it a PexRequest;
   * - inbound: its self-reported address (`nodeInfo.netAddress()`, or the
   *   socket's IP with the reported port when it reported an unspecified IP)
   *   is added to the book with itself as the source. We do not request from
   *   it (CometBFT trusts inbound peers less; `ensurePeers` may ask it later)
   *   — except a configured seed, which connects to crawl us: if the book
   *   needs addresses we ask it back. Without that, the first nodes of a
   *   network started at once, whose seed knew only a few of them when they
   *   asked, stay a closed group: each has peers and a non-empty book, so it
   *   never asks the seeds again, and its peers know only the same few.
   */
  override addPeer(peer: Peer): void {
    const st: PeerState = {
      requestPending: false,
      requestsSeen: 0,
      lastRequestAt: 0,
      addedAt: this.#now(),
      crawled: false,
      stoppedByUs: false,
    };
    this.#peers.set(peer, st);
    const sw = this.switch;
    if (!peer.isPersistent() && !sw.isUnconditionalPeer(peer.id) && this.book.isBanned(peer.remoteAddr)) {
      this.log.info({ peer: peer.id }, 'pex: disconnecting a banned peer');
      st.stoppedByUs = true;
      // after the Switch has finished adding it (stopping inside addPeer would reach reactors not yet told of it)
      queueMicrotask(() => sw.stopPeerForError(peer, new RejectedError('ERR_BANNED', `peer ${peer.id} is banned`)));
      return;
    }
    const isSeed = this.#dialer.isSeed(peer.id);
    if (!isSeed) this.#dialer.seedsDone();
    if (peer.isOutbound()) {
      const addr = peer.remoteAddr;
      if (!this.book.hasAddress(addr)) this.#addToBook(addr, addr); // #addToBook keeps seeds out
      this.book.markGood(peer.id);
      if (this.book.needMoreAddrs()) this.requestAddrs(peer);
    } else {
      const addr = selfReportedAddr(peer);
      this.#addToBook(addr, addr);
      if (isSeed && this.book.needMoreAddrs()) this.requestAddrs(peer);
    }
  }

  /**
   * A peer left: forget its request bookkeeping (CometBFT's `RemovePeer`).
   * For an outbound, non-persistent peer that PEX did not stop itself: if it
   * left within {@link HANGUP_WINDOW_MS} of connecting it hung up, which
   * counts as a failed dial of its address (backoff base·2^n, the n-th hang-up
   * or failure in a row; `maxAttemptsToDial` applies); if it stayed longer,
   * the address's dial history is cleared.
   */
  override removePeer(peer: Peer, _reason: SwitchboardError): void {
    const st = this.#peers.get(peer);
    this.#peers.delete(peer);
    if (!st || !peer.isOutbound() || peer.isPersistent()) return;
    const key = peer.remoteAddr.toString();
    if (this.#now() - st.addedAt >= HANGUP_WINDOW_MS) {
      this.#dialer.connectionLasted(key);
    } else if (!st.stoppedByUs && !this.#dialer.isSeed(peer.id)) {
      const failures = this.#dialer.countFailure(key);
      this.log.debug({ peer: peer.id, failures }, 'pex: peer hung up soon after we connected: backing off');
    }
  }

  /**
   * Handle a PEX message, as CometBFT's `Receive`. A malformed message
   * disconnects and bans the sender.
   * - PexRequest: in seed mode from an inbound non-persistent peer, answer
   *   once with a selection biased 30 % to new addresses, then disconnect it
   *   gracefully (later requests are ignored). Otherwise enforce
   *   `requestIntervalMs` and answer with `book.getSelection()`, at most
   *   `maxAddrsPerResponse` addresses, never a private one nor the
   *   requester's own.
   * - PexAddrs: refused (disconnect + ban) unless we have a request pending
   *   with this peer; each address is added to the book with the peer's
   *   self-reported address as source (per-address refusals are ignored);
   *   addresses from a configured seed are dialed at once; in seed mode a
   *   non-persistent outbound peer is disconnected once it answered.
   */
  override receive(e: Envelope): void {
    const peer = e.src;
    const st = this.#peers.get(peer);
    if (!st) return;
    let msg;
    try {
      msg = decodePexMessage(e.message);
    } catch (err) {
      this.#punish(peer, err);
      return;
    }
    if (msg.type === 'request') this.#onRequest(peer, st);
    else this.#onAddrs(peer, st, msg.addrs);
  }

  /**
   * Send a PexRequest to `peer` unless one is already pending (CometBFT's
   * `RequestAddrs`). Only a pending request makes the peer's PexAddrs
   * acceptable. @returns true when a request was queued (or is being queued).
   */
  requestAddrs(peer: Peer): boolean {
    const st = this.#peers.get(peer);
    if (!st || st.requestPending || !peer.nodeInfo.hasChannel(PEX_CHANNEL)) return false;
    st.requestPending = true;
    this.log.debug({ peer: peer.id }, 'pex: requesting addresses');
    peer.send(PEX_CHANNEL, encodePexRequest()).then(
      (ok) => {
        if (!ok) st.requestPending = false;
      },
      () => {
        st.requestPending = false;
      },
    );
    return true;
  }

  // --------------------------------------------------------------- dialing

  /**
   * One round of CometBFT's `ensurePeers` (for tests and operators; the
   * reactor runs it every `ensurePeersPeriodMs`):
   * 1. numToDial = `maxNumOutboundPeers` − (outbound peers + dials in progress);
   * 2. pick up to numToDial distinct addresses with `book.pickAddress(bias)`,
   *    bias = min(outbound, 8)·10 + 10 (10..90 % towards new addresses: fewer
   *    peers → prefer vetted ones), at most 3·numToDial picks, skipping
   *    connected, dialing and backing-off addresses; dial them
   *    (`book.markAttempt` first, good on success, backoff on failure);
   * 3. if the book needs addresses: reinstate expired bans and ask a random
   *    PEX peer for addresses;
   * 4. when nothing was picked and we have no peers or an empty book, dial
   *    the seeds (in random order, until one connects), as CometBFT — unless
   *    the previous round of asking them is still backing off (see
   *    {@link dialSeeds}). Configured seeds are never picked from the book.
   * Resolves when the dials it started have settled; never rejects.
   * Does nothing until the Switch has started.
   */
  ensurePeers(): Promise<void> {
    return this.#dialer.ensurePeers();
  }

  /**
   * Dial `addr` with PEX's bookkeeping (CometBFT's `dialPeer`): refuses
   * (without dialing) an address dialed or connected already, one still
   * backing off from a failed dial, or when the outbound limit is reached;
   * bans a non-persistent address that failed more than `maxAttemptsToDial`
   * times. Calls `book.markAttempt(addr)`, then `Switch.dialPeerWithAddress`.
   * On failure: an authentication failure or ID mismatch bans the address;
   * a refusal by the Switch (duplicate, limits, stopped) is not counted;
   * dialing ourselves removes the address; any other failure starts a backoff
   * of base·2^n (+ jitter). A connection that lasts {@link HANGUP_WINDOW_MS}
   * clears the history when it ends; one that ends sooner counts as a failure
   * (see {@link removePeer}). `addPeer` marks the address good.
   * @returns the connected Peer.
   * @throws PexDialRefusedError, or the Switch's dial error.
   */
  dialPeer(addr: NetAddress): Promise<Peer> {
    return this.#dialer.dialPeer(addr);
  }

  /**
   * Failed dials (and hang-ups) of `addr` since its last connection that
   * lasted {@link HANGUP_WINDOW_MS} (CometBFT's `AttemptsToDial`); 0 when
   * never failed.
   */
  attemptsToDial(addr: NetAddress): number {
    return this.#dialer.attemptsToDial(addr);
  }

  /**
   * Dial the configured seeds in random order until one connects or is
   * already connected or being dialed (CometBFT's `dialSeeds`). Failures are
   * logged. Each call is one round of asking the seeds: `ensurePeers` starts
   * the next round no sooner than base·2^n (+ jitter, at most
   * {@link MAX_SEED_BACKOFF_MS}) later, n the rounds since a non-seed peer
   * last connected, base `dialBackoffBaseMs` — so an isolated node whose
   * seeds answer with nothing it can dial does not redial them every tick.
   * A non-seed peer connecting resets the count. Resolves when done; never rejects.
   */
  dialSeeds(): Promise<void> {
    return this.#dialer.dialSeeds();
  }

  // ------------------------------------------------------------- seed mode

  /**
   * One round of the seed-mode crawl (for tests and operators; in seed mode
   * the reactor runs it every `crawlPeriodMs`), as CometBFT's
   * `crawlPeersRoutine` tick:
   * 1. disconnect (gracefully) every non-persistent peer connected longer
   *    than `seedDisconnectWaitMs`, and every peer crawled in an earlier
   *    round that is still connected;
   * 2. for each configured seed, then each address of `book.getSelection()`
   *    (seeds know each other only through their configuration: a seed is
   *    never kept in a book, so without this two seeds' books would never
   *    merge after their first contact), not crawled in the last
   *    `minTimeBetweenCrawlsMs`, not connected, not dialing and not backing
   *    off, while outbound slots are free: dial it and send a PexRequest
   *    (the peer is disconnected once it answers);
   * 3. forget crawl records older than 24 h.
   * Resolves when the dials it started have settled; never rejects.
   * Works in either mode; does nothing until the Switch has started.
   */
  crawlPeersOnce(): Promise<void> {
    return this.#crawler.crawlOnce();
  }

  // ================================================================ private

  /** The logger: the given one, else the Switch's child `{ reactor: 'pex' }`, else silent. */
  private get log(): Logger {
    if (!this.#logger) {
      if (!this.sw) return SILENT;
      this.#logger = this.sw.logger.child({ reactor: 'pex' });
    }
    return this.#logger;
  }

  #onRequest(peer: Peer, st: PeerState): void {
    const sw = this.switch;
    if (this.seedMode && !peer.isOutbound() && !peer.isPersistent()) {
      if (st.requestsSeen > 0) return; // already answered: it is being disconnected
      st.requestsSeen = 1;
      const addrs = this.#answer(peer, this.book.getSelectionWithBias(SEED_BIAS_TOWARDS_NEW_ADDRS));
      this.log.debug({ peer: peer.id, n: addrs.length }, 'pex: seed answering and disconnecting');
      // Stryker disable next-line BooleanLiteral: the peer is inbound, and removePeer reads stoppedByUs only for outbound peers
      st.stoppedByUs = true;
      peer
        .send(PEX_CHANNEL, encodePexAddrs(addrs))
        .then(() => sw.stopPeerGracefully(peer))
        .catch((err: unknown) => this.log.debug({ peer: peer.id, err: (err as Error).message }, 'pex: seed disconnect failed'));
      return;
    }
    const now = this.#now();
    if (st.requestsSeen < 2) {
      // the first two requests are free; the second starts the clock (as CometBFT)
      st.requestsSeen++;
      if (st.requestsSeen === 2) st.lastRequestAt = now;
    } else if (now - st.lastRequestAt < this.settings.requestIntervalMs) {
      this.#punish(
        peer,
        new PexAbuseError(
          'request-too-soon',
          peer.id,
          `peer ${peer.id} sent a PEX request ${now - st.lastRequestAt} ms after the previous one (minimum ${this.settings.requestIntervalMs} ms)`,
        ),
      );
      return;
    } else {
      st.requestsSeen++;
      st.lastRequestAt = now;
    }
    const addrs = this.#answer(peer, this.book.getSelection());
    void peer.send(PEX_CHANNEL, encodePexAddrs(addrs));
  }

  #onAddrs(peer: Peer, st: PeerState, addrs: readonly NetAddress[]): void {
    const sw = this.switch;
    if (!st.requestPending) {
      this.#punish(peer, new PexAbuseError('unsolicited-addrs', peer.id, `peer ${peer.id} sent addresses we did not request`));
      return;
    }
    st.requestPending = false;
    const src = selfReportedAddr(peer);
    const fromSeed = this.#dialer.isSeed(peer.id);
    let added = 0;
    for (const a of addrs) {
      if (sw.isPrivatePeer(a.id)) continue;
      if (!this.#addToBook(a, src)) continue;
      added++;
      // dialed at once while outbound slots are free (the rest would be refused by dialPeer, an error each)
      // (not in seed mode: a seed crawls, it would hold those peers as if they were its own)
      if (fromSeed && !this.seedMode && !this.#dialer.outboundFull(a.id))
        void this.dialPeer(a).catch((err: unknown) => this.#dialer.logDialError(a, err));
    }
    this.log.debug({ peer: peer.id, received: addrs.length, added }, 'pex: received addresses');
    if (this.seedMode && peer.isOutbound() && !peer.isPersistent()) {
      st.stoppedByUs = true;
      void sw.stopPeerGracefully(peer).catch(() => {});
    }
  }

  /** An answer for `peer`: no private address, not its own, wire-valid, at most `maxAddrsPerResponse`. */
  #answer(peer: Peer, selection: NetAddress[]): NetAddress[] {
    const sw = this.switch;
    return selection
      .filter((a) => a.id !== peer.id && !sw.isPrivatePeer(a.id) && isPexWireAddress(a))
      .slice(0, this.settings.maxAddrsPerResponse);
  }

  /** Disconnect `peer` for `err` and ban it (CometBFT: `StopPeerForError` + `MarkBad(SocketAddr, defaultBanTime)`). */
  #punish(peer: Peer, err: unknown): void {
    this.log.info({ peer: peer.id, err: (err as Error).message }, 'pex: disconnecting and banning peer');
    const st = this.#peers.get(peer);
    if (st) st.stoppedByUs = true;
    this.switch.stopPeerForError(peer, err);
    this.switch.banPeer(peer.remoteAddr, this.settings.banMs); // the Switch's ban: ID, book, and the IP per banIpScope
  }

  /** book.addAddress, logging refusals at debug (CometBFT's `logErrAddrBook`); never a configured seed. @returns true when accepted. */
  #addToBook(addr: NetAddress, src: NetAddress): boolean {
    if (this.#dialer.isSeed(addr.id)) return false;
    try {
      this.book.addAddress(addr, src);
      return true;
    } catch (err) {
      this.log.debug({ addr: addr.toString(), src: src.toString(), err: (err as Error).message }, 'pex: address not added');
      return false;
    }
  }

  /** Ask a random connected PEX peer without a request pending for addresses. */
  #askSomePeerForAddrs(): void {
    const candidates = this.switch.peers
      .list()
      .filter((p) => p.nodeInfo.hasChannel(PEX_CHANNEL) && this.#peers.get(p)?.requestPending === false);
    if (candidates.length > 0) this.requestAddrs(candidates[Math.floor(Math.random() * candidates.length)]!);
  }

  /** True while we run on a running Switch (the loops end when it turns false). */
  #alive(): boolean {
    return this.#running && this.sw !== undefined && this.sw.isRunning;
  }

  #schedule(ms: number, fn: () => void): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(fn, Math.min(ms, MAX_TIMER_MS));
    this.#timer.unref();
  }

  /** The ensurePeers loop: first run at once without peers, else after a random part of the period (CometBFT). */
  #ensureTick(first: boolean): void {
    if (!this.#alive()) return;
    const sw = this.switch;
    if (first && sw.peers.size + sw.numOutboundPeersAndDials() > 0) {
      return this.#schedule(Math.random() * this.settings.ensurePeersPeriodMs, () => this.#ensureTick(false));
    }
    void this.ensurePeers();
    this.#schedule(this.settings.ensurePeersPeriodMs, () => this.#ensureTick(false));
  }

  /** The crawl loop: first the seeds (or a crawl when there are none), then a crawl every period. */
  #crawlTick(first: boolean): void {
    if (!this.#alive()) return;
    if (first && this.seeds.length > 0) void this.dialSeeds();
    else void this.crawlPeersOnce();
    this.#schedule(this.settings.crawlPeriodMs, () => this.#crawlTick(false));
  }
}

// Stryker disable next-line ObjectLiteral: never logged to: the reactor logs only once it is added to a Switch (every log call follows this.switch or a peer's state, which addPeer creates)
const SILENT: Logger = pino({ level: 'silent' });

/** The address a peer reported (`nodeInfo.netAddress()`), with the socket's IP when it reported an unspecified one. */
function selfReportedAddr(peer: Peer): NetAddress {
  const a = peer.nodeInfo.netAddress();
  if ((a.host === '0.0.0.0' || a.host === '::') && peer.remoteIp) {
    try {
      return new NetAddress(a.id, peer.remoteIp, a.port);
    } catch {
      return a;
    }
  }
  return a;
}
