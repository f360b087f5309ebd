// PEXReactor against real Switches over loopback: book bookkeeping, ensurePeers,
// dial backoff, abuse control (played by a raw Switch on channel 0x00), seed mode.
import { once } from 'node:events';
import t from 'tap';
import { NetAddress } from '../../../lib/net-address.js';
import { NodeKey } from '../../../lib/node-key.js';
import type { Peer } from '../../../lib/peer.js';
import type { SwitchboardError } from '../../../lib/errors.js';
import {
  decodePexMessage,
  encodePexAddrs,
  encodePexRequest,
  PEX_CHANNEL,
  PexAbuseError,
  PexDialRefusedError,
  HANGUP_WINDOW_MS,
} from '../../../reactors/pex/index.js';
import { peerAdded, peerRemoved, startSwitch } from '../../helpers/switches.js';
import { pexCluster as cluster } from '../../helpers/pex.js';
import { sleep } from '../../helpers/time.js';
import { freePort } from '../../helpers/net.js';

// ------------------------------------------------------------------ helpers

/** Long periods: tests drive ensurePeers()/crawlPeersOnce() themselves. */
const pexCluster = (t: Parameters<typeof cluster>[0]) => cluster(t, { ensurePeersPeriodMs: 600_000, crawlPeriodMs: 600_000 });

/** A raw Switch with a recording reactor on channel 0x00: plays a (mis)behaving PEX peer. */
const startRaw = (t: Parameters<typeof cluster>[0]) => startSwitch(t, { channels: [{ id: PEX_CHANNEL, sendQueueCapacity: 10 }] });

/** An address on 127.0.0.1 where nothing listens (ECONNREFUSED at once). */
async function deadAddress(): Promise<NetAddress> {
  return new NetAddress(NodeKey.generate().id, '127.0.0.1', await freePort());
}

const fakeAddr = (i: number): NetAddress => new NetAddress(NodeKey.generate().id, `127.0.1.${i}`, 20000 + i);

// -------------------------------------------------------------------- tests

t.test('inbound peer address goes into the book; outbound peer is marked good', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const [a, b] = await Promise.all([c.start(), c.start()]);
  const seen = peerAdded(b.sw, a.id);
  await a.sw.dialPeerWithAddress(b.addr);
  await seen;
  t.ok(a.book.isGood(b.addr), 'A dialed B: B is marked good in A’s book');
  t.ok(b.book.hasAddress(a.addr), 'B accepted A: A’s self-reported address is in B’s book');
  t.notOk(b.book.isGood(a.addr), 'an inbound peer is not marked good');
});

t.test('ensurePeers dials from the book, never past maxNumOutboundPeers', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const a = await c.start({ config: { maxNumOutboundPeers: 2 } });
  const others = await Promise.all([c.start(), c.start(), c.start(), c.start()]);
  for (const o of others) a.book.addAddress(o.addr, o.addr);
  let maxOut = 0;
  a.sw.on('peer:add', () => (maxOut = Math.max(maxOut, a.sw.peers.numOutbound())));
  for (let i = 0; i < 10 && a.sw.peers.numOutbound() < 2; i++) await a.pex.ensurePeers();
  t.equal(a.sw.peers.numOutbound(), 2, 'two outbound peers');
  await a.pex.ensurePeers();
  await a.pex.ensurePeers();
  t.equal(a.sw.peers.numOutbound(), 2, 'still two after more rounds');
  t.equal(maxOut, 2, 'the limit was never exceeded');
  for (const p of a.sw.peers.list()) t.ok(a.book.isGood(p.remoteAddr), `${p.id.slice(0, 8)} marked good`);
});

t.test('a failed dial backs off that address', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const a = await c.start({ pex: { dialBackoffBaseMs: 60_000 } });
  const dead = await deadAddress();
  a.book.addAddress(dead, dead);
  const failed: string[] = [];
  a.sw.on('peer:dial-failed', (addr) => failed.push(addr));
  await a.pex.ensurePeers();
  t.same(failed, [dead.toString()], 'dialed once and failed');
  t.equal(a.pex.attemptsToDial(dead), 1);
  await a.pex.ensurePeers();
  t.same(failed, [dead.toString()], 'not redialed while backing off');
  const err = await a.pex.dialPeer(dead).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, PexDialRefusedError);
  t.equal((err as PexDialRefusedError).reason, 'backoff');
});

t.test('three early PexRequests → disconnected and banned', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const v = await c.start();
  const r = await startRaw(t);
  const removed = peerRemoved(v.sw, r.sw.nodeKey.id);
  const removedAtR = peerRemoved(r.sw, v.id);
  const p = await r.sw.dialPeerWithAddress(v.addr);
  for (let i = 0; i < 3; i++) t.ok(await p.send(PEX_CHANNEL, encodePexRequest()), `request ${i + 1} queued`);
  const reason = await removed;
  t.type(reason, PexAbuseError);
  t.equal((reason as PexAbuseError).reason, 'request-too-soon');
  t.equal((reason as PexAbuseError).code, 'ERR_REJECTED');
  const rAddr = r.sw.listenAddr;
  t.ok(v.book.isBanned(rAddr), 'banned in the book');
  t.ok(r.reactor.received.length <= 2, 'at most two requests were answered');
  for (const m of r.reactor.received) t.equal(decodePexMessage(m.msg).type, 'addrs');

  // it comes back: the Switch consults the book's bans and refuses it before any reactor sees it
  await removedAtR;
  const refused = once(v.sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await r.sw.dialPeerWithAddress(v.addr).catch(() => undefined);
  const [, again] = await refused;
  t.equal(again.code, 'ERR_BANNED', 'a banned peer is refused when it reconnects');
});

t.test('two requests are free; a third after requestIntervalMs is answered', { timeout: 20_000 }, async (t) => {
  let now = 1_000_000;
  const c = pexCluster(t);
  const v = await c.start({ pex: { requestIntervalMs: 5_000, now: () => now } });
  v.book.addAddress(fakeAddr(1), fakeAddr(1));
  const r = await startRaw(t);
  const p = await r.sw.dialPeerWithAddress(v.addr);
  await p.send(PEX_CHANNEL, encodePexRequest());
  await p.send(PEX_CHANNEL, encodePexRequest());
  await r.reactor.receivedCount(2);
  now += 5_000;
  await p.send(PEX_CHANNEL, encodePexRequest());
  await r.reactor.receivedCount(3);
  t.ok(v.sw.peers.has(r.sw.nodeKey.id), 'still connected');
  t.notOk(v.book.isBanned(r.sw.listenAddr));
});

t.test('unsolicited PexAddrs → disconnected and banned, addresses ignored', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const v = await c.start();
  const r = await startRaw(t);
  const removed = peerRemoved(v.sw, r.sw.nodeKey.id);
  const p = await r.sw.dialPeerWithAddress(v.addr);
  const offered = fakeAddr(7);
  await p.send(PEX_CHANNEL, encodePexAddrs([offered]));
  const reason = await removed;
  t.type(reason, PexAbuseError);
  t.equal((reason as PexAbuseError).reason, 'unsolicited-addrs');
  t.ok(v.book.isBanned(r.sw.listenAddr), 'banned');
  t.notOk(v.book.hasAddress(offered), 'the unsolicited address was not added');
});

t.test('a malformed PEX message → disconnected and banned', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const v = await c.start();
  const r = await startRaw(t);
  const removed = peerRemoved(v.sw, r.sw.nodeKey.id);
  const p = await r.sw.dialPeerWithAddress(v.addr);
  await p.send(PEX_CHANNEL, Uint8Array.of(0x81, 0xa1, 0x74, 0xa3, 0x78, 0x78, 0x78));
  t.match(await removed, { code: 'ERR_MALFORMED_PACKET' });
  t.ok(v.book.isBanned(r.sw.listenAddr));
});

t.test('an answer has the book’s selection minus private IDs and the requester', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const v = await c.start();
  const x = fakeAddr(1);
  const priv = fakeAddr(2);
  v.sw.addPrivatePeerIds([priv.id]);
  v.book.addAddress(x, x);
  v.book.addAddress(priv, priv);
  const r = await startRaw(t);
  const added = peerAdded(v.sw, r.sw.nodeKey.id);
  const p = await r.sw.dialPeerWithAddress(v.addr);
  await added;
  t.ok(v.book.hasAddress(r.sw.listenAddr), 'the requester is in the book (inbound)');
  await p.send(PEX_CHANNEL, encodePexRequest());
  await r.reactor.receivedCount(1);
  const m = decodePexMessage(r.reactor.received[0]!.msg);
  t.equal(m.type, 'addrs');
  if (m.type === 'addrs') t.same(m.addrs.map(String), [x.toString()]);
});

t.test('PexAddrs we asked for are added to the book', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const v = await c.start();
  const r = await startRaw(t);
  const gotRequest = r.reactor.receivedCount(1);
  const vPeerSeen = peerAdded(v.sw, r.sw.nodeKey.id);
  await v.sw.dialPeerWithAddress(r.sw.listenAddr);
  const peerAtR = await peerAdded(r.sw, v.id);
  await vPeerSeen;
  await gotRequest; // an outbound peer is asked for addresses when the book needs them
  t.equal(decodePexMessage(r.reactor.received[0]!.msg).type, 'request');
  const offered = [fakeAddr(1), fakeAddr(2), fakeAddr(3)];
  // answer, then ask V ourselves: V's answer proves it processed ours first (in-order channel)
  await peerAtR.send(PEX_CHANNEL, encodePexAddrs(offered));
  await peerAtR.send(PEX_CHANNEL, encodePexRequest());
  await r.reactor.receivedCount(2);
  for (const a of offered) t.ok(v.book.hasAddress(a), `${a.host} added`);
  t.ok(v.sw.peers.has(r.sw.nodeKey.id), 'a solicited answer keeps the peer');
  const m = decodePexMessage(r.reactor.received[1]!.msg);
  t.equal(m.type, 'addrs');
});

t.test('seed mode answers a request, then disconnects the requester', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const s = await c.start({ pex: { seedMode: true } });
  const known = [fakeAddr(1), fakeAddr(2)];
  for (const a of known) s.book.addAddress(a, a);
  const r = await startRaw(t);
  const removedAtSeed = peerRemoved(s.sw, r.sw.nodeKey.id);
  const removedAtR = peerRemoved(r.sw, s.id);
  const p = await r.sw.dialPeerWithAddress(s.addr);
  await p.send(PEX_CHANNEL, encodePexRequest());
  t.match(await removedAtSeed, { code: 'ERR_PEER_STOPPED', reason: 'graceful' }, 'the seed stopped the peer gracefully');
  await removedAtR;
  t.equal(r.reactor.received.length, 1, 'the answer was flushed before the disconnect');
  const m = decodePexMessage(r.reactor.received[0]!.msg);
  t.equal(m.type, 'addrs');
  if (m.type === 'addrs')
    for (const a of known)
      t.ok(
        m.addrs.some((x) => x.equals(a)),
        `${a.host} sent`,
      );
  t.ok(s.book.hasAddress(r.sw.listenAddr), 'the requester’s address is kept by the seed');
  t.notOk(s.book.isBanned(r.sw.listenAddr), 'and it is not banned');
});

t.test('seed crawl: dial book addresses, learn theirs, disconnect after the answer', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const s = await c.start({ pex: { seedMode: true } });
  const p1 = await c.start();
  const x = fakeAddr(9);
  p1.book.addAddress(x, x);
  const removed = peerRemoved(s.sw, p1.id);
  s.book.addAddress(p1.addr, p1.addr);
  await s.pex.crawlPeersOnce();
  t.match(await removed, { code: 'ERR_PEER_STOPPED', reason: 'graceful' }, 'the crawled peer was disconnected gracefully once it answered');
  t.ok(s.book.hasAddress(x), 'the seed learnt the crawled peer’s addresses');
  t.ok(s.book.isGood(p1.addr), 'the crawled peer is good');
});

t.test('seed crawl never drops persistent peers', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const s = await c.start({ pex: { seedMode: true, seedDisconnectWaitMs: 0 } });
  const p2 = await c.start();
  const r = await startRaw(t);
  const p2Added = peerAdded(s.sw, p2.id);
  s.sw.addPersistentPeers([p2.addr]);
  await p2Added;
  const rAdded = peerAdded(s.sw, r.sw.nodeKey.id);
  await r.sw.dialPeerWithAddress(s.addr);
  await rAdded;
  const stopped: string[] = [];
  const orig = s.sw.stopPeerGracefully.bind(s.sw);
  s.sw.stopPeerGracefully = (peer: Peer) => {
    stopped.push(peer.id);
    return orig(peer);
  };
  const removed = peerRemoved(s.sw, r.sw.nodeKey.id);
  await s.pex.crawlPeersOnce();
  t.same(stopped, [r.sw.nodeKey.id], 'only the non-persistent peer is disconnected');
  await removed;
  t.ok(s.sw.peers.has(p2.id), 'the persistent peer stays');
});

t.test('an address failing more than maxAttemptsToDial dials is banned', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const a = await c.start({ pex: { dialBackoffBaseMs: 0, maxAttemptsToDial: 1 } });
  const dead = await deadAddress();
  a.book.addAddress(dead, dead);
  for (let i = 1; i <= 2; i++) {
    await t.rejects(a.pex.dialPeer(dead), { code: 'ERR_DIAL' }, `dial ${i} fails`);
    t.equal(a.pex.attemptsToDial(dead), i);
  }
  const err = await a.pex.dialPeer(dead).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((err as PexDialRefusedError).reason, 'max-attempts');
  t.ok(a.book.isBanned(dead), 'banned');
  t.notOk(a.book.hasAddress(dead), 'and out of the book');
});

t.test('a dial answered by another node ID bans the address; dialing ourselves is refused', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const [a, b] = await Promise.all([c.start(), c.start()]);
  const wrong = new NetAddress(NodeKey.generate().id, b.addr.host, b.addr.port);
  a.book.addAddress(wrong, wrong);
  const err = await a.pex.dialPeer(wrong).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.match(err, { code: /^ERR_(AUTH|PEER_ID_MISMATCH)$/ }, 'the Switch refused the impostor');
  t.ok(a.book.isBanned(wrong), 'the address is banned');
  t.equal(a.pex.attemptsToDial(wrong), 0, 'no backoff record: the ban replaces it');
  await t.rejects(a.pex.dialPeer(a.addr), { code: 'ERR_SELF_CONNECTION' });
  t.equal(a.pex.attemptsToDial(a.addr), 0);
});

t.test('seeds are dialed at start, in turn until one connects', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const live = await c.start();
  const dead = await deadAddress();
  const a = await c.start({ pex: { seeds: [dead.toString()] } });
  // the first ensurePeers ran during start: empty book, no peers → the seeds
  const [addr] = await once(a.sw, 'peer:dial-failed');
  t.equal(addr, dead.toString(), 'the dead seed was dialed at start');
  const again = once(a.sw, 'peer:dial-failed');
  await a.pex.dialSeeds();
  t.equal((await again)[0], dead.toString(), 'and again by dialSeeds()');
  t.equal(a.sw.peers.size, 0);
  const dead2 = await deadAddress();
  const seeds = [dead.toString(), dead2.toString(), live.addr.toString()];
  const b = await c.start({ pex: { seeds } });
  const first = await peerAdded(b.sw, live.id);
  t.notOk(b.book.hasAddress(live.addr), 'a seed is not added to the book');
  // a second round, watched: dials one at a time, each failure moves to the next seed, the first success ends it
  const removed = peerRemoved(b.sw, live.id);
  await b.sw.stopPeerGracefully(first);
  await removed;
  const calls: { addr: string; ok?: boolean }[] = [];
  let open = 0;
  let maxOpen = 0;
  const dial = b.sw.dialPeerWithAddress.bind(b.sw);
  b.sw.dialPeerWithAddress = (addr, opts) => {
    const call: { addr: string; ok?: boolean } = { addr: String(addr) };
    calls.push(call);
    maxOpen = Math.max(maxOpen, ++open);
    return dial(addr, opts).then(
      (p) => ((call.ok = true), open--, p),
      (err: unknown) => {
        call.ok = false;
        open--;
        throw err;
      },
    );
  };
  await b.pex.dialSeeds();
  t.equal(maxOpen, 1, 'one seed dial at a time');
  t.equal(new Set(calls.map((x) => x.addr)).size, calls.length, 'each seed dialed at most once');
  t.ok(
    calls.every((x) => seeds.includes(x.addr)),
    'only seeds were dialed',
  );
  t.equal(calls.at(-1)?.addr, live.addr.toString(), 'the last dial was the live seed');
  t.equal(calls.at(-1)?.ok, true, 'and it connected');
  t.ok(
    calls.slice(0, -1).every((x) => x.ok === false),
    'every dial before it had failed (then the next seed was tried)',
  );
  t.ok(b.sw.peers.has(live.id), 'connected to the live seed again');
});

// ------------------------------------------- seeds and hang-ups (no churn)

/** Resolves once `pred()` holds, polling every 10 ms at most 500 times (no event says a PexAddrs was handled). */
async function poll(pred: () => boolean): Promise<boolean> {
  for (let i = 0; i < 500 && !pred(); i++) await sleep(10);
  return pred();
}

t.test('a seed gossiped by a peer is not put in the book, and a seed left in an old book is not dialed', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const s = await c.start({ pex: { seedMode: true } });
  const b = await c.start();
  const x = fakeAddr(7);
  b.book.addAddress(s.addr, s.addr); // B was crawled by the seed, so it knows the seed's address
  b.book.addAddress(x, x);
  const a = await c.start({ pex: { seeds: [s.addr.toString()] }, config: { maxNumOutboundPeers: 2 } });
  // A starts isolated: it asks the seed once (the seed answers and hangs up)
  await peerAdded(s.sw, a.id);
  await peerRemoved(a.sw, s.id);
  const bAtA = peerAdded(a.sw, b.id);
  await b.sw.dialPeerWithAddress(a.addr); // B is an inbound peer of A; A is below its outbound target
  t.ok(a.pex.requestAddrs(await bAtA), 'A asks B for addresses');
  t.ok(await poll(() => a.book.hasAddress(x)), 'A took B’s answer');
  t.notOk(a.book.hasAddress(s.addr), 'but not the seed’s address in it');

  a.book.addAddress(s.addr, s.addr); // as an address book written before this rule would hold it
  const seedDials = (): number => a.added.filter((id) => id === s.id).length;
  t.equal(seedDials(), 1, 'A dialed the seed once so far');
  for (let i = 0; i < 5; i++) await a.pex.ensurePeers();
  t.equal(seedDials(), 1, 'five ensurePeers rounds below the target: the seed is not redialed');
  t.notOk(a.sw.peers.has(s.id), 'nor connected');
  t.ok(a.sw.peers.has(b.id), 'B stays connected');
});

t.test(
  'a node crawled by its seed asks the seed back for addresses (the first nodes of a network are not left a closed group)',
  { timeout: 20_000 },
  async (t) => {
    const c = pexCluster(t);
    const s = await c.start({ pex: { seedMode: true, crawlPeriodMs: 600_000 } });
    const a = await c.start({ pex: { seeds: [s.addr.toString()] } });
    // A starts isolated and asks the seed, which knows nobody yet, answers with nothing and hangs up
    await peerAdded(s.sw, a.id);
    // both sides done with that connection (else the crawl below would find A still connected)
    await Promise.all([peerRemoved(a.sw, s.id), peerRemoved(s.sw, a.id)]);
    t.equal(a.book.size(), 0, 'A learnt nothing from the seed');
    const x = fakeAddr(9);
    s.book.addAddress(x, x); // later the seed learns of X
    t.ok(s.book.hasAddress(a.addr), 'the seed kept A (an inbound peer is its own source)');
    const crawled = peerAdded(a.sw, s.id);
    await s.pex.crawlPeersOnce(); // the seed crawls A: an inbound peer of A
    t.notOk((await crawled).isOutbound(), 'the seed is an inbound peer of A');
    t.ok(await poll(() => a.book.hasAddress(x)), 'A asked the seed back and took its answer');
  },
);

t.test('a seed crawls the seeds it is configured with, so two seeds’ books merge', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  const s2 = await c.start({ pex: { seedMode: true } });
  const s1 = await c.start({ pex: { seedMode: true, seeds: [s2.addr.toString()] } });
  // s1's first round asks s2, which knows nobody yet; both hang up
  await peerAdded(s2.sw, s1.id);
  await Promise.all([peerRemoved(s1.sw, s2.id), peerRemoved(s2.sw, s1.id)]);
  const x = fakeAddr(11);
  s2.book.addAddress(x, x); // later s2 learns of X (an inbound node, say)
  t.notOk(s1.book.hasAddress(s2.addr), 'a seed is never kept in the book');
  await s1.pex.crawlPeersOnce();
  t.ok(await poll(() => s1.book.hasAddress(x)), 's1 crawled s2 and took its answer');
});

t.test(
  'an outbound peer that hangs up at once backs off like a failed dial; a lasting connection clears it',
  { timeout: 20_000 },
  async (t) => {
    const c = pexCluster(t);
    let now = Date.now();
    const a = await c.start({ pex: { now: () => now } });
    // a seed-mode node that A learnt from gossip (A was not configured with it): it answers and hangs up
    const s = await c.start({ pex: { seedMode: true } });
    a.book.addAddress(s.addr, s.addr);
    const dials = (): number => a.added.filter((id) => id === s.id).length;
    for (let round = 1; round <= 2; round++) {
      const gone = peerRemoved(a.sw, s.id);
      await a.pex.ensurePeers();
      t.equal(dials(), round, `round ${round}: A dialed the seed-mode node`);
      await gone;
      t.equal(a.pex.attemptsToDial(s.addr), round, `its hang-up counts as failure ${round}`);
      for (let i = 0; i < 3; i++) await a.pex.ensurePeers();
      t.equal(dials(), round, 'not redialed while backing off');
      now += 10 * 60_000;
    }

    // B hangs up once, then stays beyond HANGUP_WINDOW_MS: its history is cleared when it leaves
    const b = await c.start();
    const bAdded = peerAdded(b.sw, a.id);
    let gone = peerRemoved(a.sw, b.id);
    await a.pex.dialPeer(b.addr);
    await b.sw.stopPeerGracefully(await bAdded);
    await gone;
    t.equal(a.pex.attemptsToDial(b.addr), 1, 'B hung up: one failure');
    now += 10 * 60_000;
    const peerAtB = peerAdded(b.sw, a.id);
    await a.pex.dialPeer(b.addr);
    now += HANGUP_WINDOW_MS;
    gone = peerRemoved(a.sw, b.id);
    await b.sw.stopPeerGracefully(await peerAtB);
    await gone;
    t.equal(a.pex.attemptsToDial(b.addr), 0, 'a connection that lasted the hang-up window clears the history');
  },
);

t.test('an isolated node asks its seeds with exponential backoff; a non-seed peer resets it', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t);
  let now = Date.now();
  const s = await c.start({ pex: { seedMode: true } }); // an empty seed: its answers get A nowhere
  const a = await c.start({ pex: { seeds: [s.addr.toString()], now: () => now } });
  const seedDials = (): number => a.added.filter((id) => id === s.id).length;
  await peerAdded(s.sw, a.id); // the first ensurePeers at start asked the seed
  if (a.sw.peers.has(s.id)) await peerRemoved(a.sw, s.id);
  t.equal(seedDials(), 1, 'asked the seed at start');
  // round n waits 1 s·2^n + up to 1 s: 2–3 s, then 4–5 s, then 8–9 s
  for (const [n, wait] of [
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
  ] as const) {
    for (let i = 0; i < 3; i++) await a.pex.ensurePeers();
    t.equal(seedDials(), n - 1, `isolated, but round ${n} waits`);
    now += wait + 1_001;
    const gone = peerRemoved(a.sw, s.id);
    await a.pex.ensurePeers();
    t.equal(seedDials(), n, `after ${wait + 1_001} ms the seed is asked again`);
    await gone;
  }
  // a non-seed peer comes and goes: the seeds did their job; the next isolation asks them at once
  const b = await c.start();
  const bAtA = peerAdded(a.sw, b.id);
  const peerAtB = await b.sw.dialPeerWithAddress(a.addr);
  await bAtA;
  const gone = peerRemoved(a.sw, b.id);
  await b.sw.stopPeerGracefully(peerAtB);
  await gone;
  a.book.removeAddress(b.addr); // nothing to dial from the book either
  const seedGone = peerRemoved(a.sw, s.id);
  await a.pex.ensurePeers();
  t.equal(seedDials(), 5, 'isolated again: the seed is asked without waiting');
  await seedGone;
});
