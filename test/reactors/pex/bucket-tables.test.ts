// The address book's new and old bucket tables (reactors/pex/bucket-tables.ts) on their own, as
// CometBFT's addrbook.go: placement, exact capacities, expiry of new entries, promotion to old with
// demotion of an old bucket's least recently tried entry, reloading placed entries, random picks.
// The AddrBook-level behaviour (eclipse bounds, selection shares) is in addrbook.test.ts.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { NetAddress } from '../../../lib/net-address.js';
import { BucketTables, partialShuffle, randomIndex } from '../../../reactors/pex/bucket-tables.js';
import { KnownAddress } from '../../../reactors/pex/known-address.js';
import { NEW_BUCKET_COUNT, NEW_BUCKET_SIZE, OLD_BUCKET_COUNT, OLD_BUCKET_SIZE } from '../../../reactors/pex/params.js';
import { recordingBookLogger } from '../../helpers/pex.js';

const NOW = Date.UTC(2025, 0, 1);
const KEY = Buffer.alloc(24, 0x5a);

function tables(now = () => NOW) {
  const logger = recordingBookLogger();
  return { logger, tables: new BucketTables(KEY, true, logger, now) };
}

const randId = (): string => randomBytes(20).toString('hex');
let seq = 0;
/** A fresh address in `a.b.0.0/16` (one address group). */
function addrIn(a: number, b: number): NetAddress {
  seq++;
  return new NetAddress(randId(), `${a}.${b}.${Math.floor(seq / 254) % 256}.${(seq % 254) + 1}`, 26656);
}
const src = (a: number): NetAddress => new NetAddress(randId(), `${a}.9.9.9`, 26656);
const ka = (addr: NetAddress, from: NetAddress, lastAttempt = NOW): KnownAddress => new KnownAddress(addr, from, lastAttempt);

/** New bucket of an address of group `a.b` heard from source group `s.9` (probed on scratch tables with the same key). */
function newBucketOf(a: number, b: number, s: number): number {
  const probe = tables().tables;
  const k = ka(addrIn(a, b), src(s));
  probe.addToNew(k, k.src);
  return k.buckets[0]!;
}

/** Old bucket of `addr` (probed on scratch tables with the same key). */
function oldBucketOf(addr: NetAddress): number {
  const probe = tables().tables;
  const k = ka(addr, addr);
  probe.addToNew(k, k.src);
  probe.moveToOld(k);
  return k.buckets[0]!;
}

// ------------------------------------------------------------- new table

t.test('an address heard from several source groups sits in one new bucket per group, counted once', async (t) => {
  const { tables: tb } = tables();
  const k = ka(addrIn(1, 2), src(50));
  tb.addToNew(k, k.src);
  t.same([tb.nNew, tb.nOld, tb.size, k.buckets.length, tb.bucketsInUse('new'), tb.bucketsInUse('old')], [1, 0, 1, 1, 1, 0]);
  t.equal(tb.get(k.id), k);
  tb.addToNew(k, k.src);
  t.equal(k.buckets.length, 1, 'the same source again: same bucket, no second reference');

  const buckets = new Set(k.buckets);
  for (let s = 51; buckets.size < 3 && s < 120; s++) {
    tb.addToNew(k, src(s));
    buckets.add(k.buckets.at(-1)!);
  }
  t.equal(buckets.size, 3, 'other source groups reach other buckets');
  t.same(new Set(k.buckets), buckets);
  t.same([tb.nNew, tb.size, tb.bucketsInUse('new')], [1, 1, 3], 'one entry in three buckets');
  t.same([...tb.values()], [k]);

  tb.remove(k);
  t.same([tb.nNew, tb.size, tb.bucketsInUse('new'), k.buckets], [0, 0, 0, []], 'removed from every bucket');
  t.equal(tb.get(k.id), undefined);
  tb.remove(k);
  t.equal(tb.nNew, 0, 'removing again does nothing');
});

t.test('removing an entry that is in no bucket leaves the tables alone', async (t) => {
  const { tables: tb } = tables();
  const inBook = ka(addrIn(1, 2), src(50));
  tb.addToNew(inBook, inBook.src);
  const stranger = ka(addrIn(3, 4), src(50));
  const sameId = new KnownAddress(new NetAddress(inBook.id, '5.5.5.5', 1), src(50), NOW);
  tb.remove(stranger);
  tb.remove(sameId); // same ID, but not the book's entry: in no bucket
  t.same([tb.nNew, tb.size], [1, 1]);
  t.equal(tb.get(inBook.id), inBook);
});

t.test('a full new bucket holds exactly 64: a bad entry is expired first, else the least recently tried', async (t) => {
  let now = NOW;
  const { tables: tb, logger } = tables(() => now);
  const from = src(50);
  const bucket = newBucketOf(1, 2, 50);
  const entries: KnownAddress[] = [];
  for (let i = 0; i < NEW_BUCKET_SIZE; i++) {
    const k = ka(addrIn(1, 2), from, NOW + 1000 * (i + 10));
    tb.addToNew(k, from);
    entries.push(k);
  }
  t.same([tb.size, tb.bucketsInUse('new')], [NEW_BUCKET_SIZE, 1]);
  t.same(entries[0]!.buckets, [bucket]);
  entries[40]!.lastAttempt = NOW; // the least recently tried
  entries[20]!.attempts = 3; // never succeeded, 3 failures: bad once not tried for a minute
  now = NOW + 1000 * (NEW_BUCKET_SIZE + 10) + 61_000;

  const extra1 = ka(addrIn(1, 2), from, now);
  tb.addToNew(extra1, from);
  t.equal(tb.size, NEW_BUCKET_SIZE, 'still 64');
  t.equal(tb.get(entries[20]!.id), undefined, 'the bad entry went');
  t.ok(tb.get(entries[40]!.id), 'not the least recently tried');
  t.same(entries[20]!.buckets, []);
  const expired = logger.logs.filter((l) => l.msg === 'address book: expired new address');
  t.same(
    expired.map((l) => [l.level, l.obj]),
    [['debug', { addr: entries[20]!.addr.toString(), bucket }]],
  );

  const extra2 = ka(addrIn(1, 2), from, now);
  tb.addToNew(extra2, from);
  t.same([tb.size, tb.nNew], [NEW_BUCKET_SIZE, NEW_BUCKET_SIZE]);
  t.equal(tb.get(entries[40]!.id), undefined, 'no bad entry left: the least recently tried went');
  t.ok(tb.get(extra1.id) && tb.get(extra2.id) && tb.get(entries[0]!.id));
});

t.test('among equally old entries of a full new bucket, the one longest in the bucket is expired first', async (t) => {
  // the common case: addresses heard of and never tried all share the lastAttempt they were heard at
  const { tables: tb } = tables();
  const from = src(50);
  const entries: KnownAddress[] = [];
  for (let i = 0; i < NEW_BUCKET_SIZE; i++) {
    const k = ka(addrIn(1, 2), from, NOW);
    tb.addToNew(k, from);
    entries.push(k);
  }
  const first = ka(addrIn(1, 2), from, NOW);
  tb.addToNew(first, from);
  t.equal(tb.get(entries[0]!.id), undefined, 'the first one added went');
  const second = ka(addrIn(1, 2), from, NOW);
  tb.addToNew(second, from);
  t.equal(tb.get(entries[1]!.id), undefined, 'then the second one');
  t.ok(
    [...entries.slice(2), first, second].every((k) => tb.get(k.id) === k),
    'every later one stays, the newcomers too',
  );
});

t.test('hearing again of an address already in a full bucket evicts nobody', async (t) => {
  const { tables: tb } = tables();
  const from = src(50);
  const entries = Array.from({ length: NEW_BUCKET_SIZE }, (_, i) => ka(addrIn(1, 2), from, NOW + i));
  for (const k of entries) tb.addToNew(k, from);
  t.same([tb.size, tb.bucketsInUse('new')], [NEW_BUCKET_SIZE, 1], 'one full bucket');
  tb.addToNew(entries[30]!, from);
  t.equal(tb.size, NEW_BUCKET_SIZE);
  t.ok(
    entries.every((k) => tb.get(k.id) === k && k.buckets.length === 1),
    'all 64 still there, each in one bucket',
  );
});

t.test('expiring an entry from one of its new buckets keeps it in its others', async (t) => {
  const { tables: tb } = tables();
  const bucketA = newBucketOf(1, 2, 50);
  let s = 51;
  while (newBucketOf(1, 2, s) === bucketA) s++;
  const x = ka(addrIn(1, 2), src(50), NOW - 5000); // the least recently tried of bucket A
  tb.addToNew(x, src(50));
  tb.addToNew(x, src(s));
  t.equal(x.buckets.length, 2);
  const bucketB = x.buckets.find((b) => b !== bucketA);
  for (let i = 0; i < NEW_BUCKET_SIZE; i++) {
    const k = ka(addrIn(1, 2), src(50), NOW + i);
    tb.addToNew(k, k.src);
  }
  t.same(x.buckets, [bucketB], 'pushed out of A only');
  t.equal(tb.get(x.id), x, 'still in the book');
  t.same([tb.size, tb.nNew], [NEW_BUCKET_SIZE + 1, NEW_BUCKET_SIZE + 1]);
});

t.test('an old entry is refused by the new table, with a warning', async (t) => {
  const { tables: tb, logger } = tables();
  const k = ka(addrIn(1, 2), src(50));
  k.bucketType = 'old';
  tb.addToNew(k, k.src);
  t.same([tb.size, k.buckets], [0, []]);
  t.equal(tb.get(k.id), undefined);
  t.same(
    logger.logs.map((l) => [l.level, l.obj, l.msg]),
    [['warn', { addr: k.addr.toString() }, 'address book: refusing to put an old address in a new bucket']],
  );
});

// ------------------------------------------------------------- old table

t.test('promotion moves an entry from all its new buckets to one old bucket', async (t) => {
  const { tables: tb } = tables();
  const k = ka(addrIn(1, 2), src(50));
  tb.addToNew(k, src(50));
  tb.addToNew(k, src(51));
  tb.addToNew(k, src(52));
  tb.moveToOld(k);
  t.same([k.bucketType, k.buckets.length, tb.nNew, tb.nOld, tb.size], ['old', 1, 0, 1, 1]);
  t.same([tb.bucketsInUse('new'), tb.bucketsInUse('old')], [0, 1]);
  t.same(k.buckets, [oldBucketOf(k.addr)]);
  t.equal(tb.get(k.id), k);
  tb.moveToOld(k);
  t.same([tb.nOld, k.buckets.length], [1, 1], 'promoting an old entry again does nothing');

  const stranger = ka(addrIn(3, 4), src(50));
  tb.moveToOld(stranger);
  t.same([stranger.bucketType, tb.size, tb.nOld], ['new', 1, 1], 'an entry in no bucket is not promoted');
  t.equal(tb.get(stranger.id), undefined);

  tb.remove(k);
  t.same([tb.nOld, tb.size, tb.bucketsInUse('old')], [0, 0, 0], 'an old entry is removed too');
});

t.test('a full old bucket holds exactly 64: its least recently tried entry goes back to new', async (t) => {
  const { tables: tb } = tables();
  const target = oldBucketOf(addrIn(1, 2));
  const same: NetAddress[] = [];
  for (let i = 0; same.length < OLD_BUCKET_SIZE + 1 && i < 5000; i++) {
    const a = addrIn(1, 2);
    if (oldBucketOf(a) === target) same.push(a);
  }
  t.equal(same.length, OLD_BUCKET_SIZE + 1, '65 addresses of one old bucket');
  const entries = same.map((a, i) => ka(a, src(50 + (i % 5)), NOW + 1000 * (i + 1)));
  entries[10]!.lastAttempt = NOW; // the least recently tried
  for (const k of entries) tb.addToNew(k, k.src);
  for (const k of entries.slice(0, OLD_BUCKET_SIZE)) tb.moveToOld(k);
  t.same([tb.nOld, tb.nNew, tb.bucketsInUse('old')], [OLD_BUCKET_SIZE, 1, 1], 'one full old bucket');

  const last = entries[OLD_BUCKET_SIZE]!;
  tb.moveToOld(last);
  t.same([tb.nOld, tb.nNew, tb.size], [OLD_BUCKET_SIZE, 1, OLD_BUCKET_SIZE + 1], 'still 64 old; nothing lost');
  t.same([last.bucketType, last.buckets], ['old', [target]]);
  const demoted = entries[10]!;
  t.equal(demoted.bucketType, 'new', 'the least recently tried was demoted');
  t.equal(tb.get(demoted.id), demoted, 'kept in the book');
  t.same(demoted.buckets, [newBucketOf(1, 2, 50 + (10 % 5))], 'in the new bucket of its own source');
  t.same(
    tb.randomPick('new', 5).map((a) => a.id),
    [demoted.id],
  );
});

t.test('addresses of many groups spread over many old buckets', async (t) => {
  const { tables: tb } = tables();
  for (let i = 0; i < 200; i++) {
    const k = ka(addrIn(20 + (i % 100), i), src(50));
    tb.addToNew(k, k.src);
    tb.moveToOld(k);
  }
  t.equal(tb.nOld, 200);
  t.ok(tb.bucketsInUse('old') > 32, `${tb.bucketsInUse('old')} of ${OLD_BUCKET_COUNT} old buckets`);
});

// ----------------------------------------------------------------- place

t.test('a loaded new entry goes back to its saved buckets, skipping full ones', async (t) => {
  const { tables: tb } = tables();
  const k = ka(addrIn(1, 2), src(50));
  k.buckets = [3, 200];
  tb.place(k);
  t.same([k.buckets, tb.nNew, tb.size, tb.bucketsInUse('new')], [[3, 200], 1, 1, 2]);
  t.equal(tb.get(k.id), k);

  for (let i = 1; i < NEW_BUCKET_SIZE; i++) {
    const f = ka(addrIn(5, 6), src(50));
    f.buckets = [3];
    tb.place(f);
  }
  t.equal(tb.size, NEW_BUCKET_SIZE, 'bucket 3 took 63 more and is full');
  const partial = ka(addrIn(7, 8), src(50));
  partial.buckets = [3, 9];
  tb.place(partial);
  t.same(partial.buckets, [9], 'the full bucket is skipped');

  let s = 60;
  while (newBucketOf(1, 2, s) === 3) s++;
  const homeless = ka(addrIn(1, 2), src(s));
  homeless.buckets = [3];
  tb.place(homeless);
  t.same(homeless.buckets, [newBucketOf(1, 2, s)], 'its only bucket was full: placed by hash instead');
  t.equal(tb.get(homeless.id), homeless);
  t.same([tb.nNew, tb.nOld, tb.size], [NEW_BUCKET_SIZE + 2, 0, NEW_BUCKET_SIZE + 2]);
});

t.test('a loaded old entry goes to the old bucket of its address; when that is full it stays as new', async (t) => {
  const { tables: tb } = tables();
  const first = addrIn(1, 2);
  const target = oldBucketOf(first);
  const same = [first];
  for (let i = 0; same.length < OLD_BUCKET_SIZE + 1 && i < 5000; i++) {
    const a = addrIn(1, 2);
    if (oldBucketOf(a) === target) same.push(a);
  }
  t.equal(same.length, OLD_BUCKET_SIZE + 1);
  const saved = (target + 1) % OLD_BUCKET_COUNT; // a stale saved index: recomputed
  for (const a of same.slice(0, OLD_BUCKET_SIZE)) {
    const k = ka(a, src(50));
    k.bucketType = 'old';
    k.buckets = [saved];
    tb.place(k);
    t.same(k.buckets, [target]);
  }
  t.same([tb.nOld, tb.nNew, tb.bucketsInUse('old')], [OLD_BUCKET_SIZE, 0, 1]);

  const over = ka(same[OLD_BUCKET_SIZE]!, src(50));
  over.bucketType = 'old';
  over.buckets = [target];
  tb.place(over);
  t.same([over.bucketType, over.buckets], ['new', [newBucketOf(1, 2, 50)]], 'kept as new rather than lost');
  t.same([tb.nOld, tb.nNew, tb.size], [OLD_BUCKET_SIZE, 1, OLD_BUCKET_SIZE + 1]);
  t.equal(tb.get(over.id), over);
});

t.test('a bucket index outside the table is an error with its code', async (t) => {
  const { tables: tb } = tables();
  const k = ka(addrIn(1, 2), src(50));
  k.buckets = [NEW_BUCKET_COUNT];
  t.throws(() => tb.place(k), { code: 'ERR_INVALID_ARGUMENT', message: `new bucket ${NEW_BUCKET_COUNT} is outside 0..255` });
  const neg = ka(addrIn(1, 2), src(50));
  neg.buckets = [-1];
  t.throws(() => tb.place(neg), { code: 'ERR_INVALID_ARGUMENT', message: 'new bucket -1 is outside 0..255' });
});

// ---------------------------------------------------------------- picking

t.test('pickFrom: undefined for an empty table, else an address of that table, each reachable', async (t) => {
  const { tables: tb } = tables();
  t.equal(tb.pickFrom('new'), undefined);
  t.equal(tb.pickFrom('old'), undefined);
  const from = src(50);
  const news = Array.from({ length: 3 }, () => ka(addrIn(1, 2), from)); // one bucket
  for (const k of news) tb.addToNew(k, from);
  const old = ka(addrIn(3, 4), from);
  tb.addToNew(old, from);
  tb.moveToOld(old);
  const seen = new Map<string, number>();
  const olds = new Set<string | undefined>();
  for (let i = 0; i < 300; i++) {
    const id = tb.pickFrom('new')?.id;
    seen.set(String(id), (seen.get(String(id)) ?? 0) + 1);
    olds.add(tb.pickFrom('old')?.id);
  }
  t.same([...seen.keys()].sort(), news.map((k) => k.id).sort(), 'always a new address; each entry of the bucket is picked');
  t.same([...olds], [old.id], 'always the only old address');
});

t.test('randomPick: up to num distinct addresses of the table asked for', async (t) => {
  const { tables: tb } = tables();
  const news = Array.from({ length: 10 }, () => ka(addrIn(1, 2), src(50)));
  for (const k of news) tb.addToNew(k, k.src);
  const olds = Array.from({ length: 4 }, () => ka(addrIn(3, 4), src(50)));
  for (const k of olds) {
    tb.addToNew(k, k.src);
    tb.moveToOld(k);
  }
  t.same(tb.randomPick('new', 0), []);
  t.same(tb.randomPick('new', -1), []);
  const all = tb.randomPick('new', 50);
  t.same(all.map((a) => a.id).sort(), news.map((k) => k.id).sort(), 'all of them, once each');
  t.same(
    tb
      .randomPick('old', 50)
      .map((a) => a.id)
      .sort(),
    olds.map((k) => k.id).sort(),
  );
  const firsts = new Set<string>();
  let notThreeDistinct = 0;
  for (let i = 0; i < 300; i++) {
    const three = tb.randomPick('new', 3);
    if (three.length !== 3 || new Set(three.map((a) => a.id)).size !== 3) notThreeDistinct++;
    firsts.add(three[0]!.id);
  }
  t.equal(notThreeDistinct, 0, 'always 3 distinct');
  t.equal(firsts.size, 10, 'any entry can come first');
});

t.test('randomIndex and partialShuffle', async (t) => {
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(randomIndex(5));
  t.same([...seen].sort(), [0, 1, 2, 3, 4], 'every index in 0..4, nothing else');

  const firsts = new Set<number>();
  const lasts = new Set<number>();
  let notPermutations = 0;
  for (let i = 0; i < 300; i++) {
    const a = [0, 1, 2, 3, 4];
    partialShuffle(a, 2);
    if (a.length !== 5 || [...a].sort().join() !== '0,1,2,3,4') notPermutations++;
    firsts.add(a[0]!);
    lasts.add(a[1]!);
  }
  t.equal(notPermutations, 0, 'always a permutation');
  t.same([firsts.size, lasts.size], [5, 5], 'the first n positions take any element');
  const short = [1, 2, 3];
  partialShuffle(short, 10);
  t.same([...short].sort(), [1, 2, 3], 'n beyond the length shuffles the whole array, nothing more');
  let moved = 0;
  for (let i = 0; i < 20; i++) {
    const untouched = [1, 2, 3];
    partialShuffle(untouched, 0);
    if (untouched.join() !== '1,2,3') moved++;
  }
  t.equal(moved, 0, 'n = 0 moves nothing');
});
