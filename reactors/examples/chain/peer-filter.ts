/**
 * Which peers share our chain: a Switch peer filter on the genesis hash
 * that nodes put in their NodeInfo.
 *
 * @module
 */
import type { PeerFilter } from '../../../lib/peer-filters.js';

/** Key of the NodeInfo `other` entry holding a node's genesis hash (see {@link chainPeerFilter}). */
export const CHAIN_GENESIS_KEY = 'chain_genesis';

/**
 * A Switch peer filter that refuses peers on another chain (another genesis
 * block, i.e. another difficulty) before any reactor sees them. Pair it with
 * `nodeInfo.other[CHAIN_GENESIS_KEY] = reactor.genesis.hash`.
 */
export function chainPeerFilter(genesisHash: string): PeerFilter {
  return (info) => {
    const theirs = info.other[CHAIN_GENESIS_KEY];
    if (theirs !== genesisHash)
      throw new Error(`peer is on another chain (genesis ${theirs?.slice(0, 16) ?? 'unknown'}, ours ${genesisHash.slice(0, 16)})`);
  };
}
