import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { NetAddress } from '../../../lib/net-address.js';
import { AddrBook, AddrBookRejectedError, groupKey, type AddrBookLogger, type AddrBookOptions } from '../../../reactors/pex/addrbook.js';
import {
  ADDR_BOOK_CAPACITY,
  MAX_ADDR_BOOK_FILE_BYTES,
  MAX_FAILURES,
  NEW_BUCKET_SIZE,
  NEW_BUCKETS_PER_GROUP,
  OLD_BUCKET_SIZE,
  OLD_BUCKETS_PER_GROUP,
} from '../../../reactors/pex/params.js';
import { sleep } from '../../helpers/time.js';

// ------------------------------------------------------------------ helpers

/** The test object tap passes to a subtest callback (with its plugins, e.g. testdir). */
type TapTest = { testdir: typeof t.testdir };

const randId = (): string => randomBytes(20).toString('hex');
const randInt = (n: number): number => Math.floor(Math.random() * n);

/** A random publicly routable IPv4 address with a random ID (as CometBFT's randIPv4Address). */
function randIPv4Address(): NetAddress {
  for (;;) {
    const host = `${randInt(254) + 1}.${randInt(255)}.${randInt(255)}.${randInt(255)}`;
    const addr = new NetAddress(randId(), host, randInt(65534) + 1);
    if (addr.routable()) return addr;
  }
}

/** A random address inside `a.b.0.0/16`. */
function addrIn16(a: number, b: number): NetAddress {
  return new NetAddress(randId(), `${a}.${b}.${randInt(256)}.${randInt(254) + 1}`, 26656);
}

interface Pair {
  addr: NetAddress;
  src: NetAddress;
}
const randPairs = (n: number): Pair[] => Array.from({ length: n }, () => ({ addr: randIPv4Address(), src: randIPv4Address() }));

interface CaptureLogger extends AddrBookLogger {
  warns: { obj: Record<string, unknown>; msg: string }[];
}
function captureLogger(): CaptureLogger {
  const warns: CaptureLogger['warns'] = [];
  return {
    warns,
    warn(obj, msg) {
      warns.push({ obj: obj as Record<string, unknown>, msg: msg ?? '' });
    },
    info() {},
    debug() {},
  };
}

/** A controllable clock (ms). */
function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

function newBook(t: TapTest, opts: AddrBookOptions = {}, name = 'addrbook.json'): { book: AddrBook; file: string; dir: string } {
  const dir = t.testdir({});
  const file = join(dir, name);
  return { book: new AddrBook(file, { logger: captureLogger(), ...opts }), file, dir };
}

/** A book with `nOld` good and `nNew` new random addresses (as CometBFT's createAddrBookWithMOldAndNNewAddrs). */
function bookWith(t: TapTest, nOld: number, nNew: number): AddrBook {
  const { book } = newBook(t);
  for (const { addr, src } of randPairs(nOld)) {
    book.addAddress(addr, src);
    book.markGood(addr.id);
  }
  for (const { addr, src } of randPairs(nNew)) book.addAddress(addr, src);
  return book;
}

function countOldNew(book: AddrBook, addrs: NetAddress[]): { nOld: number; nNew: number } {
  let nOld = 0;
  for (const a of addrs) if (book.isGood(a)) nOld++;
  return { nOld, nNew: addrs.length - nOld };
}

const expectedSelectionSize = (size: number): number => Math.min(250, Math.max(Math.min(32, size), Math.floor((size * 23) / 100)));

// ------------------------------------------------------------------ picking

t.test('pickAddress on empty, new-only and old-only books (TestAddrBookPickAddress)', async (t) => {
  const { book } = newBook(t);
  t.equal(book.size(), 0);
  t.equal(book.pickAddress(50), undefined, 'empty book: nothing');

  const [{ addr, src }] = randPairs(1) as [Pair];
  book.addAddress(addr, src);
  for (const bias of [0, 50, 100]) t.ok(book.pickAddress(bias)?.equals(addr), `new only, bias ${bias}`);

  book.markGood(addr.id);
  t.ok(book.isGood(addr));
  t.ok(book.pickAddress(0)?.equals(addr), 'old only, bias 0');
  t.ok(book.pickAddress(50)?.equals(addr), 'old only, bias 50');
  t.equal(book.pickAddress(100), undefined, 'old only, bias 100: nothing (nNew == 0)');
  t.ok(book.pickAddress(-5)?.equals(addr), 'bias below 0 is clamped to 0');
  t.equal(book.pickAddress(1000), undefined, 'bias above 100 is clamped to 100');
  t.throws(() => book.pickAddress(Number.NaN), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('pickAddress bias shares on a mixed book', async (t) => {
  const book = bookWith(t, 50, 50);
  let old = 0;
  const trials = 2000;
  for (let i = 0; i < trials; i++) if (book.isGood(book.pickAddress(50)!)) old++;
  // equal table sizes and bias 50: about half old
  t.ok(old > trials * 0.4 && old < trials * 0.6, `~50% old at bias 50 (got ${old}/${trials})`);
  let oldAt0 = 0;
  let newAt100 = 0;
  for (let i = 0; i < 200; i++) {
    if (book.isGood(book.pickAddress(0)!)) oldAt0++;
    if (!book.isGood(book.pickAddress(100)!)) newAt100++;
  }
  t.equal(oldAt0, 200, 'bias 0 picks only old');
  t.equal(newAt100, 200, 'bias 100 picks only new');
});

// -------------------------------------------------------- add/lookup/remove

t.test('lookup: every added address is found (TestAddrBookLookup)', async (t) => {
  const { book } = newBook(t);
  for (const { addr, src } of randPairs(100)) {
    book.addAddress(addr, src);
    t.ok(book.hasAddress(addr));
  }
  t.equal(book.size(), 100);
  t.ok(book.needMoreAddrs(), 'fewer than 1000 addresses: need more');
});

t.test('duplicates and other sources do not grow the book (TestAddrBookHandlesDuplicates)', async (t) => {
  const { book } = newBook(t);
  const differentSrc = randIPv4Address();
  for (const { addr, src } of randPairs(100)) {
    book.addAddress(addr, src);
    book.addAddress(addr, src);
    book.addAddress(addr, differentSrc);
  }
  t.equal(book.size(), 100);
});

t.test('one address heard from many source groups sits in at most 4 new buckets', async (t) => {
  const { book } = newBook(t);
  const addr = randIPv4Address();
  for (let i = 0; i < 500; i++) book.addAddress(addr, randIPv4Address());
  const s = book.stats();
  t.equal(s.size, 1);
  t.ok(s.newBucketsInUse >= 1 && s.newBucketsInUse <= 4, `in ${s.newBucketsInUse} buckets`);
});

t.test('remove (TestAddrBookRemoveAddress, TestAddrBookHasAddress)', async (t) => {
  const { book } = newBook(t);
  const addr = randIPv4Address();
  book.addAddress(addr, addr);
  t.equal(book.size(), 1);
  t.ok(book.hasAddress(addr));
  book.removeAddress(addr);
  t.equal(book.size(), 0);
  t.notOk(book.hasAddress(addr));
  book.removeAddress(randIPv4Address());
  t.equal(book.size(), 0, 'removing an unknown address is a no-op');

  const good = randIPv4Address();
  book.addAddress(good, good);
  book.markGood(good.id);
  book.removeAddress(good);
  t.same(book.stats(), { size: 0, nNew: 0, nOld: 0, newBucketsInUse: 0, oldBucketsInUse: 0, bans: 0 }, 'old entry removed too');
});

t.test('empty: our address and private IDs do not count (TestAddrBookEmpty)', async (t) => {
  const { book } = newBook(t);
  t.ok(book.isEmpty());
  book.addOurAddress(randIPv4Address());
  t.ok(book.isEmpty());
  book.addPrivateIds(randPairs(5).map((p) => p.addr.id));
  t.ok(book.isEmpty());
  book.addAddress(randIPv4Address(), randIPv4Address());
  t.notOk(book.isEmpty());
});

t.test('private IDs are refused, as are addresses from private peers (TestPrivatePeers)', async (t) => {
  const { book } = newBook(t);
  const addrs = randPairs(10).map((p) => p.addr);
  book.addPrivateIds(addrs.map((a) => a.id));
  for (const addr of addrs) {
    t.throws(() => book.addAddress(addr, addr), { code: 'ERR_REJECTED', reason: /^private$/ });
  }
  const err = (() => {
    try {
      book.addAddress(randIPv4Address(), addrs[0]!);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  t.ok(err instanceof AddrBookRejectedError);
  t.match(err, { code: 'ERR_REJECTED', reason: 'private-source', name: 'AddrBookRejectedError' });
  t.ok(book.isEmpty());

  const later = randIPv4Address();
  book.addAddress(later, later);
  book.addPrivateIds([later.id]);
  t.notOk(book.hasAddress(later), 'an ID declared private later is removed');
});

t.test('our own addresses are refused by string, ID and ip:port', async (t) => {
  const { book } = newBook(t);
  const ours = randIPv4Address();
  book.addOurAddress(ours);
  t.ok(book.ourAddress(ours));
  t.throws(() => book.addAddress(ours, randIPv4Address()), { code: 'ERR_REJECTED', reason: /^self$/ });
  const sameId = new NetAddress(ours.id, '8.8.4.4', 1234);
  t.throws(() => book.addAddress(sameId, randIPv4Address()), { code: 'ERR_REJECTED', reason: /^self$/ }, 'same ID, other IP');
  const sameHostPort = new NetAddress(randId(), ours.host, ours.port);
  t.throws(() => book.addAddress(sameHostPort, randIPv4Address()), { code: 'ERR_REJECTED', reason: /^self$/ }, 'same ip:port, other ID');
  t.ok(book.isEmpty());

  const already = randIPv4Address();
  book.addAddress(already, already);
  book.addOurAddress(already);
  t.notOk(book.hasAddress(already), 'an address declared ours later is removed');
});

t.test('routabilityStrict refuses loopback and private addresses; non-strict accepts them', async (t) => {
  const { book: strict } = newBook(t);
  t.equal(strict.routabilityStrict, true, 'strict by default');
  for (const host of ['127.0.0.1', '10.1.2.3', '192.168.1.2', '172.16.0.9', '169.254.1.1', 'fc00::1', 'fe80::1', '::1', '100.64.0.1']) {
    const addr = new NetAddress(randId(), host, 26656);
    t.throws(() => strict.addAddress(addr, addr), { code: 'ERR_REJECTED', reason: /^non-routable$/ }, host);
  }
  const { book: lax } = newBook(t, { routabilityStrict: false });
  for (const host of ['127.0.0.1', '10.1.2.3', '192.168.1.2', '::1']) {
    const addr = new NetAddress(randId(), host, 26656);
    lax.addAddress(addr, addr);
    t.ok(lax.hasAddress(addr), `non-strict accepts ${host}`);
  }
});

t.test('malformed addresses are refused in every mode', async (t) => {
  const { book } = newBook(t, { routabilityStrict: false });
  const src = randIPv4Address();
  const cases: [string, NetAddress][] = [
    ['no ID', new NetAddress('', '1.2.3.4', 26656)],
    ['host name', new NetAddress(randId(), 'example.com', 26656)],
    ['port 0', new NetAddress(randId(), '1.2.3.4', 0)],
    ['unspecified', new NetAddress(randId(), '0.0.0.0', 26656)],
    ['0/8', new NetAddress(randId(), '0.1.2.3', 26656)],
    ['v6 unspecified', new NetAddress(randId(), '::', 26656)],
    ['broadcast', new NetAddress(randId(), '255.255.255.255', 26656)],
    ['multicast', new NetAddress(randId(), '224.0.0.1', 26656)],
    ['RFC 3849 documentation', new NetAddress(randId(), '2001:db8::1', 26656)],
  ];
  for (const [name, addr] of cases) t.throws(() => book.addAddress(addr, src), { code: 'ERR_INVALID_ADDRESS' }, name);
  t.throws(() => book.addAddress('1.2.3.4' as unknown as NetAddress, src), { code: 'ERR_INVALID_ARGUMENT' });
  t.ok(book.isEmpty());
});

// ------------------------------------------------------------- promotion

t.test('promotion to old (TestAddrBookPromoteToOld)', async (t) => {
  const { book } = newBook(t);
  const pairs = randPairs(100);
  for (const { addr, src } of pairs) book.addAddress(addr, src);
  for (const { addr } of pairs) book.markAttempt(addr);
  pairs.forEach(({ addr }, i) => {
    if (i % 2 === 0) book.markGood(addr.id);
  });
  t.equal(book.stats().nOld, 50);
  t.equal(book.stats().nNew, 50);
  t.ok(book.getSelection().length <= book.size());
  t.ok(book.getSelectionWithBias(30).length <= book.size());
  t.equal(book.size(), 100);
  book.markGood(randId()); // unknown: ignored
  t.equal(book.size(), 100);
});

t.test('a full old bucket demotes its least recently tried entry to new, losing nothing', async (t) => {
  // One /16 reaches at most 4 old buckets of 64: promoting 300 addresses of
  // 1.2.0.0/16 must leave at most 256 old and the rest new, all 300 kept.
  const { book } = newBook(t);
  const addrs = Array.from({ length: 300 }, () => addrIn16(1, 2));
  for (const addr of addrs) book.addAddress(addr, randIPv4Address());
  t.equal(book.size(), 300);
  for (const addr of addrs) book.markGood(addr.id);
  const s = book.stats();
  t.equal(s.size, 300, 'no address lost');
  t.ok(s.nOld <= OLD_BUCKETS_PER_GROUP * OLD_BUCKET_SIZE, `old ≤ 256 (got ${s.nOld})`);
  t.ok(s.oldBucketsInUse <= OLD_BUCKETS_PER_GROUP, `one group in ≤ 4 old buckets (got ${s.oldBucketsInUse})`);
  t.ok(s.nNew >= 300 - OLD_BUCKETS_PER_GROUP * OLD_BUCKET_SIZE, 'the overflow went back to new');
  t.ok(book.isGood(addrs[299]!), 'the last promoted address is old');
});

t.test('an ID marked good keeps its IP (TestAddrBookAddDoesNotOverwriteOldIP)', async (t) => {
  const { book } = newBook(t);
  const peerId = '678503e6c8f50db7279c7da3cb9b072aac4bc0d5';
  const real = NetAddress.parse(`${peerId}@1.1.1.1:26656`);
  const override = NetAddress.parse(`${peerId}@2.2.2.2:26656`);
  const src = NetAddress.parse('b0dd378c3fbc4c156cd6d302a799f0d2e4227201@159.89.121.174:26656');
  book.addAddress(real, src);
  book.markAttempt(real);
  book.markGood(real.id);
  book.addAddress(real, src); // no error
  for (let i = 0; i < 10; i++) book.addAddress(override, src);
  for (let i = 0; i < 10; i++) {
    for (const addr of book.getSelection()) t.equal(addr.host, '1.1.1.1');
    t.equal(book.pickAddress(0)?.host, '1.1.1.1');
  }
  t.equal(book.size(), 1);
});

// ------------------------------------------------------------- selection

t.test('getSelection sizes and uniqueness (TestAddrBookGetSelection)', async (t) => {
  const { book } = newBook(t);
  t.same(book.getSelection(), []);
  const addr = randIPv4Address();
  book.addAddress(addr, addr);
  t.equal(book.getSelection().length, 1);
  t.ok(book.getSelection()[0]!.equals(addr));

  const pairs = randPairs(2100);
  let added = 1;
  for (const size of [10, 32, 33, 100, 200, 1000, 1087, 2101]) {
    while (added < size) {
      const { addr, src } = pairs[added - 1]!;
      book.addAddress(addr, src);
      added++;
    }
    t.equal(book.size(), size);
    const selection = book.getSelection();
    t.equal(selection.length, expectedSelectionSize(size), `book of ${size}: max(min(32, n), 23%), ≤ 250`);
    t.equal(new Set(selection.map((a) => a.toString())).size, selection.length, `book of ${size}: no duplicates`);
  }
  t.equal(book.getSelection().length, 250, 'capped at 250');
  t.notOk(book.needMoreAddrs(), '2101 addresses: no need for more');
});

t.test('getSelectionWithBias shares (TestAddrBookGetSelectionWithBias)', async (t) => {
  const bias = 30;
  const { book } = newBook(t);
  t.same(book.getSelectionWithBias(bias), []);
  const addr = randIPv4Address();
  book.addAddress(addr, addr);
  t.equal(book.getSelectionWithBias(bias).length, 1);

  const pairs = randPairs(100);
  for (const { addr, src } of pairs) book.addAddress(addr, src);
  let selection = book.getSelectionWithBias(bias);
  t.equal(new Set(selection.map((a) => a.toString())).size, selection.length, 'no duplicates');
  t.ok(selection.length <= book.size());

  pairs.forEach(({ addr }, i) => {
    if (Math.floor((i / pairs.length) * 100) >= 20) book.markGood(addr.id);
  });
  selection = book.getSelectionWithBias(bias);
  const { nOld } = countOldNew(book, selection);
  const got = Math.floor((nOld / selection.length) * 100);
  const slack = Math.round(100 / selection.length);
  t.ok(Math.abs(got - (100 - bias)) <= slack, `~70% good (got ${got}%, slack ${slack})`);
});

t.test('getSelectionWithBias layout: new first, then old (TestMultipleAddrBookAddressSelection)', async (t) => {
  const bias = 30;
  const sizes = [...Array.from({ length: 31 }, (_, i) => i + 1), 33 + randInt(67), 100 + randInt(75)];
  for (const bookSize of sizes) {
    for (let nBookOld = 0; nBookOld <= bookSize; nBookOld += bookSize > 40 ? 7 : 1) {
      const nBookNew = bookSize - nBookOld;
      const book = bookWith(t, nBookOld, nBookNew);
      const addrs = book.getSelectionWithBias(bias);
      const n = addrs.length;
      if (n === 0) {
        t.fail(`book ${bookSize} (old ${nBookOld}): empty selection`);
        continue;
      }
      const { nOld, nNew } = countOldNew(book, addrs);
      const k = Math.round((bias / 100) * n);
      const expNew = Math.min(nNew, Math.max(k, n - nBookOld));
      const expOld = Math.min(nOld, n - expNew);
      if (nNew !== expNew || nOld !== expOld) t.fail(`book ${bookSize} (old ${nBookOld}): new ${nNew}/${expNew} old ${nOld}/${expOld}`);
      // layout: all new ones before all old ones
      const firstOld = addrs.findIndex((a) => book.isGood(a));
      if (firstOld >= 0 && addrs.slice(firstOld).some((a) => !book.isGood(a))) t.fail(`book ${bookSize}: new after old`);
    }
  }
  t.pass('layouts checked');
});

t.test('one marked good among new, and one new among good (TestAddrBookGetSelectionWithOne*)', async (t) => {
  let book = bookWith(t, 1, 9);
  t.same(countOldNew(book, book.getSelectionWithBias(30)), { nOld: 1, nNew: 9 });
  book = bookWith(t, 9, 1);
  t.same(countOldNew(book, book.getSelectionWithBias(30)), { nOld: 9, nNew: 1 });
  book = bookWith(t, 0, 0);
  t.same(book.getSelectionWithBias(30), []);
});

// ------------------------------------------------------------------ bans

t.test('bans and reinstatement with an injected clock (TestBanBadPeers)', async (t) => {
  const clock = fakeClock();
  const { book } = newBook(t, { now: clock.now });
  const addr = randIPv4Address();
  book.addAddress(addr, addr);
  book.markBad(addr, 1000);
  t.notOk(book.hasAddress(addr), 'banned address leaves the book');
  t.ok(book.isBanned(addr));
  t.throws(() => book.addAddress(addr, addr), { code: 'ERR_BANNED', reason: /^banned$/ });
  t.equal(book.reinstateBadPeers(), 0, 'nothing to reinstate while banned');

  clock.advance(999);
  t.ok(book.isBanned(addr), 'still banned 1 ms before expiry');
  clock.advance(1);
  t.notOk(book.isBanned(addr), 'expired');
  t.equal(book.reinstateBadPeers(), 1);
  t.equal(book.size(), 1);
  t.ok(book.hasAddress(addr));
  t.notOk(book.isGood(addr));
  t.equal(book.stats().bans, 0);
});

t.test('a banned good peer comes back as new; bans extend, never shorten', async (t) => {
  const clock = fakeClock();
  const { book } = newBook(t, { now: clock.now });
  const addr = randIPv4Address();
  book.addAddress(addr, addr);
  book.markGood(addr.id);
  book.markBad(addr, 10_000);
  book.markBad(addr, 1_000); // shorter: no effect
  clock.advance(5_000);
  t.ok(book.isBanned(addr), 'the longer ban holds');
  book.markBad(addr, 20_000); // longer: extends
  clock.advance(10_000);
  t.ok(book.isBanned(addr), 'extended');
  clock.advance(10_000);
  t.equal(book.reinstateBadPeers(), 1);
  t.ok(book.hasAddress(addr), 'reinstated, not lost');
  t.notOk(book.isGood(addr), 'as a new address');
  t.same([book.stats().nNew, book.stats().nOld], [1, 0]);
});

t.test('an expired ban is lifted by adding the address again', async (t) => {
  const clock = fakeClock();
  const { book } = newBook(t, { now: clock.now });
  const addr = randIPv4Address();
  book.markBad(addr, 100); // not in the book: banned anyway
  t.ok(book.isBanned(addr));
  t.throws(() => book.addAddress(addr, addr), { code: 'ERR_BANNED' });
  clock.advance(100);
  book.addAddress(addr, addr);
  t.ok(book.hasAddress(addr));
  t.equal(book.stats().bans, 0);
  t.throws(() => book.markBad(addr, -1), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => book.markBad(addr, Number.POSITIVE_INFINITY), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => book.markBad(new NetAddress('', '1.2.3.4', 1), 10), { code: 'ERR_INVALID_ADDRESS' });
});

t.test('bans survive a reload', async (t) => {
  const clock = fakeClock();
  const { book, file } = newBook(t, { now: clock.now });
  const banned = randIPv4Address();
  const kept = randIPv4Address();
  book.addAddress(banned, banned);
  book.addAddress(kept, kept);
  book.markBad(banned, 60_000);
  await book.save();

  const reloaded = new AddrBook(file, { now: clock.now, logger: captureLogger() });
  reloaded.load();
  t.equal(reloaded.size(), 1);
  t.ok(reloaded.hasAddress(kept));
  t.ok(reloaded.isBanned(banned), 'still banned after restart');
  t.throws(() => reloaded.addAddress(banned, banned), { code: 'ERR_BANNED' });
  clock.advance(60_000);
  t.equal(reloaded.reinstateBadPeers(), 1);
  t.ok(reloaded.hasAddress(banned));
});

// ------------------------------------------------------ failures & expiry

t.test('a new address that keeps failing is dropped after MAX_FAILURES attempts', async (t) => {
  const clock = fakeClock();
  const { book } = newBook(t, { now: clock.now });
  const addr = randIPv4Address();
  book.addAddress(addr, addr);
  for (let i = 1; i < MAX_FAILURES; i++) {
    book.markAttempt(addr);
    clock.advance(1000);
  }
  t.ok(book.hasAddress(addr), `kept after ${MAX_FAILURES - 1} failures`);
  book.markAttempt(addr);
  t.notOk(book.hasAddress(addr), `dropped at ${MAX_FAILURES}`);

  const good = randIPv4Address();
  book.addAddress(good, good);
  book.markGood(good.id);
  for (let i = 0; i < 2 * MAX_FAILURES; i++) book.markAttempt(good);
  t.ok(book.hasAddress(good), 'a good (old) address is kept, as CometBFT');
  book.markAttempt(randIPv4Address()); // unknown: ignored
});

t.test('a full new bucket expires a bad entry first, else the least recently tried', async (t) => {
  // Same address group and same source: one bucket (the slot hash depends only on the groups).
  const clock = fakeClock();
  const { book } = newBook(t, { now: clock.now });
  const src = new NetAddress(randId(), '9.9.9.9', 26656);
  const addrs: NetAddress[] = [];
  for (let i = 0; i < NEW_BUCKET_SIZE; i++) {
    const a = new NetAddress(randId(), `1.2.${i}.1`, 26656);
    book.addAddress(a, src);
    addrs.push(a);
    clock.advance(1000);
  }
  t.same([book.size(), book.stats().newBucketsInUse], [NEW_BUCKET_SIZE, 1], 'one full bucket');

  // make addrs[5] bad: 3 failures, never succeeded, not tried in the last minute
  for (let i = 0; i < 3; i++) book.markAttempt(addrs[5]!);
  clock.advance(61_000);
  const extra1 = new NetAddress(randId(), '1.2.200.1', 26656);
  book.addAddress(extra1, src);
  t.equal(book.size(), NEW_BUCKET_SIZE, 'capacity enforced exactly (CometBFT admits a 65th)');
  t.notOk(book.hasAddress(addrs[5]!), 'the bad entry was expired');
  t.ok(book.hasAddress(addrs[0]!), 'not the oldest');

  const extra2 = new NetAddress(randId(), '1.2.201.1', 26656);
  book.addAddress(extra2, src);
  t.equal(book.size(), NEW_BUCKET_SIZE);
  t.notOk(book.hasAddress(addrs[0]!), 'no bad entry left: the least recently tried was expired');
  t.ok(book.hasAddress(extra1) && book.hasAddress(extra2));
});

// -------------------------------------------------------------- eclipse

t.test('eclipse defence: addresses from one source group land in at most 32 new buckets', async (t) => {
  const { book } = newBook(t);
  for (let i = 0; i < 1000; i++) book.addAddress(randIPv4Address(), addrIn16(5, 6));
  const s = book.stats();
  t.ok(s.newBucketsInUse <= NEW_BUCKETS_PER_GROUP, `1000 addresses from 5.6.0.0/16 in ${s.newBucketsInUse} buckets (≤ 32 of 256)`);
  // two of the group's 32 slots may hash to one bucket, which then overflows and expires entries
  t.ok(s.size <= 1000 && s.size <= s.newBucketsInUse * NEW_BUCKET_SIZE, `kept ${s.size}`);

  for (let i = 0; i < 4000; i++) book.addAddress(randIPv4Address(), addrIn16(5, 6));
  const s2 = book.stats();
  t.ok(s2.newBucketsInUse <= NEW_BUCKETS_PER_GROUP, 'still ≤ 32 buckets after 5000');
  t.ok(s2.size <= NEW_BUCKETS_PER_GROUP * NEW_BUCKET_SIZE, `one source group holds at most 32×64 entries (got ${s2.size})`);

  const { book: spread } = newBook(t);
  for (let i = 0; i < 1000; i++) spread.addAddress(randIPv4Address(), randIPv4Address());
  t.ok(spread.stats().newBucketsInUse > NEW_BUCKETS_PER_GROUP, 'many source groups spread over many buckets');
});

// ------------------------------------------------------------- group key

t.test('groupKey vectors (TestAddrBookGroupKey)', async (t) => {
  const nonStrict: [string, string, string][] = [
    ['ipv4 normal class a', '12.1.2.3', '12.1.0.0'],
    ['ipv4 normal class b', '173.1.2.3', '173.1.0.0'],
    ['ipv4 normal class c', '196.1.2.3', '196.1.0.0'],
    ['ipv6 rfc3964 with ipv4 encap', '2002:0c01:0203::', '12.1.0.0'],
    ['ipv6 rfc4380 teredo ipv4', '2001:0:1234::f3fe:fdfc', '12.1.0.0'],
    ['ipv6 rfc6052 well-known prefix with ipv4', '64:ff9b::0c01:0203', '12.1.0.0'],
    ['ipv6 rfc6145 translated ipv4', '::ffff:0:0c01:0203', '12.1.0.0'],
    ['ipv6 tor onioncat', 'fd87:d87e:eb43:1234::5678', 'tor:2'],
    ['ipv6 tor onioncat 2', 'fd87:d87e:eb43:1245::6789', 'tor:2'],
    ['ipv6 tor onioncat 3', 'fd87:d87e:eb43:1345::6789', 'tor:3'],
    ['ipv6 normal', '2602:100::1', '2602:100::'],
    ['ipv6 normal 2', '2602:0100::1234', '2602:100::'],
    ['ipv6 hurricane electric', '2001:470:1f10:a1::2', '2001:470:1000::'],
    ['ipv6 hurricane electric 2', '2001:0470:1f10:a1::2', '2001:470:1000::'],
    // ours: not in CometBFT's table
    ['ipv4-mapped ipv6', '::ffff:12.1.2.3', '12.1.0.0'],
    ['ipv4 loopback, non-strict', '127.0.0.1', '127.0.0.0'],
    ['ipv4 private, non-strict', '10.1.2.3', '10.1.0.0'],
  ];
  for (const [name, ip, key] of nonStrict) t.equal(groupKey(new NetAddress('', ip, 26656), false), key, name);

  const strict: [string, string, string][] = [
    ['ipv4 localhost', '127.0.0.1', 'local'],
    ['ipv6 localhost', '::1', 'local'],
    ['ipv4 zero', '0.0.0.0', 'local'],
    ['ipv4 first octet zero', '0.1.2.3', 'local'],
    ['ipv4 invalid bcast', '255.255.255.255', 'unroutable'],
    ['ipv4 rfc1918 10/8', '10.1.2.3', 'unroutable'],
    ['ipv4 rfc1918 172.16/12', '172.16.1.2', 'unroutable'],
    ['ipv4 rfc1918 192.168/16', '192.168.1.2', 'unroutable'],
    ['ipv6 rfc3849 2001:db8::/32', '2001:db8::1234', 'unroutable'],
    ['ipv4 rfc3927 169.254/16', '169.254.1.2', 'unroutable'],
    ['ipv6 rfc4193 fc00::/7', 'fc00::1234', 'unroutable'],
    ['ipv6 rfc4843 2001:10::/28', '2001:10::1234', 'unroutable'],
    ['ipv6 rfc4862 fe80::/64', 'fe80::1234', 'unroutable'],
    // ours
    ['public ipv4, strict', '12.1.2.3', '12.1.0.0'],
    ['public ipv6, strict', '2602:100::1', '2602:100::'],
    ['default mode is strict', '10.0.0.1', 'unroutable'],
  ];
  for (const [name, ip, key] of strict) {
    const addr = new NetAddress('', ip, 26656);
    t.equal(name === 'default mode is strict' ? groupKey(addr) : groupKey(addr, true), key, name);
  }
  t.equal(groupKey(new NetAddress('', 'seed.example.com', 26656), false), 'unroutable', 'host names have no group');
});

// ------------------------------------------------------------ persistence

t.test('save/load with 0 and 100 entries (TestAddrBookSaveLoad)', async (t) => {
  const { book, file } = newBook(t);
  await book.save();
  let reloaded = new AddrBook(file, { logger: captureLogger() });
  reloaded.start();
  t.ok(reloaded.isEmpty());
  t.ok(reloaded.isRunning());

  const pairs = randPairs(100);
  for (const { addr, src } of pairs) reloaded.addAddress(addr, src);
  for (const { addr } of pairs.slice(0, 30)) reloaded.markGood(addr.id);
  t.equal(reloaded.size(), 100);
  await reloaded.stop();
  t.notOk(reloaded.isRunning());

  const saved = JSON.parse(readFileSync(file, 'utf8'));
  t.equal(saved.version, 1);
  t.match(saved.key, /^[0-9a-f]{48}$/, '24-byte key, hex');
  t.equal(saved.addrs.length, 100);
  t.same(saved.bans, []);

  reloaded = new AddrBook(file, { logger: captureLogger() });
  reloaded.start();
  t.equal(reloaded.size(), 100);
  t.same([reloaded.stats().nOld, reloaded.stats().nNew], [30, 70], 'old stays old');
  for (const { addr } of pairs) t.ok(reloaded.hasAddress(addr));
  await reloaded.stop();
  t.equal(JSON.parse(readFileSync(file, 'utf8')).key, saved.key, 'key persisted');
  t.ok(existsSync(`${file}.bak`), 'the previous save is kept as .bak');
});

t.test('stop without start does not save; periodic save runs', async (t) => {
  const { book, file } = newBook(t, { saveIntervalMs: 10 });
  await book.stop();
  t.notOk(existsSync(file), 'never started: nothing written');
  book.start();
  book.start(); // idempotent
  book.addAddress(randIPv4Address(), randIPv4Address());
  const deadline = Date.now() + 5000;
  while (!existsSync(file) && Date.now() < deadline) await sleep(5);
  t.ok(existsSync(file), 'written by the timer');
  await book.stop();
  t.equal(JSON.parse(readFileSync(file, 'utf8')).addrs.length, 1);
});

t.test('concurrent saves are serialised and leave a valid file', async (t) => {
  const { book, file } = newBook(t);
  for (const { addr, src } of randPairs(50)) book.addAddress(addr, src);
  await Promise.all([book.save(), book.save(), book.save()]);
  t.equal(JSON.parse(readFileSync(file, 'utf8')).addrs.length, 50);
});

t.test('unusable files load into a working empty book and are moved aside', async (t) => {
  const valid = JSON.stringify({ version: 1, key: 'ab'.repeat(24), addrs: [], bans: [] });
  const cases: [string, string, RegExp][] = [
    ['corrupt', '{"version":1,"key":', /JSON/],
    [
      'truncated',
      (() => {
        const full = JSON.stringify({
          version: 1,
          key: 'ab'.repeat(24),
          addrs: randPairs(5).map(({ addr, src }) => ({
            addr: addr.toJSON(),
            src: src.toJSON(),
            bucketType: 'new',
            buckets: [1],
            attempts: 0,
            lastAttempt: 1,
            lastSuccess: 0,
            bannedUntil: 0,
          })),
          bans: [],
        });
        return full.slice(0, Math.floor(full.length / 2));
      })(),
      /JSON/,
    ],
    ['empty', '', /empty/],
    ['future version', valid.replace('"version":1', '"version":2'), /newer/],
    ['not an object', '[1,2,3]', /not an object/],
    ['bad key', valid.replace('ab'.repeat(24), 'xyz'), /key/],
    ['addrs not an array', valid.replace('"addrs":[]', '"addrs":{}'), /addrs/],
  ];
  for (const [name, content, reason] of cases) {
    await t.test(name, async (t) => {
      const logger = captureLogger();
      const clock = fakeClock();
      const { file, dir } = newBook(t);
      writeFileSync(file, content);
      const book = new AddrBook(file, { logger, now: clock.now, routabilityStrict: false });
      t.doesNotThrow(() => book.load());
      t.ok(book.isEmpty());
      t.notOk(existsSync(file), 'bad file no longer at its path');
      const aside = join(dir, `addrbook.json.corrupt-${clock.now()}`);
      t.ok(existsSync(aside), 'moved to <file>.corrupt-<timestamp>');
      t.equal(readFileSync(aside, 'utf8'), content, 'contents preserved for inspection');
      t.equal(logger.warns.length, 1, 'one clear warning');
      t.match(logger.warns[0]!.obj, { reason, movedTo: aside });
      t.match(logger.warns[0]!.msg, /unusable/);

      const addr = addrIn16(10, 0);
      book.addAddress(addr, addr);
      await book.save();
      const again = new AddrBook(file, { logger: captureLogger(), routabilityStrict: false });
      again.load();
      t.ok(again.hasAddress(addr), 'the book works and saves again');
    });
  }
});

t.test('an oversize file is refused and moved aside', async (t) => {
  const logger = captureLogger();
  const { file, dir } = newBook(t);
  writeFileSync(file, '{}');
  truncateSync(file, MAX_ADDR_BOOK_FILE_BYTES + 1); // sparse: cheap
  const book = new AddrBook(file, { logger });
  book.load();
  t.ok(book.isEmpty());
  t.notOk(existsSync(file));
  t.ok(readdirSync(dir).some((f) => f.startsWith('addrbook.json.corrupt-')));
  t.match(logger.warns[0]!.obj, { reason: /larger than/ });
});

t.test('a FIFO at the book path is refused at once, not waited on', async (t) => {
  // Opening a FIFO for reading blocks until a writer comes: the load must not open it that way.
  const logger = captureLogger();
  const { file, dir } = newBook(t);
  execFileSync('mkfifo', [file]);
  const book = new AddrBook(file, { logger });
  book.load();
  t.ok(book.isEmpty());
  t.notOk(existsSync(file), 'moved aside');
  t.ok(readdirSync(dir).some((f) => f.startsWith('addrbook.json.corrupt-')));
  t.match(logger.warns[0]!.obj, { reason: 'not a regular file' });
});

t.test('a corrupt file falls back to the previous good save (.bak)', async (t) => {
  const logger = captureLogger();
  const { book, file } = newBook(t, { logger });
  const first = randPairs(10);
  for (const { addr, src } of first) book.addAddress(addr, src);
  await book.save();
  for (const { addr, src } of randPairs(5)) book.addAddress(addr, src);
  await book.save(); // .bak now holds the 10-entry save
  t.equal(JSON.parse(readFileSync(`${file}.bak`, 'utf8')).addrs.length, 10);

  writeFileSync(file, readFileSync(file, 'utf8').slice(0, 100)); // torn
  const restored = new AddrBook(file, { logger });
  restored.load();
  t.equal(restored.size(), 10, 'restored from .bak');
  for (const { addr } of first) t.ok(restored.hasAddress(addr));
  t.ok(logger.warns.some((w) => /previous good save/.test(w.msg)));

  // both bad: empty, both moved aside
  writeFileSync(file, 'garbage');
  writeFileSync(`${file}.bak`, '');
  const clock = fakeClock();
  const empty = new AddrBook(file, { logger, now: clock.now });
  empty.load();
  t.ok(empty.isEmpty());
  t.notOk(existsSync(file));
  t.notOk(existsSync(`${file}.bak`));
});

t.test('invalid entries are skipped with a counted warning', async (t) => {
  const logger = captureLogger();
  const { file } = newBook(t);
  const now = Date.UTC(2025, 0, 1);
  const good = randIPv4Address();
  const entry = (over: Record<string, unknown> = {}) => ({
    addr: good.toJSON(),
    src: good.toJSON(),
    bucketType: 'new',
    buckets: [3],
    attempts: 0,
    lastAttempt: now,
    lastSuccess: 0,
    bannedUntil: 0,
    ...over,
  });
  const other = randIPv4Address();
  const bannedAddr = randIPv4Address();
  const addrs = [
    entry(),
    entry(), // duplicate ID
    entry({ addr: other.toJSON(), bucketType: 'old', buckets: [999] }),
    entry({ addr: { id: 'nothex', host: '1.2.3.4', port: 1 } }),
    entry({ addr: { id: randId(), host: '1.2.3.4', port: 70000 } }),
    entry({ addr: { id: randId(), host: 'example.com', port: 1 } }),
    entry({ addr: { id: randId(), host: '1.2.3.4', port: 1 }, lastAttempt: -1 }),
    entry({ addr: { id: randId(), host: '1.2.3.4', port: 1 }, attempts: 1.5 }),
    entry({ addr: { id: randId(), host: '1.2.3.4', port: 1 }, bucketType: 'tried' }),
    entry({ addr: { id: randId(), host: '1.2.3.4', port: 1 }, buckets: [1, 2, 3, 4, 5] }),
    entry({ addr: { id: randId(), host: '10.0.0.1', port: 1 } }), // not routable, strict
    entry({ addr: bannedAddr.toJSON() }), // banned ID
    null,
    'x',
    entry({ addr: other.toJSON(), bucketType: 'old', buckets: [7] }),
  ];
  const bans = [entry({ addr: bannedAddr.toJSON(), buckets: [], bannedUntil: now + 60_000 }), { nonsense: true }];
  writeFileSync(file, JSON.stringify({ version: 1, key: 'cd'.repeat(24), addrs, bans }));
  const book = new AddrBook(file, { logger, now: () => now });
  book.load();
  t.equal(book.size(), 2, 'the two valid entries');
  t.ok(book.hasAddress(good));
  t.ok(book.isGood(other), 'old entry placed in its (recomputed) old bucket');
  t.ok(book.isBanned(bannedAddr));
  t.equal(logger.warns.length, 1, 'one counted warning');
  t.match(logger.warns[0]!.obj, { skipped: 13 + 1 });
  t.match(logger.warns[0]!.msg, /skipped 14 invalid entries/);
});

t.test('entries beyond the book capacity are not processed', async (t) => {
  const logger = captureLogger();
  const { file } = newBook(t);
  writeFileSync(file, JSON.stringify({ version: 1, key: 'ef'.repeat(24), addrs: new Array(ADDR_BOOK_CAPACITY + 5).fill(0), bans: [] }));
  const book = new AddrBook(file, { logger });
  book.load();
  t.ok(book.isEmpty());
  const reasons = logger.warns[0]!.obj.reasons as Record<string, number>;
  t.equal(reasons[`beyond the book's capacity of ${ADDR_BOOK_CAPACITY}`], 5);
  t.equal(logger.warns[0]!.obj.skipped, ADDR_BOOK_CAPACITY + 5);
});

t.test('a loaded file with an over-full bucket is brought back within capacity', async (t) => {
  const { file } = newBook(t);
  const now = Date.UTC(2025, 0, 1);
  const addrs = Array.from({ length: NEW_BUCKET_SIZE + 10 }, () => {
    const a = randIPv4Address();
    return {
      addr: a.toJSON(),
      src: a.toJSON(),
      bucketType: 'new',
      buckets: [0],
      attempts: 0,
      lastAttempt: now,
      lastSuccess: 0,
      bannedUntil: 0,
    };
  });
  writeFileSync(file, JSON.stringify({ version: 1, key: '01'.repeat(24), addrs, bans: [] }));
  const book = new AddrBook(file, { logger: captureLogger(), now: () => now });
  book.load();
  // bucket 0 keeps 64; the 10 others go where the hash puts them (rarely into bucket 0 again, expiring one)
  t.ok(book.size() >= NEW_BUCKET_SIZE && book.size() <= NEW_BUCKET_SIZE + 10, `overflow re-placed by hash (size ${book.size()})`);
  t.ok(book.stats().newBucketsInUse > 1);
});

// ---------------------------------------------------------------- options

t.test('options are validated; a pino logger fits', async (t) => {
  const dir = t.testdir({});
  const file = join(dir, 'book.json');
  t.throws(() => new AddrBook(''), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new AddrBook(file, { key: new Uint8Array(3) }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new AddrBook(file, { saveIntervalMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new AddrBook(file, { saveIntervalMs: 1.5 }), { code: 'ERR_INVALID_ARGUMENT' });
  const book = new AddrBook(file, { logger: pino({ level: 'silent' }), key: new Uint8Array(24).fill(7) });
  t.equal(book.saveIntervalMs, 120_000, 'default 2 minutes');
  t.equal(book.filePath, file);
  book.addAddress(randIPv4Address(), randIPv4Address());
  await book.save();
  t.equal(JSON.parse(readFileSync(file, 'utf8')).key, '07'.repeat(24), 'the given key is used and persisted');
});

t.test('the same key places addresses in the same buckets', async (t) => {
  const key = new Uint8Array(24).fill(9);
  const pairs = randPairs(300);
  const stats = [0, 1].map(() => {
    const { book } = newBook(t, { key });
    for (const { addr, src } of pairs) book.addAddress(addr, src);
    for (const { addr } of pairs.slice(0, 100)) book.markGood(addr.id);
    return [book.stats().newBucketsInUse, book.stats().oldBucketsInUse];
  });
  t.same(stats[0], stats[1]);
});
