/**
 * Fair share of a node's work (issue #14): while the node is congested —
 * some live peer has at least an eighth of `maxSendWaiters` blocked senders
 * on a channel, i.e. we produce for it faster than it takes (a slow reader
 * runs out of window now and then; one that has granted no credit for 5 s is
 * not counted: it is stuck, and dropped at `sendStallTimeoutMs`) — a peer
 * receiving at more than twice the average rate of all peers is slowed: its
 * reading pauses (its window closes, backpressure reaches it) until the
 * congestion clears, re-checked every 10 ms and at most 1 s per message.
 * Honest peers sending at a modest rate are never paused, so their messages
 * are not dropped behind a flood. The Switch caches the congestion verdict
 * (its receive path asks for every message) and calls these.
 *
 * @module
 */
import type { Peer } from './peer.js';

/** A peer that has let us send nothing for longer than this (ms) no longer counts as a congested consumer: it is stuck. */
const CONGESTION_STALL_GRACE_MS = 5000;
/** How often (ms) a slowed peer's pause is re-checked. */
const RECHECK_MS = 10;
/** Longest a slowed peer's message is held (ms). */
const MAX_PAUSE_MS = 1000;

/** True when some peer of `peers` has at least `maxSendWaiters / 8` blocked senders and is not stuck. O(peers × channels). */
export function anyPeerCongested(peers: readonly Peer[], maxSendWaiters: number): boolean {
  const mark = maxSendWaiters / 8;
  for (const p of peers) if (p.mostSendWaiters >= mark && p.sendStalledMs < CONGESTION_STALL_GRACE_MS) return true;
  return false;
}

/**
 * With the node congested: a Promise that holds `peer`'s reading while
 * `stillCongested()` (at most {@link MAX_PAUSE_MS}) when it receives at more
 * than twice the average rate of `peers`; undefined when it may go on at once.
 */
export function slowHeavySender(peer: Peer, peers: readonly Peer[], stillCongested: () => boolean): Promise<void> | undefined {
  if (peers.length < 2) return undefined;
  let total = 0;
  for (const p of peers) total += p.recentRecvRate;
  if (!(peer.recentRecvRate > (2 * total) / peers.length)) return undefined;
  return new Promise<void>((resolve) => {
    const started = performance.now();
    const check = () => {
      if (peer.isStopped || !stillCongested() || performance.now() - started >= MAX_PAUSE_MS) return resolve();
      setTimeout(check, RECHECK_MS).unref();
    };
    setTimeout(check, RECHECK_MS).unref();
  });
}
