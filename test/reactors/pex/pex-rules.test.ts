// PEX rules on the receive side and in seed mode that a user relies on:
// private IDs received in PexAddrs stay out of the book; a seed crawls one
// address at most once per minTimeBetweenCrawlsMs (CometBFT: 2 min), measured
// on the reactor's injectable clock.
import t from 'tap';
import { NetAddress } from '../../../lib/net-address.js';
import { NodeKey } from '../../../lib/node-key.js';
import {
  decodePexMessage,
  encodePexAddrs,
  encodePexRequest,
  PEX_CHANNEL,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
} from '../../../reactors/pex/index.js';
import { peerAdded, startSwitch } from '../../helpers/switches.js';
import { peerRemoved as waitRemoved } from '../../../lib/testing.js';
import { pexCluster } from '../../helpers/pex.js';

const fakeAddr = (i: number): NetAddress => new NetAddress(NodeKey.generate().id, `127.0.1.${i}`, 20000 + i);
const quiet = { ensurePeersPeriodMs: 600_000, crawlPeriodMs: 600_000 };

t.test('private IDs in PexAddrs we asked for are not added to the book; the others are', { timeout: 20_000 }, async (t) => {
  const c = pexCluster(t, quiet);
  const v = await c.start();
  const priv = fakeAddr(2);
  v.sw.addPrivatePeerIds([priv.id]);
  const r = await startSwitch(t, { channels: [{ id: PEX_CHANNEL, sendQueueCapacity: 10 }] });
  const gotRequest = r.reactor.receivedCount(1);
  const vPeerSeen = peerAdded(v.sw, r.sw.nodeKey.id);
  await v.sw.dialPeerWithAddress(r.sw.listenAddr);
  const peerAtR = await peerAdded(r.sw, v.id);
  await vPeerSeen;
  await gotRequest;
  t.equal(decodePexMessage(r.reactor.received[0]!.msg).type, 'request');
  const pub = [fakeAddr(1), fakeAddr(3)];
  await peerAtR.send(PEX_CHANNEL, encodePexAddrs([pub[0]!, priv, pub[1]!]));
  // V answers our own request only after it processed our addresses (one in-order channel)
  await peerAtR.send(PEX_CHANNEL, encodePexRequest());
  await r.reactor.receivedCount(2);
  for (const a of pub) t.ok(v.book.hasAddress(a), `${a.host} added`);
  t.notOk(v.book.hasAddress(priv), 'the private ID was not added');
  const answer = decodePexMessage(r.reactor.received[1]!.msg);
  t.ok(answer.type === 'addrs' && !answer.addrs.some((a) => a.id === priv.id), 'and is not passed on');
});

t.test('a seed crawls an address at most once per minTimeBetweenCrawlsMs (2 min by default)', { timeout: 20_000 }, async (t) => {
  t.equal(DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS, 120_000);
  let clock = 1_700_000_000_000;
  const c = pexCluster(t, quiet);
  const s = await c.start({ pex: { seedMode: true, now: () => clock } });
  const p = await c.start();
  s.book.addAddress(p.addr, p.addr);
  const crawl = async () => {
    const before = s.added.filter((id) => id === p.id).length;
    const ac = new AbortController();
    const removed = waitRemoved(s.sw, p.id, { timeoutMs: 60_000, signal: ac.signal });
    await s.pex.crawlPeersOnce();
    const dialed = s.added.filter((id) => id === p.id).length > before;
    if (dialed)
      await removed; // the crawled peer is disconnected once it answered
    else {
      ac.abort(); // nothing to wait for: end the wait
      await removed.catch(() => {});
    }
    return dialed;
  };
  t.equal(await crawl(), true, 'the first crawl dials the address');
  clock += DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS - 1000;
  t.equal(await crawl(), false, 'not again 1 s before 2 min have passed');
  clock += 2000;
  t.equal(await crawl(), true, 'again once 2 min have passed');
  t.equal(await crawl(), false, 'and not right after that');
});
