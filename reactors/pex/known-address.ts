/**
 * One entry of the address book: an address, where we heard of it, its
 * bucket placement and its dial history, as CometBFT's `knownAddress`
 * (`p2p/pex/known_address.go`). Times are milliseconds since the Unix epoch
 * and are passed in, so the book's injected clock rules every decision.
 *
 * @module
 */
import { InvalidArgumentError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import {
  MAX_FAILURES,
  MAX_FUTURE_SKEW_MS,
  MAX_NEW_BUCKETS_PER_ADDRESS,
  MIN_BAD_MS,
  NEW_BUCKET_COUNT,
  NUM_MISSING_MS,
  NUM_RETRIES,
  OLD_BUCKET_COUNT,
  RECENT_ATTEMPT_MS,
} from './params.js';

/** Which table an entry lives in: `new` (heard of, never good) or `old` (marked good). */
export type BucketType = 'new' | 'old';

/** A persisted `{ id, host, port }`, as {@link NetAddress.toJSON}. */
export interface NetAddressJSON {
  /** Node ID (40 hex). */
  id: string;
  /** IP literal or host name. */
  host: string;
  /** TCP port. */
  port: number;
}

/**
 * A persisted entry (one element of the file's `addrs` or `bans`).
 * Times are ms since the epoch, 0 meaning "never".
 */
export interface KnownAddressJSON {
  /** The address. */
  addr: NetAddressJSON;
  /** The peer that told us about it (ourselves for addresses we added). */
  src: NetAddressJSON;
  /** `new` or `old` bucket. */
  bucketType: BucketType;
  /** Bucket indexes (new: 1..4 of 0..255; old: 1 of 0..63); empty in ban records. */
  buckets: number[];
  /** Failed dial attempts since the last success. */
  attempts: number;
  /** Last dial attempt, ms since the epoch (0: never). */
  lastAttempt: number;
  /** Last successful connection, ms since the epoch (0: never). */
  lastSuccess: number;
  /** Ban expiry, ms since the epoch; 0 when not banned. */
  bannedUntil: number;
}

/** Largest accepted timestamp: 9999-12-31, ms since the epoch. */
const MAX_TIME_MS = 253_402_300_799_999;
/** Largest accepted attempt counter. */
const MAX_ATTEMPTS = 2 ** 31 - 1;

/**
 * An address-book entry. Mutable: the book updates it in place.
 * Follows CometBFT's `knownAddress` field for field.
 */
export class KnownAddress {
  /** The peer's address (`id@ip:port`, id always present). */
  readonly addr: NetAddress;
  /** The address of the peer that told us about it (its group steers new-bucket placement). */
  readonly src: NetAddress;
  /** `new` or `old`. */
  bucketType: BucketType = 'new';
  /** Indexes of the buckets (of {@link bucketType}) holding this entry. */
  buckets: number[] = [];
  /** Dial attempts since the last success. */
  attempts = 0;
  /** Last dial attempt (or creation), ms since the epoch. */
  lastAttempt: number;
  /** Last success (`markGood`), ms since the epoch; 0 = never. */
  lastSuccess = 0;
  /** Ban expiry, ms since the epoch; 0 = never banned. */
  bannedUntil = 0;

  /**
   * @param addr the address (must have an ID).
   * @param src where we heard of it.
   * @param now the current time, ms; becomes `lastAttempt` as in CometBFT's `newKnownAddress`.
   */
  constructor(addr: NetAddress, src: NetAddress, now: number) {
    this.addr = addr;
    this.src = src;
    this.lastAttempt = now;
  }

  /** The node ID (the book's key for this entry). */
  get id(): string {
    return this.addr.id;
  }

  /** True when in the old table (marked good). */
  isOld(): boolean {
    return this.bucketType === 'old';
  }

  /** True when in the new table. */
  isNew(): boolean {
    return this.bucketType === 'new';
  }

  /** Record a dial attempt at `now` (ms). */
  markAttempt(now: number): void {
    this.lastAttempt = now;
    this.attempts++;
  }

  /** Record a success at `now` (ms): resets the attempt counter. */
  markGood(now: number): void {
    this.lastAttempt = now;
    this.lastSuccess = now;
    this.attempts = 0;
  }

  /** Ban until `now + banMs`, never shortening a longer ban in force. */
  ban(now: number, banMs: number): void {
    this.bannedUntil = Math.max(this.bannedUntil, now + banMs);
  }

  /** True while the ban has not expired at `now`. */
  isBanned(now: number): boolean {
    return this.bannedUntil > now;
  }

  /**
   * Record membership of bucket `idx`. Returns the new number of buckets, or
   * -1 when already a member (as CometBFT's `addBucketRef`).
   */
  addBucketRef(idx: number): number {
    if (this.buckets.includes(idx)) return -1;
    this.buckets.push(idx);
    return this.buckets.length;
  }

  /**
   * Forget membership of bucket `idx`. Returns the number of buckets left, or
   * -1 when it was not a member (as CometBFT's `removeBucketRef`).
   */
  removeBucketRef(idx: number): number {
    const i = this.buckets.indexOf(idx);
    if (i < 0) return -1;
    this.buckets.splice(i, 1);
    return this.buckets.length;
  }

  /**
   * CometBFT's `isBad`: an entry is worthless when it is new, was not
   * attempted in the last minute, and either claims to be from the future
   * (lastAttempt more than 10 minutes ahead; a TODO in CometBFT), was last
   * attempted over a week ago, failed `NUM_RETRIES` (3) times without
   * ever succeeding, or failed `MAX_FAILURES` (10) times with no success
   * in the last week. Old entries are never bad.
   */
  isBad(now: number): boolean {
    if (this.isOld()) return false;
    if (this.lastAttempt > now + MAX_FUTURE_SKEW_MS) return true;
    if (this.lastAttempt > now - RECENT_ATTEMPT_MS) return false;
    if (this.lastAttempt < now - NUM_MISSING_MS) return true;
    if (this.lastSuccess === 0 && this.attempts >= NUM_RETRIES) return true;
    if (this.lastSuccess < now - MIN_BAD_MS && this.attempts >= MAX_FAILURES) return true;
    return false;
  }

  /**
   * True when the entry has failed `MAX_FAILURES` (10) times with no
   * success in the last week, whatever the last-minute grace of
   * {@link isBad}: the book drops such new entries at once (a bound CometBFT
   * leaves to bucket pressure).
   */
  exhausted(now: number): boolean {
    return this.isNew() && this.attempts >= MAX_FAILURES && this.lastSuccess < now - MIN_BAD_MS;
  }

  /** The persisted form. */
  toJSON(): KnownAddressJSON {
    return {
      addr: this.addr.toJSON(),
      src: this.src.toJSON(),
      bucketType: this.bucketType,
      buckets: [...this.buckets],
      attempts: this.attempts,
      lastAttempt: this.lastAttempt,
      lastSuccess: this.lastSuccess,
      bannedUntil: this.bannedUntil,
    };
  }

  /**
   * Rebuild an entry from its persisted form, validating every field: `addr`
   * must have a 40-hex ID, an IP literal host and a port 1..65535; `src` a
   * valid (possibly ID-less) address; `bucketType` `new` or `old`; `buckets`
   * distinct integers in range (1..4 for new, exactly 1 for old, or none when
   * `allowNoBuckets`, as in ban records); `attempts` an integer 0..2^31-1;
   * times integers 0..9999-12-31 in ms.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) naming the first bad field.
   */
  static fromJSON(value: unknown, opts: { allowNoBuckets?: boolean } = {}): KnownAddress {
    if (!isObject(value)) throw bad('entry is not an object');
    const addr = parseNetAddress(value.addr, 'addr');
    if (addr.id === '') throw bad('addr has no node ID');
    if (!addr.isIP()) throw bad('addr host is not an IP address');
    if (addr.port === 0) throw bad('addr port is 0');
    const src = parseNetAddress(value.src, 'src');
    const bucketType = value.bucketType;
    if (bucketType !== 'new' && bucketType !== 'old') throw bad('bucketType must be "new" or "old"');
    const buckets = value.buckets;
    if (!Array.isArray(buckets)) throw bad('buckets is not an array');
    const count = bucketType === 'new' ? NEW_BUCKET_COUNT : OLD_BUCKET_COUNT;
    const maxRefs = bucketType === 'new' ? MAX_NEW_BUCKETS_PER_ADDRESS : 1;
    const minRefs = opts.allowNoBuckets ? 0 : 1;
    if (buckets.length < minRefs || buckets.length > maxRefs) throw bad(`buckets must hold ${minRefs}..${maxRefs} indexes`);
    for (const b of buckets) {
      if (!Number.isInteger(b) || b < 0 || b >= count) throw bad(`bucket index ${String(b)} out of range 0..${count - 1}`);
    }
    if (new Set(buckets).size !== buckets.length) throw bad('duplicate bucket index');
    const attempts = value.attempts;
    if (!Number.isInteger(attempts) || (attempts as number) < 0 || (attempts as number) > MAX_ATTEMPTS)
      throw bad('attempts is not a non-negative integer');
    const lastAttempt = parseTime(value.lastAttempt, 'lastAttempt');
    const lastSuccess = parseTime(value.lastSuccess, 'lastSuccess');
    const bannedUntil = value.bannedUntil === undefined ? 0 : parseTime(value.bannedUntil, 'bannedUntil');
    const ka = new KnownAddress(addr, src, lastAttempt);
    ka.bucketType = bucketType;
    ka.buckets = [...(buckets as number[])];
    ka.attempts = attempts as number;
    ka.lastSuccess = lastSuccess;
    ka.bannedUntil = bannedUntil;
    return ka;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseNetAddress(v: unknown, field: string): NetAddress {
  if (!isObject(v)) throw bad(`${field} is not an object`);
  const { id, host, port } = v;
  if (typeof id !== 'string' || typeof host !== 'string' || typeof port !== 'number') {
    throw bad(`${field} must be { id: string, host: string, port: number }`);
  }
  try {
    return new NetAddress(id, host, port);
  } catch (err) {
    throw bad(`${field}: ${(err as Error).message}`, err);
  }
}

function parseTime(v: unknown, field: string): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > MAX_TIME_MS) throw bad(`${field} is not a timestamp in ms`);
  return v as number;
}

function bad(why: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`invalid address book entry: ${why}`, 'ERR_INVALID_ARGUMENT', { cause });
}
