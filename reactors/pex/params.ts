/**
 * Tuning constants of the PEX address book, as CometBFT's `p2p/pex/params.go`
 * (same values), plus the bounds of the persisted file (ours: CometBFT has
 * none). Durations are in milliseconds.
 *
 * @module
 */

/** Below this many addresses the book asks PEX for more (`needAddressThreshold`). */
export const NEED_ADDRESS_THRESHOLD = 1000;

/** Default period of the background save, ms (`dumpAddressInterval`, 2 minutes). */
export const DUMP_ADDRESS_INTERVAL_MS = 120_000;

/** Maximum addresses in one old bucket (`oldBucketSize`). */
export const OLD_BUCKET_SIZE = 64;

/** Number of old buckets (`oldBucketCount`). */
export const OLD_BUCKET_COUNT = 64;

/** Maximum addresses in one new bucket (`newBucketSize`). */
export const NEW_BUCKET_SIZE = 64;

/** Number of new buckets (`newBucketCount`). */
export const NEW_BUCKET_COUNT = 256;

/** Old buckets over which the addresses of one network group are spread (`oldBucketsPerGroup`). */
export const OLD_BUCKETS_PER_GROUP = 4;

/** New buckets over which the addresses learnt from one source group are spread (`newBucketsPerGroup`). */
export const NEW_BUCKETS_PER_GROUP = 32;

/** New buckets one frequently announced address may end up in (`maxNewBucketsPerAddress`). */
export const MAX_NEW_BUCKETS_PER_ADDRESS = 4;

/** An address not attempted for this long is assumed vanished, ms (`numMissingDays`, 7 days). */
export const NUM_MISSING_MS = 7 * 24 * 60 * 60 * 1000;

/** Failed attempts without a single success before an address is bad (`numRetries`). */
export const NUM_RETRIES = 3;

/** Failed attempts since the last success before an address is bad (`maxFailures`). */
export const MAX_FAILURES = 10;

/** Time since the last success before {@link MAX_FAILURES} makes an address bad, ms (`minBadDays`, 7 days). */
export const MIN_BAD_MS = 7 * 24 * 60 * 60 * 1000;

/** An address attempted within this window is never bad, ms (CometBFT: 1 minute, inline in `isBad`). */
export const RECENT_ATTEMPT_MS = 60 * 1000;

/**
 * A `lastAttempt` further than this in the future "claims to be from the
 * future" and is bad, ms (CometBFT leaves this as a TODO; 10 minutes of clock
 * skew are tolerated).
 */
export const MAX_FUTURE_SKEW_MS = 10 * 60 * 1000;

/** Percentage of the book returned by `getSelection` (`getSelectionPercent`). */
export const GET_SELECTION_PERCENT = 23;

/** Minimum addresses returned by `getSelection` when the book has that many (`minGetSelection`). */
export const MIN_GET_SELECTION = 32;

/** Maximum addresses returned by `getSelection` (`maxGetSelection`). */
export const MAX_GET_SELECTION = 250;

/** Most addresses the book can hold: every new and old bucket full (20 480). */
export const ADDR_BOOK_CAPACITY = NEW_BUCKET_COUNT * NEW_BUCKET_SIZE + OLD_BUCKET_COUNT * OLD_BUCKET_SIZE;

/** Most ban records kept (and loaded); past it the ones expiring first are dropped. */
export const MAX_BANS = ADDR_BOOK_CAPACITY;

/** Largest address book file `load()` reads, bytes (32 MiB); a larger file is moved aside. */
export const MAX_ADDR_BOOK_FILE_BYTES = 32 * 1024 * 1024;

/** Version of the file format written by `save()`; a file of another version is moved aside. */
export const ADDR_BOOK_FILE_VERSION = 1;

/** Length of the random key that seeds bucket placement, bytes (CometBFT: 12 bytes as 24 hex). */
export const ADDR_BOOK_KEY_BYTES = 24;
