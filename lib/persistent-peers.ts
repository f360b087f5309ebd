/**
 * Persistent peers: the addresses a Switch keeps connected, redialed with
 * backoff and jitter whenever they drop, as CometBFT's `reconnectToPeer`
 * (`reconnectAttempts` × (`reconnectIntervalMs` + up to 3 s jitter), then
 * `reconnectBackoffAttempts` × (`reconnectBackoffBaseMs` · 3^i + jitter)),
 * and the outbound slots they hold while inbound or away (see
 * `Switch.numOutboundPeersAndDials`).
 *
 * @module
 */
import type { Logger } from 'pino';
import type { P2PConfig } from './config.js';
import type { SwitchboardError } from './errors.js';
import type { NetAddress } from './net-address.js';
import type { Peer, PeerSet } from './peer.js';

/** What the persistent peers use of their Switch. */
export interface PersistentPeersContext {
  /** The Switch's settings (the redial schedule). */
  readonly config: Readonly<P2PConfig>;
  /** The connected peers. */
  readonly peers: PeerSet;
  /** The Switch's logger. */
  readonly logger: Logger;
  /** True while the Switch runs. */
  running(): boolean;
  /** Settles once the reactors have started (the first dials wait for it). */
  reactorsReady(): Promise<void>;
  /** The Switch's `dialPeerWithAddress`. */
  dial(addr: NetAddress, signal: AbortSignal): Promise<Peer>;
  /** True for an unconditional peer ID (it holds no slot). */
  isUnconditional(id: string): boolean;
  /** True while the Switch dials `id`. */
  isDialing(id: string): boolean;
}

/**
 * The waits (ms) before each redial of a persistent peer under `c` (see the
 * module doc); `random` gives the jitter, in [0, 1).
 */
export function reconnectSchedule(c: Readonly<P2PConfig>, random: () => number): number[] {
  const jitter = () => random() * Math.min(3000, c.reconnectIntervalMs);
  const delays: number[] = [];
  for (let i = 0; i < c.reconnectAttempts; i++) delays.push(c.reconnectIntervalMs + jitter());
  for (let i = 0; i < c.reconnectBackoffAttempts; i++) delays.push(c.reconnectBackoffBaseMs * Math.pow(3, i) + jitter());
  return delays;
}

/** A Switch's persistent peers and their redial loops. */
export class PersistentPeers {
  /** The persistent peer IDs. */
  readonly ids = new Set<string>();
  /** Their addresses, in the order added (dialed at start). */
  readonly addrs: NetAddress[] = [];
  /** Redial loops running, by ID. */
  readonly #reconnecting = new Map<string, AbortController>();

  constructor(private readonly ctx: PersistentPeersContext) {}

  /** Add `a`; false when its ID is persistent already. */
  add(a: NetAddress): boolean {
    if (this.ids.has(a.id)) return false;
    this.ids.add(a.id);
    this.addrs.push(a);
    return true;
  }

  /** Redial `addr` until connected, the schedule runs out, or the Switch stops; `immediate`: the first dial at once. No-op while a loop for its ID runs. */
  redial(addr: NetAddress, immediate = false): void {
    const { ctx } = this;
    if (this.#reconnecting.has(addr.id) || !ctx.running()) return;
    const ac = new AbortController();
    this.#reconnecting.set(addr.id, ac);
    const delays = reconnectSchedule(ctx.config, Math.random);
    if (immediate) delays.unshift(0);
    const done = () => {
      if (this.#reconnecting.get(addr.id) === ac) this.#reconnecting.delete(addr.id);
    };
    const attempt = (i: number): void => {
      if (ac.signal.aborted || !ctx.running()) return;
      if (ctx.peers.has(addr.id)) return done();
      if (i >= delays.length) {
        ctx.logger.warn({ addr: addr.toString() }, 'giving up on persistent peer');
        return done();
      }
      const t = setTimeout(() => {
        ac.signal.removeEventListener('abort', clear);
        if (ac.signal.aborted || !ctx.running()) return;
        if (ctx.peers.has(addr.id)) return done();
        // the first dial at start waits for the reactors (a no-op later)
        ctx
          .reactorsReady()
          .then(() => ctx.dial(addr, ac.signal))
          .then(done, (err: SwitchboardError) => {
            if (ctx.peers.has(addr.id)) return done(); // it connected to us meanwhile
            ctx.logger.debug({ addr: addr.toString(), attempt: i, code: err.code }, 'persistent peer redial failed');
            attempt(i + 1);
          });
      }, delays[i]);
      const clear = () => clearTimeout(t);
      ac.signal.addEventListener('abort', clear, { once: true });
    };
    attempt(0);
  }

  /** Stop every redial loop. */
  stopAll(): void {
    for (const ac of this.#reconnecting.values()) ac.abort();
    this.#reconnecting.clear();
  }

  /** Outbound slots held by persistent peers connected inbound, and (with `away`) by those being redialed but not dialed right now. */
  slotsHeld(away: boolean): number {
    const { ctx } = this;
    let n = 0;
    for (const id of this.ids) {
      if (ctx.isUnconditional(id) || ctx.isDialing(id)) continue;
      const p = ctx.peers.get(id);
      if (p ? !p.isOutbound() : away && this.#reconnecting.has(id)) n++;
    }
    return n;
  }
}
