// PEX networks over loopback, driven by the reactors' own loops (short periods):
// nodes with partial books find each other; a node that knows only a seed finds the network.
import t from 'tap';
import type { Switch } from '../../../lib/switch.js';
import { pexCluster as cluster } from '../../helpers/pex.js';

/** Nodes driven by the reactors' own loops, with short periods. */
const pexCluster = (t: Parameters<typeof cluster>[0]) =>
  cluster(t, { ensurePeersPeriodMs: 250, dialBackoffBaseMs: 50, crawlPeriodMs: 600_000 });

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
  // waited for above: two peers each; checked here: which two, and how they were found
  for (const [name, n] of [
    ['A', a],
    ['B', b],
    ['C', cc],
  ] as const) {
    const others = nodes
      .filter((o) => o !== n)
      .map((o) => o.id)
      .sort();
    t.same(
      n.sw.peers
        .list()
        .map((p) => p.id)
        .sort(),
      others,
      `${name}'s peers are the other two nodes`,
    );
  }
  t.ok(a.book.hasAddress(cc.addr), 'A learnt C’s address (it knew only B)');
  t.ok(cc.book.hasAddress(a.addr) && cc.book.hasAddress(b.addr), 'C, which knew nobody, has both in its book');
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
  const addrOf = new Map(ps.map((p) => [p.id, p.addr]));
  const connected = n.sw.peers.list().filter((p) => pIds.has(p.id));
  t.ok(
    connected.every((p) => n.book.hasAddress(addrOf.get(p.id)!)),
    'then peers whose addresses it learnt (they are in its book)',
  );
  t.ok(n.maxOutbound <= 2, `never more than 2 outbound peers (max seen ${n.maxOutbound})`);
  t.ok(ps.filter((p) => n.book.hasAddress(p.addr)).length >= 2, 'the learnt addresses are in the book');
  t.notOk(n.book.hasAddress(seed.addr), 'the seed itself is not kept in the book');
  await n.pex.ensurePeers();
  t.ok(n.sw.numOutboundPeersAndDials() <= 2, 'ensurePeers at the limit dials nothing', {
    diag: {
      out: n.sw.peers.numOutbound(),
      dialing: n.sw.numOutboundPeersAndDials(),
      peers: n.sw.peers.list().map(String),
      seed: seed.id,
      max: n.maxOutbound,
    },
  });
});
