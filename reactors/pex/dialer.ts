/**
 * PEX's dialing, as CometBFT's `ensurePeers`, `dialPeer` and `dialSeeds` in
 * `pex_reactor.go`: keeping the outbound peer count up from the book, the
 * per-address dial history and backoff (with a ban after too many failures),
 * and the seeds as the fallback of an isolated node, backing off between
 * rounds. The PEX reactor owns one {@link PexDialer} and runs its
 * `ensurePeers` every `ensurePeersPeriodMs`.
 *
 * @module
 */
import type { Logger } from 'pino';
import { SwitchboardError } from '../../lib/errors.js';
import type { NetAddress } from '../../lib/net-address.js';
import type { Peer } from '../../lib/peer.js';
import type { ReactorHost } from '../../lib/reactor.js';
import type { AddrBook } from './addrbook.js';
import { PexDialRefusedError } from './errors.js';
import type { PEXSettings } from './options.js';

/**
 * An outbound peer that disconnects within this time of connecting, without
 * PEX having stopped it, "hung up": the disconnect counts as a failed dial of
 * its address (backoff base·2^n), ms (ours; 10 s). A connection that lasted
 * longer clears the address's dial history when it ends.
 */
export const HANGUP_WINDOW_MS = 10_000;
/** Longest wait between two rounds of asking the seeds while isolated, ms (ours; 10 min). */
export const MAX_SEED_BACKOFF_MS = 10 * 60_000;
/** The last time a Date can hold, ms since the epoch: a backoff ends by then (so its end can be printed). */
const MAX_DATE_MS = 8.64e15;

/** Dial history of one address (CometBFT's `attemptsToDial`). */
interface DialHistory {
  /** Failed dials in a row. */
  failures: number;
  /** Not to be dialed before this time (ms). */
  notBefore: number;
}

/** Rounds of asking the seeds since one last got us a peer (see {@link PexDialer.dialSeeds}). */
interface SeedHistory {
  /** Seed rounds in a row that left us without a non-seed peer. */
  rounds: number;
  /** Not to ask the seeds (from `ensurePeers`) before this time (ms). */
  notBefore: number;
}

/** What the dialer uses of its PEX reactor. */
export interface PexDialerContext {
  /** The address book. */
  readonly book: AddrBook;
  /** The reactor's settings. */
  readonly settings: PEXSettings;
  /** The configured seeds. */
  readonly seeds: readonly NetAddress[];
  /** Clock, ms since the epoch. */
  now(): number;
  /** The reactor's logger. */
  log(): Logger;
  /** The Switch (throws before the reactor is added to one). */
  host(): ReactorHost;
  /** True while the reactor runs on a running Switch. */
  alive(): boolean;
  /** Ask one connected PEX peer without a request pending for addresses. */
  askSomePeerForAddrs(): void;
}

/** The dial bookkeeping of one PEX reactor (see the module doc); its public methods are the reactor's. */
export class PexDialer {
  readonly #history = new Map<string, DialHistory>();
  readonly #dialing = new Set<string>();
  #seedHistory: SeedHistory = { rounds: 0, notBefore: 0 };

  constructor(private readonly ctx: PexDialerContext) {}

  /** One round of `ensurePeers` (documented at `PEXReactor.ensurePeers`). */
  async ensurePeers(): Promise<void> {
    const { ctx } = this;
    if (!ctx.alive()) return;
    const sw = ctx.host();
    const numOut = sw.peers.numOutbound();
    const numToDial = sw.config.maxNumOutboundPeers - this.outboundAndDials();
    ctx.log().debug({ numOut, numIn: sw.peers.numInbound(), numToDial }, 'pex: ensure peers');
    if (numToDial <= 0) return;
    const bias = Math.min(numOut, 8) * 10 + 10;
    const toDial = new Map<string, NetAddress>();
    for (let i = 0; i < numToDial * 3 && toDial.size < numToDial; i++) {
      const a = ctx.book.pickAddress(bias);
      if (!a || toDial.has(a.id) || this.isSeed(a.id) || this.dialingOrConnected(a.id) || this.backingOff(a)) continue;
      toDial.set(a.id, a);
    }
    const dials: Promise<unknown>[] = [];
    for (const a of toDial.values()) dials.push(this.dialPeer(a).catch((err: unknown) => this.logDialError(a, err)));
    if (ctx.book.needMoreAddrs()) ctx.book.reinstateBadPeers();
    if (ctx.book.needMoreAddrs()) ctx.askSomePeerForAddrs();
    // Seeds are the fallback (CometBFT): only with nobody to talk to, or an empty book; backing off between rounds.
    if (toDial.size === 0 && (sw.peers.size === 0 || ctx.book.isEmpty()) && ctx.now() >= this.#seedHistory.notBefore) {
      dials.push(this.dialSeeds());
    }
    await Promise.all(dials);
  }

  /** Dial `addr` with PEX's bookkeeping (documented at `PEXReactor.dialPeer`). @throws PexDialRefusedError, or the Switch's dial error. */
  async dialPeer(addr: NetAddress): Promise<Peer> {
    const { ctx } = this;
    const sw = ctx.host();
    const key = addr.toString();
    const hist = this.#history.get(key);
    const persistent = sw.isPersistentPeer(addr.id);
    if (hist && !persistent && hist.failures > ctx.settings.maxAttemptsToDial) {
      this.#history.delete(key);
      this.#ban(addr);
      throw new PexDialRefusedError('max-attempts', `${addr} failed ${hist.failures} dials: banned`);
    }
    if (hist && ctx.now() < hist.notBefore) {
      throw new PexDialRefusedError(
        'backoff',
        `${addr} failed ${hist.failures} dials: not before ${new Date(hist.notBefore).toISOString()}`,
      );
    }
    if (this.dialingOrConnected(addr.id))
      throw new PexDialRefusedError('dialing-or-connected', `already dialing or connected to ${addr.id}`);
    if (this.outboundFull(addr.id)) {
      throw new PexDialRefusedError('too-many-peers', `outbound limit ${sw.config.maxNumOutboundPeers} reached`);
    }
    this.#dialing.add(addr.id);
    ctx.book.markAttempt(addr);
    try {
      // the history is cleared once the connection has lasted HANGUP_WINDOW_MS (see the reactor's removePeer)
      return await sw.dialPeerWithAddress(addr);
    } catch (err) {
      const code = err instanceof SwitchboardError ? err.code : undefined;
      if (code === 'ERR_DUPLICATE_PEER' || code === 'ERR_TOO_MANY_PEERS' || code === 'ERR_SWITCH_STOPPED') throw err;
      if (code === 'ERR_SELF_CONNECTION') {
        this.#history.delete(key);
        ctx.book.removeAddress(addr);
        ctx.book.addOurAddress(addr);
      } else if (code === 'ERR_AUTH' || code === 'ERR_PEER_ID_MISMATCH') {
        this.#history.delete(key);
        this.#ban(addr);
      } else {
        this.countFailure(key);
      }
      throw err;
    } finally {
      this.#dialing.delete(addr.id);
    }
  }

  /** Failed dials (and hang-ups) of `addr` since its last lasting connection; 0 when never failed. */
  attemptsToDial(addr: NetAddress): number {
    return this.#history.get(addr.toString())?.failures ?? 0;
  }

  /** One round of asking the seeds (documented at `PEXReactor.dialSeeds`). Never rejects. */
  async dialSeeds(): Promise<void> {
    const { ctx } = this;
    if (!ctx.alive() || ctx.seeds.length === 0) return;
    const sw = ctx.host();
    const rounds = this.#seedHistory.rounds + 1;
    const base = ctx.settings.dialBackoffBaseMs;
    this.#seedHistory = { rounds, notBefore: ctx.now() + Math.min(base * 2 ** rounds, MAX_SEED_BACKOFF_MS) + Math.random() * base };
    const order = [...ctx.seeds];
    shuffle(order);
    for (const seed of order) {
      if (this.dialingOrConnected(seed.id)) return;
      if (this.outboundFull(seed.id)) return;
      this.#dialing.add(seed.id);
      try {
        await sw.dialPeerWithAddress(seed);
        return;
      } catch (err) {
        const code = err instanceof SwitchboardError ? err.code : undefined;
        if (code === 'ERR_DUPLICATE_PEER' || code === 'ERR_SWITCH_STOPPED' || code === 'ERR_TOO_MANY_PEERS') return;
        ctx.log().warn({ seed: seed.toString(), err: (err as Error).message, code }, 'pex: dialing seed failed');
      } finally {
        this.#dialing.delete(seed.id);
      }
    }
    ctx.log().warn({ seeds: ctx.seeds.length }, 'pex: could not connect to any seed');
  }

  /** A non-seed peer connected: the seeds did their job, or are not needed; the next round of asking them may come at once. */
  seedsDone(): void {
    this.#seedHistory = { rounds: 0, notBefore: 0 };
  }

  /** An outbound connection to `key` (`id@host:port`) lasted: its failures are forgotten. */
  connectionLasted(key: string): void {
    this.#history.delete(key);
  }

  /** Count one more failure of the address `key` and start its backoff: base·2^n + up to base of jitter (ending by the last Date at the latest). @returns n. */
  countFailure(key: string): number {
    const failures = (this.#history.get(key)?.failures ?? 0) + 1;
    const base = this.ctx.settings.dialBackoffBaseMs;
    const notBefore = Math.min(this.ctx.now() + base * 2 ** failures + Math.random() * base, MAX_DATE_MS);
    this.#history.set(key, { failures, notBefore });
    return failures;
  }

  /** True while a failed dial of `addr` is backing off. */
  backingOff(addr: NetAddress): boolean {
    const h = this.#history.get(addr.toString());
    return h !== undefined && this.ctx.now() < h.notBefore;
  }

  /** True when `id` is one of the configured seeds. */
  isSeed(id: string): boolean {
    return this.ctx.seeds.some((s) => s.id === id);
  }

  /** True while we or the Switch dial `id`, or it is connected. */
  dialingOrConnected(id: string): boolean {
    const sw = this.ctx.host();
    return this.#dialing.has(id) || sw.peers.has(id) || sw.isDialing(id);
  }

  /** True when a dial of `id` would exceed `maxNumOutboundPeers` (an unconditional peer never does). */
  outboundFull(id: string): boolean {
    const sw = this.ctx.host();
    return !sw.isUnconditionalPeer(id) && this.outboundAndDials() >= sw.config.maxNumOutboundPeers;
  }

  /**
   * Outbound peers plus dials in progress, unconditional ones not counted:
   * the Switch's count, or ours when higher — ours also counts a dial of ours
   * to a node that meanwhile connected to us (an inbound peer), which may
   * still become outbound when the Switch settles the simultaneous connection.
   */
  outboundAndDials(): number {
    const sw = this.ctx.host();
    let ours = 0;
    for (const p of sw.peers.list()) if (p.isOutbound() && !sw.isUnconditionalPeer(p.id)) ours++;
    for (const id of this.#dialing) {
      if (sw.isUnconditionalPeer(id)) continue;
      if (!sw.peers.get(id)?.isOutbound()) ours++;
    }
    return Math.max(ours, sw.numOutboundPeersAndDials());
  }

  /** Log a failed dial at debug. */
  logDialError(addr: NetAddress, err: unknown): void {
    const e = err as SwitchboardError;
    this.ctx.log().debug({ addr: addr.toString(), err: e?.message, code: e?.code }, 'pex: dial failed');
  }

  #ban(addr: NetAddress): void {
    try {
      this.ctx.book.markBad(addr, this.ctx.settings.banMs);
    } catch (err) {
      this.ctx.log().warn({ addr: addr.toString(), err: (err as Error).message }, 'pex: could not ban address');
    }
  }
}

function shuffle<T>(a: T[]): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}
