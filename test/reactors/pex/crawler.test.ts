// The seed-mode crawl (reactors/pex/crawler.ts) on a fake Switch and book with a clock stepped by
// hand: which peers a round disconnects, which addresses it dials (seeds first, then the book's
// selection) and asks for addresses, and how long it waits before crawling an address again.
import t from 'tap';
import type { Peer } from '../../../lib/peer.js';
import type { PeerState } from '../../../reactors/pex/peer-state.js';
import { addrN, dialHarness, swErr, type DialHarness } from '../../helpers/pex-dial.js';

const HOUR = 60 * 60_000;

const state = (addedAt: number, crawled = false): PeerState => ({
  requestPending: false,
  requestsSeen: 0,
  lastRequestAt: 0,
  addedAt,
  crawled,
  stoppedByUs: false,
});

/** Give every peer a dial connects a PEX state, as the reactor's addPeer does. */
const trackStates = (h: DialHarness): void => h.setOnAdd((p) => h.states.set(p, state(h.now)));

t.test('a round disconnects the peers it crawled and those connected seedDisconnectWaitMs, never persistent ones', async (t) => {
  const h = dialHarness(t, { pex: { seedDisconnectWaitMs: 10_000 } });
  const crawled = h.addPeer(addrN(1), { outbound: false }) as unknown as Peer;
  const old = h.addPeer(addrN(2), { outbound: false }) as unknown as Peer;
  const young = h.addPeer(addrN(3), { outbound: false }) as unknown as Peer;
  const persistent = h.addPeer(addrN(4), { persistent: true }) as unknown as Peer;
  h.states.set(crawled, state(h.now - 1, true));
  h.states.set(old, state(h.now - 10_000));
  h.states.set(young, state(h.now - 9_999));
  h.states.set(persistent, state(h.now - 100_000, true));
  await h.crawler.crawlOnce();
  t.same(h.rec.stoppedGracefully, [crawled.id, old.id], 'the crawled one and the one connected exactly seedDisconnectWaitMs');
  t.ok(h.states.get(crawled)!.stoppedByUs, 'marked as stopped by PEX (not a hang-up)');
  t.ok(h.states.get(old)!.stoppedByUs);
  t.notOk(h.states.get(young)!.stoppedByUs);
  t.notOk(h.states.get(persistent)!.stoppedByUs);
  t.match(h.logs.withMsg('pex: crawler disconnecting peer'), [
    { level: 20, peer: crawled.id, crawled: true },
    { level: 20, peer: old.id, crawled: false },
  ]);
});

t.test('a round dials the seeds, then the book’s selection, and asks each peer it reaches for addresses', async (t) => {
  const seed = addrN(50);
  const h = dialHarness(t, { seeds: [seed] });
  trackStates(h);
  const a = addrN(1);
  const b = addrN(2);
  h.outcome.set(b.id, swErr('ERR_DIAL', 'refused'));
  h.setSelection([a, b]);
  await h.crawler.crawlOnce();
  t.same(h.rec.dialed, [seed, a, b].map(String));
  t.same(h.rec.requested, [seed.id, a.id], 'the two reached are asked for addresses');
  for (const id of [seed.id, a.id]) t.ok(h.states.get(h.peers.get(id) as unknown as Peer)!.crawled, 'and marked crawled');
  t.equal(h.dialer.attemptsToDial(b), 1, 'a failed crawl dial counts in the dial history');
  t.match(h.logs.withMsg('pex: dial failed'), [{ addr: b.toString(), code: 'ERR_DIAL', err: 'refused' }]);

  // next round: the crawled peers are disconnected, nobody is dialed again within minTimeBetweenCrawlsMs
  h.random(0);
  h.now += 60_000;
  await h.crawler.crawlOnce();
  t.same(h.rec.stoppedGracefully, [seed.id, a.id]);
  t.equal(h.rec.dialed.length, 3, 'not again within minTimeBetweenCrawlsMs (2 min)');
});

t.test('a peer reached without a PEX state (removed meanwhile) is still asked, and nothing breaks', async (t) => {
  const h = dialHarness(t);
  const a = addrN(1);
  h.setSelection([a]);
  await h.crawler.crawlOnce();
  t.same(h.rec.requested, [a.id]);
});

t.test('an address is crawled again once minTimeBetweenCrawlsMs has passed', async (t) => {
  const h = dialHarness(t, { pex: { minTimeBetweenCrawlsMs: 5000, dialBackoffBaseMs: 0 } });
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL'));
  h.setSelection([a]);
  const t0 = h.now;
  await h.crawler.crawlOnce();
  h.now = t0 + 4999;
  await h.crawler.crawlOnce();
  t.equal(h.rec.dialed.length, 1, 'not within 5 s');
  h.now = t0 + 5000;
  await h.crawler.crawlOnce();
  t.equal(h.rec.dialed.length, 2, 'again at 5 s');
});

t.test('a round skips addresses backing off, being dialed or connected, and stops at the outbound limit', async (t) => {
  const u = addrN(9);
  const h = dialHarness(t, { maxNumOutboundPeers: 2, unconditional: [u.id], pex: { dialBackoffBaseMs: 60_000 } });
  const failed = addrN(1);
  h.dialer.countFailure(failed.toString());
  const connected = addrN(2);
  h.addPeer(connected, { outbound: false });
  const dialing = addrN(3);
  h.switchDialing.add(dialing.id);
  const [c, d, e] = [addrN(4), addrN(5), addrN(6)];
  h.setSelection([failed, connected, dialing, c, d, e, u]);
  await h.crawler.crawlOnce();
  t.same(h.rec.dialed, [c, d, u].map(String), 'two outbound slots filled; an unconditional peer past the limit');
  // the skipped ones were not recorded as crawled: they are dialed as soon as they can be
  h.peers.clear();
  h.switchDialing.clear();
  h.dialer.connectionLasted(failed.toString());
  h.now += 1000;
  h.setSelection([e, failed, connected, dialing]);
  await h.crawler.crawlOnce();
  t.same(h.rec.dialed.slice(3), [e, failed].map(String), 'the skipped ones next, up to the limit');
});

t.test('crawl records older than 24 h are forgotten', async (t) => {
  // with minTimeBetweenCrawlsMs above 24 h, forgetting the record is what lets the address be crawled again
  const h = dialHarness(t, { pex: { minTimeBetweenCrawlsMs: 48 * HOUR, dialBackoffBaseMs: 0 } });
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL'));
  h.setSelection([a]);
  const t0 = h.now;
  await h.crawler.crawlOnce();
  h.now = t0 + 24 * HOUR;
  await h.crawler.crawlOnce();
  await h.crawler.crawlOnce();
  t.equal(h.rec.dialed.length, 1, 'a record exactly 24 h old is kept');
  h.now = t0 + 24 * HOUR + 1;
  await h.crawler.crawlOnce();
  t.equal(h.rec.dialed.length, 1, 'skipped in the round that forgets it');
  await h.crawler.crawlOnce();
  t.equal(h.rec.dialed.length, 2, 'crawled again in the next');
});

t.test('a round does nothing once the reactor stopped', async (t) => {
  const h = dialHarness(t, { seeds: [addrN(50)] });
  const p = h.addPeer(addrN(1)) as unknown as Peer;
  h.states.set(p, state(h.now, true));
  h.setSelection([addrN(2)]);
  h.setAlive(false);
  await h.crawler.crawlOnce();
  t.same(h.rec.dialed, []);
  t.same(h.rec.stoppedGracefully, []);
});
