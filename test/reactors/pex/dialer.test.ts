// PEX's outbound dialing (reactors/pex/dialer.ts) on a fake Switch and book with a clock stepped by
// hand: which addresses ensurePeers dials, the per-address backoff (base·2^n + jitter) and the ban
// after maxAttemptsToDial, what each dial error does to the address, and the seeds as the fallback
// of an isolated node with their own backoff between rounds.
import t from 'tap';
import { PexDialRefusedError, MAX_SEED_BACKOFF_MS } from '../../../reactors/pex/index.js';
import { addrN, dialHarness, swErr } from '../../helpers/pex-dial.js';

const refusal = async (p: Promise<unknown>): Promise<PexDialRefusedError> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof PexDialRefusedError)) throw new Error(`expected a PexDialRefusedError, got ${String(e)}`);
  return e;
};

// ------------------------------------------------------------ ensurePeers

t.test('ensurePeers dials up to maxNumOutboundPeers minus the outbound peers, each address once', async (t) => {
  const h = dialHarness(t, { maxNumOutboundPeers: 3 });
  h.addPeer(addrN(90));
  const a = [1, 2, 3, 4, 5].map(addrN);
  h.offer(...a);
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [a[0]!.toString(), a[1]!.toString()], 'two dials fill the three outbound slots');
  t.same(h.rec.attempts, h.rec.dialed, 'each dial is marked as an attempt in the book');
  t.equal(h.peers.size, 3);
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 2, 'full: no more dials');
  t.same(h.rec.biases, [20, 20], 'two picks, both dialed; the full round does not even pick from the book');
});

t.test('ensurePeers with no room left does nothing: no pick, no asking for addresses, no seed', async (t) => {
  const h = dialHarness(t, { maxNumOutboundPeers: 1, seeds: [addrN(50)] });
  h.offer(addrN(1));
  h.setNeedMore(true);
  h.setEmpty(true);
  h.setExtraSwitchCount(1);
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [], 'the Switch counts a slot taken (a dial or a persistent slot): nothing dialed');
  t.same(h.rec.biases, []);
  t.equal(h.rec.reinstated, 0);
  t.equal(h.rec.asked, 0);
  h.setExtraSwitchCount(0);
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 1, 'room again: dialed');
  t.equal(h.rec.asked, 1, 'and a needy book asks for addresses');
});

t.test('ensurePeers picks with a bias toward new addresses that grows with the outbound peers (10 + 10·min(out, 8))', async (t) => {
  for (const [out, bias] of [
    [0, 10],
    [3, 40],
    [8, 90],
    [9, 90],
  ] as const) {
    const h = dialHarness(t, { maxNumOutboundPeers: 20 });
    for (let i = 0; i < out; i++) h.addPeer(addrN(100 + i));
    h.offer(addrN(1));
    await h.dialer.ensurePeers();
    t.equal(h.rec.biases[0], bias, `${out} outbound peers: bias ${bias}`);
  }
});

t.test('ensurePeers picks at most 3·numToDial times and skips seeds, peers, dials and backing-off addresses', async (t) => {
  const seed = addrN(50);
  const h = dialHarness(t, { maxNumOutboundPeers: 2, seeds: [seed] });
  const connected = addrN(1);
  h.addPeer(connected, { outbound: false });
  const dialing = addrN(2);
  h.switchDialing.add(dialing.id);
  const failed = addrN(3);
  h.dialer.countFailure(failed.toString());
  h.offer(seed, connected, dialing, failed);
  h.setEmpty(false);
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [], 'none of them is dialed (and the seed is not the fallback: a peer is connected)');
  t.equal(h.rec.biases.length, 6, 'two to dial: six picks');

  const fresh = addrN(4);
  h.offer(fresh, fresh, fresh, fresh);
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [fresh.toString()], 'an address picked twice is dialed once');
});

t.test('ensurePeers asks for more addresses only when the book needs them', async (t) => {
  const h = dialHarness(t);
  h.addPeer(addrN(90));
  await h.dialer.ensurePeers();
  t.equal(h.rec.reinstated, 0);
  t.equal(h.rec.asked, 0);
  h.setNeedMore(true);
  await h.dialer.ensurePeers();
  t.equal(h.rec.reinstated, 1, 'a needy book reinstates its bad peers');
  t.equal(h.rec.asked, 1, 'and a peer is asked for addresses');
});

t.test('ensurePeers does nothing once the reactor stopped', async (t) => {
  const h = dialHarness(t, { seeds: [addrN(50)] });
  h.offer(addrN(1));
  h.setAlive(false);
  await h.dialer.ensurePeers();
  await h.dialer.dialSeeds();
  t.same(h.rec.dialed, []);
  t.same(h.rec.biases, []);
});

// -------------------------------------------------------- dial and backoff

t.test('a failed dial backs off base·2^n plus up to base of jitter, n the failures in a row', async (t) => {
  const h = dialHarness(t, { pex: { dialBackoffBaseMs: 1000 } });
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL', 'connection refused'));
  h.random(0.5);
  const t0 = h.now;
  await t.rejects(h.dialer.dialPeer(a), { code: 'ERR_DIAL' });
  t.equal(h.dialer.attemptsToDial(a), 1);
  t.ok(h.dialer.backingOff(a));
  h.now = t0 + 2000 + 499;
  const r = await refusal(h.dialer.dialPeer(a));
  t.equal(r.reason, 'backoff');
  t.equal(r.code, 'ERR_REJECTED');
  t.equal(r.message, `${a} failed 1 dials: not before ${new Date(t0 + 2500).toISOString()}`);
  t.equal(h.rec.dialed.length, 1, 'a refused dial does not reach the Switch');
  h.now = t0 + 2500;
  t.notOk(h.dialer.backingOff(a), 'free again at base·2 + base/2');
  const t1 = h.now;
  await t.rejects(h.dialer.dialPeer(a), { code: 'ERR_DIAL' });
  t.equal(h.dialer.attemptsToDial(a), 2);
  h.now = t1 + 4499;
  t.ok(h.dialer.backingOff(a), 'second failure: base·4 + base/2');
  h.now = t1 + 4500;
  t.notOk(h.dialer.backingOff(a));
  t.equal(h.rec.dialed.length, 2);
});

t.test('a backoff past the last Date is capped there, and a dial still refused with its reason', async (t) => {
  // maxAttemptsToDial 100 with the default base: from the 44th failure on, base·2^n is past year 275760
  const h = dialHarness(t, { pex: { maxAttemptsToDial: 100 } });
  const a = addrN(1);
  h.random(0);
  for (let i = 1; i <= 60; i++) t.equal(h.dialer.countFailure(a.toString()), i);
  h.now += 1e15;
  t.ok(h.dialer.backingOff(a), 'still backing off 10^15 ms later');
  const r = await refusal(h.dialer.dialPeer(a));
  t.equal(r.reason, 'backoff');
  t.equal(r.message, `${a} failed 60 dials: not before +275760-09-13T00:00:00.000Z`);
  t.same(h.rec.dialed, []);
});

t.test('an address failing more than maxAttemptsToDial dials is banned for banMs, and its history forgotten', async (t) => {
  const h = dialHarness(t, { pex: { maxAttemptsToDial: 2, banMs: 777_000, dialBackoffBaseMs: 0 } });
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL'));
  for (let i = 1; i <= 3; i++) {
    await t.rejects(h.dialer.dialPeer(a), { code: 'ERR_DIAL' });
    t.equal(h.dialer.attemptsToDial(a), i);
  }
  t.same(h.rec.bans, [], 'not banned after maxAttemptsToDial + 1 failures yet');
  const r = await refusal(h.dialer.dialPeer(a));
  t.equal(r.reason, 'max-attempts');
  t.equal(r.code, 'ERR_REJECTED');
  t.equal(r.message, `${a} failed 3 dials: banned`);
  t.same(h.rec.bans, [{ addr: a.toString(), ms: 777_000 }]);
  t.equal(h.dialer.attemptsToDial(a), 0, 'history cleared');
  t.equal(h.rec.dialed.length, 3);
});

t.test('a persistent address is never banned for failing, only backed off', async (t) => {
  const a = addrN(1);
  const h = dialHarness(t, { pex: { maxAttemptsToDial: 1, dialBackoffBaseMs: 0 }, persistent: [a.id] });
  h.outcome.set(a.id, swErr('ERR_DIAL'));
  for (let i = 1; i <= 4; i++) await t.rejects(h.dialer.dialPeer(a), { code: 'ERR_DIAL' });
  t.equal(h.dialer.attemptsToDial(a), 4);
  t.same(h.rec.bans, []);
});

t.test('a ban the book refuses is logged, and the refusal still thrown', async (t) => {
  const h = dialHarness(t, { pex: { maxAttemptsToDial: 1, dialBackoffBaseMs: 0 } });
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL'));
  await t.rejects(h.dialer.dialPeer(a));
  await t.rejects(h.dialer.dialPeer(a));
  h.setMarkBadThrows(true);
  t.equal((await refusal(h.dialer.dialPeer(a))).reason, 'max-attempts');
  const w = h.logs.withMsg('pex: could not ban address');
  t.equal(w.length, 1);
  t.match(w[0], { level: 40, addr: a.toString(), err: 'book is broken' });
});

t.test('which dial errors count as failures', async (t) => {
  const h = dialHarness(t, { pex: { banMs: 5000 } });
  for (const code of ['ERR_DUPLICATE_PEER', 'ERR_TOO_MANY_PEERS', 'ERR_SWITCH_STOPPED'] as const) {
    const a = addrN(1);
    h.outcome.set(a.id, swErr(code));
    await t.rejects(h.dialer.dialPeer(a), { code });
    t.equal(h.dialer.attemptsToDial(a), 0, `${code}: not the address's fault, not counted`);
    t.notOk(h.dialer.backingOff(a));
  }
  for (const code of ['ERR_DIAL', 'ERR_DIAL_TIMEOUT', 'ERR_HANDSHAKE'] as const) {
    const a = addrN(2);
    h.outcome.set(a.id, swErr(code));
    await t.rejects(h.dialer.dialPeer(a), { code });
    t.equal(h.dialer.attemptsToDial(a), 1, `${code}: counted`);
  }
  const plain = addrN(3);
  h.outcome.set(plain.id, new Error('boom'));
  await t.rejects(h.dialer.dialPeer(plain), { message: 'boom' });
  t.equal(h.dialer.attemptsToDial(plain), 1, 'an error without a code is counted');
  t.same(h.rec.bans, []);
  t.same(h.rec.removed, []);
});

t.test('dialing ourselves moves the address to our own; a wrong or unauthenticated node bans it', async (t) => {
  const h = dialHarness(t, { pex: { banMs: 5000 } });
  const self = addrN(1);
  h.dialer.countFailure(self.toString());
  h.now += 1e6;
  h.outcome.set(self.id, swErr('ERR_SELF_CONNECTION'));
  await t.rejects(h.dialer.dialPeer(self), { code: 'ERR_SELF_CONNECTION' });
  t.same(h.rec.removed, [self.toString()], 'removed from the book');
  t.same(h.rec.ours, [self.toString()], 'and remembered as ours');
  t.equal(h.dialer.attemptsToDial(self), 0, 'history cleared');
  t.same(h.rec.bans, []);
  for (const code of ['ERR_AUTH', 'ERR_PEER_ID_MISMATCH'] as const) {
    const a = addrN(2);
    h.dialer.countFailure(a.toString());
    h.now += 1e6;
    h.outcome.set(a.id, swErr(code));
    await t.rejects(h.dialer.dialPeer(a), { code });
    t.same(h.rec.bans.at(-1), { addr: a.toString(), ms: 5000 }, `${code}: banned for banMs`);
    t.equal(h.dialer.attemptsToDial(a), 0, `${code}: history cleared`);
  }
  t.equal(h.rec.bans.length, 2);
  t.same(h.rec.removed, [self.toString()]);
});

t.test('a dial in progress or a connected peer is not dialed again; the slot is freed when the dial ends', async (t) => {
  const h = dialHarness(t);
  const a = addrN(1);
  h.outcome.set(a.id, 'hang');
  const first = h.dialer.dialPeer(a);
  t.ok(h.dialer.dialingOrConnected(a.id));
  t.equal(h.dialer.outboundAndDials(), 1, 'our dial counts toward the outbound limit');
  const r = await refusal(h.dialer.dialPeer(a));
  t.equal(r.reason, 'dialing-or-connected');
  t.equal(r.code, 'ERR_DUPLICATE_PEER');
  t.equal(r.message, `already dialing or connected to ${a.id}`);
  h.release(a.id);
  await first;
  t.equal((await refusal(h.dialer.dialPeer(a))).reason, 'dialing-or-connected', 'connected now');
  h.peers.delete(a.id);
  t.notOk(h.dialer.dialingOrConnected(a.id), 'neither dialing nor connected once the dial ended and the peer left');
  const b = addrN(2);
  h.outcome.set(b.id, swErr('ERR_DIAL'));
  await t.rejects(h.dialer.dialPeer(b));
  t.notOk(h.dialer.dialingOrConnected(b.id), 'a failed dial frees the slot too');
  h.switchDialing.add(b.id);
  t.ok(h.dialer.dialingOrConnected(b.id), 'a dial of the Switch counts');
});

t.test('the outbound limit refuses a dial, except of an unconditional peer', async (t) => {
  const u = addrN(9);
  const h = dialHarness(t, { maxNumOutboundPeers: 1, unconditional: [u.id] });
  h.addPeer(addrN(90));
  const r = await refusal(h.dialer.dialPeer(addrN(1)));
  t.equal(r.reason, 'too-many-peers');
  t.equal(r.code, 'ERR_TOO_MANY_PEERS');
  t.equal(r.message, 'outbound limit 1 reached');
  await h.dialer.dialPeer(u);
  t.ok(h.peers.has(u.id), 'an unconditional peer is dialed past the limit');
  t.equal(h.dialer.outboundAndDials(), 1, 'and does not count toward it');
});

t.test('outboundAndDials: our dials of nodes connected inbound meanwhile count, unconditional ones do not', async (t) => {
  const u = addrN(9);
  const h = dialHarness(t, { maxNumOutboundPeers: 10, unconditional: [u.id] });
  const a = addrN(1);
  const b = addrN(2);
  h.outcome.set(a.id, 'hang');
  h.outcome.set(b.id, 'hang');
  h.outcome.set(u.id, 'hang');
  const dials = [a, b, u].map((x) => h.dialer.dialPeer(x));
  t.equal(h.dialer.outboundAndDials(), 2, 'two dials (the unconditional one not counted)');
  h.addPeer(a, { outbound: false });
  t.equal(h.dialer.outboundAndDials(), 2, 'a dial to a node now connected inbound still counts');
  h.addPeer(b, { outbound: true });
  t.equal(h.dialer.outboundAndDials(), 2, 'a dial whose peer is outbound counts once, as the peer');
  h.setExtraSwitchCount(5);
  t.equal(h.dialer.outboundAndDials(), 6, "the Switch's count when higher");
  for (const x of [a, b, u]) h.release(x.id);
  await Promise.all(dials);
});

t.test('a connection that lasted forgets the failures', async (t) => {
  const h = dialHarness(t);
  const a = addrN(1);
  h.dialer.countFailure(a.toString());
  h.dialer.countFailure(a.toString());
  t.equal(h.dialer.attemptsToDial(a), 2);
  h.dialer.connectionLasted(a.toString());
  t.equal(h.dialer.attemptsToDial(a), 0);
  t.notOk(h.dialer.backingOff(a));
});

t.test('a failed dial from ensurePeers is logged at debug with its code, not thrown', async (t) => {
  const h = dialHarness(t);
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL', 'refused'));
  h.offer(a);
  h.addPeer(addrN(90));
  await h.dialer.ensurePeers();
  t.match(h.logs.withMsg('pex: dial failed'), [{ level: 20, addr: a.toString(), err: 'refused', code: 'ERR_DIAL' }]);
  t.match(h.logs.withMsg('pex: ensure peers'), [{ level: 20, numOut: 1, numIn: 0, numToDial: 9 }]);
});

t.test('a dial rejected without a reason is counted and logged, and ensurePeers still resolves', async (t) => {
  const h = dialHarness(t);
  const a = addrN(1);
  h.outcome.set(a.id, 'no-reason');
  h.offer(a);
  h.addPeer(addrN(90));
  await h.dialer.ensurePeers();
  t.equal(h.dialer.attemptsToDial(a), 1);
  t.match(h.logs.withMsg('pex: dial failed'), [{ level: 20, addr: a.toString() }]);
});

// ------------------------------------------------------------------- seeds

t.test('an isolated node asks its seeds when nothing can be dialed, backing off 2^rounds·base between rounds', async (t) => {
  const seed = addrN(50);
  const h = dialHarness(t, { seeds: [seed], pex: { dialBackoffBaseMs: 1000 } });
  h.outcome.set(seed.id, swErr('ERR_DIAL'));
  h.random(0.25);
  const t0 = h.now;
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [seed.toString()], 'no peer, nothing in the book: the seed is dialed');
  t.same(h.rec.attempts, [], 'a seed dial is not a book attempt');
  t.equal(h.dialer.attemptsToDial(seed), 0, 'nor counted in the dial history');
  h.now = t0 + 2000 + 249;
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 1, 'round 1: not again before base·2 + jitter');
  h.now = t0 + 2250;
  const t1 = h.now;
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 2, 'asked again at base·2 + jitter');
  h.now = t1 + 4249;
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 2, 'round 2: base·4 + jitter');
  h.now = t1 + 4250;
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 3);
  h.dialer.seedsDone();
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 4, 'seedsDone: the next round may come at once');
  t.match(h.logs.withMsg('pex: dialing seed failed')[0], { level: 40, seed: seed.toString(), err: 'ERR_DIAL', code: 'ERR_DIAL' });
  t.match(h.logs.withMsg('pex: could not connect to any seed')[0], { level: 40, seeds: 1 });
});

t.test('the seed backoff is capped at MAX_SEED_BACKOFF_MS', async (t) => {
  const seed = addrN(50);
  const h = dialHarness(t, { seeds: [seed], pex: { dialBackoffBaseMs: MAX_SEED_BACKOFF_MS } });
  h.outcome.set(seed.id, swErr('ERR_DIAL'));
  h.random(0);
  const t0 = h.now;
  await h.dialer.dialSeeds();
  h.now = t0 + MAX_SEED_BACKOFF_MS - 1;
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 1);
  h.now = t0 + MAX_SEED_BACKOFF_MS;
  await h.dialer.ensurePeers();
  t.equal(h.rec.dialed.length, 2, 'not base·2 but the cap');
});

t.test('seeds are the fallback only: not while an address can be dialed, nor with peers and a non-empty book', async (t) => {
  const seed = addrN(50);
  const h = dialHarness(t, { seeds: [seed] });
  const a = addrN(1);
  h.outcome.set(a.id, swErr('ERR_DIAL'));
  h.offer(a);
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [a.toString()], 'the book address, not the seed');
  h.offer();
  h.addPeer(addrN(90), { outbound: false });
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [a.toString()], 'a peer and a non-empty book: no seed');
  h.setEmpty(true);
  await h.dialer.ensurePeers();
  t.same(h.rec.dialed, [a.toString(), seed.toString()], 'an empty book: the seed even with a peer');
});

t.test('dialSeeds tries the seeds in a random order until one connects', async (t) => {
  const s = [addrN(50), addrN(51), addrN(52)];
  const h = dialHarness(t, { seeds: s });
  h.random(0.999);
  h.setDefaultOutcome(swErr('ERR_DIAL'));
  await h.dialer.dialSeeds();
  t.same(h.rec.dialed, s.map(String), 'all fail: each tried once (Math.random ≈ 1 keeps the order)');
  h.rec.dialed.length = 0;
  h.random(0);
  await h.dialer.dialSeeds();
  t.same(h.rec.dialed, [s[1], s[2], s[0]].map(String), 'Fisher–Yates with Math.random = 0');
  h.rec.dialed.length = 0;
  h.random(0.999);
  h.outcome.set(s[1]!.id, undefined as never);
  h.outcome.delete(s[1]!.id);
  h.setDefaultOutcome(undefined);
  h.outcome.set(s[0]!.id, swErr('ERR_DIAL'));
  await h.dialer.dialSeeds();
  t.same(h.rec.dialed, [s[0], s[1]].map(String), 'stops at the first that connects');
  t.ok(h.peers.has(s[1]!.id));
  t.equal(h.logs.withMsg('pex: could not connect to any seed').length, 2, 'warned only for the rounds that failed');
});

t.test('dialSeeds stops at a seed already connected, the outbound limit, or a Switch that will not dial', async (t) => {
  const s = [addrN(50), addrN(51)];
  {
    const h = dialHarness(t, { seeds: s });
    h.random(0.999);
    h.addPeer(s[0]!);
    await h.dialer.dialSeeds();
    t.same(h.rec.dialed, [], 'a seed connected: no other seed is dialed');
  }
  {
    const h = dialHarness(t, { seeds: s, maxNumOutboundPeers: 1 });
    h.random(0.999);
    h.addPeer(addrN(90));
    await h.dialer.dialSeeds();
    t.same(h.rec.dialed, [], 'outbound full: no seed dialed');
  }
  for (const code of ['ERR_DUPLICATE_PEER', 'ERR_SWITCH_STOPPED', 'ERR_TOO_MANY_PEERS'] as const) {
    const h = dialHarness(t, { seeds: s });
    h.random(0.999);
    h.setDefaultOutcome(swErr(code));
    await h.dialer.dialSeeds();
    t.same(h.rec.dialed, [s[0]!.toString()], `${code}: the round ends`);
    t.same(h.logs.withMsg('pex: could not connect to any seed'), [], `${code}: no warning`);
  }
  {
    const h = dialHarness(t, { seeds: s });
    h.random(0.999);
    h.outcome.set(s[0]!.id, 'hang');
    const round = h.dialer.dialSeeds();
    t.ok(h.dialer.dialingOrConnected(s[0]!.id), 'a seed being dialed counts as dialing');
    h.release(s[0]!.id);
    await round;
    h.peers.delete(s[0]!.id);
    t.notOk(h.dialer.dialingOrConnected(s[0]!.id), 'and not after');
  }
});

t.test('without seeds dialSeeds does nothing and starts no backoff', async (t) => {
  const h = dialHarness(t);
  await h.dialer.dialSeeds();
  t.same(h.rec.dialed, []);
  t.same(h.logs.withMsg('pex: could not connect to any seed'), []);
  t.notOk(h.dialer.isSeed(addrN(1).id));
});
