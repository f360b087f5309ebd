// AddrBook rules that its Stryker run (stryker/pex-addrbook.config.mjs) found unchecked: the option
// bounds, the background save's timer, a good entry re-heard by gossip, how many new buckets one
// address reaches, ban records (state kept, 0 ms, the MAX_BANS bound), reinstatement refusals, the
// load's reset and skip reasons, and what the book logs. The CometBFT-derived cases are in
// addrbook.test.ts.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { NetAddress } from '../../../lib/net-address.js';
import { AddrBook, type AddrBookOptions } from '../../../reactors/pex/addrbook.js';
import { MAX_BANS, MAX_FAILURES } from '../../../reactors/pex/params.js';
import { recordingBookLogger } from '../../helpers/pex.js';
import { sleep, within } from '../../helpers/time.js';

type TapTest = { testdir: typeof t.testdir };

const NOW = Date.UTC(2025, 0, 1);
const randId = (): string => randomBytes(20).toString('hex');
const randInt = (n: number): number => Math.floor(Math.random() * n);

/** A random publicly routable IPv4 address with a random ID. */
function routable(): NetAddress {
  for (;;) {
    const addr = new NetAddress(randId(), `${randInt(223) + 1}.${randInt(256)}.${randInt(256)}.${randInt(254) + 1}`, 26656);
    if (addr.routable()) return addr;
  }
}

/** A book in the test's directory with a recording logger and a clock the test moves (`clock.ms`). */
function bookIn(t: TapTest, opts: AddrBookOptions = {}) {
  const dir = t.testdir({});
  const file = join(dir, 'book.json');
  const logger = recordingBookLogger();
  const clock = { ms: NOW };
  const book = new AddrBook(file, { logger, now: () => clock.ms, ...opts });
  return { book, file, dir, logger, clock };
}

interface SavedEntry {
  addr: { id: string; host: string; port: number };
  src: { id: string; host: string; port: number };
  bucketType: string;
  buckets: number[];
  attempts: number;
  lastAttempt: number;
  lastSuccess: number;
  bannedUntil: number;
}
const saved = (file: string): { key: string; addrs: SavedEntry[]; bans: SavedEntry[] } => JSON.parse(readFileSync(file, 'utf8'));

/** A persisted entry for a hand-written book file. */
const entry = (addr: NetAddress, over: Partial<SavedEntry> = {}): SavedEntry => ({
  addr: addr.toJSON() as SavedEntry['addr'],
  src: addr.toJSON() as SavedEntry['src'],
  bucketType: 'new',
  buckets: [3],
  attempts: 0,
  lastAttempt: NOW,
  lastSuccess: 0,
  bannedUntil: 0,
  ...over,
});

// ---------------------------------------------------------------- options

t.test('constructor bounds: path type, key type and 16..64 bytes, interval 1..2^31-1, now a function', async (t) => {
  const file = join(t.testdir({}), 'book.json');
  t.throws(() => new AddrBook(42 as unknown as string), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'address book file path must be a non-empty string',
  });
  t.throws(
    () => new AddrBook(file, { key: Array(24).fill(1) as unknown as Uint8Array }),
    { code: 'ERR_INVALID_ARGUMENT' },
    'not a Uint8Array',
  );
  t.throws(
    () => new AddrBook(file, { key: new Uint8Array(15) }),
    { message: 'address book key must be a Uint8Array of 16..64 bytes' },
    '15 bytes',
  );
  t.throws(() => new AddrBook(file, { key: new Uint8Array(65) }), { code: 'ERR_INVALID_ARGUMENT' }, '65 bytes');
  t.throws(() => new AddrBook(file, { saveIntervalMs: 2 ** 31 }), {
    message: 'saveIntervalMs must be an integer number of ms in 1..2147483647',
  });
  t.throws(() => new AddrBook(file, { saveIntervalMs: -5 }), { code: 'ERR_INVALID_ARGUMENT' }, 'negative interval');
  t.throws(() => new AddrBook(file, { now: 5 as unknown as () => number }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'now must be a function',
  });
  t.equal(new AddrBook(file, { saveIntervalMs: 1 }).saveIntervalMs, 1, 'interval 1 ms');
  t.equal(new AddrBook(file, { saveIntervalMs: 2 ** 31 - 1 }).saveIntervalMs, 2 ** 31 - 1, 'interval 2^31-1 ms');
  for (const len of [16, 64]) {
    const key = new Uint8Array(len).fill(len);
    const book = new AddrBook(file, { key, logger: recordingBookLogger() });
    await book.save();
    t.equal(saved(file).key, Buffer.from(key).toString('hex'), `a ${len}-byte key is used and persisted`);
  }
});

// ---------------------------------------------------------------- service

t.test('start again while started keeps the book; the save timer is unref’d and stops with stop()', async (t) => {
  const { book, file } = bookIn(t, { saveIntervalMs: 10 });
  const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = refTimers();
  book.start();
  t.equal(refTimers(), before, 'the save timer does not keep the process alive');
  const addr = routable();
  book.addAddress(addr, addr);
  book.start();
  t.ok(book.hasAddress(addr), 'a second start neither reloads nor resets the book');
  await book.stop();
  t.ok(existsSync(file));
  rmSync(file);
  await sleep(100); // ten periods of the stopped timer
  t.notOk(existsSync(file), 'no save after stop');
});

t.test('a failing periodic save is logged, and the final save of stop() rejects', async (t) => {
  const dir = t.testdir({});
  const parent = join(dir, 'sub');
  const logger = recordingBookLogger();
  let failed: () => void = () => {};
  const periodicFailure = new Promise<void>((resolve) => (failed = resolve));
  const warn = logger.warn;
  logger.warn = (obj, msg) => {
    warn(obj, msg);
    if (msg === 'address book: periodic save failed') failed();
  };
  const book = new AddrBook(join(parent, 'book.json'), { logger, saveIntervalMs: 5 });
  book.start();
  writeFileSync(parent, 'a file where the book directory should be');
  await within(periodicFailure, 5000, 'the periodic save failure');
  const w = logger.warns().find((l) => l.msg === 'address book: periodic save failed')!;
  t.equal(w.obj.file, join(parent, 'book.json'));
  t.ok(w.obj.err instanceof Error, 'with the fs error');
  await t.rejects(book.stop());
  t.notOk(book.isRunning());
});

t.test('the default logger turns warnings into process warnings', async (t) => {
  const { file } = bookIn(t);
  writeFileSync(file, 'not json');
  const book = new AddrBook(file, { now: () => NOW });
  const warning = once(process, 'warning') as Promise<[Error & { code?: string }]>;
  book.load();
  const [w] = await within(warning, 5000, 'the process warning');
  t.equal(w.code, 'SWITCHBOARD_ADDRBOOK');
  t.match(w.message, /^address book: .* is unusable .*\{"file":/, 'the message, then the fields as JSON');
  t.ok(book.isEmpty());
});

// -------------------------------------------------------------- adding

t.test('a good entry heard again from other peers stays in the old table only', async (t) => {
  const { book, logger } = bookIn(t);
  const addr = routable();
  book.addAddress(addr, routable());
  book.markGood(addr.id);
  for (let i = 0; i < 30; i++) book.addAddress(addr, routable());
  t.same(book.stats(), { size: 1, nNew: 0, nOld: 1, newBucketsInUse: 0, oldBucketsInUse: 1, bans: 0 });
  t.same(logger.warns(), [], 'not offered to a new bucket');
});

t.test('an address heard from many peers reaches exactly 4 new buckets', async (t) => {
  const { book } = bookIn(t);
  const addr = routable();
  for (let i = 0; i < 300; i++) book.addAddress(addr, routable());
  t.equal(book.stats().newBucketsInUse, 4);
});

t.test('a new address heard again joins one more bucket with probability 1/(2n)', async (t) => {
  // From 3 sources: 2nd add joins w.p. 1/2; 3rd w.p. 1/2 (still in 1) or 1/4 (in 2).
  // P(1 bucket) = 1/4, P(3 buckets) = 1/8; of 400 addresses ~300 in 2+ buckets, ~50 in 3.
  const { book, file } = bookIn(t);
  const n = 400;
  for (let i = 0; i < n; i++) {
    const addr = routable();
    for (let s = 0; s < 3; s++) book.addAddress(addr, routable());
  }
  await book.save();
  const counts = saved(file).addrs.map((e) => e.buckets.length);
  t.equal(counts.length, n);
  const multi = counts.filter((c) => c >= 2).length;
  const three = counts.filter((c) => c === 3).length;
  t.ok(multi > 200 && multi < 380, `~300 of 400 in 2 or 3 buckets (got ${multi})`);
  t.ok(three > 15 && three < 100, `~50 of 400 in 3 buckets (got ${three})`);
});

t.test('an empty private ID does not refuse addresses from peers without ID', async (t) => {
  const { book } = bookIn(t);
  book.addPrivateIds(['']);
  const addr = routable();
  book.addAddress(addr, new NetAddress('', '9.9.9.9', 26656));
  t.ok(book.hasAddress(addr));
});

t.test('declaring our address leaves other entries alone', async (t) => {
  const { book } = bookIn(t);
  const others = [routable(), routable(), routable()];
  for (const a of others) book.addAddress(a, a);
  book.addOurAddress(routable());
  book.addOurAddress(new NetAddress('', '8.8.8.8', 26656));
  t.equal(book.size(), 3);
  t.throws(
    () => book.addAddress(new NetAddress(randId(), '8.8.8.8', 26656), others[0]!),
    { code: 'ERR_REJECTED', reason: 'self' },
    'an ID-less one by ip:port',
  );
});

t.test('refusals name the address and why', async (t) => {
  const { book } = bookIn(t);
  const banned = routable();
  book.markBad(banned, 60_000);
  const until = new Date(NOW + 60_000).toISOString();
  t.throws(() => book.addAddress(banned, banned), { code: 'ERR_BANNED', message: `address ${banned} is banned until ${until}` });
  const priv = routable();
  book.addPrivateIds([priv.id]);
  t.throws(() => book.addAddress(priv, banned), { message: `address ${priv} has a private ID` });
  const fromPriv = routable();
  t.throws(() => book.addAddress(fromPriv, priv), { message: `address ${fromPriv} comes from private peer ${priv}` });
  const ours = routable();
  book.addOurAddress(ours);
  t.throws(() => book.addAddress(ours, banned), { message: `address ${ours} is our own` });
  const local = new NetAddress(randId(), '10.0.0.1', 26656);
  t.throws(() => book.addAddress(local, banned), { message: `address ${local} is not routable (routabilityStrict)` });
  const noPort = new NetAddress(randId(), '1.2.3.4', 0);
  t.throws(() => book.addAddress(noPort, banned), {
    code: 'ERR_INVALID_ADDRESS',
    message: `cannot add ${noPort} to the address book: port 0 cannot be dialed`,
  });
  t.throws(() => book.addAddress(routable(), 'x' as unknown as NetAddress), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'src must be a NetAddress',
  });
  t.throws(() => book.addAddress('x' as unknown as NetAddress, banned), {
    code: 'ERR_INVALID_ARGUMENT',
    message: 'addr must be a NetAddress',
  });
  t.throws(() => book.addOurAddress('x' as unknown as NetAddress), { code: 'ERR_INVALID_ARGUMENT', message: 'addr must be a NetAddress' });
  t.throws(() => book.markBad('x' as unknown as NetAddress, 10), { code: 'ERR_INVALID_ARGUMENT', message: 'addr must be a NetAddress' });
  const badBias = { code: 'ERR_INVALID_ARGUMENT', message: 'biasTowardsNewAddrs must be a number in 0..100' };
  t.throws(() => book.pickAddress('50' as unknown as number), badBias, 'a bias that is a string');
  t.throws(() => book.getSelectionWithBias(Number.NaN), badBias);
  t.throws(() => book.markBad(banned, -1), { code: 'ERR_INVALID_ARGUMENT', message: 'banMs must be a finite number of ms >= 0' });
  const noId = new NetAddress('', '1.2.3.4', 26656);
  t.throws(() => book.markBad(noId, 1), { code: 'ERR_INVALID_ADDRESS', message: `cannot ban ${noId}: it has no node ID` });
});

// ------------------------------------------------------------- marking

t.test('markGood resets the attempts and records the success, new or old (persisted)', async (t) => {
  const { book, file, clock } = bookIn(t);
  const fresh = routable();
  const old = routable();
  for (const a of [fresh, old]) book.addAddress(a, a);
  book.markGood(old.id);
  for (let i = 0; i < 3; i++) {
    book.markAttempt(fresh);
    book.markAttempt(old);
  }
  clock.ms += 5_000;
  book.markGood(fresh.id);
  book.markGood(old.id);
  await book.save();
  for (const e of saved(file).addrs) {
    t.match(e, { bucketType: 'old', attempts: 0, lastSuccess: NOW + 5_000, lastAttempt: NOW + 5_000 }, e.addr.host);
  }
  t.notOk(book.isGood(routable()), 'an unknown address is not good');
  t.notOk(book.isBanned(routable()), 'nor banned');
});

t.test('a ban keeps the entry’s state; a 0 ms ban removes the entry without banning it', async (t) => {
  const { book, file } = bookIn(t);
  const addr = routable();
  const src = routable();
  book.addAddress(addr, src);
  book.markAttempt(addr);
  book.markAttempt(addr);
  book.markBad(addr, 1000);
  await book.save();
  t.match(saved(file).bans, [{ addr: addr.toJSON(), src: src.toJSON(), attempts: 2, bannedUntil: NOW + 1000 }]);

  const brief = routable();
  book.addAddress(brief, brief);
  book.markBad(brief, 0);
  t.notOk(book.hasAddress(brief), 'removed');
  t.notOk(book.isBanned(brief), 'not banned');
  book.addAddress(brief, brief);
  t.ok(book.hasAddress(brief), 'and may come back at once');
});

t.test(`bans are bounded at MAX_BANS (${MAX_BANS}): the one expiring first is dropped`, async (t) => {
  const { book, logger } = bookIn(t);
  const addrs = Array.from({ length: MAX_BANS + 1 }, () => new NetAddress(randId(), '1.2.3.4', 26656));
  const first = 7; // expires first, neither first nor last banned
  for (let i = 0; i < MAX_BANS; i++) book.markBad(addrs[i]!, i === first ? 1 : 1_000_000 + i);
  t.equal(book.stats().bans, MAX_BANS);
  t.same(logger.warns(), [], 'MAX_BANS records: no trimming');
  book.markBad(addrs[MAX_BANS]!, 1_000);
  t.equal(book.stats().bans, MAX_BANS, 'one dropped');
  t.notOk(book.isBanned(addrs[first]!), 'the one expiring first');
  t.ok(book.isBanned(addrs[0]!) && book.isBanned(addrs[MAX_BANS - 1]!) && book.isBanned(addrs[MAX_BANS]!), 'the others kept');
  t.equal(logger.warns().length, 1);
  t.match(logger.warns()[0], { obj: { kept: MAX_BANS, now: NOW }, msg: 'address book: too many bans, dropped those expiring first' });
});

t.test('reinstatement forgets peers now refused: private, ours, non-routable when strict', async (t) => {
  const { book, clock } = bookIn(t);
  const priv = routable();
  const ours = routable();
  const local = new NetAddress(randId(), '127.0.0.1', 26656);
  for (const a of [priv, ours, local]) book.markBad(a, 1000);
  book.addPrivateIds([priv.id]);
  book.addOurAddress(ours);
  clock.ms += 1000;
  t.equal(book.reinstateBadPeers(), 0);
  t.equal(book.size(), 0);
  t.equal(book.stats().bans, 0, 'their ban records dropped');

  const { book: lax, clock: laxClock } = bookIn(t, { routabilityStrict: false });
  lax.markBad(local, 1000);
  laxClock.ms += 1000;
  t.equal(lax.reinstateBadPeers(), 1, 'non-routable is fine when not strict');
  t.ok(lax.hasAddress(local));
  lax.markGood(local.id);
  t.ok(lax.isGood(local), 'the reinstated entry can be promoted again');
});

t.test('a loaded ban record with buckets comes back as new in one bucket', async (t) => {
  const { book, file, clock } = bookIn(t);
  const wasOld = routable();
  const wasNew = routable();
  const bans = [
    entry(wasOld, { bucketType: 'old', buckets: [5], bannedUntil: NOW + 1000 }),
    entry(wasNew, { buckets: [5, 9], bannedUntil: NOW + 1000 }),
  ];
  writeFileSync(file, JSON.stringify({ version: 1, key: 'ab'.repeat(24), addrs: [], bans }));
  book.load();
  t.ok(book.isBanned(wasOld) && book.isBanned(wasNew));
  clock.ms += 1000;
  t.equal(book.reinstateBadPeers(), 2);
  t.match(book.stats(), { size: 2, nNew: 2, nOld: 0, oldBucketsInUse: 0, bans: 0 });
  t.ok(book.hasAddress(wasOld) && book.hasAddress(wasNew));
  await book.save();
  for (const e of saved(file).addrs) t.same([e.bucketType, e.buckets.length], ['new', 1], `${e.addr.host}: in one new bucket`);
});

// ---------------------------------------------------------- picking, sizes

t.test('getSelection is random: repeated selections cover more than one selection', async (t) => {
  const { book } = bookIn(t);
  for (let i = 0; i < 100; i++) {
    const a = routable();
    book.addAddress(a, a);
  }
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) for (const a of book.getSelection()) seen.add(a.id);
  t.ok(seen.size > 32, `20 selections of 32 cover ${seen.size} addresses`);
});

t.test('getSelectionWithBias above 100 is clamped: never more than the selection size', async (t) => {
  const { book } = bookIn(t);
  const olds = Array.from({ length: 10 }, routable);
  for (const a of olds) {
    book.addAddress(a, a);
    book.markGood(a.id);
  }
  for (let i = 0; i < 40; i++) {
    const a = routable();
    book.addAddress(a, a);
  }
  const sel = book.getSelectionWithBias(150);
  t.equal(sel.length, 32, 'max(min(32, 50), 23 % of 50)');
  t.notOk(
    sel.some((a) => book.isGood(a)),
    'all new',
  );
});

t.test('needMoreAddrs until the book holds 1000; stats count buckets per table', async (t) => {
  const { book } = bookIn(t);
  const first = routable();
  book.addAddress(first, first);
  t.same([book.stats().newBucketsInUse, book.stats().oldBucketsInUse], [1, 0]);
  book.markGood(first.id);
  t.same([book.stats().newBucketsInUse, book.stats().oldBucketsInUse], [0, 1]);
  for (let i = 0; i < 5000 && book.size() < 999; i++) {
    const a = routable();
    book.addAddress(a, a);
  }
  t.ok(book.needMoreAddrs(), '999');
  const last = routable();
  book.addAddress(last, last);
  t.equal(book.size(), 1000);
  t.notOk(book.needMoreAddrs(), '1000');
});

// ------------------------------------------------------------------ load

t.test('load with no file empties the book (entries and bans) and keeps the given key', async (t) => {
  const key = new Uint8Array(24).fill(3);
  const { book, file, logger } = bookIn(t, { key });
  const a = routable();
  book.addAddress(a, a);
  book.markBad(routable(), 60_000);
  book.load();
  t.same(book.stats(), { size: 0, nNew: 0, nOld: 0, newBucketsInUse: 0, oldBucketsInUse: 0, bans: 0 });
  await book.save();
  t.equal(saved(file).key, '03'.repeat(24));
  const again = new AddrBook(file, { logger, now: () => NOW });
  again.load();
  t.same(logger.warns(), [], 'a clean load warns of nothing');
  t.match(logger.logs.at(-1), { level: 'info', obj: { file, size: 0, bans: 0 }, msg: 'address book: loaded' });
});

t.test('a load from .bak says so, with both paths and the size', async (t) => {
  const { book, file, logger } = bookIn(t);
  const a = routable();
  book.addAddress(a, a);
  await book.save();
  book.addAddress(routable(), a);
  await book.save();
  writeFileSync(file, '{');
  book.load();
  t.equal(book.size(), 1);
  t.match(logger.warns().at(-1), {
    obj: { file, backup: `${file}.bak`, size: 1 },
    msg: 'address book: restored from the previous good save',
  });
});

t.test('load skips, by reason: duplicate, banned, private, ours, non-routable, unusable IP', async (t) => {
  const { book, file, logger } = bookIn(t);
  const [dup, banned, priv, ours, kept] = [routable(), routable(), routable(), routable(), routable()];
  book.addPrivateIds([priv.id]);
  book.addOurAddress(ours);
  const addrs = [
    entry(dup),
    entry(dup),
    entry(banned),
    entry(priv),
    entry(ours),
    entry(new NetAddress(randId(), '10.0.0.1', 26656)),
    entry(new NetAddress(randId(), '224.0.0.1', 26656)),
    entry(kept),
  ];
  const bans = [entry(banned, { buckets: [], bannedUntil: NOW + 1000 })];
  writeFileSync(file, JSON.stringify({ version: 1, key: 'ab'.repeat(24), addrs, bans }));
  book.load();
  t.equal(book.size(), 2, 'dup (the first) and kept');
  t.ok(book.hasAddress(dup) && book.hasAddress(kept));
  t.same(logger.warns(), [
    {
      level: 'warn',
      obj: {
        file,
        skipped: 6,
        reasons: {
          'duplicate ID': 1,
          'ID is banned': 1,
          'private or our own address': 2,
          'not routable (routabilityStrict)': 2,
        },
        loaded: 2,
        bans: 1,
      },
      msg: 'address book: skipped 6 invalid entries while loading',
    },
  ]);

  const { book: lax, file: laxFile, logger: laxLogger } = bookIn(t, { routabilityStrict: false });
  const ips = ['224.0.0.1', '0.0.0.0', '2001:db8::1', '10.0.0.1'];
  const laxAddrs = ips.map((ip) => entry(new NetAddress(randId(), ip, 26656)));
  writeFileSync(laxFile, JSON.stringify({ version: 1, key: 'ab'.repeat(24), addrs: laxAddrs, bans: [] }));
  lax.load();
  t.equal(lax.size(), 1, 'only 10.0.0.1, when not strict');
  t.equal(laxLogger.warns().length, 1);
  t.same(laxLogger.warns()[0]!.obj.reasons, { 'unusable IP address': 3 });
});

t.test('the skip warning lists at most 10 reasons', async (t) => {
  const { book, file, logger } = bookIn(t, { routabilityStrict: false });
  // twelve different reasons: twelve bucket indexes out of range
  const addrs = Array.from({ length: 12 }, (_, i) => entry(routable(), { buckets: [300 + i] }));
  writeFileSync(file, JSON.stringify({ version: 1, key: 'ab'.repeat(24), addrs, bans: [] }));
  book.load();
  const w = logger.warns()[0]!;
  t.equal(w.obj.skipped, 12);
  t.equal(Object.keys(w.obj.reasons as object).length, 10, 'the first 10 of 12 reasons');
  t.equal(book.size(), 0);
});

// ------------------------------------------------------------------ logs

t.test('the book logs what it did, with the address', async (t) => {
  const { book, logger, clock } = bookIn(t);
  const one = (msg: string) => {
    const found = logger.logs.filter((l) => l.msg === msg);
    t.equal(found.length, 1, msg);
    return found[0];
  };
  const ours = routable();
  book.addOurAddress(ours);
  t.match(one('address book: added our address'), { level: 'info', obj: { addr: ours.toString() } });
  const gone = routable();
  book.addAddress(gone, gone);
  book.removeAddress(gone);
  t.match(one('address book: removed address'), { level: 'info', obj: { addr: gone.toString() } });
  const failing = routable();
  book.addAddress(failing, failing);
  for (let i = 0; i < MAX_FAILURES; i++) book.markAttempt(failing);
  t.match(one('address book: dropped address after repeated failures'), {
    level: 'info',
    obj: { addr: failing.toString(), attempts: MAX_FAILURES },
  });
  const bad = routable();
  book.markBad(bad, 500);
  t.match(one('address book: banned address'), { level: 'info', obj: { addr: bad.toString(), until: NOW + 500 } });
  clock.ms += 500;
  book.reinstateBadPeers();
  t.match(one('address book: reinstated address'), { level: 'info', obj: { addr: bad.toString() } });
});
