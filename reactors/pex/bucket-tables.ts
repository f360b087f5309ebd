/**
 * The address book's bucketed tables, as CometBFT's `addrBook` bucket code
 * (`p2p/pex/addrbook.go`, itself from btcd's address manager):
 *
 * - **New table** (256 buckets × 64): addresses heard of but never connected
 *   to. An address goes into the bucket chosen by a keyed hash of its network
 *   group and its source's group; hearing of it again from elsewhere may add
 *   it to further buckets (at most 4, less likely each time).
 * - **Old table** (64 buckets × 64): addresses marked good. Promotion into a
 *   full old bucket demotes that bucket's least recently tried entry back to
 *   the new table.
 * - Placement uses HMAC-SHA-256 keyed with the book's random 24-byte key
 *   (persisted), so a remote peer cannot aim addresses at chosen buckets, and
 *   the addresses learnt from one source group reach at most 32 of the 256 new
 *   buckets (eclipse defence).
 *
 * Unlike CometBFT, bucket capacity is enforced exactly (CometBFT admits a
 * 65th entry) and a demoted old entry is never lost. Internal to
 * {@link AddrBook}, which decides what enters the tables.
 *
 * @module
 */
import { createHmac } from 'node:crypto';
import { InvalidArgumentError } from '../../lib/errors.js';
import type { NetAddress } from '../../lib/net-address.js';
import type { AddrBookLogger } from './addrbook-file.js';
import { groupKey } from './group-key.js';
import type { BucketType, KnownAddress } from './known-address.js';
import {
  NEW_BUCKET_COUNT,
  NEW_BUCKET_SIZE,
  NEW_BUCKETS_PER_GROUP,
  OLD_BUCKET_COUNT,
  OLD_BUCKET_SIZE,
  OLD_BUCKETS_PER_GROUP,
} from './params.js';

type Bucket = Map<string, KnownAddress>;

/** The new and old tables, keyed by node ID (one entry per ID). */
export class BucketTables {
  /** Key of the placement hash. */
  readonly key: Buffer;
  readonly #routabilityStrict: boolean;
  readonly #logger: AddrBookLogger;
  readonly #now: () => number;

  readonly #lookup = new Map<string, KnownAddress>();
  readonly #newBuckets: Bucket[] = Array.from({ length: NEW_BUCKET_COUNT }, () => new Map());
  readonly #oldBuckets: Bucket[] = Array.from({ length: OLD_BUCKET_COUNT }, () => new Map());
  #nNew = 0;
  #nOld = 0;

  constructor(key: Buffer, routabilityStrict: boolean, logger: AddrBookLogger, now: () => number) {
    this.key = key;
    this.#routabilityStrict = routabilityStrict;
    this.#logger = logger;
    this.#now = now;
  }

  /** Addresses in the new table. */
  get nNew(): number {
    return this.#nNew;
  }

  /** Addresses in the old table. */
  get nOld(): number {
    return this.#nOld;
  }

  /** Addresses in both tables. */
  get size(): number {
    return this.#nNew + this.#nOld;
  }

  /** The entry with node ID `id`, if any. */
  get(id: string): KnownAddress | undefined {
    return this.#lookup.get(id);
  }

  /** Every entry, new and old. */
  values(): IterableIterator<KnownAddress> {
    return this.#lookup.values();
  }

  /** Buckets of the `type` table holding at least one address. */
  bucketsInUse(type: BucketType): number {
    return (type === 'new' ? this.#newBuckets : this.#oldBuckets).filter((b) => b.size > 0).length;
  }

  /**
   * Add `ka` (new) to the new bucket of its address learnt from `src`
   * (CometBFT's `addToNewBucket`), expiring entries while that bucket is full.
   */
  addToNew(ka: KnownAddress, src: NetAddress): void {
    this.#addToNewBucket(ka, this.#calcNewBucket(ka.addr, src));
  }

  /** Remove `ka` from every bucket, and so from the tables (CometBFT's `removeFromAllBuckets`). */
  remove(ka: KnownAddress): void {
    if (ka.buckets.length === 0) return;
    for (const idx of ka.buckets) this.#bucket(ka.bucketType, idx).delete(ka.id);
    ka.buckets = [];
    if (ka.isNew()) this.#nNew--;
    else this.#nOld--;
    this.#lookup.delete(ka.id);
  }

  /** Promote `ka` from new to old, demoting the least recently tried entry of a full old bucket (CometBFT's `moveToOld`). */
  moveToOld(ka: KnownAddress): void {
    if (ka.isOld() || ka.buckets.length === 0) return;
    this.remove(ka);
    ka.bucketType = 'old';
    const idx = this.#calcOldBucket(ka.addr);
    const bucket = this.#bucket('old', idx);
    while (bucket.size >= OLD_BUCKET_SIZE) {
      const demoted = oldest(bucket)!;
      this.#removeFromBucket(demoted, idx);
      demoted.bucketType = 'new';
      this.addToNew(demoted, demoted.src);
    }
    this.#addToOldBucket(ka, idx);
  }

  /** Put a loaded entry back in its buckets, enforcing capacities; an old entry whose bucket is full is kept as new. */
  place(ka: KnownAddress): void {
    if (ka.isOld()) {
      ka.buckets = [];
      if (this.#addToOldBucket(ka, this.#calcOldBucket(ka.addr))) return;
      ka.bucketType = 'new'; // its old bucket is full: keep it as new rather than lose it
    } else {
      const wanted = ka.buckets;
      ka.buckets = [];
      for (const idx of wanted) {
        const bucket = this.#bucket('new', idx);
        if (bucket.size >= NEW_BUCKET_SIZE || bucket.has(ka.id)) continue;
        bucket.set(ka.id, ka);
        ka.addBucketRef(idx);
      }
      if (ka.buckets.length > 0) {
        this.#nNew++;
        this.#lookup.set(ka.id, ka);
        return;
      }
    }
    this.addToNew(ka, ka.src);
  }

  /** A random entry of a random non-empty bucket of the `type` table; undefined when that table is empty. */
  pickFrom(type: BucketType): NetAddress | undefined {
    const nonEmpty = (type === 'old' ? this.#oldBuckets : this.#newBuckets).filter((b) => b.size > 0);
    const bucket = nonEmpty[randomIndex(nonEmpty.length)]; // undefined when the table is empty
    if (bucket === undefined) return undefined;
    let i = randomIndex(bucket.size);
    for (const ka of bucket.values()) {
      if (i-- === 0) return ka.addr;
    }
    return undefined;
  }

  /** Up to `num` distinct random addresses of the `type` table. */
  randomPick(type: BucketType, num: number): NetAddress[] {
    if (num <= 0) return [];
    const all: NetAddress[] = [];
    for (const ka of this.#lookup.values()) if (ka.bucketType === type) all.push(ka.addr);
    const n = Math.min(num, all.length);
    partialShuffle(all, n);
    return all.slice(0, n);
  }

  // ================================================================ private

  /**
   * Bucket `idx` of the `type` table (indices are computed mod the table size, or checked by
   * `KnownAddress.fromJSON` for loaded ones). @throws InvalidArgumentError for an index outside the table.
   */
  #bucket(type: BucketType, idx: number): Bucket {
    const table = type === 'new' ? this.#newBuckets : this.#oldBuckets;
    const bucket = table[idx];
    if (bucket === undefined) throw new InvalidArgumentError(`${type} bucket ${idx} is outside 0..${table.length - 1}`);
    return bucket;
  }

  /** Add `ka` (new) to new bucket `idx`, expiring entries while the bucket is full. */
  #addToNewBucket(ka: KnownAddress, idx: number): void {
    if (ka.isOld()) {
      this.#logger.warn({ addr: ka.addr.toString() }, 'address book: refusing to put an old address in a new bucket');
      return;
    }
    const bucket = this.#bucket('new', idx);
    if (bucket.has(ka.id)) return;
    while (bucket.size >= NEW_BUCKET_SIZE) this.#expireNew(idx);
    bucket.set(ka.id, ka);
    if (ka.addBucketRef(idx) === 1) this.#nNew++;
    this.#lookup.set(ka.id, ka);
  }

  /** Add `ka` (old, in no bucket) to old bucket `idx`; false when the bucket is full. */
  #addToOldBucket(ka: KnownAddress, idx: number): boolean {
    const bucket = this.#bucket('old', idx);
    if (bucket.size >= OLD_BUCKET_SIZE) return false;
    bucket.set(ka.id, ka);
    if (ka.addBucketRef(idx) === 1) this.#nOld++;
    this.#lookup.set(ka.id, ka);
    return true;
  }

  #removeFromBucket(ka: KnownAddress, idx: number): void {
    this.#bucket(ka.bucketType, idx).delete(ka.id);
    if (ka.removeBucketRef(idx) === 0) {
      if (ka.isNew()) this.#nNew--;
      else this.#nOld--;
      this.#lookup.delete(ka.id);
    }
  }

  /** Make room in new bucket `idx`: drop a bad entry, else the least recently tried (CometBFT's `expireNew`). */
  #expireNew(idx: number): void {
    const bucket = this.#bucket('new', idx);
    const now = this.#now();
    let victim: KnownAddress | undefined;
    for (const ka of bucket.values()) {
      if (ka.isBad(now)) {
        victim = ka;
        break;
      }
    }
    victim ??= oldest(bucket);
    if (!victim) return;
    this.#removeFromBucket(victim, idx);
    this.#logger.debug({ addr: victim.addr.toString(), bucket: idx }, 'address book: expired new address');
  }

  // ------------------------------------------------------- bucket placement

  #groupKey(addr: NetAddress): string {
    return groupKey(addr, this.#routabilityStrict);
  }

  /** First 64 bits (big-endian) of HMAC-SHA-256(key, parts joined by NUL). */
  #hash64(...parts: string[]): bigint {
    return createHmac('sha256', this.key).update(parts.join('\0')).digest().readBigUInt64BE(0);
  }

  /**
   * New bucket of `addr` learnt from `src`, as CometBFT's `calcNewBucket`:
   * H(srcGroup, H(group, srcGroup) mod 32) mod 256, so one source group
   * reaches at most 32 new buckets.
   */
  #calcNewBucket(addr: NetAddress, src: NetAddress): number {
    const srcGroup = this.#groupKey(src);
    // Stryker disable next-line StringLiteral: a domain tag of the keyed placement hash; any fixed tag gives the same properties (placement fixed by the key, at most 32 new buckets per source group, 4 old per group)
    const slot = this.#hash64('new-slot', this.#groupKey(addr), srcGroup) % BigInt(NEW_BUCKETS_PER_GROUP);
    // Stryker disable next-line StringLiteral: a domain tag of the keyed placement hash; any fixed tag gives the same properties (placement fixed by the key, at most 32 new buckets per source group, 4 old per group)
    return Number(this.#hash64('new-bucket', srcGroup, slot.toString()) % BigInt(NEW_BUCKET_COUNT));
  }

  /**
   * Old bucket of `addr`, as CometBFT's `calcOldBucket`:
   * H(group, H(addr) mod 4) mod 64, so one group reaches at most 4 old buckets.
   */
  #calcOldBucket(addr: NetAddress): number {
    // Stryker disable next-line StringLiteral: a domain tag of the keyed placement hash; any fixed tag gives the same properties (placement fixed by the key, at most 32 new buckets per source group, 4 old per group)
    const slot = this.#hash64('old-slot', addr.toString()) % BigInt(OLD_BUCKETS_PER_GROUP);
    // Stryker disable next-line StringLiteral: a domain tag of the keyed placement hash; any fixed tag gives the same properties (placement fixed by the key, at most 32 new buckets per source group, 4 old per group)
    return Number(this.#hash64('old-bucket', this.#groupKey(addr), slot.toString()) % BigInt(OLD_BUCKET_COUNT));
  }
}

/** A uniformly random integer in 0..n-1. */
export function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

/** Fisher–Yates over the first `n` positions. */
export function partialShuffle<T>(a: T[], n: number): void {
  for (let i = 0; i < n && i < a.length; i++) {
    const j = i + randomIndex(a.length - i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/** The entry of `bucket` with the earliest `lastAttempt` (CometBFT's `pickOldest`); among equals, the one longest in the bucket (CometBFT's map order is random). */
function oldest(bucket: Bucket): KnownAddress | undefined {
  let found: KnownAddress | undefined;
  for (const ka of bucket.values()) if (!found || ka.lastAttempt < found.lastAttempt) found = ka;
  return found;
}
