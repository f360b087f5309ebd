/**
 * What the PEX reactor keeps per connected peer (CometBFT's `requestsSent`
 * and `lastReceivedRequests`, plus the crawl and hang-up bookkeeping).
 *
 * @module
 */

/** PEX state of one connected peer. */
export interface PeerState {
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
