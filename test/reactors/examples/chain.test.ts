// The chain example: block rules, wire validation, bounded range sync, fork
// choice, and the CLI across processes (txs and blocks gossiped over a line
// of nodes, a late joiner that syncs only what it lacks).
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { join } from 'node:path';
import {
  InvalidBlockError,
  MAX_FUTURE_DRIFT_MS,
  MAX_TXS_PER_BLOCK,
  blockHash,
  genesisBlock,
  meetsDifficulty,
  searchNonce,
  txHash,
  txRoot,
  validateBlock,
  type Block,
  type ChainBlock,
  type Tx,
} from '../../../reactors/examples/chain/block.js';
import {
  BLOCK_CHANNEL,
  MAX_SYNC_BATCH,
  MAX_SYNC_BATCH_V2,
  RANGE_CHANNEL,
  SYNC_CHANNEL,
  TX_CHANNEL,
  decodeBlock,
  decodeRangeRequest,
  decodeRangeResponse,
  decodeSync,
  decodeTx,
  encodeBlock,
  encodeRangeResponse,
  encodeSync,
} from '../../../reactors/examples/chain/messages.js';
import { RequestReactor } from '../../../lib/request-reactor.js';
import { CHAIN_GENESIS_KEY, ChainReactor, chainPeerFilter, type ChainOptions } from '../../../reactors/examples/chain/reactor.js';
import { loadChain, saveChain } from '../../../reactors/examples/chain/store.js';
import { NodeKey } from '../../../lib/node-key.js';
import { Switch } from '../../../lib/switch.js';
import { RecordingReactor, connect, peerAdded, peerRemoved } from '../../helpers/switches.js';
import { privateDir, startExample } from '../../helpers/example-processes.js';
import type { Teardown } from '../../helpers/teardown.js';

const D = 8; // difficulty of the in-process tests: ~256 hashes a block

/** Mine one block on `parent` (synchronously). */
function mineOn(parent: ChainBlock, txs: Tx[] = [], over: Partial<Block> = {}): ChainBlock {
  const template = {
    height: parent.height + 1,
    prevHash: parent.hash,
    timestamp: parent.timestamp + 1000,
    difficulty: D,
    txRoot: txRoot(txs),
    txs,
    ...over,
  };
  return searchNonce(template, 0, 1 << 20)!;
}

const ctx = (hasTx: (h: string) => boolean = () => false) => ({ difficulty: D, now: Date.now(), hasTx });
const tx = (n: number): Tx => ({ from: 'alice', to: 'bob', amount: n, nonce: n });

t.test('block rules: every field of a block is checked against its parent', async (t) => {
  const g = genesisBlock(D);
  t.equal(g.height, 0);
  t.equal(genesisBlock(D).hash, g.hash, 'genesis is fixed by the difficulty');
  t.not(genesisBlock(D + 1).hash, g.hash);
  const b1 = mineOn(g, [tx(1), tx(2)]);
  t.same(validateBlock(b1, g, ctx()), b1, 'a mined block is valid');
  t.ok(meetsDifficulty(b1.hash, D));
  t.ok(meetsDifficulty('0f' + 'f'.repeat(62), 4));
  t.notOk(meetsDifficulty('0f' + 'f'.repeat(62), 5));
  t.ok(meetsDifficulty('07' + 'f'.repeat(62), 5));

  let failing = b1.nonce + 1;
  while (meetsDifficulty(blockHash({ ...b1, nonce: failing }), D)) failing++;
  const cases: [string, Block, RegExp, ((h: string) => boolean)?][] = [
    ['wrong height', mineOn(g, [], { height: 2 }), /height must be 1/],
    ['wrong prevHash', mineOn({ ...g, hash: 'ab'.repeat(32) }), /prevHash/],
    ['wrong difficulty', { ...mineOn(g, [], { difficulty: D + 1 }) }, /difficulty/],
    ['timestamp before parent', mineOn({ ...g, timestamp: 10_000 }, [], { prevHash: g.hash, timestamp: 5000 }), /before the parent/],
    ['timestamp far in the future', mineOn(g, [], { timestamp: Date.now() + MAX_FUTURE_DRIFT_MS + 60_000 }), /future/],
    ['duplicate tx', mineOn(g, [tx(1), tx(1)]), /appears twice/],
    ['tx already in the chain', b1, /already in the chain/, (h) => h === txHash(tx(2))],
    ['txRoot mismatch', mineOn(g, [tx(1)], { txRoot: txRoot([tx(2)]) }), /txRoot/],
    ['no proof of work', { ...b1, nonce: failing }, /does not meet difficulty/],
    ['too many txs', { ...b1, txs: Array.from({ length: MAX_TXS_PER_BLOCK + 1 }, (_, i) => tx(i + 1)) }, /more than/],
  ];
  for (const [name, b, re, hasTx] of cases) {
    const parent = name === 'timestamp before parent' ? { ...g, timestamp: 10_000 } : g;
    t.throws(() => validateBlock(b, parent, ctx(hasTx)), re, name);
    t.throws(() => validateBlock(b, parent, ctx(hasTx)), InvalidBlockError);
  }
});

t.test('wire validation: junk on any channel is ERR_MALFORMED_PACKET', async (t) => {
  const g = genesisBlock(D);
  const b1 = mineOn(g, [tx(1)]);
  t.same(decodeBlock(encodeBlock(b1)), encodeable(b1));
  t.equal(blockHash(decodeBlock(encodeBlock(b1))), b1.hash, 'the hash is recomputed, not sent');
  t.same(decodeTx(encode(tx(5))), tx(5));
  const bad: [string, () => unknown][] = [
    ['tx with an extra field', () => decodeTx(encode({ ...tx(1), fee: 1 }))],
    ['tx with a bad account', () => decodeTx(encode({ ...tx(1), to: 'bob smith' }))],
    ['tx with amount 0', () => decodeTx(encode({ ...tx(1), amount: 0 }))],
    ['tx with a float amount', () => decodeTx(encode({ ...tx(1), amount: 1.5 }))],
    ['block with a short prevHash', () => decodeBlock(encode({ ...encodeable(b1), prevHash: 'ab' }))],
    ['block with a negative height', () => decodeBlock(encode({ ...encodeable(b1), height: -1 }))],
    ['block that is a string', () => decodeBlock(encode('block'))],
    ['not MessagePack', () => decodeBlock(Uint8Array.of(0xc1))],
    ['sync with an unknown type', () => decodeSync(encode({ type: 'gimme' }))],
    ['range request over the v1 batch bound', () => decodeRangeRequest(encode({ from: 1, count: MAX_SYNC_BATCH + 1 }), 1)],
    ['range request over the v2 batch bound', () => decodeRangeRequest(encode({ from: 1, count: MAX_SYNC_BATCH_V2 + 1 }), 2)],
    ['range request from genesis', () => decodeRangeRequest(encode({ from: 0, count: 1 }), 2)],
    ['range response not consecutive', () => decodeRangeResponse(encodeRangeResponse({ from: 2, height: 2, blocks: [b1] }), 2)],
  ];
  for (const [name, f] of bad) t.throws(f, { code: 'ERR_MALFORMED_PACKET' }, name);
  t.same(
    decodeRangeRequest(encode({ from: 1, count: MAX_SYNC_BATCH + 1 }), 2),
    { from: 1, count: MAX_SYNC_BATCH + 1 },
    'version 2 allows larger batches',
  );
  t.equal(decodeRangeResponse(encodeRangeResponse({ from: 1, height: 1, blocks: [b1] }), 1).blocks[0]?.height, 1);
  t.same(decodeSync(encodeSync({ type: 'status', height: 1, hash: b1.hash })), { type: 'status', height: 1, hash: b1.hash });
});

function encodeable(b: ChainBlock): Block {
  const { hash: _hash, ...rest } = b;
  return rest;
}

/** A started Switch with a ChainReactor on 127.0.0.1, stopped at teardown. */
async function chainNode(t: Teardown, opts: Partial<ChainOptions> = {}) {
  const chain = new ChainReactor({ difficulty: D, hashesPerSlice: 500, ...opts });
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'chain', other: { [CHAIN_GENESIS_KEY]: chain.genesis.hash } },
    peerFilters: [chainPeerFilter(chain.genesis.hash)],
    config: { listenAddress: '127.0.0.1:0' },
  });
  sw.addReactor(chain);
  await sw.start();
  t.teardown(() => sw.stop());
  const syncs: [number, number][] = [];
  chain.events.on('sync', (_p, from, to) => syncs.push([from, to]));
  return { sw, chain, syncs };
}

/** A Switch that speaks the chain's channels by hand: records what it receives, sends what the test says, answers ranges with `ranges`. */
async function rawNode(t: Teardown, genesisHash: string, ranges?: ConstructorParameters<typeof RequestReactor>[0]['handler']) {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'chain', other: { [CHAIN_GENESIS_KEY]: genesisHash } },
    config: { listenAddress: '127.0.0.1:0' },
  });
  const reactor = sw.addReactor(
    new RecordingReactor(
      [TX_CHANNEL, BLOCK_CHANNEL, SYNC_CHANNEL].map((id) => ({ id, sendQueueCapacity: 8, recvMessageCapacity: 1 << 20 })),
    ),
  );
  sw.addReactor(new RequestReactor({ channelId: RANGE_CHANNEL, handler: ranges, versions: [1, 2], maxInFlightPerPeer: 4 }));
  await sw.start();
  t.teardown(() => sw.stop());
  return { sw, reactor };
}

/** Resolves once `chain`'s tip is `hash`. */
function tipIs(chain: ChainReactor, hash: string): Promise<void> {
  if (chain.tip.hash === hash) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (b: ChainBlock) => {
      if (b.hash === hash) {
        chain.events.off('tip', on);
        resolve();
      }
    };
    chain.events.on('tip', on);
  });
}

t.test('sync asks for the missing range in bounded batches', async (t) => {
  const p = await chainNode(t);
  await p.chain.mine(10);
  const q = await chainNode(t, { syncBatchSize: 4 });
  await connect(q.sw, p.sw);
  await tipIs(q.chain, p.chain.tip.hash);
  t.same(
    q.syncs,
    [
      [1, 4],
      [5, 8],
      [9, 10],
    ],
    'three requests of at most 4 blocks',
  );
  t.same(
    q.chain.blocks().map((b) => b.hash),
    p.chain.blocks().map((b) => b.hash),
  );
  t.same(p.syncs, [], 'the node ahead asks for nothing');
});

t.test('a longer fork wins; the loser gets its orphaned transactions back in the mempool', async (t) => {
  const p = await chainNode(t);
  const q = await chainNode(t, { syncBatchSize: 4 });
  await p.chain.mine(6);
  q.chain.submitTx(tx(42));
  await q.chain.mine(3);
  t.equal(q.chain.blockAt(1)!.txs.length, 1, 'q mined its tx into its own fork');
  const reorgs: number[] = [];
  q.chain.events.on('tip', (_b, c) => reorgs.push(c.reorgDepth));
  await connect(q.sw, p.sw);
  await tipIs(q.chain, p.chain.tip.hash);
  t.equal(reorgs[0], 3, 'q replaced its 3 blocks');
  t.same(q.syncs[0], [4, 6], 'first asks for what it lacks above its own tip');
  t.ok(
    q.syncs.some(([from]) => from === 1),
    'then steps back to find the common block',
  );
  t.same(q.chain.pendingTxs(), [tx(42)], 'the orphaned tx is pending again');
  t.equal(p.chain.tip.height, 6, 'the longer chain is kept');

  // q mines the tx on top of the common chain; p adopts the announced block
  const [b7] = await q.chain.mine(1);
  if (!b7) return t.fail('mine(1) mined no block');
  await tipIs(p.chain, b7.hash);
  t.equal(p.chain.tip.txs.length, 1);
  t.same(q.chain.pendingTxs(), []);
});

t.test('transactions are gossiped once and mined blocks are relayed along a line', async (t) => {
  const [a, b, c] = [await chainNode(t), await chainNode(t), await chainNode(t)];
  await connect(b.sw, a.sw);
  await connect(c.sw, b.sw);
  const txSeen = [0, 0, 0];
  [a, b, c].forEach((n, i) => n.chain.events.on('tx', () => (txSeen[i] = (txSeen[i] ?? 0) + 1)));
  const arrived = new Promise<void>((resolve) => a.chain.events.on('tx', () => resolve()));
  c.chain.submitTx(tx(7));
  await arrived;
  t.same(txSeen, [1, 1, 1]);
  const [block] = await a.chain.mine(1);
  if (!block) return t.fail('mine(1) mined no block');
  t.equal(block.txs.length, 1, 'the miner included the gossiped tx');
  await tipIs(c.chain, block.hash);
  t.same(c.chain.pendingTxs(), [], 'mined txs leave every mempool');
  t.same(
    [a, b, c].map((n) => n.syncs.length),
    [0, 0, 0],
    'live blocks need no sync',
  );
});

t.test('an invalid block from a peer disconnects it with ERR_MALFORMED_PACKET, on either channel', async (t) => {
  const node = await chainNode(t);
  const g = genesisBlock(D);

  // 1: an announced block without proof of work
  const r1 = await rawNode(t, g.hash);
  const p1 = await r1.sw.dialPeerWithAddress(node.sw.listenAddr);
  let lazy = mineOn(g);
  while (meetsDifficulty(blockHash(lazy), D)) lazy = { ...lazy, nonce: lazy.nonce + 1 };
  const gone1 = peerRemoved(node.sw, r1.sw.nodeKey.id);
  await peerAdded(node.sw, r1.sw.nodeKey.id);
  await p1.send(BLOCK_CHANNEL, encodeBlock(lazy));
  t.match(await gone1, { code: 'ERR_MALFORMED_PACKET', message: /proof of work/ });

  // 2: a range answer with a block from the far future
  const future = mineOn(g, [], { timestamp: Date.now() + 10 * MAX_FUTURE_DRIFT_MS });
  const asked: unknown[] = [];
  const r2 = await rawNode(t, g.hash, ({ request }) => {
    asked.push(decodeRangeRequest(request, 2));
    return encodeRangeResponse({ from: 1, height: 1, blocks: [future] });
  });
  const p2 = await r2.sw.dialPeerWithAddress(node.sw.listenAddr);
  await peerAdded(node.sw, r2.sw.nodeKey.id);
  const gone2 = peerRemoved(node.sw, r2.sw.nodeKey.id);
  await p2.send(SYNC_CHANNEL, encodeSync({ type: 'status', height: 1, hash: g.hash }));
  t.match(await gone2, { code: 'ERR_MALFORMED_PACKET', message: /future/ });
  t.same(asked, [{ from: 1, count: 1 }], 'asked only for the block it lacks');
  t.equal(node.chain.tip.height, 0, 'nothing adopted');
});

t.test('a peer that stalls on a range request is dropped and the range is asked of another peer', async (t) => {
  const good = await chainNode(t);
  await good.chain.mine(5);
  const q = await chainNode(t, { syncTimeoutMs: 300 });
  const g = genesisBlock(D);
  // the staller claims a longer chain (so it is asked first) and never answers
  const staller = await rawNode(
    t,
    g.hash,
    ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  );
  const ps = await staller.sw.dialPeerWithAddress(q.sw.listenAddr);
  await peerAdded(q.sw, staller.sw.nodeKey.id);
  const dropped = peerRemoved(q.sw, staller.sw.nodeKey.id);
  const asked: string[] = [];
  q.chain.events.on('sync', (p, from, to) => asked.push(`${p.id === staller.sw.nodeKey.id ? 'staller' : 'good'} ${from}..${to}`));
  await ps.send(SYNC_CHANNEL, encodeSync({ type: 'status', height: 50, hash: g.hash }));
  await connectAfter(q, good);
  t.match(await dropped, { code: 'ERR_STALL_TIMEOUT' }, 'the staller is disconnected');
  await tipIs(q.chain, good.chain.tip.hash);
  t.equal(asked[0], 'staller 1..50', 'the staller was asked first');
  t.same(asked.slice(1), ['good 1..5'], 'then the range was asked of the other peer');
});

/** Connect q to `other` once q has started asking its first peer (so the staller is asked first). */
async function connectAfter(q: { sw: Switch; chain: ChainReactor }, other: { sw: Switch }): Promise<void> {
  await new Promise<void>((resolve) => q.chain.events.once('sync', () => resolve()));
  await connect(q.sw, other.sw);
}

t.test('channel versions: a v2 node syncs with a v1 node in v1 batches, with a v2 node in v2 batches', async (t) => {
  const miner = await chainNode(t); // v2: declares [1, 2]
  await miner.chain.mine(40);
  const v1 = await chainNode(t, { protocolVersion: 1 });
  const v2 = await chainNode(t);
  await connect(v1.sw, miner.sw);
  await connect(v2.sw, miner.sw);
  await Promise.all([tipIs(v1.chain, miner.chain.tip.hash), tipIs(v2.chain, miner.chain.tip.hash)]);
  t.equal(miner.sw.peers.get(v1.sw.nodeKey.id)!.channelVersion(RANGE_CHANNEL), 1, 'v2 and v1 agree on 1');
  t.equal(miner.sw.peers.get(v2.sw.nodeKey.id)!.channelVersion(RANGE_CHANNEL), 2, 'v2 and v2 agree on 2');
  t.same(
    v1.syncs,
    [
      [1, 32],
      [33, 40],
    ],
    'the v1 node asks in batches of at most 32',
  );
  t.same(v2.syncs, [[1, 40]], 'the v2 node asks for all 40 at once');
  // and a v2 node syncing from a v1 node also speaks v1
  const v2b = await chainNode(t);
  await connect(v2b.sw, v1.sw);
  await tipIs(v2b.chain, miner.chain.tip.hash);
  t.same(
    v2b.syncs,
    [
      [1, 32],
      [33, 40],
    ],
    'v2 asking a v1 node uses v1 batches',
  );
});

t.test('a peer on another chain (other difficulty) is refused before any reactor sees it', async (t) => {
  const a = await chainNode(t);
  const b = await chainNode(t, { difficulty: D + 1 });
  await t.rejects(b.sw.dialPeerWithAddress(a.sw.listenAddr), { code: 'ERR_FILTER' });
});

t.test('the store keeps the valid prefix of a damaged chain file', async (t) => {
  const dir = privateDir(t);
  const g = genesisBlock(D);
  const b1 = mineOn(g);
  const b2 = mineOn(b1);
  const path = join(dir, 'data', 'chain.msgpack');
  saveChain(path, [b1, { ...b2, nonce: b2.nonce + 1 }, mineOn(b2)]);
  const chain = new ChainReactor({ difficulty: D, blocks: loadChain(path) });
  t.equal(chain.tip.hash, b1.hash);
  t.equal(chain.droppedOnLoad, 2);
  t.same(loadChain(join(dir, 'missing')), []);
});

t.test('CLI: three processes converge on one tip; a late joiner restarts and syncs only the missing range', async (t) => {
  const home = privateDir(t); // not t.testdir(): two runs of the suite at once must not share node homes
  const args = (name: string, peers?: string) => ['--difficulty', '10', '--home', join(home, name), ...(peers ? ['--peers', peers] : [])];
  const miner = await startExample(t, 'miner', 'chain', args('miner'));
  const [a, late] = await Promise.all([
    startExample(t, 'a', 'chain', args('a', miner.addr)),
    startExample(t, 'late', 'chain', args('late', miner.addr)),
  ]);
  const b = await startExample(t, 'b', 'chain', args('b', a.addr));
  await Promise.all([miner.waitFor(/^\+ peer a /), miner.waitFor(/^\+ peer late /), a.waitFor(/^\+ peer b /)]);

  // a transaction typed at b reaches the miner through a
  b.write('tx carol 5');
  const [, hash] = await b.waitFor(/^tx ([0-9a-f]{16}) b -> carol 5 \(local\)$/);
  await miner.waitFor(new RegExp(`^tx ${hash} b -> carol 5 \\(a\\)$`));

  miner.write('mine 3');
  const [, tip3] = await miner.waitFor(/^tip 3 ([0-9a-f]{64}) /);
  t.match(
    miner.lines.find((l) => l.startsWith('tip 1 ')),
    / 1 txs \(mined\)$/,
    'block 1 carries the tx',
  );
  await Promise.all([a, b, late].map((n) => n.waitFor(new RegExp(`^tip 3 ${tip3} `))));
  t.match(
    b.lines.find((l) => l.startsWith('tip 1 ')),
    /\(block from a\)$/,
    'b got the blocks relayed by a',
  );

  // the late joiner goes away; the network moves on
  t.equal(await late.stop(), 0, 'stops cleanly on SIGTERM (and saves its chain)');
  await miner.waitFor(/^- peer late/);
  const mark = miner.lines.length;
  miner.write('mine 4');
  const [, tip7] = await miner.waitFor(/^tip 7 ([0-9a-f]{64}) /, { from: mark });
  await Promise.all([a, b].map((n) => n.waitFor(new RegExp(`^tip 7 ${tip7} `))));

  const again = await startExample(t, 'late', 'chain', args('late', miner.addr));
  t.match(again.lines[0], /^loaded 3 blocks from /, 'restarts from its stored chain');
  await again.waitFor(new RegExp(`^tip 7 ${tip7} 0 txs \\(sync from miner\\)$`));
  t.same(
    again.lines.filter((l) => l.startsWith('sync ')),
    ['sync 4..7 from miner'],
    'asked only for blocks 4..7',
  );

  b.write('status');
  await b.waitFor(new RegExp(`^status height 7 tip ${tip7} mempool 0 peers 1$`));
});

t.test('CLI: a v1 node (--protocol 1) and a v2 node sync with each other in v1 batches', async (t) => {
  const miner = await startExample(t, 'miner', 'chain', ['--difficulty', '8']);
  miner.write('mine 40');
  const [, tip] = await miner.waitFor(/^tip 40 ([0-9a-f]{64}) /);
  const old = await startExample(t, 'old', 'chain', ['--difficulty', '8', '--protocol', '1', '--peers', miner.addr]);
  await old.waitFor(new RegExp(`^tip 40 ${tip} 0 txs \\(sync from miner\\)$`));
  t.same(
    old.lines.filter((l) => l.startsWith('sync ')),
    ['sync 1..32 from miner', 'sync 33..40 from miner'],
    'batches of the agreed version 1',
  );
  const fresh = await startExample(t, 'fresh', 'chain', ['--difficulty', '8', '--peers', miner.addr]);
  await fresh.waitFor(new RegExp(`^tip 40 ${tip} 0 txs \\(sync from miner\\)$`));
  t.same(
    fresh.lines.filter((l) => l.startsWith('sync ')),
    ['sync 1..40 from miner'],
    'two v2 nodes agree on 2',
  );
});
