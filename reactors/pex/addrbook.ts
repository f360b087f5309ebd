/**
 * The PEX address book, as CometBFT's `p2p/pex/addrbook.go`: what enters the
 * bucketed tables (`bucket-tables.ts`), bans, selection for dialing and
 * gossip; persisted by `addrbook-file.ts` to a file that survives crashes.
 *
 * Differences from CometBFT, each deliberate: bans are persisted and may
 * target an address not in the book; a corrupt, truncated, empty, oversize
 * or future-version file never stops the node (it is moved aside and the book
 * starts from the previous good save or empty); bucket capacity is enforced
 * exactly (CometBFT admits a 65th entry), a demoted old entry is never lost,
 * and a ban on an old entry no longer loses it on reinstatement; a new entry
 * that fails `MAX_FAILURES` (10) dials in a row is dropped at once; our own
 * addresses are refused by ID and by `ip:port`, not only by exact string.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { AddrBookFile, serializeAddrBook, type AddrBookEntries, type AddrBookLogger } from './addrbook-file.js';
import { BucketTables, partialShuffle } from './bucket-tables.js';
import { AddrBookRejectedError } from './errors.js';
import { KnownAddress } from './known-address.js';
import {
  ADDR_BOOK_KEY_BYTES,
  DUMP_ADDRESS_INTERVAL_MS,
  GET_SELECTION_PERCENT,
  MAX_BANS,
  MAX_GET_SELECTION,
  MAX_NEW_BUCKETS_PER_ADDRESS,
  MIN_GET_SELECTION,
  NEED_ADDRESS_THRESHOLD,
} from './params.js';

export { groupKey } from './group-key.js';
export type { AddrBookLogger } from './addrbook-file.js';
export { AddrBookRejectedError, type AddrBookRejectReason } from './errors.js';

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

  readonly #ourAddrs = new Set<string>();
  readonly #ourIds = new Set<string>();
  readonly #ourDialStrings = new Set<string>();
  readonly #privateIds = new Set<string>();

  #tables: BucketTables;
  #bans = new Map<string, KnownAddress>();

  readonly #file: AddrBookFile;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param filePath the book file (created by the first save; parent
   *   directories are created as needed).
   * @param opts see {@link AddrBookOptions}.
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an empty path, a
   *   key not of 16..64 bytes, a `saveIntervalMs` not in 1..2^31-1, or a
   *   `now` that is not a function.
   */
  constructor(filePath: string, opts: AddrBookOptions = {}) {
    if (typeof filePath !== 'string' || filePath.length === 0)
      throw new InvalidArgumentError('address book file path must be a non-empty string');
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
    this.#file = new AddrBookFile(filePath, this.#logger, this.#now);
    this.#tables = this.#newTables(this.#initialKey ?? randomBytes(ADDR_BOOK_KEY_BYTES));
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
    for (const ka of [...this.#tables.values()]) {
      if (this.ourAddress(ka.addr)) this.#tables.remove(ka);
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
      this.#ourAddrs.has(addr.toString()) || (addr.id !== '' && this.#ourIds.has(addr.id)) || this.#ourDialStrings.has(addr.dialString())
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
      const ka = this.#tables.get(id);
      if (ka) this.#tables.remove(ka);
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

    const known = this.#tables.get(addr.id);
    if (known) {
      if (known.isOld()) return;
      if (known.buckets.length >= MAX_NEW_BUCKETS_PER_ADDRESS) return;
      if (Math.floor(Math.random() * 2 * known.buckets.length) !== 0) return;
      this.#tables.addToNew(known, src);
      return;
    }
    const ka = new KnownAddress(addr, src, now);
    this.#tables.addToNew(ka, src);
  }

  /** Remove the entry with `addr`'s ID, if any (CometBFT's `RemoveAddress`). */
  removeAddress(addr: NetAddress): void {
    const ka = this.#tables.get(addr.id);
    if (!ka) return;
    this.#tables.remove(ka);
    this.#logger.info({ addr: ka.addr.toString() }, 'address book: removed address');
  }

  /** True when an entry with `addr`'s ID is in the book (CometBFT's `HasAddress`). */
  hasAddress(addr: NetAddress): boolean {
    return this.#tables.get(addr.id) !== undefined;
  }

  /** True when `addr`'s ID is in the old table, i.e. was marked good (CometBFT's `IsGood`). */
  isGood(addr: NetAddress): boolean {
    return this.#tables.get(addr.id)?.isOld() ?? false;
  }

  // ---------------------------------------------------------------- marking

  /**
   * Record a dial attempt to `addr`'s ID (CometBFT's `MarkAttempt`). A new
   * entry that reaches `MAX_FAILURES` (10) attempts without a success in
   * the last 7 days is dropped from the book at once (CometBFT only expires
   * such entries when a bucket is full). Unknown IDs are ignored.
   */
  markAttempt(addr: NetAddress): void {
    const ka = this.#tables.get(addr.id);
    if (!ka) return;
    const now = this.#now();
    ka.markAttempt(now);
    if (ka.exhausted(now)) {
      this.#tables.remove(ka);
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
    const ka = this.#tables.get(id);
    if (!ka) return;
    ka.markGood(this.#now());
    if (ka.isNew()) this.#tables.moveToOld(ka);
  }

  /**
   * Ban `addr`'s ID for `banMs` ms and remove it from the book (CometBFT's
   * `MarkBad`). Unlike CometBFT the ban is persisted, and an address not in
   * the book is banned too. Banning a banned ID extends the ban when the new
   * one ends later. Bans are kept in `MAX_BANS` (20 480) records at most (those
   * expiring first are dropped).
   * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `banMs` is not a
   *   finite number ≥ 0 or `addr` has no ID.
   */
  markBad(addr: NetAddress, banMs: number): void {
    assertNetAddress(addr, 'addr');
    if (typeof banMs !== 'number' || !Number.isFinite(banMs) || banMs < 0)
      throw new InvalidArgumentError('banMs must be a finite number of ms >= 0');
    if (addr.id === '') throw new InvalidArgumentError(`cannot ban ${addr}: it has no node ID`, 'ERR_INVALID_ADDRESS');
    const now = this.#now();
    const inBook = this.#tables.get(addr.id);
    if (inBook) this.#tables.remove(inBook);
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
      if (this.#tables.get(id) !== undefined || this.#privateIds.has(id) || this.ourAddress(ka.addr)) continue;
      if (this.routabilityStrict && !ka.addr.routable()) continue;
      ka.bucketType = 'new';
      ka.buckets = [];
      this.#tables.addToNew(ka, ka.src);
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
    const oldCorrelation = Math.sqrt(this.#tables.nOld) * (100 - bias);
    const newCorrelation = Math.sqrt(this.#tables.nNew) * bias;
    const pickOld = (oldCorrelation + newCorrelation) * Math.random() < oldCorrelation;
    if ((pickOld && this.#tables.nOld === 0) || (!pickOld && this.#tables.nNew === 0)) return undefined;
    return this.#tables.pickFrom(pickOld ? 'old' : 'new');
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
    const all = [...this.#tables.values()].map((ka) => ka.addr);
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
    const requiredNew = Math.max(Math.round((bias / 100) * n), n - this.#tables.nOld);
    const selection = this.#tables.randomPick('new', requiredNew);
    selection.push(...this.#tables.randomPick('old', n - selection.length));
    return selection;
  }

  // ------------------------------------------------------------------ sizes

  /** Number of addresses in the book (new + old; bans, ours and private IDs are not counted). */
  size(): number {
    return this.#tables.nNew + this.#tables.nOld;
  }

  /** True when the book holds no address (CometBFT's `Empty`). */
  isEmpty(): boolean {
    return this.size() === 0;
  }

  /** True when the book holds fewer than `NEED_ADDRESS_THRESHOLD` (1000) addresses (CometBFT's `NeedMoreAddrs`). */
  needMoreAddrs(): boolean {
    return this.size() < NEED_ADDRESS_THRESHOLD;
  }

  /** Counters for metrics and tests, see {@link AddrBookStats}. */
  stats(): AddrBookStats {
    return {
      size: this.size(),
      nNew: this.#tables.nNew,
      nOld: this.#tables.nOld,
      newBucketsInUse: this.#tables.bucketsInUse('new'),
      oldBucketsInUse: this.#tables.bucketsInUse('old'),
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
    return this.#file.save(() => serializeAddrBook(this.#tables.key, this.#tables.values(), this.#bans.values()));
  }

  /**
   * Replace the book's contents (tables, bans, key) with those of
   * {@link filePath}; our addresses and private IDs are kept. Never throws for
   * bad contents:
   *
   * - a missing file gives an empty book;
   * - a file that is empty, larger than `MAX_ADDR_BOOK_FILE_BYTES` (32 MiB)
   *   (32 MiB), not UTF-8 JSON, of another `version` (a newer program's), or
   *   with a bad `key`, `addrs` or `bans` is renamed to
   *   `<file>.corrupt-<ms timestamp>` with a warning, and the book is loaded
   *   from `<file>.bak` (the previous good save) if that is good, else starts
   *   empty;
   * - invalid entries are skipped with one counted warning, as are entries
   *   beyond `ADDR_BOOK_CAPACITY` (20 480) and bans beyond `MAX_BANS` (20 480),
   *   duplicate IDs, and (with `routabilityStrict`) non-routable addresses;
   * - entries are re-placed with bucket capacities enforced.
   *
   * @throws the fs error when the file exists but cannot be opened (EACCES, ...).
   */
  load(): void {
    this.#resetTables();
    const entries = this.#file.load();
    if (!entries) return;
    this.#apply(entries);
    if (entries.fromBackup) {
      this.#logger.warn(
        { file: this.filePath, backup: entries.path, size: this.size() },
        'address book: restored from the previous good save',
      );
    }
  }

  // ================================================================ private

  #newTables(key: Buffer): BucketTables {
    return new BucketTables(key, this.routabilityStrict, this.#logger, this.#now);
  }

  #resetTables(): void {
    this.#tables = this.#newTables(this.#initialKey ?? randomBytes(ADDR_BOOK_KEY_BYTES));
    this.#bans = new Map();
    this.#file.forget();
  }

  #trimBans(now: number): void {
    if (this.#bans.size <= MAX_BANS) return;
    const byExpiry = [...this.#bans.values()].sort((a, b) => a.bannedUntil - b.bannedUntil);
    for (const ka of byExpiry.slice(0, this.#bans.size - MAX_BANS)) this.#bans.delete(ka.id);
    this.#logger.warn({ kept: MAX_BANS, now }, 'address book: too many bans, dropped those expiring first');
  }

  // ------------------------------------------------------------- loading

  /** Fill the (empty) tables from a loaded file, skipping entries the book refuses, with one counted warning. */
  #apply(entries: AddrBookEntries): void {
    this.#tables = this.#newTables(entries.key);
    const skipped = entries.skipped;
    const skip = (why: string): void => {
      skipped.set(why, (skipped.get(why) ?? 0) + 1);
    };
    for (const ka of entries.bans) this.#bans.set(ka.id, ka);
    for (const ka of entries.addrs) {
      if (this.#tables.get(ka.id) !== undefined) skip('duplicate ID');
      else if (this.#bans.has(ka.id)) skip('ID is banned');
      else if (this.#privateIds.has(ka.id) || this.ourAddress(ka.addr)) skip('private or our own address');
      else if (this.routabilityStrict && !ka.addr.routable()) skip('not routable (routabilityStrict)');
      else if (!isValidBookIp(ka.addr.host)) skip('unusable IP address');
      else this.#tables.place(ka);
    }
    const path = entries.path;
    const total = [...skipped.values()].reduce((a, b) => a + b, 0);
    if (total > 0) {
      this.#logger.warn(
        { file: path, skipped: total, reasons: Object.fromEntries([...skipped].slice(0, 10)), loaded: this.size(), bans: this.#bans.size },
        `address book: skipped ${total} invalid entries while loading`,
      );
    }
    this.#logger.info({ file: path, size: this.size(), bans: this.#bans.size }, 'address book: loaded');
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
