/**
 * The inbound limit and who makes room when it is reached: with every
 * inbound slot taken (`maxNumInboundPeers`, unconditional peers not
 * counted), a newcomer replaces the inbound peer that has sent no message
 * for longest, if for at least `inboundEvictIdleMs`, as Tendermint 0.35's
 * `MaxConnectedUpgrade`. Persistent and unconditional peers are never replaced.
 *
 * @module
 */
import type { Peer, PeerSet } from './peer.js';

/** Inbound peers that count against `maxNumInboundPeers` (all but the unconditional ones). */
export function countedInbound(peers: PeerSet, unconditional: ReadonlySet<string>): number {
  let n = 0;
  for (const p of peers.list()) if (!p.isOutbound() && !unconditional.has(p.id)) n++;
  return n;
}

/** The inbound peer a newcomer may replace (see the module doc), or undefined; `minIdleMs` ≤ 0: never. */
export function idlestReplaceableInbound(peers: PeerSet, unconditional: ReadonlySet<string>, minIdleMs: number): Peer | undefined {
  if (minIdleMs <= 0) return undefined;
  let best: Peer | undefined;
  for (const p of peers.list()) {
    if (p.isOutbound() || p.isPersistent() || unconditional.has(p.id)) continue;
    if (!best || p.lastMessageAt < best.lastMessageAt) best = p;
  }
  return best && performance.now() - best.lastMessageAt >= minIdleMs ? best : undefined;
}
