/**
 * The PEX address book: the peers we know of, in CometBFT's bucketed tables
 * (`p2p/pex/addrbook.go`, itself from btcd's address manager), persisted to a
 * JSON file that survives crashes and corruption.
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
 * Differences from CometBFT, each deliberate: bans are persisted and may
 * target an address not in the book; a corrupt, truncated, empty, oversize
 * or future-version file never stops the node (it is moved aside and the book
 * starts from the previous good save or empty); bucket capacity is enforced
 * exactly (CometBFT admits a 65th entry), a demoted old entry is never lost,
 * and a ban on an old entry no longer loses it on reinstatement; a new entry
 * that fails {@link MAX_FAILURES} dials in a row is dropped at once; our own
 * addresses are refused by ID and by `ip:port`, not only by exact string.
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, renameSync, unlinkSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import ipaddr from 'ipaddr.js';
import writeFileAtomic from 'write-file-atomic';
import { InvalidArgumentError, RejectedError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { groupKey } from './group-key.js';
import { KnownAddress, type BucketType } from './known-address.js';
import {
  ADDR_BOOK_CAPACITY,
  ADDR_BOOK_FILE_VERSION,
  ADDR_BOOK_KEY_BYTES,
  DUMP_ADDRESS_INTERVAL_MS,
  GET_SELECTION_PERCENT,
  MAX_ADDR_BOOK_FILE_BYTES,
  MAX_BANS,
  MAX_FAILURES,
  MAX_GET_SELECTION,
  MAX_NEW_BUCKETS_PER_ADDRESS,
  MIN_GET_SELECTION,
  NEED_ADDRESS_THRESHOLD,
  NEW_BUCKET_COUNT,
  NEW_BUCKET_SIZE,
  NEW_BUCKETS_PER_GROUP,
  OLD_BUCKET_COUNT,
  OLD_BUCKET_SIZE,
  OLD_BUCKETS_PER_GROUP,
} from './params.js';

export { groupKey } from './group-key.js';

/**
 * The logger the book writes to: any pino-compatible object
 * (`logger.warn({ ...fields }, 'message')`). Warnings: an unusable file moved
 * aside, skipped entries, failed background saves. Info: bans, removals,
 * reinstatements. Debug: saves.
 */
export interface AddrBookLogger {
  /** Log at warn level. */
  warn(obj: object, msg?: string): void;
  /** Log at info level. */
  info(obj: object, msg?: string): void;
  /** Log at debug level. */
  debug(obj: object, msg?: string): void;
}

/** Options of {@link AddrBook}. */
export interface AddrBookOptions {
  /**
   * Refuse addresses that are not publicly routable ({@link NetAddress.routable}:
   * loopback, RFC 1918, link-local, ULA, CGNAT, ...). Default true, as
   * CometBFT's `addr_book_strict`; set false for private networks and tests.
   */
  routabilityStrict?: boolean;
  /**
   * Key of the bucket-placement hash, 16..64 bytes; default 24 random bytes.
   * A key read from the book file replaces it (placement in the file was
   * computed with that key).
   */
  key?: Uint8Array;
  /** Period of the background save started by {@link AddrBook.start}, ms. Default 120 000 (CometBFT's `dumpAddressInterval`). */
  saveIntervalMs?: number;
  /** Where warnings go; default: warnings as Node process warnings, info and debug dropped. */
  logger?: AddrBookLogger;
  /** Clock, ms since the epoch; default `Date.now`. Inject one to test bans and expiry without sleeping. */
  now?: () => number;
}

/** Why {@link AddrBook.addAddress} refused an address. */
export type AddrBookRejectReason = 'banned' | 'private' | 'private-source' | 'self' | 'non-routable';

/**
 * {@link AddrBook.addAddress} refused a well-formed address, as CometBFT's
 * `ErrAddressBanned`, `ErrAddrBookPrivate`, `ErrAddrBookPrivateSrc`,
 * `ErrAddrBookSelf`, `ErrAddrBookNonRoutable`. `code` is `ERR_BANNED` for a
 * banned address and `ERR_REJECTED` otherwise; `reason` tells which.
 */
export class AddrBookRejectedError extends RejectedError {
  /** Which rule refused the address. */
  readonly reason: AddrBookRejectReason;
  /** The refused address (for `private-source`, the address that was offered). */
  readonly addr: NetAddress;
  constructor(reason: AddrBookRejectReason, addr: NetAddress, message: string) {
    super(reason === 'banned' ? 'ERR_BANNED' : 'ERR_REJECTED', message);
    this.reason = reason;
    this.addr = addr;
  }
}

/** Counters of the book, for metrics and tests. */
export interface AddrBookStats {
  /** Addresses in the book (new + old). */
  size: number;
  /** Addresses in the new table. */
  nNew: number;
  /** Addresses in the old table. */
  nOld: number;
  /** New buckets holding at least one address (of 256). */
  newBucketsInUse: number;
  /** Old buckets holding at least one address (of 64). */
  oldBucketsInUse: number;
  /** Ban records, expired or not, awaiting {@link AddrBook.reinstateBadPeers}. */
  bans: number;
}

/** Top level of the file, format {@link ADDR_BOOK_FILE_VERSION}. */
interface AddrBookFile {
  version: number;
  key: string;
  addrs: unknown[];
  bans: unknown[];
}

type ReadResult = { kind: 'missing' } | { kind: 'corrupt'; reason: string } | { kind: 'ok'; text: string; file: AddrBookFile };

type Bucket = Map<string, KnownAddress>;

const KEY_HEX_RE = /^(?:[0-9a-f]{2}){16,64}$/;
const DOC_NET = ipaddr.parseCIDR('2001:db8::/32');

const defaultLogger: AddrBookLogger = {
  warn(obj, msg) {
    process.emitWarning(`${msg ?? 'address book'} ${JSON.stringify(obj)}`, { code: 'SWITCHBOARD_ADDRBOOK' });
  },
  info() {},
  debug() {},
};

/**
 * The PEX address book, as CometBFT's `addrBook`. Addresses are keyed by node
 * ID: one entry per ID, and the first address heard for an ID is kept.
 *
 * Life cycle: `new AddrBook(file, opts)`, then {@link start} (loads the file
 * and saves every `saveIntervalMs`), and {@link stop} (saves once more). A
 * book used without `start` is purely in memory until {@link save}.
 *
 * File: JSON `{ version: 1, key: hex, addrs: KnownAddressJSON[], bans:
 * KnownAddressJSON[] }`, written atomically (write-file-atomic: temp file,
 * fsync, rename); the previous good save is kept as `<file>.bak`.
 */
export class AddrBook {
  /** Path of the book file. */
  readonly filePath: string;
  /** Whether non-routable addresses are refused (see {@link AddrBookOptions.routabilityStrict}). */
  readonly routabilityStrict: boolean;
  /** Period of the background save, ms. */
  readonly saveIntervalMs: number;

  readonly #logger: AddrBookLogger;
  readonly #now: () => number;
  readonly #initialKey: Buffer | undefined;
  #key: Buffer;

  readonly #ourAddrs = new Set<string>();
  readonly #ourIds = new Set<string>();
  readonly #ourDialStrings = new Set<string>();
  readonly #privateIds = new Set<string>();

  #lookup = new Map<string, KnownAddress>();
  #bans = new Map<string, KnownAddress>();
  #newBuckets: Bucket[] = [];
  #oldBuckets: Bucket[] = [];
  #nNew = 0;
  #nOld = 0;

  #timer: NodeJS.Timeout | undefined;
  #saveChain: Promise<void> = Promise.resolve();
  /** Text of the last good file (loaded or written): becomes `<file>.bak` on the next save. */
  #lastGoodText: string | undefined;

  /**
   * @param filePath the book file (created by the first save; parent
   *   directories are created as needed).
   * @param opts see {@link AddrBookOptions}.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an empty path, a
   *   key not of 16..64 bytes, a `saveIntervalMs` not in 1..2^31-1, or a
   *   `now` that is not a function.
   */
  constructor(filePath: string, opts: AddrBookOptions = {}) {
    if (typeof filePath !== 'string' || filePath.length === 0) throw new InvalidArgumentError('address book file path must be a non-empty string');
    if (opts.key !== undefined && (!(opts.key instanceof Uint8Array) || opts.key.length < 16 || opts.key.length > 64)) {
      throw new InvalidArgumentError('address book key must be a Uint8Array of 16..64 bytes');
    }
    const interval = opts.saveIntervalMs ?? DUMP_ADDRESS_INTERVAL_MS;
    if (!Number.isInteger(interval) || interval < 1 || interval > 2 ** 31 - 1) {
      throw new InvalidArgumentError('saveIntervalMs must be an integer number of ms in 1..2147483647');
    }
    if (opts.now !== undefined && typeof opts.now !== 'function') throw new InvalidArgumentError('now must be a function returning ms');
    this.filePath = filePath;
    this.routabilityStrict = opts.routabilityStrict ?? true;
    this.saveIntervalMs = interval;
    this.#logger = opts.logger ?? defaultLogger;
    this.#now = opts.now ?? Date.now;
    this.#initialKey = opts.key ? Buffer.from(opts.key) : undefined;
    this.#key = this.#initialKey ?? randomBytes(ADDR_BOOK_KEY_BYTES);
    this.#resetTables();
  }

  // ---------------------------------------------------------------- service

  /**
   * Load the file ({@link load}) and start the background save every
   * `saveIntervalMs` (an unref'd timer: it never keeps the process alive), as
   * CometBFT's `OnStart`. Calling it again while started does nothing.
   * @throws the fs error when the file exists but cannot be read (EACCES, ...).
   */
  start(): void {
    if (this.#timer) return;
    this.load();
    this.#timer = setInterval(() => {
      this.save().catch((err: unknown) => this.#logger.warn({ file: this.filePath, err }, 'address book: periodic save failed'));
    }, this.saveIntervalMs);
    this.#timer.unref();
  }

  /**
   * Stop the background save and save once more (CometBFT's `saveRoutine` on
   * quit). Does nothing, and does not save, when not started.
   * @throws (rejects with) the fs error when the final save fails.
   */
  async stop(): Promise<void> {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.save();
  }

  /** True between {@link start} and {@link stop}. */
  isRunning(): boolean {
    return this.#timer !== undefined;
  }

  // ---------------------------------------------------------- our & private

  /**
   * Declare one of our own addresses (CometBFT's `AddOurAddress`): an address
   * with its ID or its `ip:port` is never added, and one already in the book
   * is removed.
   */
  addOurAddress(addr: NetAddress): void {
    assertNetAddress(addr, 'addr');
    this.#ourAddrs.add(addr.toString());
    if (addr.id !== '') this.#ourIds.add(addr.id);
    this.#ourDialStrings.add(addr.dialString());
    for (const ka of [...this.#lookup.values()]) {
      if (this.ourAddress(ka.addr)) this.#removeFromAllBuckets(ka);
    }
    this.#logger.info({ addr: addr.toString() }, 'address book: added our address');
  }

  /**
   * True when `addr` is one of ours (CometBFT's `OurAddress`): the same
   * string, the same (non-empty) ID or the same `ip:port` as an address given
   * to {@link addOurAddress}.
   */
  ourAddress(addr: NetAddress): boolean {
    return (
      this.#ourAddrs.has(addr.toString()) ||
      (addr.id !== '' && this.#ourIds.has(addr.id)) ||
      this.#ourDialStrings.has(addr.dialString())
    );
  }

  /**
   * Declare private peer IDs (CometBFT's `AddPrivateIDs`): an address with
   * such an ID, or learnt from a peer with such an ID, is never added (and
   * never gossiped). Entries already in the book with these IDs are removed.
   */
  addPrivateIds(ids: Iterable<string>): void {
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      this.#privateIds.add(id);
      const ka = this.#lookup.get(id);
      if (ka) this.#removeFromAllBuckets(ka);
    }
  }

  // ------------------------------------------------------------ add/remove

  /**
   * Add `addr`, learnt from `src`, to a new bucket (CometBFT's `AddAddress`).
   * An ID already in the book is not replaced: if it is old (marked good) the
   * call is ignored (a known node's IP cannot be changed by gossip); if it is
   * new, it is added to one more new bucket with probability 1/(2·n), n its
   * bucket count, up to 4 buckets. A full new bucket first expires a bad entry
   * ({@link KnownAddress.isBad}), else its least recently tried one. An
   * expired ban is lifted by the add.
   *
   * @param addr `id@ip:port`, with an ID, an IP literal host and a port 1..65535.
   * @param src the peer that told us (its ID may be empty, e.g. a seed from config).
   * @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) for an address without
   *   ID, with a host name, port 0, or an unspecified, broadcast, multicast or
   *   documentation (2001:db8::/32) IP (CometBFT's `Valid()`);
   *   (`ERR_INVALID_ARGUMENT`) when an argument is not a NetAddress.
   * @throws AddrBookRejectedError `ERR_BANNED` (reason `banned`) while the
   *   ID's ban is in force; `ERR_REJECTED` with reason `private` (private ID),
   *   `private-source` (learnt from a private peer), `self` (our address) or
   *   `non-routable` (with `routabilityStrict`).
   */
  addAddress(addr: NetAddress, src: NetAddress): void {
    assertNetAddress(addr, 'addr');
    assertNetAddress(src, 'src');
    validateBookAddress(addr);
    const now = this.#now();
    const ban = this.#bans.get(addr.id);
    if (ban?.isBanned(now)) {
      throw new AddrBookRejectedError('banned', addr, `address ${addr} is banned until ${new Date(ban.bannedUntil).toISOString()}`);
    }
    if (this.#privateIds.has(addr.id)) throw new AddrBookRejectedError('private', addr, `address ${addr} has a private ID`);
    if (src.id !== '' && this.#privateIds.has(src.id)) {
      throw new AddrBookRejectedError('private-source', addr, `address ${addr} comes from private peer ${src}`);
    }
    if (this.ourAddress(addr)) throw new AddrBookRejectedError('self', addr, `address ${addr} is our own`);
    if (this.routabilityStrict && !addr.routable()) {
      throw new AddrBookRejectedError('non-routable', addr, `address ${addr} is not routable (routabilityStrict)`);
    }
    if (ban) this.#bans.delete(addr.id); // expired: the address comes back through this add

    const known = this.#lookup.get(addr.id);
    if (known) {
      if (known.isOld()) return;
      if (known.buckets.length >= MAX_NEW_BUCKETS_PER_ADDRESS) return;
      if (Math.floor(Math.random() * 2 * known.buckets.length) !== 0) return;
      this.#addToNewBucket(known, this.#calcNewBucket(known.addr, src));
      return;
    }
    const ka = new KnownAddress(addr, src, now);
    this.#addToNewBucket(ka, this.#calcNewBucket(addr, src));
  }

  /** Remove the entry with `addr`'s ID, if any (CometBFT's `RemoveAddress`). */
  removeAddress(addr: NetAddress): void {
    const ka = this.#lookup.get(addr.id);
    if (!ka) return;
    this.#removeFromAllBuckets(ka);
    this.#logger.info({ addr: ka.addr.toString() }, 'address book: removed address');
  }

  /** True when an entry with `addr`'s ID is in the book (CometBFT's `HasAddress`). */
  hasAddress(addr: NetAddress): boolean {
    return this.#lookup.has(addr.id);
  }

  /** True when `addr`'s ID is in the old table, i.e. was marked good (CometBFT's `IsGood`). */
  isGood(addr: NetAddress): boolean {
    return this.#lookup.get(addr.id)?.isOld() ?? false;
  }

  // ---------------------------------------------------------------- marking

  /**
   * Record a dial attempt to `addr`'s ID (CometBFT's `MarkAttempt`). A new
   * entry that reaches {@link MAX_FAILURES} (10) attempts without a success in
   * the last 7 days is dropped from the book at once (CometBFT only expires
   * such entries when a bucket is full). Unknown IDs are ignored.
   */
  markAttempt(addr: NetAddress): void {
    const ka = this.#lookup.get(addr.id);
    if (!ka) return;
    const now = this.#now();
    ka.markAttempt(now);
    if (ka.exhausted(now)) {
      this.#removeFromAllBuckets(ka);
      this.#logger.info({ addr: ka.addr.toString(), attempts: ka.attempts }, 'address book: dropped address after repeated failures');
    }
  }

  /**
   * Mark the entry with ID `id` good (CometBFT's `MarkGood`): reset its
   * attempts, record the success and, if new, move it to its old bucket; when
   * that bucket is full, its least recently tried entry moves back to the new
   * table. Unknown IDs are ignored.
   */
  markGood(id: string): void {
    const ka = this.#lookup.get(id);
    if (!ka) return;
    ka.markGood(this.#now());
    if (ka.isNew()) this.#moveToOld(ka);
  }

  /**
   * Ban `addr`'s ID for `banMs` ms and remove it from the book (CometBFT's
   * `MarkBad`). Unlike CometBFT the ban is persisted, and an address not in
   * the book is banned too. Banning a banned ID extends the ban when the new
   * one ends later. Bans are kept in {@link MAX_BANS} records at most (those
   * expiring first are dropped).
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `banMs` is not a
   *   finite number ≥ 0 or `addr` has no ID.
   */
  markBad(addr: NetAddress, banMs: number): void {
    assertNetAddress(addr, 'addr');
    if (typeof banMs !== 'number' || !Number.isFinite(banMs) || banMs < 0) throw new InvalidArgumentError('banMs must be a finite number of ms >= 0');
    if (addr.id === '') throw new InvalidArgumentError(`cannot ban ${addr}: it has no node ID`, 'ERR_INVALID_ADDRESS');
    const now = this.#now();
    const inBook = this.#lookup.get(addr.id);
    if (inBook) this.#removeFromAllBuckets(inBook);
    let record = this.#bans.get(addr.id);
    if (!record) {
      record = inBook ?? new KnownAddress(addr, addr, now);
      this.#bans.set(addr.id, record);
    }
    record.ban(now, banMs);
    this.#trimBans(now);
    this.#logger.info({ addr: record.addr.toString(), until: record.bannedUntil }, 'address book: banned address');
  }

  /** True while `addr`'s ID is banned (its ban not yet expired by the book's clock). */
  isBanned(addr: NetAddress): boolean {
    return this.#bans.get(addr.id)?.isBanned(this.#now()) ?? false;
  }

  /**
   * Return every peer whose ban has expired to a new bucket (CometBFT's
   * `ReinstateBadPeers`); a formerly good peer comes back as new. Peers that
   * would now be refused (private, ours, non-routable under
   * `routabilityStrict`) are forgotten instead.
   * @returns how many addresses were reinstated.
   */
  reinstateBadPeers(): number {
    const now = this.#now();
    let n = 0;
    for (const [id, ka] of [...this.#bans]) {
      if (ka.isBanned(now)) continue;
      this.#bans.delete(id);
      if (this.#lookup.has(id) || this.#privateIds.has(id) || this.ourAddress(ka.addr)) continue;
      if (this.routabilityStrict && !ka.addr.routable()) continue;
      ka.bucketType = 'new';
      ka.buckets = [];
      this.#addToNewBucket(ka, this.#calcNewBucket(ka.addr, ka.src));
      n++;
      this.#logger.info({ addr: ka.addr.toString() }, 'address book: reinstated address');
    }
    return n;
  }

  // ---------------------------------------------------------------- picking

  /**
   * Pick an address to dial (CometBFT's `PickAddress`): from the old or the
   * new table, chosen at random weighted by √nOld·(100−bias) against
   * √nNew·bias, then a uniformly random non-empty bucket and a random entry.
   * @param biasTowardsNewAddrs 0..100 (clamped); 100 picks only new addresses.
   * @returns an address, or undefined when the book (or the chosen table) is empty.
   * @throws InvalidArgumentError when the bias is not a number.
   */
  pickAddress(biasTowardsNewAddrs: number): NetAddress | undefined {
    const bias = clampBias(biasTowardsNewAddrs);
    if (this.size() === 0) return undefined;
    const oldCorrelation = Math.sqrt(this.#nOld) * (100 - bias);
    const newCorrelation = Math.sqrt(this.#nNew) * bias;
    const pickOld = (oldCorrelation + newCorrelation) * Math.random() < oldCorrelation;
    if ((pickOld && this.#nOld === 0) || (!pickOld && this.#nNew === 0)) return undefined;
    const nonEmpty = (pickOld ? this.#oldBuckets : this.#newBuckets).filter((b) => b.size > 0);
    const bucket = nonEmpty[randomIndex(nonEmpty.length)]!;
    let i = randomIndex(bucket.size);
    for (const ka of bucket.values()) {
      if (i-- === 0) return ka.addr;
    }
    return undefined;
  }

  /**
   * A random selection of addresses to gossip (CometBFT's `GetSelection`):
   * max(min(32, size), ⌊23 % of size⌋) addresses, at most 250, without
   * duplicates; `[]` for an empty book.
   */
  getSelection(): NetAddress[] {
    const size = this.size();
    if (size === 0) return [];
    const n = selectionSize(size);
    const all = [...this.#lookup.values()].map((ka) => ka.addr);
    partialShuffle(all, n);
    return all.slice(0, n);
  }

  /**
   * A selection as {@link getSelection} with a share of new addresses first
   * (CometBFT's `GetSelectionWithBias`): round(bias % of the count) new
   * addresses (more when there are too few old ones), then old ones (fewer
   * new ones when there are too few).
   * @param biasTowardsNewAddrs 0..100 (clamped).
   * @throws InvalidArgumentError when the bias is not a number.
   */
  getSelectionWithBias(biasTowardsNewAddrs: number): NetAddress[] {
    const bias = clampBias(biasTowardsNewAddrs);
    const size = this.size();
    if (size === 0) return [];
    const n = selectionSize(size);
    const requiredNew = Math.max(Math.round((bias / 100) * n), n - this.#nOld);
    const selection = this.#randomPick('new', requiredNew);
    selection.push(...this.#randomPick('old', n - selection.length));
    return selection;
  }

  // ------------------------------------------------------------------ sizes

  /** Number of addresses in the book (new + old; bans, ours and private IDs are not counted). */
  size(): number {
    return this.#nNew + this.#nOld;
  }

  /** True when the book holds no address (CometBFT's `Empty`). */
  isEmpty(): boolean {
    return this.size() === 0;
  }

  /** True when the book holds fewer than {@link NEED_ADDRESS_THRESHOLD} (1000) addresses (CometBFT's `NeedMoreAddrs`). */
  needMoreAddrs(): boolean {
    return this.size() < NEED_ADDRESS_THRESHOLD;
  }

  /** Counters for metrics and tests, see {@link AddrBookStats}. */
  stats(): AddrBookStats {
    return {
      size: this.size(),
      nNew: this.#nNew,
      nOld: this.#nOld,
      newBucketsInUse: this.#newBuckets.filter((b) => b.size > 0).length,
      oldBucketsInUse: this.#oldBuckets.filter((b) => b.size > 0).length,
      bans: this.#bans.size,
    };
  }

  // ------------------------------------------------------------ persistence

  /**
   * Write the book to {@link filePath} (CometBFT's `Save`), atomically and
   * durably (write-file-atomic: temp file, fsync, rename), creating parent
   * directories. Before it, the previous good contents are written to
   * `<file>.bak` the same way. Saves are serialised; each writes the book as
   * it is when its turn comes. Like CometBFT's, it overwrites the file
   * whether or not it was loaded first: call {@link start} or {@link load}
   * before adding to a book whose file you mean to keep.
   * @throws (rejects with) the fs error; the previous file is then intact.
   */
  save(): Promise<void> {
    const run = this.#saveChain.then(() => this.#writeFiles());
    this.#saveChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Replace the book's contents (tables, bans, key) with those of
   * {@link filePath}; our addresses and private IDs are kept. Never throws for
   * bad contents:
   *
   * - a missing file gives an empty book;
   * - a file that is empty, larger than {@link MAX_ADDR_BOOK_FILE_BYTES}
   *   (32 MiB), not UTF-8 JSON, of another `version` (a newer program's), or
   *   with a bad `key`, `addrs` or `bans` is renamed to
   *   `<file>.corrupt-<ms timestamp>` with a warning, and the book is loaded
   *   from `<file>.bak` (the previous good save) if that is good, else starts
   *   empty;
   * - invalid entries are skipped with one counted warning, as are entries
   *   beyond {@link ADDR_BOOK_CAPACITY} and bans beyond {@link MAX_BANS},
   *   duplicate IDs, and (with `routabilityStrict`) non-routable addresses;
   * - entries are re-placed with bucket capacities enforced.
   *
   * @throws the fs error when the file exists but cannot be opened (EACCES, ...).
   */
  load(): void {
    this.#resetTables();
    this.#removeStaleTempFiles();
    const main = this.#readFile(this.filePath);
    if (main.kind === 'missing') return;
    if (main.kind === 'ok') {
      this.#apply(main.file, this.filePath);
      this.#lastGoodText = main.text;
      return;
    }
    this.#moveAside(this.filePath, main.reason);
    const bakPath = this.#bakPath();
    const bak = this.#readFile(bakPath);
    if (bak.kind === 'ok') {
      this.#apply(bak.file, bakPath);
      this.#lastGoodText = bak.text;
      this.#logger.warn({ file: this.filePath, backup: bakPath, size: this.size() }, 'address book: restored from the previous good save');
    } else if (bak.kind === 'corrupt') {
      this.#moveAside(bakPath, bak.reason);
    }
  }

  // ================================================================ private

  /**
   * A process killed mid-save leaves write-file-atomic's temp files
   * (`<file>.<digits>`, `<file>.bak.<digits>`) behind; nothing reads them, so
   * clear them at load, when no save of ours runs.
   */
  #removeStaleTempFiles(): void {
    const dir = dirname(this.filePath);
    const name = basename(this.filePath);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return; // no directory yet
    }
    for (const f of entries) {
      if (f.startsWith(`${name}.`) && /^(bak\.)?\d+$/.test(f.slice(name.length + 1))) {
        try {
          unlinkSync(join(dir, f));
        } catch {
          // another process may have taken it; harmless
        }
      }
    }
  }

  #bakPath(): string {
    return `${this.filePath}.bak`;
  }

  #resetTables(): void {
    this.#key = this.#initialKey ?? randomBytes(ADDR_BOOK_KEY_BYTES);
    this.#lookup = new Map();
    this.#bans = new Map();
    this.#newBuckets = Array.from({ length: NEW_BUCKET_COUNT }, () => new Map());
    this.#oldBuckets = Array.from({ length: OLD_BUCKET_COUNT }, () => new Map());
    this.#nNew = 0;
    this.#nOld = 0;
    this.#lastGoodText = undefined;
  }

  #bucket(type: BucketType, idx: number): Bucket {
    return (type === 'new' ? this.#newBuckets : this.#oldBuckets)[idx]!;
  }

  /** Add `ka` (new) to new bucket `idx`, expiring entries while the bucket is full. */
  #addToNewBucket(ka: KnownAddress, idx: number): void {
    if (ka.isOld()) {
      this.#logger.warn({ addr: ka.addr.toString() }, 'address book: refusing to put an old address in a new bucket');
      return;
    }
    const bucket = this.#newBuckets[idx]!;
    if (bucket.has(ka.id)) return;
    while (bucket.size >= NEW_BUCKET_SIZE) this.#expireNew(idx);
    bucket.set(ka.id, ka);
    if (ka.addBucketRef(idx) === 1) this.#nNew++;
    this.#lookup.set(ka.id, ka);
  }

  /** Add `ka` (old, in no bucket) to old bucket `idx`; false when the bucket is full. */
  #addToOldBucket(ka: KnownAddress, idx: number): boolean {
    const bucket = this.#oldBuckets[idx]!;
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

  #removeFromAllBuckets(ka: KnownAddress): void {
    if (ka.buckets.length === 0) return;
    for (const idx of ka.buckets) this.#bucket(ka.bucketType, idx).delete(ka.id);
    ka.buckets = [];
    if (ka.isNew()) this.#nNew--;
    else this.#nOld--;
    this.#lookup.delete(ka.id);
  }

  /** Make room in new bucket `idx`: drop a bad entry, else the least recently tried (CometBFT's `expireNew`). */
  #expireNew(idx: number): void {
    const bucket = this.#newBuckets[idx]!;
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

  /** Promote `ka` from new to old, demoting the least recently tried entry of a full old bucket (CometBFT's `moveToOld`). */
  #moveToOld(ka: KnownAddress): void {
    if (ka.isOld() || ka.buckets.length === 0) return;
    this.#removeFromAllBuckets(ka);
    ka.bucketType = 'old';
    const idx = this.#calcOldBucket(ka.addr);
    const bucket = this.#oldBuckets[idx]!;
    while (bucket.size >= OLD_BUCKET_SIZE) {
      const demoted = oldest(bucket)!;
      this.#removeFromBucket(demoted, idx);
      demoted.bucketType = 'new';
      this.#addToNewBucket(demoted, this.#calcNewBucket(demoted.addr, demoted.src));
    }
    this.#addToOldBucket(ka, idx);
  }

  #randomPick(type: BucketType, num: number): NetAddress[] {
    if (num <= 0) return [];
    const all: NetAddress[] = [];
    for (const ka of this.#lookup.values()) if (ka.bucketType === type) all.push(ka.addr);
    const n = Math.min(num, all.length);
    partialShuffle(all, n);
    return all.slice(0, n);
  }

  #trimBans(now: number): void {
    if (this.#bans.size <= MAX_BANS) return;
    const byExpiry = [...this.#bans.values()].sort((a, b) => a.bannedUntil - b.bannedUntil);
    for (const ka of byExpiry.slice(0, this.#bans.size - MAX_BANS)) this.#bans.delete(ka.id);
    this.#logger.warn({ kept: MAX_BANS, now }, 'address book: too many bans, dropped those expiring first');
  }

  // ------------------------------------------------------- bucket placement

  #groupKey(addr: NetAddress): string {
    return groupKey(addr, this.routabilityStrict);
  }

  /** First 64 bits (big-endian) of HMAC-SHA-256(key, parts joined by NUL). */
  #hash64(...parts: string[]): bigint {
    return createHmac('sha256', this.#key).update(parts.join('\0')).digest().readBigUInt64BE(0);
  }

  /**
   * New bucket of `addr` learnt from `src`, as CometBFT's `calcNewBucket`:
   * H(srcGroup, H(group, srcGroup) mod 32) mod 256, so one source group
   * reaches at most 32 new buckets.
   */
  #calcNewBucket(addr: NetAddress, src: NetAddress): number {
    const srcGroup = this.#groupKey(src);
    const slot = this.#hash64('new-slot', this.#groupKey(addr), srcGroup) % BigInt(NEW_BUCKETS_PER_GROUP);
    return Number(this.#hash64('new-bucket', srcGroup, slot.toString()) % BigInt(NEW_BUCKET_COUNT));
  }

  /**
   * Old bucket of `addr`, as CometBFT's `calcOldBucket`:
   * H(group, H(addr) mod 4) mod 64, so one group reaches at most 4 old buckets.
   */
  #calcOldBucket(addr: NetAddress): number {
    const slot = this.#hash64('old-slot', addr.toString()) % BigInt(OLD_BUCKETS_PER_GROUP);
    return Number(this.#hash64('old-bucket', this.#groupKey(addr), slot.toString()) % BigInt(OLD_BUCKET_COUNT));
  }

  // ------------------------------------------------------------- file I/O

  #serialize(): string {
    const file = {
      version: ADDR_BOOK_FILE_VERSION,
      key: this.#key.toString('hex'),
      addrs: [...this.#lookup.values()].map((ka) => ka.toJSON()),
      bans: [...this.#bans.values()].map((ka) => ka.toJSON()),
    };
    return JSON.stringify(file) + '\n';
  }

  async #writeFiles(): Promise<void> {
    const text = this.#serialize();
    await mkdir(dirname(this.filePath), { recursive: true });
    if (this.#lastGoodText !== undefined && this.#lastGoodText !== text) {
      await writeFileAtomic(this.#bakPath(), this.#lastGoodText, { fsync: true });
    }
    await writeFileAtomic(this.filePath, text, { fsync: true });
    this.#lastGoodText = text;
    this.#logger.debug({ file: this.filePath, size: this.size(), bans: this.#bans.size }, 'address book: saved');
  }

  /** Read and check the top level of a book file, bounded by {@link MAX_ADDR_BOOK_FILE_BYTES}. */
  #readFile(path: string): ReadResult {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      throw err;
    }
    let raw: Buffer;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return { kind: 'corrupt', reason: 'not a regular file' };
      if (st.size > MAX_ADDR_BOOK_FILE_BYTES) return { kind: 'corrupt', reason: `larger than ${MAX_ADDR_BOOK_FILE_BYTES} bytes (${st.size})` };
      const read = readBounded(fd, MAX_ADDR_BOOK_FILE_BYTES);
      if (read === undefined) return { kind: 'corrupt', reason: `larger than ${MAX_ADDR_BOOK_FILE_BYTES} bytes` };
      raw = read;
    } finally {
      closeSync(fd);
    }
    if (raw.length === 0) return { kind: 'corrupt', reason: 'empty file' };
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      return { kind: 'corrupt', reason: 'not UTF-8 text' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return { kind: 'corrupt', reason: `not valid JSON (truncated?): ${(err as Error).message}` };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'corrupt', reason: 'top level is not an object' };
    const obj = parsed as Record<string, unknown>;
    if (typeof obj.version !== 'number') return { kind: 'corrupt', reason: 'no format version' };
    if (obj.version > ADDR_BOOK_FILE_VERSION) {
      return { kind: 'corrupt', reason: `format version ${obj.version} is newer than this program's (${ADDR_BOOK_FILE_VERSION})` };
    }
    if (obj.version !== ADDR_BOOK_FILE_VERSION) return { kind: 'corrupt', reason: `unsupported format version ${obj.version}` };
    if (typeof obj.key !== 'string' || !KEY_HEX_RE.test(obj.key)) return { kind: 'corrupt', reason: 'key is not 16..64 bytes of lower-case hex' };
    if (!Array.isArray(obj.addrs)) return { kind: 'corrupt', reason: 'addrs is not an array' };
    if (obj.bans !== undefined && !Array.isArray(obj.bans)) return { kind: 'corrupt', reason: 'bans is not an array' };
    return { kind: 'ok', text, file: { version: obj.version, key: obj.key, addrs: obj.addrs, bans: (obj.bans as unknown[] | undefined) ?? [] } };
  }

  /** Fill the (empty) tables from a checked file, skipping bad entries with a counted warning. */
  #apply(file: AddrBookFile, path: string): void {
    this.#key = Buffer.from(file.key, 'hex');
    const skipped = new Map<string, number>();
    const skip = (why: string): void => {
      skipped.set(why, (skipped.get(why) ?? 0) + 1);
    };

    for (const entry of file.bans.slice(0, MAX_BANS)) {
      let ka: KnownAddress;
      try {
        ka = KnownAddress.fromJSON(entry, { allowNoBuckets: true });
      } catch (err) {
        skip(`ban: ${(err as Error).message}`);
        continue;
      }
      if (ka.bannedUntil === 0) skip('ban: no expiry');
      else if (this.#bans.has(ka.id)) skip('ban: duplicate ID');
      else {
        ka.bucketType = 'new';
        ka.buckets = [];
        this.#bans.set(ka.id, ka);
      }
    }
    if (file.bans.length > MAX_BANS) skipped.set(`ban: beyond the ${MAX_BANS}-record limit`, file.bans.length - MAX_BANS);

    const limit = Math.min(file.addrs.length, ADDR_BOOK_CAPACITY);
    for (let i = 0; i < limit; i++) {
      let ka: KnownAddress;
      try {
        ka = KnownAddress.fromJSON(file.addrs[i]);
      } catch (err) {
        skip((err as Error).message);
        continue;
      }
      if (this.#lookup.has(ka.id)) skip('duplicate ID');
      else if (this.#bans.has(ka.id)) skip('ID is banned');
      else if (this.#privateIds.has(ka.id) || this.ourAddress(ka.addr)) skip('private or our own address');
      else if (this.routabilityStrict && !ka.addr.routable()) skip('not routable (routabilityStrict)');
      else if (!isValidBookIp(ka.addr.host)) skip('unusable IP address');
      else this.#place(ka);
    }
    const beyond = file.addrs.length - limit;
    if (beyond > 0) {
      skipped.set(`beyond the book's capacity of ${ADDR_BOOK_CAPACITY}`, beyond);
    }
    const total = [...skipped.values()].reduce((a, b) => a + b, 0);
    if (total > 0) {
      this.#logger.warn(
        { file: path, skipped: total, reasons: Object.fromEntries([...skipped].slice(0, 10)), loaded: this.size(), bans: this.#bans.size },
        `address book: skipped ${total} invalid entries while loading`,
      );
    }
    this.#logger.info({ file: path, size: this.size(), bans: this.#bans.size }, 'address book: loaded');
  }

  /** Put a loaded entry back in its buckets, enforcing capacities. */
  #place(ka: KnownAddress): void {
    if (ka.isOld()) {
      ka.buckets = [];
      if (this.#addToOldBucket(ka, this.#calcOldBucket(ka.addr))) return;
      ka.bucketType = 'new'; // its old bucket is full: keep it as new rather than lose it
    } else {
      const wanted = ka.buckets;
      ka.buckets = [];
      for (const idx of wanted) {
        const bucket = this.#newBuckets[idx]!;
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
    this.#addToNewBucket(ka, this.#calcNewBucket(ka.addr, ka.src));
  }

  #moveAside(path: string, reason: string): void {
    const stamp = this.#now();
    let target = `${path}.corrupt-${stamp}`;
    for (let n = 1; existsSync(target); n++) target = `${path}.corrupt-${stamp}-${n}`;
    try {
      renameSync(path, target);
      this.#logger.warn(
        { file: path, reason, movedTo: target },
        `address book: ${path} is unusable (${reason}); moved it to ${target} and continuing without it`,
      );
    } catch (err) {
      this.#logger.warn({ file: path, reason, err }, `address book: ${path} is unusable (${reason}) and could not be moved aside; ignoring it`);
    }
  }
}

// ------------------------------------------------------------------ helpers

function assertNetAddress(v: unknown, name: string): asserts v is NetAddress {
  if (!(v instanceof NetAddress)) throw new InvalidArgumentError(`${name} must be a NetAddress`);
}

/** True for an IP the book may hold in any mode: not unspecified (0/8, ::), broadcast, multicast or 2001:db8::/32 (CometBFT's `Valid()`, plus multicast and 0/8). */
function isValidBookIp(host: string): boolean {
  const ip = ipaddr.process(host);
  const range = ip.range();
  if (range === 'unspecified' || range === 'broadcast' || range === 'multicast') return false;
  return !(ip.kind() === 'ipv6' && ip.match(DOC_NET));
}

function validateBookAddress(addr: NetAddress): void {
  const why =
    addr.id === ''
      ? 'it has no node ID'
      : !addr.isIP()
        ? 'the host must be an IP address (resolve names before adding)'
        : addr.port === 0
          ? 'port 0 cannot be dialed'
          : !isValidBookIp(addr.host)
            ? 'unspecified, broadcast, multicast or documentation IP'
            : undefined;
  if (why) throw new InvalidArgumentError(`cannot add ${addr} to the address book: ${why}`, 'ERR_INVALID_ADDRESS');
}

function clampBias(bias: number): number {
  if (typeof bias !== 'number' || Number.isNaN(bias)) throw new InvalidArgumentError('biasTowardsNewAddrs must be a number in 0..100');
  return Math.min(100, Math.max(0, bias));
}

function selectionSize(size: number): number {
  const n = Math.max(Math.min(MIN_GET_SELECTION, size), Math.floor((size * GET_SELECTION_PERCENT) / 100));
  return Math.min(MAX_GET_SELECTION, n);
}

function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

/** Fisher–Yates over the first `n` positions. */
function partialShuffle<T>(a: T[], n: number): void {
  for (let i = 0; i < n && i < a.length; i++) {
    const j = i + randomIndex(a.length - i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/** The entry of `bucket` with the earliest `lastAttempt` (CometBFT's `pickOldest`). */
function oldest(bucket: Bucket): KnownAddress | undefined {
  let found: KnownAddress | undefined;
  for (const ka of bucket.values()) if (!found || ka.lastAttempt < found.lastAttempt) found = ka;
  return found;
}

/** Read up to `max` bytes from `fd`; undefined when there are more. */
function readBounded(fd: number, max: number): Buffer | undefined {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(64 * 1024);
    const n = readSync(fd, chunk, 0, chunk.length, null);
    if (n === 0) break;
    total += n;
    if (total > max) return undefined;
    chunks.push(chunk.subarray(0, n));
  }
  return Buffer.concat(chunks, total);
}
