// PEX networks over loopback, driven by the reactors' own loops (short periods):
// nodes with partial books find each other; a node that knows only a seed finds the network.
import { join } from 'node:path';
import t from 'tap';
import type { NetAddress } from '../../../lib/net-address.js';
import { NodeKey } from '../../../lib/node-key.js';
import { Switch } from '../../../lib/switch.js';
import { AddrBook, PEXReactor, type AddrBookLogger, type PEXReactorOptions } from '../../../reactors/pex/index.js';

/** The Switch's config input, whatever its declared name. */
type SwitchConfigInput = NonNullable<ConstructorParameters<typeof Switch>[0]['config']>;

type TapTest = { teardown(fn: () => unknown): void; testdir: typeof t.testdir };

const quietBook: AddrBookLogger = { warn() {}, info() {}, debug() {} };

interface PexNode {
  sw: Switch;
  pex: PEXReactor;
  book: AddrBook;
  addr: NetAddress;
  id: string;
  /** IDs of the peers added, in order. */
  added: string[];
  /** Most outbound peers seen at once. */
  maxOutbound: number;
}

/** PEX nodes with books in one testdir; all stopped (books saved) before the testdir is removed. */
function pexCluster(t: TapTest): { start(opts?: { pex?: PEXReactorOptions; config?: SwitchConfigInput }): Promise<PexNode> } {
  const nodes: PexNode[] = [];
  t.teardown(() => Promise.all(nodes.map((n) => n.sw.stop())));
  const dir = t.testdir();
  return {
    async start(opts = {}) {
      const nodeKey = NodeKey.generate();
      const book = new AddrBook(join(dir, `${nodeKey.id}.json`), { routabilityStrict: false, logger: quietBook });
      const pex = new PEXReactor(book, { ensurePeersPeriodMs: 250, dialBackoffBaseMs: 50, crawlPeriodMs: 600_000, ...opts.pex });
      const sw = new Switch({ nodeKey, nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0', ...opts.config } });
      sw.addReactor('pex', pex);
      const node = { sw, pex, book, id: nodeKey.id, added: [], maxOutbound: 0 } as unknown as PexNode;
      sw.on('peer:add', (p) => {
        node.added.push(p.id);
        node.maxOutbound = Math.max(node.maxOutbound, sw.peers.numOutbound());
      });
      nodes.push(node);
      await sw.start();
      node.addr = sw.listenAddr;
      return node;
    },
  };
}

/** Resolves once `pred()` holds, re-checked whenever `sw` adds or removes a peer. */
function until(sw: Switch, pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!pred()) return;
      sw.off('peer:add', check);
      sw.off('peer:remove', check);
      resolve();
    };
    sw.on('peer:add', check);
    sw.on('peer:remove', check);
    check();
  });
}

t.test('three nodes with partial books all reach two peers', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const [a, b, cc] = await Promise.all([c.start(), c.start(), c.start()]);
  // A knows only B, B knows only C, C knows nobody
  a.book.addAddress(b.addr, b.addr);
  b.book.addAddress(cc.addr, cc.addr);
  const nodes = [a, b, cc];
  await Promise.all(nodes.map((n) => until(n.sw, () => n.sw.peers.size >= 2)));
  for (const [name, n] of [['A', a], ['B', b], ['C', cc]] as const) {
    t.ok(n.sw.peers.size >= 2, `${name} has ${n.sw.peers.size} peers`);
  }
  t.ok(a.book.hasAddress(cc.addr), 'A learnt C from B');
  t.ok(a.sw.peers.has(cc.id), 'and dialed it');
});

t.test('a node that knows only a seed finds the network, within its outbound limit', { timeout: 30_000 }, async (t) => {
  const c = pexCluster(t);
  const seed = await c.start({ pex: { seedMode: true } });
  const seeds = [seed.addr.toString()];
  // three nodes that know only the seed: each dials it at start and is answered and let go
  const ps = await Promise.all([c.start({ pex: { seeds } }), c.start({ pex: { seeds } }), c.start({ pex: { seeds } })]);
  await Promise.all(ps.map((p) => until(seed.sw, () => seed.added.includes(p.id))));
  for (const p of ps) t.ok(seed.book.hasAddress(p.addr), `the seed knows ${p.id.slice(0, 8)}`);

  const n = await c.start({ pex: { seeds }, config: { maxNumOutboundPeers: 2 } });
  const pIds = new Set(ps.map((p) => p.id));
  // the Ps also learn N from the seed and may dial it first: count peers either way
  const connectedPs = (): number => n.sw.peers.list().filter((p) => pIds.has(p.id)).length;
  await until(n.sw, () => connectedPs() >= 2);
  t.equal(n.added[0], seed.id, 'the first peer was the seed');
  t.ok(connectedPs() >= 2, 'then peers learnt from it');
  t.ok(n.maxOutbound <= 2, `never more than 2 outbound peers (max seen ${n.maxOutbound})`);
  t.ok(ps.filter((p) => n.book.hasAddress(p.addr)).length >= 2, 'the learnt addresses are in the book');
  t.notOk(n.book.hasAddress(seed.addr), 'the seed itself is not kept in the book');
  await n.pex.ensurePeers();
  t.ok(n.sw.numOutboundPeersAndDials() <= 2, 'ensurePeers at the limit dials nothing', {
    diag: { out: n.sw.peers.numOutbound(), dialing: n.sw.numOutboundPeersAndDials(), peers: n.sw.peers.list().map(String), seed: seed.id, max: n.maxOutbound },
  });
});
