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
import { InvalidArgumentError, RejectedError, SwitchboardError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import type { Peer } from '../../lib/peer.js';
import { BaseReactor, type Envelope, type ReactorHost } from '../../lib/reactor.js';
import type { AddrBook } from './addrbook.js';
import {
  decodePexMessage,
  encodePexAddrs,
  encodePexRequest,
  isPexWireAddress,
  MAX_PEX_ADDRS,
  MAX_PEX_MESSAGE_SIZE,
  PEX_CHANNEL,
} from './messages.js';

/** Default period of `ensurePeers`, ms (CometBFT's `defaultEnsurePeersPeriod`, 30 s). */
export const DEFAULT_ENSURE_PEERS_PERIOD_MS = 30_000;
/** Default period of the seed-mode crawl, ms (CometBFT's `crawlPeerPeriod`, 30 s). */
export const DEFAULT_CRAWL_PERIOD_MS = 30_000;
/** Default minimum time between two crawls of one address, ms (CometBFT's `minTimeBetweenCrawls`, 2 min). */
export const DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS = 2 * 60_000;
/** Default time a seed keeps a non-persistent peer, ms (CometBFT's `SeedDisconnectWaitPeriod` default, 28 h). */
export const DEFAULT_SEED_DISCONNECT_WAIT_MS = 28 * 60 * 60_000;
/** Default ban of a misbehaving peer, ms (CometBFT's `defaultBanTime`, 24 h). */
export const DEFAULT_BAN_MS = 24 * 60 * 60_000;
/** Default base of the per-address dial backoff, ms (CometBFT: 1 s, i.e. 2^n s plus up to 1 s of jitter). */
export const DEFAULT_DIAL_BACKOFF_BASE_MS = 1_000;
/** Default failed dials of one address before it is banned (CometBFT's `maxAttemptsToDial`, 16 ≈ 35 h of backoff). */
export const DEFAULT_MAX_ATTEMPTS_TO_DIAL = 16;
/** Share of new addresses in a seed's answer (CometBFT's `biasToSelectNewPeers`, 30 %). */
export const SEED_BIAS_TOWARDS_NEW_ADDRS = 30;
/**
 * An outbound peer that disconnects within this time of connecting, without
 * PEX having stopped it, "hung up": the disconnect counts as a failed dial of
 * its address (backoff base·2^n), ms (ours; 10 s). A connection that lasted
 * longer clears the address's dial history when it ends.
 */
export const HANGUP_WINDOW_MS = 10_000;
/** Longest wait between two rounds of asking the seeds while isolated, ms (ours; 10 min). */
export const MAX_SEED_BACKOFF_MS = 10 * 60_000;

/** Crawl records older than this are forgotten, ms (CometBFT: 24 h). */
const CRAWL_INFO_TTL_MS = 24 * 60 * 60_000;
/** Largest delay setTimeout accepts, ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options of {@link PEXReactor}. Every duration is in milliseconds. */
export interface PEXReactorOptions {
  /**
   * Seed (crawler) mode, as CometBFT's `seed_mode`: no `ensurePeers`;
   * instead crawl the book every `crawlPeriodMs`, answer each inbound
   * requester once and disconnect it. Default false.
   */
  seedMode?: boolean;
  /**
   * Seed nodes, `id@host:port` each, dialed when the book needs addresses and
   * nothing else can be dialed (CometBFT's `seeds`). Default none.
   * Addresses a seed sends are dialed at once (CometBFT #2093).
   */
  seeds?: readonly string[];
  /** Period of `ensurePeers` (first run: at once without peers, else after a random part of it). Default 30 000. */
  ensurePeersPeriodMs?: number;
  /**
   * Least time between two PexRequests of one peer; its third request
   * sooner than this after the previous accepted one disconnects and bans it
   * (the first two are free, as CometBFT). Default `ensurePeersPeriodMs / 3`
   * (CometBFT's `minReceiveRequestInterval`); keep it below the peers'
   * `ensurePeersPeriodMs`.
   */
  requestIntervalMs?: number;
  /** Most addresses in one answer, 1..250. Default 250 (CometBFT's `maxGetSelection`). */
  maxAddrsPerResponse?: number;
  /** Seed mode: a non-persistent peer connected longer than this is disconnected at the next crawl. Default 28 h (CometBFT). */
  seedDisconnectWaitMs?: number;
  /** Seed mode: period of the crawl. Default 30 000 (CometBFT's `crawlPeerPeriod`). */
  crawlPeriodMs?: number;
  /** Seed mode: least time between two crawls of one address. Default 120 000 (CometBFT's `minTimeBetweenCrawls`). */
  minTimeBetweenCrawlsMs?: number;
  /**
   * Base of the per-address dial backoff: after the n-th failed dial an
   * address is not dialed again for base·2^n plus up to base of jitter
   * (CometBFT: 1 s · 2^n + up to 1 s). Default 1000.
   */
  dialBackoffBaseMs?: number;
  /** Failed dials after which a (non-persistent) address is banned for `banMs`. Default 16 (CometBFT's `maxAttemptsToDial`). */
  maxAttemptsToDial?: number;
  /** Ban of a misbehaving peer (abuse, malformed message, failed authentication). Default 24 h (CometBFT's `defaultBanTime`). */
  banMs?: number;
  /** pino logger; default the Switch's logger with `{ reactor: 'pex' }`. */
  logger?: Logger;
  /** Clock, ms since the epoch; default `Date.now`. Rate limits, backoff and crawl records use it. */
  now?: () => number;
}

/** Why a peer was disconnected by PEX: see {@link PexAbuseError}. */
export type PexAbuseReason = 'request-too-soon' | 'unsolicited-addrs';

/**
 * A peer broke the PEX rules (CometBFT's `ErrReceivedPEXRequestTooSoon` and
 * `ErrUnsolicitedList`): it requested addresses too often, or sent addresses
 * we did not ask for. Code `ERR_REJECTED`; the peer is disconnected with this
 * error and banned for `banMs`.
 */
export class PexAbuseError extends RejectedError {
  /** Which rule was broken. */
  readonly reason: PexAbuseReason;
  /** The offending peer's ID. */
  readonly peerId: string;
  constructor(reason: PexAbuseReason, peerId: string, message: string) {
    super('ERR_REJECTED', message);
    this.reason = reason;
    this.peerId = peerId;
  }
}

/** Why {@link PEXReactor} did not dial an address (code `ERR_REJECTED` unless noted). */
export type PexDialRefusal = 'backoff' | 'max-attempts' | 'dialing-or-connected' | 'too-many-peers';

/**
 * PEX refused to dial an address itself, before asking the Switch:
 * `backoff` (a previous dial failed recently), `max-attempts` (too many
 * failures: the address is now banned), `dialing-or-connected`
 * (`ERR_DUPLICATE_PEER`), `too-many-peers` (`ERR_TOO_MANY_PEERS`).
 */
export class PexDialRefusedError extends RejectedError {
  /** Why the dial was refused. */
  readonly reason: PexDialRefusal;
  constructor(reason: PexDialRefusal, message: string) {
    super(
      reason === 'dialing-or-connected' ? 'ERR_DUPLICATE_PEER' : reason === 'too-many-peers' ? 'ERR_TOO_MANY_PEERS' : 'ERR_REJECTED',
      message,
    );
    this.reason = reason;
  }
}

/** PEX state of one connected peer. */
interface PeerState {
  /** We sent a PexRequest and await its answer (CometBFT's `requestsSent`). */
  requestPending: boolean;
  /** PexRequests accepted from the peer: 0, 1 (free), 2+ (timed). */
  requestsSeen: number;
  /** When the last timed request was accepted (ms); CometBFT's `lastReceivedRequests`. */
  lastRequestAt: number;
  /** When the peer was added (ms). */
  addedAt: number;
  /** Seed mode: dialed by the crawl (disconnected after it answers or at the next round). */
  crawled: boolean;
  /** PEX itself disconnected the peer (so its leaving is not a hang-up). */
  stoppedByUs: boolean;
}

/** Dial history of one address (CometBFT's `attemptsToDial`). */
interface DialHistory {
  /** Failed dials in a row. */
  failures: number;
  /** Not to be dialed before this time (ms). */
  notBefore: number;
}

/** Rounds of asking the seeds since one last got us a peer (see {@link PEXReactor.dialSeeds}). */
interface SeedHistory {
  /** Seed rounds in a row that left us without a non-seed peer. */
  rounds: number;
  /** Not to ask the seeds (from `ensurePeers`) before this time (ms). */
  notBefore: number;
}

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
  /** Effective settings (defaults filled in), ms. */
  readonly settings: Readonly<{
    /** See {@link PEXReactorOptions.ensurePeersPeriodMs}. */
    ensurePeersPeriodMs: number;
    /** See {@link PEXReactorOptions.requestIntervalMs}. */
    requestIntervalMs: number;
    /** See {@link PEXReactorOptions.maxAddrsPerResponse} (a count). */
    maxAddrsPerResponse: number;
    /** See {@link PEXReactorOptions.seedDisconnectWaitMs}. */
    seedDisconnectWaitMs: number;
    /** See {@link PEXReactorOptions.crawlPeriodMs}. */
    crawlPeriodMs: number;
    /** See {@link PEXReactorOptions.minTimeBetweenCrawlsMs}. */
    minTimeBetweenCrawlsMs: number;
    /** See {@link PEXReactorOptions.dialBackoffBaseMs}. */
    dialBackoffBaseMs: number;
    /** See {@link PEXReactorOptions.maxAttemptsToDial} (a count). */
    maxAttemptsToDial: number;
    /** See {@link PEXReactorOptions.banMs}. */
    banMs: number;
  }>;

  readonly #now: () => number;
  #logger: Logger | undefined;
  readonly #peers = new Map<Peer, PeerState>();
  readonly #dialHistory = new Map<string, DialHistory>();
  readonly #dialing = new Set<string>();
  readonly #crawledAt = new Map<string, number>();
  #seedHistory: SeedHistory = { rounds: 0, notBefore: 0 };
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
    const ensurePeersPeriodMs = period(opts.ensurePeersPeriodMs, DEFAULT_ENSURE_PEERS_PERIOD_MS, 'ensurePeersPeriodMs');
    this.settings = Object.freeze({
      ensurePeersPeriodMs,
      requestIntervalMs: duration(opts.requestIntervalMs, Math.floor(ensurePeersPeriodMs / 3), 'requestIntervalMs', 0),
      maxAddrsPerResponse: intIn(opts.maxAddrsPerResponse, MAX_PEX_ADDRS, 'maxAddrsPerResponse', 1, MAX_PEX_ADDRS),
      seedDisconnectWaitMs: duration(opts.seedDisconnectWaitMs, DEFAULT_SEED_DISCONNECT_WAIT_MS, 'seedDisconnectWaitMs', 0),
      crawlPeriodMs: period(opts.crawlPeriodMs, DEFAULT_CRAWL_PERIOD_MS, 'crawlPeriodMs'),
      minTimeBetweenCrawlsMs: duration(opts.minTimeBetweenCrawlsMs, DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS, 'minTimeBetweenCrawlsMs', 0),
      dialBackoffBaseMs: duration(opts.dialBackoffBaseMs, DEFAULT_DIAL_BACKOFF_BASE_MS, 'dialBackoffBaseMs', 0),
      maxAttemptsToDial: intIn(opts.maxAttemptsToDial, DEFAULT_MAX_ATTEMPTS_TO_DIAL, 'maxAttemptsToDial', 1, 1_000_000),
      banMs: duration(opts.banMs, DEFAULT_BAN_MS, 'banMs', 0),
    });
    if (opts.now !== undefined && typeof opts.now !== 'function') throw new InvalidArgumentError('now must be a function returning ms');
    this.#now = opts.now ?? Date.now;
    this.#logger = opts.logger;
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
    const isSeed = this.#isSeed(peer.id);
    if (!isSeed) this.#seedHistory = { rounds: 0, notBefore: 0 }; // the seeds did their job, or are not needed
    if (peer.isOutbound()) {
      const addr = peer.remoteAddr;
      if (!isSeed && !this.book.hasAddress(addr)) this.#addToBook(addr, addr);
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
      this.#dialHistory.delete(key);
    } else if (!st.stoppedByUs && !this.#isSeed(peer.id)) {
      const failures = this.#backoff(key);
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
  async ensurePeers(): Promise<void> {
    if (!this.#alive()) return;
    const sw = this.switch;
    const numOut = sw.peers.numOutbound();
    const numToDial = sw.config.maxNumOutboundPeers - this.#outboundAndDials();
    this.log.debug({ numOut, numIn: sw.peers.numInbound(), numToDial }, 'pex: ensure peers');
    if (numToDial <= 0) return;
    const bias = Math.min(numOut, 8) * 10 + 10;
    const toDial = new Map<string, NetAddress>();
    for (let i = 0; i < numToDial * 3 && toDial.size < numToDial; i++) {
      const a = this.book.pickAddress(bias);
      if (!a || toDial.has(a.id) || this.#isSeed(a.id) || this.#dialingOrConnected(a.id) || this.#backingOff(a)) continue;
      toDial.set(a.id, a);
    }
    const dials: Promise<unknown>[] = [];
    for (const a of toDial.values()) dials.push(this.dialPeer(a).catch((err: unknown) => this.#logDialError(a, err)));
    if (this.book.needMoreAddrs()) this.book.reinstateBadPeers();
    if (this.book.needMoreAddrs()) {
      const candidates = sw.peers.list().filter((p) => p.nodeInfo.hasChannel(PEX_CHANNEL) && this.#peers.get(p)?.requestPending === false);
      if (candidates.length > 0) this.requestAddrs(candidates[Math.floor(Math.random() * candidates.length)]!);
    }
    // Seeds are the fallback (CometBFT): only with nobody to talk to, or an empty book; backing off between rounds.
    if (toDial.size === 0 && (sw.peers.size === 0 || this.book.isEmpty()) && this.#now() >= this.#seedHistory.notBefore) {
      dials.push(this.dialSeeds());
    }
    await Promise.all(dials);
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
  async dialPeer(addr: NetAddress): Promise<Peer> {
    const sw = this.switch;
    const key = addr.toString();
    const hist = this.#dialHistory.get(key);
    const persistent = sw.isPersistentPeer(addr.id);
    if (hist && !persistent && hist.failures > this.settings.maxAttemptsToDial) {
      this.#dialHistory.delete(key);
      this.#ban(addr);
      throw new PexDialRefusedError('max-attempts', `${addr} failed ${hist.failures} dials: banned`);
    }
    if (hist && this.#now() < hist.notBefore) {
      throw new PexDialRefusedError(
        'backoff',
        `${addr} failed ${hist.failures} dials: not before ${new Date(hist.notBefore).toISOString()}`,
      );
    }
    if (this.#dialingOrConnected(addr.id))
      throw new PexDialRefusedError('dialing-or-connected', `already dialing or connected to ${addr.id}`);
    if (!sw.isUnconditionalPeer(addr.id) && this.#outboundAndDials() >= sw.config.maxNumOutboundPeers) {
      throw new PexDialRefusedError('too-many-peers', `outbound limit ${sw.config.maxNumOutboundPeers} reached`);
    }
    this.#dialing.add(addr.id);
    this.book.markAttempt(addr);
    try {
      // the history is cleared once the connection has lasted HANGUP_WINDOW_MS (see removePeer)
      return await sw.dialPeerWithAddress(addr);
    } catch (err) {
      const code = err instanceof SwitchboardError ? err.code : undefined;
      if (code === 'ERR_DUPLICATE_PEER' || code === 'ERR_TOO_MANY_PEERS' || code === 'ERR_SWITCH_STOPPED') throw err;
      if (code === 'ERR_SELF_CONNECTION') {
        this.#dialHistory.delete(key);
        this.book.removeAddress(addr);
        this.book.addOurAddress(addr);
      } else if (code === 'ERR_AUTH' || code === 'ERR_PEER_ID_MISMATCH') {
        this.#dialHistory.delete(key);
        this.#ban(addr);
      } else {
        this.#backoff(key);
      }
      throw err;
    } finally {
      this.#dialing.delete(addr.id);
    }
  }

  /**
   * Failed dials (and hang-ups) of `addr` since its last connection that
   * lasted {@link HANGUP_WINDOW_MS} (CometBFT's `AttemptsToDial`); 0 when
   * never failed.
   */
  attemptsToDial(addr: NetAddress): number {
    return this.#dialHistory.get(addr.toString())?.failures ?? 0;
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
  async dialSeeds(): Promise<void> {
    if (!this.#alive() || this.seeds.length === 0) return;
    const sw = this.switch;
    const rounds = this.#seedHistory.rounds + 1;
    const base = this.settings.dialBackoffBaseMs;
    this.#seedHistory = { rounds, notBefore: this.#now() + Math.min(base * 2 ** rounds, MAX_SEED_BACKOFF_MS) + Math.random() * base };
    const order = [...this.seeds];
    shuffle(order);
    for (const seed of order) {
      if (this.#dialingOrConnected(seed.id)) return;
      if (!sw.isUnconditionalPeer(seed.id) && this.#outboundAndDials() >= sw.config.maxNumOutboundPeers) return;
      this.#dialing.add(seed.id);
      try {
        await sw.dialPeerWithAddress(seed);
        return;
      } catch (err) {
        const code = err instanceof SwitchboardError ? err.code : undefined;
        if (code === 'ERR_DUPLICATE_PEER' || code === 'ERR_SWITCH_STOPPED' || code === 'ERR_TOO_MANY_PEERS') return;
        this.log.warn({ seed: seed.toString(), err: (err as Error).message, code }, 'pex: dialing seed failed');
      } finally {
        this.#dialing.delete(seed.id);
      }
    }
    this.log.warn({ seeds: this.seeds.length }, 'pex: could not connect to any seed');
  }

  // ------------------------------------------------------------- seed mode

  /**
   * One round of the seed-mode crawl (for tests and operators; in seed mode
   * the reactor runs it every `crawlPeriodMs`), as CometBFT's
   * `crawlPeersRoutine` tick:
   * 1. disconnect (gracefully) every non-persistent peer connected longer
   *    than `seedDisconnectWaitMs`, and every peer crawled in an earlier
   *    round that is still connected;
   * 2. for each address of `book.getSelection()` not crawled in the last
   *    `minTimeBetweenCrawlsMs`, not connected, not dialing and not backing
   *    off, while outbound slots are free: dial it and send a PexRequest
   *    (the peer is disconnected once it answers);
   * 3. forget crawl records older than 24 h.
   * Resolves when the dials it started have settled; never rejects.
   * Works in either mode; does nothing until the Switch has started.
   */
  async crawlPeersOnce(): Promise<void> {
    if (!this.#alive()) return;
    const sw = this.switch;
    const now = this.#now();
    for (const [peer, st] of this.#peers) {
      if (peer.isPersistent()) continue;
      if (st.crawled || now - st.addedAt >= this.settings.seedDisconnectWaitMs) {
        this.log.debug({ peer: peer.id, crawled: st.crawled }, 'pex: crawler disconnecting peer');
        st.stoppedByUs = true;
        void sw.stopPeerGracefully(peer).catch(() => {});
      }
    }
    const dials: Promise<unknown>[] = [];
    for (const a of this.book.getSelection()) {
      if (this.#outboundAndDials() >= sw.config.maxNumOutboundPeers) break;
      const last = this.#crawledAt.get(a.id);
      if (last !== undefined && now - last < this.settings.minTimeBetweenCrawlsMs) continue;
      if (this.#dialingOrConnected(a.id) || this.#backingOff(a)) continue;
      this.#crawledAt.set(a.id, now);
      dials.push(
        this.dialPeer(a).then(
          (peer) => {
            const st = this.#peers.get(peer);
            if (st) st.crawled = true;
            this.requestAddrs(peer);
          },
          (err: unknown) => this.#logDialError(a, err),
        ),
      );
    }
    for (const [id, at] of this.#crawledAt) if (now - at > CRAWL_INFO_TTL_MS) this.#crawledAt.delete(id);
    await Promise.all(dials);
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
    const fromSeed = this.#isSeed(peer.id);
    let added = 0;
    for (const a of addrs) {
      if (sw.isPrivatePeer(a.id)) continue;
      if (!this.#addToBook(a, src)) continue;
      added++;
      if (fromSeed) void this.dialPeer(a).catch((err: unknown) => this.#logDialError(a, err));
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

  #ban(addr: NetAddress): void {
    try {
      this.book.markBad(addr, this.settings.banMs);
    } catch (err) {
      this.log.warn({ addr: addr.toString(), err: (err as Error).message }, 'pex: could not ban address');
    }
  }

  /** book.addAddress, logging refusals at debug (CometBFT's `logErrAddrBook`); never a configured seed. @returns true when accepted. */
  #addToBook(addr: NetAddress, src: NetAddress): boolean {
    if (this.#isSeed(addr.id)) return false;
    try {
      this.book.addAddress(addr, src);
      return true;
    } catch (err) {
      this.log.debug({ addr: addr.toString(), src: src.toString(), err: (err as Error).message }, 'pex: address not added');
      return false;
    }
  }

  #dialingOrConnected(id: string): boolean {
    const sw = this.switch;
    return this.#dialing.has(id) || sw.peers.has(id) || sw.isDialing(id);
  }

  /**
   * Outbound peers plus dials in progress, unconditional ones not counted:
   * the Switch's count, or ours when higher — ours also counts a dial of ours
   * to a node that meanwhile connected to us (an inbound peer), which may
   * still become outbound when the Switch settles the simultaneous connection.
   */
  #outboundAndDials(): number {
    const sw = this.switch;
    let ours = 0;
    for (const p of sw.peers.list()) if (p.isOutbound() && !sw.isUnconditionalPeer(p.id)) ours++;
    for (const id of this.#dialing) {
      if (sw.isUnconditionalPeer(id)) continue;
      if (!sw.peers.get(id)?.isOutbound()) ours++;
    }
    return Math.max(ours, sw.numOutboundPeersAndDials());
  }

  /** True when `id` is one of the configured seeds. */
  #isSeed(id: string): boolean {
    return this.seeds.some((s) => s.id === id);
  }

  /** Count one more failure of the address `key` and start its backoff: base·2^n + up to base of jitter. @returns n. */
  #backoff(key: string): number {
    const failures = (this.#dialHistory.get(key)?.failures ?? 0) + 1;
    const base = this.settings.dialBackoffBaseMs;
    const backoff = Math.min(base * 2 ** failures + Math.random() * base, Number.MAX_SAFE_INTEGER);
    this.#dialHistory.set(key, { failures, notBefore: this.#now() + backoff });
    return failures;
  }

  #backingOff(addr: NetAddress): boolean {
    const h = this.#dialHistory.get(addr.toString());
    return h !== undefined && this.#now() < h.notBefore;
  }

  #logDialError(addr: NetAddress, err: unknown): void {
    const e = err as SwitchboardError;
    this.log.debug({ addr: addr.toString(), err: e?.message, code: e?.code }, 'pex: dial failed');
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

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/** A timer period: a finite number 1..2^31−1 (ms). */
function period(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > MAX_TIMER_MS)
    throw new InvalidArgumentError(`${name} must be a number of ms in 1..${MAX_TIMER_MS}`);
  return v;
}

/** A duration: a finite number ≥ min (ms). */
function duration(v: number | undefined, dflt: number, name: string, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
    throw new InvalidArgumentError(`${name} must be a finite number of ms >= ${min}`);
  return v;
}

function intIn(v: number | undefined, dflt: number, name: string, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max) throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}`);
  return v;
}
