// KnownAddress, one entry of the address book, on its own: the state a new entry starts in, the
// dial history (markAttempt / markGood), bans, bucket references, CometBFT's isBad rules
// (p2p/pex/known_address.go) at each boundary, exhausted(), and the persisted form with the
// validation of every field of a loaded entry (InvalidArgumentError, ERR_INVALID_ARGUMENT).
import t from 'tap';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { NetAddress } from '../../../lib/net-address.js';
import { KnownAddress, type KnownAddressJSON } from '../../../reactors/pex/known-address.js';
import {
  MAX_FAILURES,
  MAX_FUTURE_SKEW_MS,
  MIN_BAD_MS,
  NEW_BUCKET_COUNT,
  NUM_MISSING_MS,
  NUM_RETRIES,
  OLD_BUCKET_COUNT,
  RECENT_ATTEMPT_MS,
} from '../../../reactors/pex/params.js';

const ID = '0123456789abcdef0123456789abcdef01234567';
const SRC_ID = 'fedcba9876543210fedcba9876543210fedcba98';
const NOW = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;
const addr = new NetAddress(ID, '203.0.113.7', 26656);
const src = new NetAddress(SRC_ID, '198.51.100.1', 26656);

/** A new entry created at `created`, then given the listed fields. */
function entry(created: number, fields: Partial<Pick<KnownAddress, 'attempts' | 'lastAttempt' | 'lastSuccess' | 'bucketType'>> = {}) {
  const ka = new KnownAddress(addr, src, created);
  Object.assign(ka, fields);
  return ka;
}

t.test('a new entry: in the new table, no attempts, lastAttempt = creation time, never good or banned', async (t) => {
  const ka = new KnownAddress(addr, src, NOW);
  t.equal(ka.id, ID);
  t.equal(ka.addr, addr);
  t.equal(ka.src, src);
  t.equal(ka.bucketType, 'new');
  t.equal(ka.isNew(), true);
  t.equal(ka.isOld(), false);
  t.same(ka.buckets, []);
  t.equal(ka.attempts, 0);
  t.equal(ka.lastAttempt, NOW);
  t.equal(ka.lastSuccess, 0);
  t.equal(ka.bannedUntil, 0);
  t.equal(ka.isBanned(NOW), false);
  ka.bucketType = 'old';
  t.equal(ka.isOld(), true);
  t.equal(ka.isNew(), false);
});

t.test('markAttempt counts attempts and moves lastAttempt; markGood resets the count', async (t) => {
  const ka = new KnownAddress(addr, src, NOW);
  ka.markAttempt(NOW + 1000);
  ka.markAttempt(NOW + 2000);
  t.equal(ka.attempts, 2);
  t.equal(ka.lastAttempt, NOW + 2000);
  t.equal(ka.lastSuccess, 0, 'an attempt is not a success');
  ka.markGood(NOW + 3000);
  t.equal(ka.attempts, 0);
  t.equal(ka.lastAttempt, NOW + 3000);
  t.equal(ka.lastSuccess, NOW + 3000);
  ka.markAttempt(NOW + 4000);
  t.equal(ka.attempts, 1);
  t.equal(ka.lastSuccess, NOW + 3000, 'the last success stays');
});

t.test('ban: in force until now + banMs (exclusive), extended by a longer ban, never shortened', async (t) => {
  const ka = new KnownAddress(addr, src, NOW);
  ka.ban(NOW, 10 * MINUTE);
  t.equal(ka.bannedUntil, NOW + 10 * MINUTE);
  t.equal(ka.isBanned(NOW), true);
  t.equal(ka.isBanned(NOW + 10 * MINUTE - 1), true, '1 ms before expiry');
  t.equal(ka.isBanned(NOW + 10 * MINUTE), false, 'at expiry');
  ka.ban(NOW + MINUTE, MINUTE);
  t.equal(ka.bannedUntil, NOW + 10 * MINUTE, 'a shorter ban does not shorten the one in force');
  ka.ban(NOW + 5 * MINUTE, 10 * MINUTE);
  t.equal(ka.bannedUntil, NOW + 15 * MINUTE, 'a ban reaching further extends it');
});

t.test('bucket references: add returns the new count or -1 for a duplicate; remove the count left or -1', async (t) => {
  const ka = new KnownAddress(addr, src, NOW);
  t.equal(ka.addBucketRef(7), 1);
  t.equal(ka.addBucketRef(9), 2);
  t.equal(ka.addBucketRef(7), -1, 'already a member');
  t.same(ka.buckets, [7, 9]);
  t.equal(ka.removeBucketRef(3), -1, 'not a member');
  t.same(ka.buckets, [7, 9]);
  t.equal(ka.removeBucketRef(7), 1);
  t.same(ka.buckets, [9]);
  t.equal(ka.removeBucketRef(9), 0);
  t.same(ka.buckets, []);
  t.equal(ka.removeBucketRef(9), -1);
});

t.test('isBad: an entry attempted within the last minute is never bad', async (t) => {
  const justNow = NOW - RECENT_ATTEMPT_MS + 1;
  t.equal(entry(justNow, { attempts: NUM_RETRIES }).isBad(NOW), false, 'failed NUM_RETRIES times, never succeeded');
  t.equal(entry(justNow, { attempts: MAX_FAILURES, lastSuccess: 1 }).isBad(NOW), false, 'failed MAX_FAILURES times');
  t.equal(entry(NOW + MAX_FUTURE_SKEW_MS, { attempts: NUM_RETRIES }).isBad(NOW), false, 'at the edge of the tolerated future');
  // exactly one minute ago the grace is over: the rules below apply
  t.equal(entry(NOW - RECENT_ATTEMPT_MS, { attempts: NUM_RETRIES }).isBad(NOW), true);
  t.equal(entry(NOW - RECENT_ATTEMPT_MS, { attempts: 0 }).isBad(NOW), false, 'and a fresh entry passes them');
});

t.test('isBad: a lastAttempt more than 10 minutes in the future is bad', async (t) => {
  t.equal(entry(NOW + MAX_FUTURE_SKEW_MS + 1).isBad(NOW), true);
  t.equal(entry(NOW + MAX_FUTURE_SKEW_MS).isBad(NOW), false);
});

t.test('isBad: not attempted for over a week (NUM_MISSING_MS) is bad', async (t) => {
  t.equal(entry(NOW - NUM_MISSING_MS - 1).isBad(NOW), true);
  t.equal(entry(NOW - NUM_MISSING_MS).isBad(NOW), false, 'exactly a week');
  t.equal(entry(NOW - NUM_MISSING_MS - 1, { lastSuccess: NOW - MINUTE }).isBad(NOW), true, 'whatever its successes');
});

t.test('isBad: NUM_RETRIES (3) failures and never a success is bad; one success lifts the rule', async (t) => {
  const before = NOW - 2 * MINUTE;
  t.equal(entry(before, { attempts: NUM_RETRIES - 1 }).isBad(NOW), false);
  t.equal(entry(before, { attempts: NUM_RETRIES }).isBad(NOW), true);
  t.equal(entry(before, { attempts: MAX_FAILURES - 1, lastSuccess: NOW - MIN_BAD_MS - 1 }).isBad(NOW), false, 'had a success once');
});

t.test('isBad: MAX_FAILURES (10) failures with no success in the last week is bad', async (t) => {
  const before = NOW - 2 * MINUTE;
  const longAgo = NOW - MIN_BAD_MS - 1;
  t.equal(entry(before, { attempts: MAX_FAILURES, lastSuccess: longAgo }).isBad(NOW), true);
  t.equal(entry(before, { attempts: MAX_FAILURES - 1, lastSuccess: longAgo }).isBad(NOW), false, 'one failure fewer');
  t.equal(entry(before, { attempts: MAX_FAILURES, lastSuccess: NOW - MIN_BAD_MS }).isBad(NOW), false, 'a success exactly a week ago');
  t.equal(entry(before, { attempts: 100, lastSuccess: NOW - MINUTE }).isBad(NOW), false, 'a recent success');
});

t.test('isBad: an old entry is never bad', async (t) => {
  for (const fields of [
    { attempts: 1000 },
    { lastAttempt: NOW + MAX_FUTURE_SKEW_MS + 1 },
    { lastAttempt: NOW - NUM_MISSING_MS - 1, attempts: MAX_FAILURES },
  ]) {
    t.equal(entry(NOW - 2 * MINUTE, { ...fields, bucketType: 'old' }).isBad(NOW), false, JSON.stringify(fields));
    t.equal(entry(NOW - 2 * MINUTE, fields).isBad(NOW), true, `the same entry in the new table: ${JSON.stringify(fields)}`);
  }
});

t.test('exhausted: a new entry with MAX_FAILURES failures and no success for a week, even just attempted', async (t) => {
  const longAgo = NOW - MIN_BAD_MS - 1;
  t.equal(entry(NOW, { attempts: MAX_FAILURES, lastSuccess: longAgo }).exhausted(NOW), true);
  t.equal(entry(NOW, { attempts: MAX_FAILURES }).exhausted(NOW), true, 'never succeeded');
  t.equal(entry(NOW, { attempts: MAX_FAILURES - 1 }).exhausted(NOW), false, 'one failure fewer');
  t.equal(entry(NOW, { attempts: MAX_FAILURES, lastSuccess: NOW - MIN_BAD_MS }).exhausted(NOW), false, 'a success a week ago');
  t.equal(entry(NOW, { attempts: MAX_FAILURES, bucketType: 'old' }).exhausted(NOW), false, 'an old entry');
});

const json = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  addr: { id: ID, host: '203.0.113.7', port: 26656 },
  src: { id: SRC_ID, host: '198.51.100.1', port: 26656 },
  bucketType: 'new',
  buckets: [3, 200],
  attempts: 2,
  lastAttempt: NOW - MINUTE,
  lastSuccess: NOW - 2 * MINUTE,
  bannedUntil: NOW + MINUTE,
  ...over,
});

t.test('toJSON / fromJSON round trip every field', async (t) => {
  const ka = new KnownAddress(addr, src, NOW);
  ka.addBucketRef(5);
  ka.addBucketRef(17);
  ka.markAttempt(NOW + 1);
  ka.markAttempt(NOW + 2);
  ka.ban(NOW, MINUTE);
  const expected: KnownAddressJSON = {
    addr: { id: ID, host: '203.0.113.7', port: 26656 },
    src: { id: SRC_ID, host: '198.51.100.1', port: 26656 },
    bucketType: 'new',
    buckets: [5, 17],
    attempts: 2,
    lastAttempt: NOW + 2,
    lastSuccess: 0,
    bannedUntil: NOW + MINUTE,
  };
  const out = ka.toJSON();
  t.same(out, expected);
  out.buckets.push(99);
  t.same(ka.buckets, [5, 17], 'the persisted bucket list is a copy');

  const back = KnownAddress.fromJSON(JSON.parse(JSON.stringify(expected)));
  t.same(back.toJSON(), expected);
  t.ok(back.addr.equals(addr));
  t.ok(back.src.equals(src));

  const input = json({ bucketType: 'old', buckets: [63], attempts: 0, lastSuccess: NOW });
  const old = KnownAddress.fromJSON(input);
  t.equal(old.isOld(), true);
  t.same(old.toJSON(), { ...input, addr: old.addr.toJSON(), src: old.src.toJSON() });
  (input.buckets as number[]).push(1);
  t.same(old.buckets, [63], 'the loaded bucket list is a copy of the input');
});

t.test('fromJSON accepts the bounds of every field', async (t) => {
  const ok = (over: Record<string, unknown>, opts?: { allowNoBuckets?: boolean }) => KnownAddress.fromJSON(json(over), opts);
  t.same(ok({ buckets: [0, 1, 2, NEW_BUCKET_COUNT - 1] }).buckets, [0, 1, 2, NEW_BUCKET_COUNT - 1], 'four new buckets, the last index');
  t.same(ok({ bucketType: 'old', buckets: [OLD_BUCKET_COUNT - 1] }).buckets, [OLD_BUCKET_COUNT - 1]);
  t.same(ok({ bucketType: 'old', buckets: [0] }).buckets, [0]);
  t.same(ok({ buckets: [] }, { allowNoBuckets: true }).buckets, [], 'a ban record has no buckets');
  t.equal(ok({ attempts: 2 ** 31 - 1 }).attempts, 2 ** 31 - 1);
  t.equal(ok({ attempts: 0 }).attempts, 0);
  const maxTime = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
  t.equal(new Date(maxTime).toISOString(), '9999-12-31T23:59:59.999Z');
  const times = ok({ lastAttempt: maxTime, lastSuccess: 0, bannedUntil: maxTime });
  t.equal(times.lastAttempt, maxTime);
  t.equal(times.lastSuccess, 0);
  t.equal(times.bannedUntil, maxTime);
  t.equal(ok({ lastAttempt: 0 }).lastAttempt, 0);
  t.equal(ok({ bannedUntil: undefined }).bannedUntil, 0, 'a missing bannedUntil means never banned');
  t.equal(ok({ addr: { id: ID, host: '::1', port: 65535 } }).addr.port, 65535);
  t.equal(ok({ addr: { id: ID, host: '10.0.0.1', port: 1 } }).addr.port, 1);
  t.equal(ok({ src: { id: '', host: 'seed.example.com', port: 0 } }).src.id, '', 'a source without ID, by host name');
});

t.test('fromJSON refuses each bad field with ERR_INVALID_ARGUMENT naming it', async (t) => {
  const cases: [string, unknown, RegExp, { allowNoBuckets?: boolean }?][] = [
    ['not an object', 'x', /entry is not an object/],
    ['null', null, /entry is not an object/],
    ['an array', [json()], /entry is not an object/],
    ['addr missing', json({ addr: undefined }), /addr is not an object/],
    ['addr an array', json({ addr: [ID, '10.0.0.1', 1] }), /addr is not an object/],
    ['addr null', json({ addr: null }), /addr is not an object/],
    [
      'addr id not a string',
      json({ addr: { id: 1, host: '10.0.0.1', port: 1 } }),
      /addr must be \{ id: string, host: string, port: number \}/,
    ],
    ['addr host not a string', json({ addr: { id: ID, host: 1, port: 1 } }), /addr must be \{/],
    ['addr port not a number', json({ addr: { id: ID, host: '10.0.0.1', port: '1' } }), /addr must be \{/],
    ['addr id malformed', json({ addr: { id: 'xyz', host: '10.0.0.1', port: 1 } }), /addr: .*node ID must be 40 lower-case hex/],
    ['addr port out of range', json({ addr: { id: ID, host: '10.0.0.1', port: 65536 } }), /addr: .*port must be 0\.\.65535/],
    ['addr without ID', json({ addr: { id: '', host: '10.0.0.1', port: 1 } }), /addr has no node ID/],
    ['addr host name', json({ addr: { id: ID, host: 'example.com', port: 1 } }), /addr host is not an IP address/],
    ['addr port 0', json({ addr: { id: ID, host: '10.0.0.1', port: 0 } }), /addr port is 0/],
    ['src missing', json({ src: undefined }), /src is not an object/],
    ['src id not a string', json({ src: { host: '10.0.0.1', port: 1 } }), /src must be \{/],
    ['src malformed', json({ src: { id: '', host: 'bad host', port: 1 } }), /src: .*invalid host/],
    ['bucketType unknown', json({ bucketType: 'tried' }), /bucketType must be "new" or "old"/],
    ['bucketType missing', json({ bucketType: undefined }), /bucketType must be/],
    ['buckets not an array', json({ buckets: { 0: 1 } }), /buckets is not an array/],
    ['no buckets', json({ buckets: [] }), /buckets must hold 1\.\.4 indexes/],
    ['five new buckets', json({ buckets: [1, 2, 3, 4, 5] }), /buckets must hold 1\.\.4 indexes/],
    ['two old buckets', json({ bucketType: 'old', buckets: [1, 2] }), /buckets must hold 1\.\.1 indexes/],
    ['no old bucket', json({ bucketType: 'old', buckets: [] }), /buckets must hold 1\.\.1 indexes/],
    ['ban record with buckets beyond 4', json({ buckets: [1, 2, 3, 4, 5] }), /buckets must hold 0\.\.4 indexes/, { allowNoBuckets: true }],
    ['new index 256', json({ buckets: [NEW_BUCKET_COUNT] }), /bucket index 256 out of range 0\.\.255/],
    ['old index 64', json({ bucketType: 'old', buckets: [OLD_BUCKET_COUNT] }), /bucket index 64 out of range 0\.\.63/],
    ['negative index', json({ buckets: [-1] }), /bucket index -1 out of range/],
    ['fractional index', json({ buckets: [1.5] }), /bucket index 1\.5 out of range/],
    ['string index', json({ buckets: ['1'] }), /bucket index 1 out of range/],
    ['duplicate index', json({ buckets: [7, 7] }), /duplicate bucket index/],
    ['attempts negative', json({ attempts: -1 }), /attempts is not a non-negative integer/],
    ['attempts 2^31', json({ attempts: 2 ** 31 }), /attempts is not a non-negative integer/],
    ['attempts fractional', json({ attempts: 0.5 }), /attempts is not/],
    ['attempts a string', json({ attempts: '1' }), /attempts is not/],
    ['attempts missing', json({ attempts: undefined }), /attempts is not/],
    ['lastAttempt negative', json({ lastAttempt: -1 }), /lastAttempt is not a timestamp in ms/],
    ['lastAttempt after 9999', json({ lastAttempt: 253_402_300_800_000 }), /lastAttempt is not a timestamp/],
    ['lastAttempt fractional', json({ lastAttempt: 1.5 }), /lastAttempt is not a timestamp/],
    ['lastAttempt an ISO string', json({ lastAttempt: '2025-01-01T00:00:00Z' }), /lastAttempt is not a timestamp/],
    ['lastSuccess missing', json({ lastSuccess: undefined }), /lastSuccess is not a timestamp/],
    ['lastSuccess after 9999', json({ lastSuccess: 253_402_300_800_000 }), /lastSuccess is not a timestamp/],
    ['bannedUntil negative', json({ bannedUntil: -1 }), /bannedUntil is not a timestamp/],
    ['bannedUntil null', json({ bannedUntil: null }), /bannedUntil is not a timestamp/],
  ];
  for (const [name, value, message, opts] of cases) {
    const err = t.throws(() => KnownAddress.fromJSON(value, opts), InvalidArgumentError, name) as InvalidArgumentError;
    t.equal(err.code, 'ERR_INVALID_ARGUMENT', name);
    t.match(err.message, /^invalid address book entry: /, name);
    t.match(err.message, message, name);
  }
});

t.test('fromJSON keeps the NetAddress error as the cause', async (t) => {
  const err = t.throws(() => KnownAddress.fromJSON(json({ addr: { id: ID, host: '10.0.0.1', port: 1.5 } }))) as InvalidArgumentError;
  t.equal(err.code, 'ERR_INVALID_ARGUMENT');
  t.type(err.cause, InvalidArgumentError);
  t.equal((err.cause as InvalidArgumentError).code, 'ERR_INVALID_ADDRESS');
  const plain = t.throws(() => KnownAddress.fromJSON(json({ bucketType: 'x' }))) as InvalidArgumentError;
  t.equal(plain.cause, undefined, 'no cause where none was thrown');
});
