// PEXReactor on a fake Switch and a real AddrBook (test/helpers/pex-reactor.ts): what it does
// when a peer joins, leaves or sends, its loops' timers, and its log lines, each step driven by
// hand on a clock the test steps.
import t from 'tap';
import { InvalidArgumentError, type SwitchboardError } from '../../../lib/errors.js';
import { NetAddress } from '../../../lib/net-address.js';
import { NodeKey } from '../../../lib/node-key.js';
import {
  AddrBook,
  encodePexAddrs,
  encodePexRequest,
  HANGUP_WINDOW_MS,
  PexAbuseError,
  PEXReactor,
  SEED_BIAS_TOWARDS_NEW_ADDRS,
} from '../../../reactors/pex/index.js';
import { LogRecorder } from '../../helpers/mem-switch.js';
import { reactorHarness, type ReactorHarness } from '../../helpers/pex-reactor.js';
import type { Teardown } from '../../helpers/teardown.js';

/** An address id@127.0.5.<i>:26656 with a fresh ID. */
const addrN = (i: number): NetAddress => new NetAddress(NodeKey.generate().id, `127.0.5.${i}`, 26656);

/** The book's entry for `id`, as `id@host:port`, or undefined. */
const stored = (book: AddrBook, id: string): string | undefined =>
  book
    .getSelection()
    .find((a) => a.id === id)
    ?.toString();

/** Math.random returns a constant, set by the returned function, for the rest of the test. */
function fixedRandom(t: Teardown): (v: number) => void {
  const real = Math.random;
  let value = 0;
  Math.random = () => value;
  t.teardown(() => void (Math.random = real));
  return (v) => void (value = v);
}

/** Records the calls of the loop's three round methods instead of running them. */
function stubRounds(h: ReactorHarness): string[] {
  const calls: string[] = [];
  h.pex.ensurePeers = () => (calls.push('ensurePeers'), Promise.resolve());
  h.pex.crawlPeersOnce = () => (calls.push('crawl'), Promise.resolve());
  h.pex.dialSeeds = () => (calls.push('seeds'), Promise.resolve());
  return calls;
}

// ---------------------------------------------------------------- construction

t.test('constructor: no book, a seed that is not a string and a now that is not a function are typed errors', async (t) => {
  for (const bad of [undefined, {}]) {
    const err = t.throws(() => new PEXReactor(bad as never)) as SwitchboardError;
    t.type(err, InvalidArgumentError);
    t.equal(err.message, 'PEXReactor needs an AddrBook');
  }
  const book = new AddrBook(`${t.testdir()}/book.json`, { routabilityStrict: false });
  const err = t.throws(() => new PEXReactor(book, { seeds: ['nope'] })) as SwitchboardError & { cause: Error };
  t.type(err.cause, InvalidArgumentError, 'the cause is the address parser’s error');
  t.equal(err.message, `invalid seed address: ${err.cause.message}`);
  // a JavaScript caller passing something else than a string: the parser's error, not a TypeError
  const notString = t.throws(() => new PEXReactor(book, { seeds: [42 as never] })) as SwitchboardError & { cause: Error };
  t.equal(notString.code, 'ERR_INVALID_ADDRESS');
  t.type(notString.cause, InvalidArgumentError);
  const nowErr = t.throws(() => new PEXReactor(book, { now: 5 as never })) as SwitchboardError;
  t.type(nowErr, InvalidArgumentError);
  t.equal(nowErr.message, 'now must be a function returning ms');
});

t.test('setSwitch gives the Switch the book', async (t) => {
  const h = reactorHarness(t);
  t.same(h.rec.addrBooks.length, 1);
  t.equal(h.rec.addrBooks[0], h.book);
});

// ---------------------------------------------------------------- the loops

t.test('start without peers: ensurePeers at once, then every ensurePeersPeriodMs on an unref’d timer', async (t) => {
  const h = reactorHarness(t, { pex: { ensurePeersPeriodMs: 12_345 } });
  const calls = stubRounds(h);
  h.start();
  t.ok(h.book.isRunning(), 'the book is started (loaded, periodic save)');
  t.same(calls, ['ensurePeers'], 'the first round runs at once');
  t.match(h.pending(), [{ ms: 12_345, unrefd: true }], 'the next one in a period, on a timer that does not hold the process');
  h.fire();
  t.same(calls, ['ensurePeers', 'ensurePeers']);
  t.match(h.pending(), [{ ms: 12_345, unrefd: true }]);
  h.start();
  t.same(calls, ['ensurePeers', 'ensurePeers'], 'start() while started does nothing');
  t.equal(h.pending().length, 1);
  t.same(
    h.timers.map((x) => x.ms),
    [12_345, 12_345],
  );
});

t.test('start with a peer (or a dial) already there: the first round waits a random part of the period', async (t) => {
  fixedRandom(t)(0.25);
  for (const setup of ['outbound peer', 'dial in progress', 'inbound peer and a dial'] as const) {
    const h = reactorHarness(t, { pex: { ensurePeersPeriodMs: 40_000 } });
    const calls = stubRounds(h);
    if (setup === 'outbound peer') h.add({ outbound: true });
    else if (setup === 'inbound peer and a dial') {
      h.add();
      h.setExtraDials(1);
    } else h.setExtraDials(1);
    h.start();
    t.same(calls, [], `${setup}: no round at start`);
    t.match(h.pending(), [{ ms: 10_000, unrefd: true }], `${setup}: the first round after random·period`);
    h.fire();
    t.same(calls, ['ensurePeers'], `${setup}: then the round`);
    t.match(h.pending(), [{ ms: 40_000 }], `${setup}: and the next one a full period later`);
    h.fire();
    t.same(calls, ['ensurePeers', 'ensurePeers']);
  }
});

t.test('seed mode: the seeds first, then a crawl every crawlPeriodMs; without seeds a crawl at once', async (t) => {
  const seed = addrN(1);
  const h = reactorHarness(t, { pex: { seedMode: true, seeds: [seed.toString()], crawlPeriodMs: 7_000, ensurePeersPeriodMs: 9_000 } });
  const calls = stubRounds(h);
  h.start();
  t.same(calls, ['seeds'], 'the seeds are dialed first');
  t.match(h.pending(), [{ ms: 7_000, unrefd: true }]);
  h.fire();
  t.same(calls, ['seeds', 'crawl'], 'then a crawl');
  h.fire();
  t.same(calls, ['seeds', 'crawl', 'crawl'], 'every period');
  t.match(h.pending(), [{ ms: 7_000, unrefd: true }]);

  const h2 = reactorHarness(t, { pex: { seedMode: true, crawlPeriodMs: 7_000 } });
  const calls2 = stubRounds(h2);
  h2.start();
  t.same(calls2, ['crawl'], 'no seeds: a crawl at once');
  t.match(h2.pending(), [{ ms: 7_000 }]);

  const h3 = reactorHarness(t, { pex: { seeds: [seed.toString()] } });
  const calls3 = stubRounds(h3);
  h3.start();
  t.same(calls3, ['ensurePeers'], 'not in seed mode: ensurePeers (which dials the seeds itself), no crawl');
});

t.test('a period past the timer limit waits the longest timer', async (t) => {
  const h = reactorHarness(t, { pex: { ensurePeersPeriodMs: 2 ** 31 - 1 } });
  stubRounds(h);
  h.start();
  t.match(h.pending(), [{ ms: 2 ** 31 - 1 }]);
});

t.test('stop ends the loop: its timer is cleared, a late tick does nothing, the book is stopped', async (t) => {
  for (const seedMode of [false, true]) {
    const h = reactorHarness(t, { pex: { seedMode } });
    const calls = stubRounds(h);
    h.start();
    const [timer] = h.pending();
    const p = h.add(); // inbound: not asked, so requestAddrs would ask it
    await h.run(() => h.pex.stop());
    t.equal(timer?.cleared, true, `seedMode ${seedMode}: the timer is cleared`);
    t.notOk(h.book.isRunning(), 'the book is stopped (and saved)');
    // a timer that fired anyway (it was already due) runs no round and sets no timer
    const before = calls.length;
    h.run(timer!.fn);
    t.equal(calls.length, before, 'no round after stop');
    t.equal(h.timers.length, 1, 'no new timer');
    t.equal(h.pex.requestAddrs(h.asPeer(p)), false, 'the peers are forgotten');
  }
});

t.test('start without a running Switch (or without one at all) starts the book and schedules nothing', async (t) => {
  const h = reactorHarness(t);
  const calls = stubRounds(h);
  h.setRunning(false);
  h.start();
  t.ok(h.book.isRunning());
  t.same(calls, []);
  t.same(h.timers, []);

  const book = new AddrBook(`${t.testdir()}/alone.json`, { routabilityStrict: false });
  const alone = new PEXReactor(book);
  t.teardown(() => alone.stop());
  t.doesNotThrow(() => alone.start(), 'a reactor not added to a Switch');
  t.ok(book.isRunning());
});

// ---------------------------------------------------------------- peers joining

t.test('an outbound peer: added to the book if absent and marked good; asked for addresses while the book needs them', async (t) => {
  const h = reactorHarness(t);
  const p = h.add({ outbound: true });
  t.ok(h.book.isGood(p.remoteAddr), 'in the book, marked good');
  t.same(p.sent, [{ type: 'request' }], 'asked for addresses');
  h.book.needMoreAddrs = () => false;
  const q = h.add({ outbound: true });
  t.ok(h.book.isGood(q.remoteAddr));
  t.same(q.sent, [], 'a book that needs no addresses asks nobody');
});

t.test('an inbound peer: its self-reported address goes into the book, with the socket’s IP for an unspecified host', async (t) => {
  const h = reactorHarness(t);
  const plain = h.add({ reported: { host: '10.1.1.1', port: 26656 }, remoteIp: '10.9.9.9' });
  t.equal(stored(h.book, plain.id), `${plain.id}@10.1.1.1:26656`, 'the reported address, not the socket’s IP');
  t.notOk(h.book.isGood(plain.remoteAddr), 'not marked good');
  t.same(plain.sent, [], 'not asked');
  const any4 = h.add({ reported: { host: '0.0.0.0', port: 26657 }, remoteIp: '10.2.2.2' });
  t.equal(stored(h.book, any4.id), `${any4.id}@10.2.2.2:26657`);
  const any6 = h.add({ reported: { host: '::', port: 26658 }, remoteIp: '10.3.3.3' });
  t.equal(stored(h.book, any6.id), `${any6.id}@10.3.3.3:26658`);
  for (const remoteIp of ['', 'not a host!']) {
    const p = h.add({ reported: { host: '0.0.0.0', port: 26659 }, remoteIp });
    t.equal(stored(h.book, p.id), undefined, `remote IP ${JSON.stringify(remoteIp)}: nothing to add`);
    t.match(h.switchLogs.withMsg('pex: address not added').at(-1), {
      level: 20,
      reactor: 'pex',
      addr: `${p.id}@0.0.0.0:26659`,
      src: `${p.id}@0.0.0.0:26659`,
      err: /unspecified/,
    });
  }
});

t.test('an outbound peer goes into the book; a configured seed we dialed does not', async (t) => {
  const seed = addrN(1);
  const h = reactorHarness(t, { pex: { seeds: [seed.toString()] } });
  h.add({ addr: seed, outbound: true });
  t.notOk(h.book.hasAddress(seed), 'the seed is kept out of the book');
  const other = addrN(2);
  h.add({ addr: other, outbound: true });
  t.ok(h.book.hasAddress(other), 'another outbound peer is added');
});

t.test('an inbound configured seed (crawling us) is asked back while the book needs addresses', async (t) => {
  const seed = addrN(1);
  const h = reactorHarness(t, { pex: { seeds: [seed.toString()] } });
  const s = h.add({ addr: seed });
  t.same(s.sent, [{ type: 'request' }], 'the seed is asked');
  t.notOk(h.book.hasAddress(seed), 'and not put in the book');
  const other = h.add();
  t.same(other.sent, [], 'an inbound non-seed is not asked');
  h.remove(s);
  h.book.needMoreAddrs = () => false;
  const again = h.add({ addr: seed });
  t.same(again.sent, [], 'not when the book needs no addresses');
});

t.test(
  'a banned peer is disconnected with ERR_BANNED once addPeer returned, neither asked nor added; persistent and unconditional ones stay',
  async (t) => {
    const h = reactorHarness(t);
    const addr = addrN(1);
    h.book.markBad(addr, 60_000);
    const p = h.add({ addr, outbound: true });
    t.same(h.rec.stoppedForError, [], 'not inside addPeer');
    await h.settle();
    t.equal(h.rec.stoppedForError.length, 1);
    t.equal(h.rec.stoppedForError[0]!.id, p.id);
    t.match(h.rec.stoppedForError[0]!.reason, { code: 'ERR_BANNED', message: `peer ${p.id} is banned` });
    t.same(p.sent, [], 'not asked for addresses');
    t.notOk(h.book.hasAddress(addr), 'not added');
    t.match(h.switchLogs.withMsg('pex: disconnecting a banned peer'), [{ level: 30, peer: p.id }]);
    h.remove(p, h.rec.stoppedForError[0]!.reason);
    t.equal(h.pex.attemptsToDial(addr), 0, 'its leaving at once is no hang-up: PEX stopped it');

    const persistent = addrN(2);
    const unconditional = addrN(3);
    h.book.markBad(persistent, 60_000);
    h.book.markBad(unconditional, 60_000);
    h.unconditional.add(unconditional.id);
    const a = h.add({ addr: persistent, outbound: true, persistent: true });
    const b = h.add({ addr: unconditional, outbound: true });
    await h.settle();
    t.equal(h.rec.stoppedForError.length, 1, 'the persistent and the unconditional peer are not disconnected');
    t.same(a.sent, [{ type: 'request' }]);
    t.same(b.sent, [{ type: 'request' }]);
  },
);

// ---------------------------------------------------------------- peers leaving

t.test(
  'an outbound peer leaving within HANGUP_WINDOW_MS hung up (a failure); one that stayed HANGUP_WINDOW_MS clears the history',
  async (t) => {
    const h = reactorHarness(t);
    const addr = addrN(1);
    h.remove(h.add({ addr, outbound: true }));
    t.equal(h.pex.attemptsToDial(addr), 1, 'one failure');
    t.match(h.switchLogs.withMsg('pex: peer hung up soon after we connected: backing off'), [{ level: 20, peer: addr.id, failures: 1 }]);
    let p = h.add({ addr, outbound: true });
    h.now += HANGUP_WINDOW_MS - 1;
    h.remove(p);
    t.equal(h.pex.attemptsToDial(addr), 2, 'two, the second 1 ms within the window');
    p = h.add({ addr, outbound: true });
    h.now += HANGUP_WINDOW_MS;
    h.remove(p);
    t.equal(h.pex.attemptsToDial(addr), 0, 'a connection that lasted exactly the window clears them');
  },
);

t.test('no hang-up: an inbound, a persistent or a seed peer leaving early, a peer PEX stopped, a peer PEX never saw', async (t) => {
  const seed = addrN(9);
  const h = reactorHarness(t, { pex: { seeds: [seed.toString()] } });
  const inbound = h.add();
  h.remove(inbound);
  t.equal(h.pex.attemptsToDial(inbound.remoteAddr), 0, 'inbound');
  const persistent = h.add({ outbound: true, persistent: true });
  h.remove(persistent);
  t.equal(h.pex.attemptsToDial(persistent.remoteAddr), 0, 'persistent');
  const s = h.add({ addr: seed, outbound: true });
  h.remove(s);
  t.equal(h.pex.attemptsToDial(seed), 0, 'a configured seed (it answers and hangs up)');
  const punished = h.add({ outbound: true });
  h.deliver(punished, Uint8Array.of(0xc1));
  h.remove(punished, h.rec.stoppedForError[0]!.reason);
  t.equal(h.pex.attemptsToDial(punished.remoteAddr), 0, 'disconnected by PEX for a bad message');
  const stranger = h.peer({ outbound: true });
  t.doesNotThrow(() => h.pex.removePeer(h.asPeer(stranger), new InvalidArgumentError('x')), 'a peer PEX never saw');
  t.equal(h.pex.attemptsToDial(stranger.remoteAddr), 0);
});

// ---------------------------------------------------------------- messages

t.test('a message from a peer PEX does not know is ignored', async (t) => {
  const h = reactorHarness(t);
  const p = h.peer();
  t.doesNotThrow(() => h.deliver(p, encodePexRequest()));
  t.doesNotThrow(() => h.deliver(p, Uint8Array.of(0xc1)));
  t.same(p.sent, []);
  t.same(h.rec.stoppedForError, []);
});

t.test('a malformed message: the peer is disconnected with the decode error and banned for banMs through the Switch', async (t) => {
  const h = reactorHarness(t, { pex: { banMs: 123_000 } });
  const p = h.add();
  t.doesNotThrow(() => h.deliver(p, Uint8Array.of(0xc1)));
  t.equal(h.rec.stoppedForError.length, 1);
  t.match(h.rec.stoppedForError[0], { id: p.id, reason: { code: 'ERR_MALFORMED_PACKET' } });
  t.same(h.rec.bans, [{ target: p.remoteAddr.toString(), ms: 123_000 }]);
  t.match(h.switchLogs.withMsg('pex: disconnecting and banning peer'), [
    { level: 30, peer: p.id, err: h.rec.stoppedForError[0]!.reason.message },
  ]);
  t.same(p.sent, []);
});

t.test('requests: two free, then one per requestIntervalMs since the last one answered', async (t) => {
  const I = 5_000;
  const h = reactorHarness(t, { pex: { requestIntervalMs: I } });
  const x = addrN(1);
  h.book.addAddress(x, x);
  const t0 = h.now;
  const a = h.add();
  const ask = (at: number) => {
    h.now = t0 + at;
    h.deliver(a, encodePexRequest());
  };
  ask(0);
  ask(100);
  t.equal(a.sent.length, 2, 'two free requests answered');
  ask(100 + I);
  t.equal(a.sent.length, 3, 'a third one requestIntervalMs after the second is answered');
  t.same(h.rec.stoppedForError, []);
  ask(100 + 2 * I - 1);
  t.equal(a.sent.length, 3, 'a fourth one 1 ms too soon after the third is not answered');
  t.equal(h.rec.stoppedForError.length, 1, 'it is disconnected');
  const reason = h.rec.stoppedForError[0]!.reason as PexAbuseError;
  t.type(reason, PexAbuseError);
  t.equal(reason.reason, 'request-too-soon');
  t.equal(reason.peerId, a.id);
  t.equal(reason.message, `peer ${a.id} sent a PEX request ${I - 1} ms after the previous one (minimum ${I} ms)`);
  t.same(h.rec.bans, [{ target: a.remoteAddr.toString(), ms: h.pex.settings.banMs }], 'and banned');
  for (const m of a.sent) t.same(m.type === 'addrs' && m.addrs.map(String), [x.toString()], 'each answer has the book’s address');

  // the clock starts at the second request, not the first
  const b = h.add();
  h.now = t0;
  h.deliver(b, encodePexRequest());
  h.now = t0 + 500;
  h.deliver(b, encodePexRequest());
  h.now = t0 + I + 1;
  h.deliver(b, encodePexRequest());
  t.equal(b.sent.length, 2, 'a third request I + 1 ms after the first but less than I after the second is refused');
  t.equal(h.rec.stoppedForError.at(-1)?.id, b.id);
});

t.test('an answer leaves out the requester, private IDs and what cannot go on the wire, and has at most maxAddrsPerResponse', async (t) => {
  const h = reactorHarness(t);
  const pub = [1, 2, 3, 4, 5].map(addrN);
  for (const a of pub) h.book.addAddress(a, a);
  const priv = addrN(6);
  h.book.addAddress(priv, priv);
  h.privateIds.add(priv.id);
  const selection = h.book.getSelection.bind(h.book);
  // the reactor does not count on the book holding wire addresses only
  h.book.getSelection = () => [...selection(), new NetAddress(NodeKey.generate().id, 'example.com', 26656)];
  const r = h.add();
  t.ok(h.book.hasAddress(r.remoteAddr), 'the requester is in the book');
  t.doesNotThrow(() => h.deliver(r, encodePexRequest()));
  const m = r.sent[0];
  t.equal(m?.type, 'addrs');
  t.same(m?.type === 'addrs' && m.addrs.map(String).sort(), pub.map(String).sort(), 'the public addresses, nothing else');

  const h2 = reactorHarness(t, { pex: { maxAddrsPerResponse: 3 } });
  for (const a of pub) h2.book.addAddress(a, a);
  const r2 = h2.add();
  h2.deliver(r2, encodePexRequest());
  const m2 = r2.sent[0];
  t.equal(m2?.type === 'addrs' && m2.addrs.length, 3, 'at most maxAddrsPerResponse');
});

t.test('seed mode: an inbound requester gets one answer biased to new addresses, then is disconnected gracefully', async (t) => {
  const h = reactorHarness(t, { pex: { seedMode: true } });
  const known = [1, 2].map(addrN);
  for (const a of known) h.book.addAddress(a, a);
  const biases: number[] = [];
  const withBias = h.book.getSelectionWithBias.bind(h.book);
  h.book.getSelectionWithBias = (b: number) => (biases.push(b), withBias(b));
  const r = h.add();
  h.deliver(r, encodePexRequest());
  t.same(biases, [SEED_BIAS_TOWARDS_NEW_ADDRS], 'a selection 30 % biased to new addresses');
  t.equal(SEED_BIAS_TOWARDS_NEW_ADDRS, 30);
  t.equal(r.sent.length, 1);
  const m = r.sent[0];
  t.same(m?.type === 'addrs' && m.addrs.map(String).sort(), known.map(String).sort());
  t.match(h.switchLogs.withMsg('pex: seed answering and disconnecting'), [{ level: 20, peer: r.id, n: 2 }]);
  t.same(h.rec.stoppedGracefully, [], 'not before the answer is sent');
  await h.settle();
  t.same(h.rec.stoppedGracefully, [r.id], 'then disconnected gracefully');
  h.deliver(r, encodePexRequest());
  h.deliver(r, encodePexRequest());
  t.equal(r.sent.length, 1, 'later requests are ignored');
  t.same(h.rec.stoppedForError, [], 'not punished');

  // an outbound or a persistent peer is not crawled this way: the ordinary rules apply
  for (const o of [{ outbound: true }, { persistent: true }]) {
    const p = h.add(o);
    h.deliver(p, encodePexRequest());
    h.deliver(p, encodePexRequest());
    h.deliver(p, encodePexRequest());
    await h.settle();
    t.equal(p.sent.filter((x) => x.type === 'addrs').length, 2, `${JSON.stringify(o)}: two answers`);
    t.equal(h.rec.stoppedForError.at(-1)?.id, p.id, 'the third request too soon is punished');
  }
  t.same(h.rec.stoppedGracefully, [r.id], 'none of them disconnected gracefully');
});

t.test('seed mode: a failed answer or disconnect is logged', async (t) => {
  const h = reactorHarness(t, { pex: { seedMode: true } });
  const r = h.add();
  r.sendResult = new Error('socket gone');
  h.deliver(r, encodePexRequest());
  await h.settle();
  t.same(h.rec.stoppedGracefully, [], 'no disconnect after a failed send');
  t.match(h.switchLogs.withMsg('pex: seed disconnect failed'), [{ level: 20, peer: r.id, err: 'socket gone' }]);
  h.setGraceful(() => Promise.reject(new Error('stop failed')));
  const r2 = h.add();
  h.deliver(r2, encodePexRequest());
  await h.settle();
  t.same(h.rec.stoppedGracefully, [r2.id]);
  t.match(h.switchLogs.withMsg('pex: seed disconnect failed').at(-1), { peer: r2.id, err: 'stop failed' });
});

t.test('requestAddrs: one request pending at a time, only to a PEX peer PEX knows; a failed send frees it', async (t) => {
  const h = reactorHarness(t);
  const p = h.add();
  t.equal(h.pex.requestAddrs(h.asPeer(p)), true, 'queued');
  t.same(p.sent, [{ type: 'request' }]);
  t.match(h.switchLogs.withMsg('pex: requesting addresses'), [{ level: 20, peer: p.id }]);
  t.equal(h.pex.requestAddrs(h.asPeer(p)), false, 'not while one is pending');
  t.equal(p.sent.length, 1);
  const noPex = h.add({ channels: [0x20] });
  t.equal(h.pex.requestAddrs(h.asPeer(noPex)), false, 'a peer without the PEX channel');
  t.same(noPex.sent, []);
  t.equal(h.pex.requestAddrs(h.asPeer(h.peer())), false, 'a peer PEX does not know');

  for (const result of [false, new Error('closed')]) {
    const q = h.add();
    q.sendResult = result;
    t.equal(h.pex.requestAddrs(h.asPeer(q)), true);
    await h.settle();
    q.sendResult = true;
    t.equal(h.pex.requestAddrs(h.asPeer(q)), true, `${String(result)}: the request did not go out, another may`);
    t.equal(q.sent.length, 2);
  }
  // a request that went out stays pending until answered
  await h.settle();
  t.equal(h.pex.requestAddrs(h.asPeer(p)), false);
});

t.test('PexAddrs: refused unless asked for; each request makes one answer acceptable; refused addresses are not counted', async (t) => {
  const h = reactorHarness(t);
  const x = [1, 2].map(addrN);
  const priv = addrN(3);
  const banned = addrN(4);
  h.privateIds.add(priv.id);
  h.book.markBad(banned, 60_000);

  const u = h.add();
  h.deliver(u, encodePexAddrs([x[0]!]));
  t.equal(h.rec.stoppedForError.length, 1);
  const reason = h.rec.stoppedForError[0]!.reason as PexAbuseError;
  t.equal(reason.reason, 'unsolicited-addrs');
  t.equal(reason.message, `peer ${u.id} sent addresses we did not request`);
  t.same(h.rec.bans, [{ target: u.remoteAddr.toString(), ms: h.pex.settings.banMs }]);
  t.notOk(h.book.hasAddress(x[0]!), 'an unsolicited address is not added');

  const p = h.add({ outbound: true }); // asked at once (the book needs addresses)
  t.same(p.sent, [{ type: 'request' }]);
  h.deliver(p, encodePexAddrs([x[0]!, priv, banned, x[1]!]));
  t.equal(h.rec.stoppedForError.length, 1, 'the asked-for answer is accepted');
  for (const a of x) t.ok(h.book.hasAddress(a), `${a.host} added`);
  t.notOk(h.book.hasAddress(priv), 'not a private ID');
  t.match(h.switchLogs.withMsg('pex: received addresses'), [{ level: 20, peer: p.id, received: 4, added: 2 }]);
  t.same(h.rec.dials, [], 'addresses from a peer that is not a seed are not dialed at once');
  h.deliver(p, encodePexAddrs([]));
  t.equal(h.rec.stoppedForError.length, 2, 'a second answer to one request is unsolicited');
  t.equal(h.rec.stoppedForError[1]!.id, p.id);
});

t.test('a configured seed is never put in the book, even when gossiped', async (t) => {
  const seed = addrN(1);
  const h = reactorHarness(t, { pex: { seeds: [seed.toString()] } });
  const p = h.add({ outbound: true });
  h.deliver(p, encodePexAddrs([seed]));
  t.notOk(h.book.hasAddress(seed));
  t.match(h.switchLogs.withMsg('pex: received addresses'), [{ received: 1, added: 0 }]);
});

t.test('addresses from a configured seed are dialed at once while outbound slots are free (not in seed mode)', async (t) => {
  const seed = addrN(1);
  const h = reactorHarness(t, { pex: { seeds: [seed.toString()] }, maxNumOutboundPeers: 3 });
  const s = h.add({ addr: seed, outbound: true });
  t.same(s.sent, [{ type: 'request' }]);
  const offered = [2, 3, 4].map(addrN);
  const banned = addrN(5);
  h.book.markBad(banned, 60_000);
  h.dialFailures.set(offered[1]!.id, new Error('refused'));
  h.deliver(s, encodePexAddrs([banned, ...offered]));
  t.same(
    h.rec.dials,
    [offered[0]!.toString(), offered[1]!.toString()],
    'the seed and two dials fill the three slots; a refused address is not dialed',
  );
  await h.settle();
  t.same(
    h.switchLogs.withMsg('pex: dial failed').map((r) => [r.addr, r.err]),
    [[offered[1]!.toString(), 'refused']],
    'the failed dial is logged; the third address was not tried',
  );
  t.ok(h.book.isGood(offered[0]!), 'the dialed peer connected');

  const sm = reactorHarness(t, { pex: { seedMode: true, seeds: [seed.toString()] } });
  const s2 = sm.add({ addr: seed, outbound: true });
  sm.deliver(s2, encodePexAddrs(offered));
  t.same(sm.rec.dials, [], 'a seed-mode node crawls instead');
});

t.test(
  'seed mode: an outbound peer is disconnected gracefully once it answered, and that is no hang-up; inbound and persistent ones stay',
  async (t) => {
    const h = reactorHarness(t, { pex: { seedMode: true } });
    const p = h.add({ outbound: true });
    t.same(p.sent, [{ type: 'request' }]);
    h.deliver(p, encodePexAddrs([addrN(1)]));
    t.same(h.rec.stoppedGracefully, [p.id]);
    h.remove(p);
    t.equal(h.pex.attemptsToDial(p.remoteAddr), 0, 'its leaving at once is no hang-up');
    const persistent = h.add({ outbound: true, persistent: true });
    h.deliver(persistent, encodePexAddrs([]));
    const inbound = h.add();
    t.ok(h.pex.requestAddrs(h.asPeer(inbound)));
    h.deliver(inbound, encodePexAddrs([]));
    t.same(h.rec.stoppedGracefully, [p.id], 'the persistent and the inbound peer stay');
    t.same(h.rec.stoppedForError, []);
  },
);

t.test('seed mode crawl: a peer that just connected is kept; the crawled one is asked even when the book needs nothing', async (t) => {
  const h = reactorHarness(t, { pex: { seedMode: true } });
  h.start();
  const fresh = h.add();
  h.now += 1;
  const x = addrN(1);
  h.book.addAddress(x, x);
  h.book.needMoreAddrs = () => false;
  await h.pex.crawlPeersOnce();
  t.same(h.rec.stoppedGracefully, [], 'a peer that just connected is not disconnected');
  t.same(h.rec.dials, [x.toString()], 'the book’s address is crawled');
  const crawled = h.host.peers.get(x.id) as unknown as { sent: unknown[] };
  t.same(crawled.sent, [{ type: 'request' }], 'and asked for addresses');
  t.same(fresh.sent, []);
});

t.test('ensurePeers asks one random connected PEX peer without a request pending', async (t) => {
  const random = fixedRandom(t);
  const h = reactorHarness(t);
  h.start();
  const pending = h.add();
  h.pex.requestAddrs(h.asPeer(pending));
  h.add({ channels: [0x20] }); // no PEX channel
  const unknown = h.peer(); // in the Switch's set, not yet told to PEX
  const view = h.host.peers as unknown as { list(): unknown[] };
  const list = view.list.bind(view);
  view.list = () => [...list(), unknown];
  const c1 = h.add();
  const c2 = h.add();
  await h.pex.ensurePeers();
  t.same(c1.sent, [{ type: 'request' }], 'the first candidate (Math.random 0)');
  t.same(c2.sent, []);
  t.same(unknown.sent, []);
  t.equal(pending.sent.length, 1);

  const h2 = reactorHarness(t);
  h2.start();
  random(0.99);
  const d1 = h2.add();
  const d2 = h2.add();
  await h2.pex.ensurePeers();
  t.same(d1.sent, []);
  t.same(d2.sent, [{ type: 'request' }], 'the second of two (Math.random 0.99)');
});

t.test('a seed connecting does not end the seeds’ backoff; a non-seed peer does', async (t) => {
  const seed = addrN(1);
  const h = reactorHarness(t, { pex: { seeds: [seed.toString()], dialBackoffBaseMs: 1_000 } });
  h.start(); // isolated: the first round dials the seed
  await h.settle();
  t.same(h.rec.dials, [seed.toString()]);
  const s = h.host.peers.get(seed.id);
  t.ok(s, 'connected');
  h.remove(s as never);
  await h.pex.ensurePeers();
  t.same(h.rec.dials, [seed.toString()], 'the seed connected, but the next round still waits');
  const p = h.add();
  h.remove(p);
  h.book.removeAddress(p.remoteAddr); // nothing to dial from the book either
  await h.pex.ensurePeers();
  t.same(h.rec.dials, [seed.toString(), seed.toString()], 'after a non-seed peer, at once');
});

// ---------------------------------------------------------------- logging

t.test('PEX logs through the Switch’s logger as { reactor: "pex" }, or through the logger it was given', async (t) => {
  const h = reactorHarness(t);
  const p = h.add();
  h.pex.requestAddrs(h.asPeer(p));
  t.match(h.switchLogs.withMsg('pex: requesting addresses'), [{ reactor: 'pex', peer: p.id }]);

  const own = new LogRecorder();
  const h2 = reactorHarness(t, { pex: { logger: own.logger } });
  const q = h2.add();
  h2.pex.requestAddrs(h2.asPeer(q));
  t.equal(own.withMsg('pex: requesting addresses').length, 1, 'the given logger');
  t.same(h2.switchLogs.records, [], 'not the Switch’s');
});
