/**
 * The seed-mode crawl, as CometBFT's `crawlPeersRoutine` in `pex_reactor.go`:
 * each round disconnects the peers it is done with, then dials the configured
 * seeds and the addresses of the book it has not crawled lately and asks each
 * for addresses (the peer
 * is disconnected once it answers, or at the next round). The PEX reactor
 * runs a round every `crawlPeriodMs` in seed mode.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { NetAddress } from '../../lib/net-address.js';
import type { Peer } from '../../lib/peer.js';
import type { ReactorHost } from '../../lib/reactor.js';
import type { AddrBook } from './addrbook.js';
import type { PexDialer } from './dialer.js';
import type { PEXSettings } from './options.js';
import type { PeerState } from './peer-state.js';

/** Crawl records older than this are forgotten, ms (CometBFT: 24 h). */
const CRAWL_INFO_TTL_MS = 24 * 60 * 60_000;

/** What the crawler uses of its PEX reactor. */
export interface SeedCrawlerContext {
  /** The address book. */
  readonly book: AddrBook;
  /** The configured seeds (never in the book), crawled before the book's addresses. */
  readonly seeds: readonly NetAddress[];
  /** The reactor's settings. */
  readonly settings: PEXSettings;
  /** The reactor's connected peers and their PEX state. */
  readonly peers: ReadonlyMap<Peer, PeerState>;
  /** The reactor's dialer (its history and backoff apply to crawl dials). */
  readonly dialer: PexDialer;
  /** Clock, ms since the epoch. */
  now(): number;
  /** The reactor's logger. */
  log(): Logger;
  /** The Switch (throws before the reactor is added to one). */
  host(): ReactorHost;
  /** True while the reactor runs on a running Switch. */
  alive(): boolean;
  /** Send `peer` a PexRequest (the reactor's `requestAddrs`). */
  requestAddrs(peer: Peer): boolean;
}

/** The crawl state of one PEX reactor: when each address was last crawled. */
export class SeedCrawler {
  readonly #crawledAt = new Map<string, number>();

  constructor(private readonly ctx: SeedCrawlerContext) {}

  /** One round of the crawl (documented at `PEXReactor.crawlPeersOnce`). Never rejects. */
  async crawlOnce(): Promise<void> {
    const { ctx } = this;
    if (!ctx.alive()) return;
    const sw = ctx.host();
    const now = ctx.now();
    for (const [peer, st] of ctx.peers) {
      if (peer.isPersistent()) continue;
      if (st.crawled || now - st.addedAt >= ctx.settings.seedDisconnectWaitMs) {
        ctx.log().debug({ peer: peer.id, crawled: st.crawled }, 'pex: crawler disconnecting peer');
        st.stoppedByUs = true;
        void sw.stopPeerGracefully(peer).catch(() => {});
      }
    }
    const dials: Promise<unknown>[] = [];
    for (const a of [...ctx.seeds, ...ctx.book.getSelection()]) {
      if (ctx.dialer.outboundFull(a.id)) continue;
      const last = this.#crawledAt.get(a.id);
      if (last !== undefined && now - last < ctx.settings.minTimeBetweenCrawlsMs) continue;
      if (ctx.dialer.dialingOrConnected(a.id) || ctx.dialer.backingOff(a)) continue;
      this.#crawledAt.set(a.id, now);
      dials.push(
        ctx.dialer.dialPeer(a).then(
          (peer) => {
            const st = ctx.peers.get(peer);
            if (st) st.crawled = true;
            ctx.requestAddrs(peer);
          },
          (err: unknown) => ctx.dialer.logDialError(a, err),
        ),
      );
    }
    for (const [id, at] of this.#crawledAt) if (now - at > CRAWL_INFO_TTL_MS) this.#crawledAt.delete(id);
    await Promise.all(dials);
  }
}
