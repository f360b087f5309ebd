/**
 * ChainReactor: a toy proof-of-work blockchain node on three channels (see
 * `messages.ts` for the wire format and `block.ts` for the rules).
 *
 * - **Transactions** (channel 0x50, priority 1) go into a bounded mempool
 *   and are relayed once to every other peer (best effort: `trySend`).
 * - **Mined blocks** (channel 0x51, priority 10: they overtake transaction
 *   and sync traffic) are announced to peers that do not have them yet. A
 *   block that extends our tip is validated and adopted at once; one that is
 *   ahead of us (a gap, or a longer fork) starts a sync. An announced block
 *   must carry valid proof of work before it can make us do anything.
 * - **Sync**: peers exchange their tip height on connect (channel 0x52); a
 *   node behind a peer asks it for the blocks it lacks by height range
 *   through a `RequestReactor` (channel 0x53, versions `[1, 2]`: at most
 *   {@link MAX_SYNC_BATCH} blocks per request in version 1,
 *   {@link MAX_SYNC_BATCH_V2} in version 2), one request at a time. A peer
 *   that lets a range request time out is disconnected (`ERR_STALL_TIMEOUT`,
 *   the RequestReactor's `stallLimit` of 1) and the range is asked of the
 *   next best peer. When the answer does not extend our chain (a fork) it steps back
 *   exponentially until it finds the common block, then downloads the
 *   branch, validating every block, and adopts it only once it is longer
 *   than ours (longest valid chain; ties keep the first seen). It never
 *   fetches the whole chain because something changed.
 *
 * Serving ranges is bounded by the RequestReactor: at most a few requests
 * in flight per peer, each answered once, its send waiting for room in the
 * queue (backpressure) instead of growing it.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ChannelDescriptor } from '../../../lib/conn/channel.js';
import { InvalidArgumentError, MalformedPacketError, type SwitchboardError } from '../../../lib/errors.js';
import type { Peer } from '../../../lib/peer.js';
import { BaseReactor, type Envelope, type ReactorHost } from '../../../lib/reactor.js';
import { RequestReactor } from '../../../lib/request-reactor.js';
import {
  InvalidBlockError,
  MAX_BLOCK_SIZE,
  MAX_DIFFICULTY,
  MAX_TXS_PER_BLOCK,
  blockHash,
  genesisBlock,
  meetsDifficulty,
  parseBlock,
  parseTx,
  searchNonce,
  txHash,
  txRoot,
  validateBlock,
  type Block,
  type ChainBlock,
  type Tx,
  type ValidationContext,
} from './block.js';
import {
  BLOCK_CHANNEL,
  MAX_RANGE_REQUEST_SIZE,
  MAX_RANGE_RESPONSE_SIZE,
  MAX_SYNC_BATCH_V2,
  MAX_SYNC_MESSAGE_SIZE,
  MAX_TX_MESSAGE_SIZE,
  RANGE_CHANNEL,
  SYNC_CHANNEL,
  TX_CHANNEL,
  decodeBlock,
  decodeRangeRequest,
  decodeRangeResponse,
  decodeSync,
  decodeTx,
  encodeBlock,
  encodeRangeRequest,
  encodeRangeResponse,
  encodeSync,
  encodeTx,
  maxSyncBatch,
  type RangeResponse,
  type SyncMessage,
} from './messages.js';

export { CHAIN_GENESIS_KEY, chainPeerFilter } from './peer-filter.js';

/** Options of {@link ChainReactor}. */
export interface ChainOptions {
  /** Proof-of-work difficulty (leading zero bits), 0..32: a network parameter every node must share. */
  difficulty: number;
  /** A stored chain to start from (heights 1…n; genesis is implied). Validated like blocks from the wire; the valid prefix is kept. */
  blocks?: readonly unknown[];
  /**
   * Blocks asked for per range request, 1..{@link MAX_SYNC_BATCH_V2}; with a
   * peer on range-channel version 1 at most {@link MAX_SYNC_BATCH}. Default {@link MAX_SYNC_BATCH_V2}.
   */
  syncBatchSize?: number;
  /** How long to wait for a range answer (ms); a peer that lets one time out is disconnected. Default 10000. */
  syncTimeoutMs?: number;
  /** The range channel's protocol version this node goes up to: 1 declares `[1]`, 2 declares `[1, 2]`. Default 2. */
  protocolVersion?: 1 | 2;
  /** Most transactions in the mempool; more are dropped. Default 5000. */
  mempoolCapacity?: number;
  /** Hashes tried per event-loop turn while mining. Default 2000. */
  hashesPerSlice?: number;
  /** Clock (ms since the epoch), for tests. */
  now?: () => number;
}

/** Why the tip changed: mined here, a block announced by a peer, or a sync from a peer. */
export interface TipChange {
  cause: 'mined' | 'block' | 'sync';
  /** The peer it came from (not for `mined`). */
  from?: Peer;
  /** Blocks of ours that were replaced (0 unless a longer fork won). */
  reorgDepth: number;
  /** Blocks added. */
  added: number;
}

/** Events of a {@link ChainReactor}. */
export interface ChainEvents {
  /** The tip changed (once per adoption, not per block of a synced batch). */
  tip: [tip: ChainBlock, change: TipChange];
  /** A transaction entered the mempool (from a peer, or `from` undefined for ours). */
  tx: [tx: Tx, hash: string, from: Peer | undefined];
  /** We asked `peer` for blocks `from`…`to`. */
  sync: [peer: Peer, from: number, to: number];
}

/** What we know of a peer's chain (stored with `peer.set`). */
interface PeerChain {
  /** The highest height the peer has shown us. */
  height: number;
}

const PEER_KEY = 'chain';

/** The toy chain node. See the module doc. */
export class ChainReactor extends BaseReactor {
  /** Emits `tip`, `tx` and `sync` (see {@link ChainEvents}). */
  readonly events = new EventEmitter<ChainEvents>();
  /** The network's difficulty. */
  readonly difficulty: number;
  /** The genesis block (height 0), fixed by the difficulty. */
  readonly genesis: ChainBlock;
  /** Stored blocks that failed validation at construction and were dropped (with every block after them). */
  readonly droppedOnLoad: number;
  private readonly chain: ChainBlock[];
  /** Hash → height of every transaction in the chain. */
  private readonly txIndex = new Map<string, number>();
  private readonly mempool = new Map<string, Tx>();
  private mempoolVersion = 0;
  private readonly batch: number;
  private readonly syncTimeoutMs: number;
  private readonly mempoolCapacity: number;
  private readonly hashesPerSlice: number;
  private readonly now: () => number;
  private syncing = false;
  /** Block ranges on request (channel 0x53); its channel, peers and messages are forwarded to it. */
  private readonly ranges: RequestReactor;
  private minerQueue: Promise<unknown> = Promise.resolve();
  private continuous = false;
  private stopped = false;

  /** @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a difficulty or batch size out of range. */
  constructor(opts: ChainOptions) {
    super('chain');
    if (!Number.isInteger(opts.difficulty) || opts.difficulty < 0 || opts.difficulty > MAX_DIFFICULTY)
      throw new InvalidArgumentError(`difficulty must be an integer 0..${MAX_DIFFICULTY}`);
    this.difficulty = opts.difficulty;
    this.batch = opts.syncBatchSize ?? MAX_SYNC_BATCH_V2;
    if (!Number.isInteger(this.batch) || this.batch < 1 || this.batch > MAX_SYNC_BATCH_V2)
      throw new InvalidArgumentError(`syncBatchSize must be an integer 1..${MAX_SYNC_BATCH_V2}`);
    this.syncTimeoutMs = opts.syncTimeoutMs ?? 10_000;
    const version = opts.protocolVersion ?? 2;
    if (version !== 1 && version !== 2) throw new InvalidArgumentError('protocolVersion must be 1 or 2');
    this.ranges = new RequestReactor({
      channelId: RANGE_CHANNEL,
      name: 'chain-range',
      priority: 5,
      versions: version === 1 ? [1] : [1, 2],
      timeoutMs: this.syncTimeoutMs,
      maxInFlightPerPeer: 4,
      stallLimit: 1,
      maxRequestBytes: MAX_RANGE_REQUEST_SIZE,
      maxResponseBytes: MAX_RANGE_RESPONSE_SIZE,
      handler: ({ request, version: v }) => {
        const m = decodeRangeRequest(request, v);
        return encodeRangeResponse({ from: m.from, height: this.tip.height, blocks: this.chain.slice(m.from, m.from + m.count) });
      },
    });
    this.mempoolCapacity = opts.mempoolCapacity ?? 5000;
    this.hashesPerSlice = opts.hashesPerSlice ?? 2000;
    this.now = opts.now ?? Date.now;
    this.genesis = genesisBlock(this.difficulty);
    this.chain = [this.genesis];
    const stored = opts.blocks ?? [];
    let kept = 0;
    try {
      for (const raw of stored) {
        const b = validateBlock(parseBlock(raw), this.tip, this.ctxAt(this.tip.height));
        this.chain.push(b);
        for (const tx of b.txs) this.txIndex.set(txHash(tx), b.height);
        kept++;
      }
    } catch {
      // keep the valid prefix: a damaged store must not stop the node
    }
    this.droppedOnLoad = stored.length - kept;
  }

  getChannels(): ChannelDescriptor[] {
    return [
      { id: TX_CHANNEL, priority: 1, sendQueueCapacity: 1000, recvMessageCapacity: MAX_TX_MESSAGE_SIZE, name: 'chain-tx' },
      { id: BLOCK_CHANNEL, priority: 10, sendQueueCapacity: 64, recvMessageCapacity: MAX_BLOCK_SIZE, name: 'chain-block' },
      { id: SYNC_CHANNEL, priority: 5, sendQueueCapacity: 16, recvMessageCapacity: MAX_SYNC_MESSAGE_SIZE, name: 'chain-sync' },
      ...this.ranges.getChannels(),
    ];
  }

  override setSwitch(host: ReactorHost): void {
    super.setSwitch(host);
    this.ranges.setSwitch(host);
  }

  /** The last block of our chain. */
  get tip(): ChainBlock {
    return this.chain[this.chain.length - 1] ?? this.genesis; // the chain holds the genesis block at least
  }

  /** Our block at `height`, or undefined. */
  blockAt(height: number): ChainBlock | undefined {
    return this.chain[height];
  }

  /** Our blocks from `from` (default 1: everything but genesis) to the tip. */
  blocks(from = 1): ChainBlock[] {
    return this.chain.slice(from);
  }

  /** The mempool: transactions not yet in a block, oldest first. */
  pendingTxs(): Tx[] {
    return [...this.mempool.values()];
  }

  /**
   * Validate a transaction, add it to the mempool and send it to every peer.
   * Returns its hash and whether it was new (false: already pending or in the chain).
   * @throws MalformedPacketError for an invalid transaction.
   */
  submitTx(tx: Tx): { hash: string; added: boolean } {
    const valid = parseTx(tx);
    const hash = txHash(valid);
    return { hash, added: this.addTx(valid, hash, undefined) };
  }

  /**
   * Mine `count` blocks on our tip (restarting whenever the tip or the
   * mempool changes), adopting and announcing each. Resolves with the blocks
   * mined (fewer if the reactor stops). Calls queue behind each other.
   */
  mine(count: number): Promise<ChainBlock[]> {
    const run = async () => {
      const out: ChainBlock[] = [];
      while (out.length < count && !this.stopped) {
        const b = await this.mineOne(() => false);
        if (b) out.push(b);
      }
      return out;
    };
    const p = this.minerQueue.then(run);
    this.minerQueue = p.catch(() => {});
    return p;
  }

  /** Mine continuously until {@link stopMining} or stop. */
  startMining(): void {
    if (this.continuous) return;
    this.continuous = true;
    const run = async () => {
      while (this.continuous && !this.stopped) await this.mineOne(() => !this.continuous);
    };
    this.minerQueue = this.minerQueue.then(run).catch(() => {});
  }

  /** Stop continuous mining (a `mine(n)` in progress goes on). */
  stopMining(): void {
    this.continuous = false;
  }

  override stop(): void {
    this.stopped = true;
    this.continuous = false;
  }

  override initPeer(peer: Peer): void {
    peer.set(PEER_KEY, { height: 0 } satisfies PeerChain);
  }

  /** Tell the peer our tip, and hand it our pending transactions (as many as its queue takes). */
  override addPeer(peer: Peer): void {
    this.ranges.addPeer(peer);
    void peer.send(SYNC_CHANNEL, encodeSync({ type: 'status', height: this.tip.height, hash: this.tip.hash }));
    for (const tx of this.mempool.values()) if (!peer.trySend(TX_CHANNEL, encodeTx(tx))) break;
  }

  /** Its range requests reject (`ERR_PEER_REMOVED`): a sync from it ends, and the next best peer is asked. */
  override removePeer(peer: Peer, reason: unknown): void {
    this.ranges.removePeer(peer, reason);
  }

  /** Decode and validate by channel. @throws MalformedPacketError / InvalidBlockError: the Switch disconnects the sender. */
  override receive(e: Envelope): void | Promise<unknown> {
    switch (e.channelId) {
      case TX_CHANNEL: {
        const tx = decodeTx(e.message);
        this.addTx(tx, txHash(tx), e.src);
        return;
      }
      case BLOCK_CHANNEL:
        return this.onBlock(decodeBlock(e.message), e.src);
      case SYNC_CHANNEL:
        return this.onSync(decodeSync(e.message), e.src);
      case RANGE_CHANNEL:
        return this.ranges.receive(e);
    }
  }

  // ---- transactions ----------------------------------------------------

  private addTx(tx: Tx, hash: string, from: Peer | undefined): boolean {
    if (this.mempool.has(hash) || this.txIndex.has(hash) || this.mempool.size >= this.mempoolCapacity) return false;
    this.mempool.set(hash, tx);
    this.mempoolVersion++;
    this.events.emit('tx', tx, hash, from);
    const bytes = encodeTx(tx);
    for (const p of this.switch.peers.list()) if (p !== from) p.trySend(TX_CHANNEL, bytes);
    return true;
  }

  // ---- blocks ----------------------------------------------------------

  private onBlock(b: Block, src: Peer): void {
    const hash = blockHash(b);
    if (this.chain[b.height]?.hash === hash) return; // known
    // Proof of work first: an announcement must cost work before it can trigger anything.
    if (b.difficulty !== this.difficulty || !meetsDifficulty(hash, b.difficulty))
      throw new InvalidBlockError(b.height, 'no valid proof of work');
    this.notePeerHeight(src, b.height);
    const tip = this.tip;
    if (b.height === tip.height + 1 && b.prevHash === tip.hash) {
      const block = validateBlock(b, tip, this.ctxAt(tip.height));
      this.adopt(tip.height, [block], { cause: 'block', from: src });
      this.announce(block, src);
    } else if (b.height > tip.height) {
      this.maybeSync(); // a gap or a longer fork: fetch what we lack
    }
  }

  /** Announce `block` to every peer (but `except`) not known to have it. */
  private announce(block: ChainBlock, except: Peer | undefined): void {
    const bytes = encodeBlock(block);
    for (const p of this.switch.peers.list()) {
      if (p !== except && this.peerChain(p).height < block.height) void p.send(BLOCK_CHANNEL, bytes);
    }
  }

  /** Replace our blocks above `base` by `blocks` (already validated on top of block `base`). */
  private adopt(base: number, blocks: ChainBlock[], change: Omit<TipChange, 'reorgDepth' | 'added'>): void {
    const removed = this.chain.splice(base + 1);
    for (const b of removed) for (const tx of b.txs) this.txIndex.delete(txHash(tx));
    for (const b of blocks) {
      this.chain.push(b);
      for (const tx of b.txs) {
        const h = txHash(tx);
        this.txIndex.set(h, b.height);
        if (this.mempool.delete(h)) this.mempoolVersion++;
      }
    }
    // transactions of replaced blocks that the new chain lacks go back to the mempool
    for (const b of removed) {
      for (const tx of b.txs) {
        const h = txHash(tx);
        if (!this.txIndex.has(h) && !this.mempool.has(h) && this.mempool.size < this.mempoolCapacity) {
          this.mempool.set(h, tx);
          this.mempoolVersion++;
        }
      }
    }
    this.events.emit('tip', this.tip, { ...change, reorgDepth: removed.length, added: blocks.length });
  }

  private ctxAt(base: number, branchTxs?: Set<string>): ValidationContext {
    return {
      difficulty: this.difficulty,
      now: this.now(),
      hasTx: (h) => {
        const at = this.txIndex.get(h);
        return (at !== undefined && at <= base) || (branchTxs?.has(h) ?? false);
      },
    };
  }

  // ---- mining ----------------------------------------------------------

  private async mineOne(shouldStop: () => boolean): Promise<ChainBlock | undefined> {
    let template: Omit<Block, 'nonce'> | undefined;
    let tip = this.tip;
    let version = -1;
    let nonce = 0;
    for (;;) {
      if (this.stopped || shouldStop()) return undefined;
      if (!template || this.tip !== tip || version !== this.mempoolVersion) {
        tip = this.tip;
        version = this.mempoolVersion;
        const txs = [...this.mempool.values()].slice(0, MAX_TXS_PER_BLOCK);
        template = {
          height: tip.height + 1,
          prevHash: tip.hash,
          timestamp: Math.max(this.now(), tip.timestamp),
          difficulty: this.difficulty,
          txRoot: txRoot(txs),
          txs,
        };
        nonce = 0;
      }
      const found = searchNonce(template, nonce, this.hashesPerSlice);
      nonce += this.hashesPerSlice;
      if (found) {
        const block = validateBlock(found, tip, this.ctxAt(tip.height));
        this.adopt(tip.height, [block], { cause: 'mined' });
        this.announce(block, undefined);
        return block;
      }
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  // ---- sync ------------------------------------------------------------

  private peerChain(peer: Peer): PeerChain {
    let s = peer.get<PeerChain>(PEER_KEY);
    if (!s) peer.set(PEER_KEY, (s = { height: 0 }));
    return s;
  }

  private notePeerHeight(peer: Peer, height: number): void {
    const s = this.peerChain(peer);
    if (height > s.height) s.height = height;
  }

  private onSync(m: SyncMessage, src: Peer): void {
    this.notePeerHeight(src, m.height);
    this.maybeSync();
  }

  /** Start a sync with the highest peer that is ahead of us (and shares a range-channel version), unless one is running. */
  private maybeSync(): void {
    if (this.syncing || this.stopped) return;
    let best: Peer | undefined;
    for (const p of this.switch.peers.list()) {
      if (p.channelVersion(RANGE_CHANNEL) === undefined) continue;
      if (this.peerChain(p).height > (best ? this.peerChain(best).height : this.tip.height)) best = p;
    }
    if (!best) return;
    const peer = best;
    this.syncing = true;
    this.syncWith(peer)
      .catch((err: unknown) => this.switch.stopPeerForError(peer, err))
      .finally(() => {
        this.syncing = false;
        this.maybeSync();
      });
  }

  /**
   * Ask `peer` for one range. Undefined when it could not answer (it went
   * away, stalled and was dropped, or its handler failed). @throws
   * MalformedPacketError for an invalid answer (the caller disconnects it).
   */
  private async fetchRange(peer: Peer, from: number, count: number): Promise<RangeResponse | undefined> {
    this.events.emit('sync', peer, from, from + count - 1);
    let bytes: Uint8Array;
    try {
      bytes = await this.ranges.request(peer, encodeRangeRequest({ from, count }));
    } catch (err) {
      this.switch.logger.debug({ peer: peer.id, code: (err as SwitchboardError).code }, 'range request failed');
      return undefined;
    }
    const res = decodeRangeResponse(bytes, peer.channelVersion(RANGE_CHANNEL) ?? 1);
    if (res.from !== from || res.blocks.length > count)
      throw new MalformedPacketError(
        `range answer from ${res.from} with ${res.blocks.length} blocks, ${count} from ${from} were asked for`,
      );
    return res;
  }

  /**
   * Fetch from `peer` what we lack, one range at a time, and adopt its chain
   * where it is longer. @throws InvalidBlockError when the peer sends an invalid block.
   */
  private async syncWith(peer: Peer): Promise<void> {
    const state = this.peerChain(peer);
    let branch: ChainBlock[] = [];
    let branchTxs = new Set<string>();
    let base = 0;
    let baseHash = '';
    let from = this.tip.height + 1;
    let back = Math.min(this.batch, maxSyncBatch(peer.channelVersion(RANGE_CHANNEL) ?? 1));
    for (;;) {
      if (this.stopped || this.switch.peers.get(peer.id) !== peer) return;
      if (from > state.height) {
        // the peer could not show a chain longer than ours: believe what it showed
        if (branch.length > 0) state.height = base + branch.length;
        return;
      }
      const batch = Math.min(this.batch, maxSyncBatch(peer.channelVersion(RANGE_CHANNEL) ?? 1));
      const count = Math.min(batch, state.height - from + 1);
      const res = await this.fetchRange(peer, from, count);
      if (!res) {
        state.height = Math.min(state.height, this.tip.height); // unresponsive: stop asking it until it shows more
        return;
      }
      state.height = res.height;
      const blocks = res.blocks;
      const last = blocks[blocks.length - 1];
      if (last === undefined) {
        state.height = Math.min(res.height, from - 1);
        continue;
      }
      const hashes: string[] = [];
      for (const b of blocks) {
        const prev = hashes[hashes.length - 1];
        if (prev !== undefined && b.prevHash !== prev)
          throw new InvalidBlockError(b.height, 'prevHash is not the previous block of the batch');
        hashes.push(blockHash(b));
      }
      let i = 0;
      if (branch.length === 0) {
        i = blocks.findIndex((b, k) => this.chain[b.height]?.hash !== hashes[k]); // past the blocks we have
        const firstNew = blocks[i];
        if (firstNew === undefined) {
          from = last.height + 1;
          continue;
        }
        const parent = this.chain[firstNew.height - 1];
        if (!parent) {
          from = this.tip.height + 1;
          continue;
        }
        if (parent.hash !== firstNew.prevHash) {
          // a fork below `from`: step back (exponentially) to find the common block
          if (from === 1) throw new InvalidBlockError(1, 'does not extend our genesis block');
          from = Math.max(1, from - back);
          back *= 2;
          continue;
        }
        base = parent.height;
        baseHash = parent.hash;
      }
      const baseBlock = this.chain[base];
      if (baseBlock === undefined || baseBlock.hash !== baseHash) {
        // our chain changed under the branch while we waited: start over from our tip
        branch = [];
        branchTxs = new Set();
        from = this.tip.height + 1;
        back = Math.min(this.batch, maxSyncBatch(peer.channelVersion(RANGE_CHANNEL) ?? 1));
        continue;
      }
      let parent = branch.at(-1) ?? baseBlock;
      for (const blk of blocks.slice(i)) {
        const b = validateBlock(blk, parent, this.ctxAt(base, branchTxs));
        branch.push(b);
        for (const tx of b.txs) branchTxs.add(txHash(tx));
        parent = b;
      }
      if (base + branch.length > this.tip.height) {
        this.adopt(base, branch, { cause: 'sync', from: peer });
        this.announce(this.tip, peer);
        branch = [];
        branchTxs = new Set();
        from = this.tip.height + 1;
        back = Math.min(this.batch, maxSyncBatch(peer.channelVersion(RANGE_CHANNEL) ?? 1));
      } else {
        from = base + branch.length + 1;
      }
    }
  }
}
