/**
 * The address book's crash-safe file storage, as CometBFT's `p2p/pex/file.go`
 * (`saveToFile`, `loadFromFile`), made to survive crashes and corruption:
 *
 * - the file is JSON `{ version: 1, key: hex, addrs: KnownAddressJSON[],
 *   bans: KnownAddressJSON[] }`, written atomically and durably
 *   (write-file-atomic: temp file, fsync, rename);
 * - the previous good contents are kept as `<file>.bak`;
 * - a file that cannot be used (not a regular file, empty, larger than
 *   {@link MAX_ADDR_BOOK_FILE_BYTES}, not UTF-8 JSON, another format version,
 *   a bad top level) is moved aside to `<file>.corrupt-<ms>` and the `.bak`
 *   is tried; nothing in a file ever stops the node;
 * - the size is bounded before the contents are read (fstat, then a read that
 *   stops past the bound), and opening never blocks (a FIFO at the path is
 *   refused, not waited on);
 * - temp files left by a process killed mid-save are removed at load.
 *
 * CometBFT panics on a file it cannot parse; this moves it aside instead.
 *
 * @module
 */
import { existsSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { readBoundedFile, type BoundedRead } from '../../lib/bounded-file.js';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { KnownAddress } from './known-address.js';
import { ADDR_BOOK_CAPACITY, ADDR_BOOK_FILE_VERSION, MAX_ADDR_BOOK_FILE_BYTES, MAX_BANS } from './params.js';

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

/** Top level of a checked book file, format {@link ADDR_BOOK_FILE_VERSION}; entries are not yet checked. */
interface AddrBookFileContents {
  key: string;
  addrs: unknown[];
  bans: unknown[];
}

/** The entries of a loaded file, decoded, with the count of those skipped by reason. */
export interface AddrBookEntries {
  /** Placement key, 16..64 bytes. */
  key: Buffer;
  /** Ban records (with an expiry, unique IDs, at most {@link MAX_BANS}), as new entries in no bucket. */
  bans: KnownAddress[];
  /** Address entries (at most {@link ADDR_BOOK_CAPACITY}), in file order; IDs may repeat. */
  addrs: KnownAddress[];
  /** Entries skipped, by reason. */
  skipped: Map<string, number>;
  /** The file they came from: the book file or its `.bak`. */
  path: string;
  /** True when the book file was unusable and these come from `.bak`. */
  fromBackup: boolean;
}

type ReadResult = { kind: 'missing' } | { kind: 'corrupt'; reason: string } | { kind: 'ok'; text: string; file: AddrBookFileContents };

const KEY_HEX_RE = /^(?:[0-9a-f]{2}){16,64}$/;

/**
 * The text of a book file: the format version, the placement key as hex, and
 * the entries as {@link KnownAddress.toJSON}.
 */
export function serializeAddrBook(key: Buffer, addrs: Iterable<KnownAddress>, bans: Iterable<KnownAddress>): string {
  const file = {
    version: ADDR_BOOK_FILE_VERSION,
    key: key.toString('hex'),
    addrs: [...addrs].map((ka) => ka.toJSON()),
    bans: [...bans].map((ka) => ka.toJSON()),
  };
  return JSON.stringify(file) + '\n';
}

/**
 * The book file at one path, with its `.bak` and its quarantine: loads with
 * fallback, saves serialised one after another. Internal to {@link AddrBook}.
 */
export class AddrBookFile {
  readonly #path: string;
  readonly #logger: AddrBookLogger;
  readonly #now: () => number;
  #saveChain: Promise<void> = Promise.resolve();
  /** Text of the last good file (loaded or written): becomes `<file>.bak` on the next save. */
  #lastGoodText: string | undefined;

  constructor(path: string, logger: AddrBookLogger, now: () => number) {
    this.#path = path;
    this.#logger = logger;
    this.#now = now;
  }

  /**
   * Read the book file, or its `.bak` when the file is unusable (moving the
   * unusable ones aside); undefined when there is nothing usable.
   * @throws the fs error when a file exists but cannot be opened (EACCES, ...).
   */
  load(): AddrBookEntries | undefined {
    this.#lastGoodText = undefined;
    this.#removeStaleTempFiles();
    const main = readBookFile(this.#path);
    if (main.kind === 'missing') return undefined;
    if (main.kind === 'ok') {
      this.#lastGoodText = main.text;
      return decodeEntries(main.file, this.#path, false);
    }
    this.#moveAside(this.#path, main.reason);
    const bakPath = this.#bakPath();
    const bak = readBookFile(bakPath);
    if (bak.kind === 'ok') {
      this.#lastGoodText = bak.text;
      return decodeEntries(bak.file, bakPath, true);
    }
    if (bak.kind === 'corrupt') this.#moveAside(bakPath, bak.reason);
    return undefined;
  }

  /** Forget the last good text (the book was reset): the next save keeps no `.bak` of it. */
  forget(): void {
    this.#lastGoodText = undefined;
  }

  /**
   * Write `serialize()` (called when this save's turn comes) to the file,
   * atomically and durably, after writing the previous good text to `.bak`;
   * creates parent directories. Saves run one after another.
   * @throws (rejects with) the fs error; the previous file is then intact.
   */
  save(serialize: () => string): Promise<void> {
    const run = this.#saveChain.then(() => this.#write(serialize()));
    this.#saveChain = run.catch(() => undefined);
    return run;
  }

  async #write(text: string): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    if (this.#lastGoodText !== undefined && this.#lastGoodText !== text) {
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: write-file-atomic fsyncs by default ({}), and skipping the fsync (false) differs only after a power loss or kernel crash, not a process kill
      await writeFileAtomic(this.#bakPath(), this.#lastGoodText, { fsync: true });
    }
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: write-file-atomic fsyncs by default ({}), and skipping the fsync (false) differs only after a power loss or kernel crash, not a process kill
    await writeFileAtomic(this.#path, text, { fsync: true });
    this.#lastGoodText = text;
    this.#logger.debug({ file: this.#path, bytes: Buffer.byteLength(text) }, 'address book: saved');
  }

  #bakPath(): string {
    return `${this.#path}.bak`;
  }

  /**
   * A process killed mid-save leaves write-file-atomic's temp files
   * (`<file>.<digits>`, `<file>.bak.<digits>`) behind; nothing reads them, so
   * clear them at load, when no save of ours runs.
   */
  #removeStaleTempFiles(): void {
    const dir = dirname(this.#path);
    const name = basename(this.#path);
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
      this.#logger.warn(
        { file: path, reason, err },
        `address book: ${path} is unusable (${reason}) and could not be moved aside; ignoring it`,
      );
    }
  }
}

/**
 * Read and check the top level of a book file. The size is bounded by
 * {@link MAX_ADDR_BOOK_FILE_BYTES} before the contents are read; the open is
 * non-blocking, so a FIFO or device at the path is refused instead of hanging.
 */
function readBookFile(path: string): ReadResult {
  let read: BoundedRead;
  try {
    read = readBoundedFile(path, MAX_ADDR_BOOK_FILE_BYTES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw err;
  }
  if ('problem' in read) return { kind: 'corrupt', reason: read.problem };
  const raw = read.bytes;
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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { kind: 'corrupt', reason: 'top level is not an object' };
  const obj = parsed as Record<string, unknown>;
  if (typeof obj.version !== 'number') return { kind: 'corrupt', reason: 'no format version' };
  if (obj.version > ADDR_BOOK_FILE_VERSION) {
    return { kind: 'corrupt', reason: `format version ${obj.version} is newer than this program's (${ADDR_BOOK_FILE_VERSION})` };
  }
  if (obj.version !== ADDR_BOOK_FILE_VERSION) return { kind: 'corrupt', reason: `unsupported format version ${obj.version}` };
  if (typeof obj.key !== 'string' || !KEY_HEX_RE.test(obj.key))
    return { kind: 'corrupt', reason: 'key is not 16..64 bytes of lower-case hex' };
  if (!Array.isArray(obj.addrs)) return { kind: 'corrupt', reason: 'addrs is not an array' };
  if (obj.bans !== undefined && !Array.isArray(obj.bans)) return { kind: 'corrupt', reason: 'bans is not an array' };
  return { kind: 'ok', text, file: { key: obj.key, addrs: obj.addrs, bans: (obj.bans as unknown[] | undefined) ?? [] } };
}

/** Decode a checked file's entries, skipping (and counting) those that are malformed or beyond the limits. */
function decodeEntries(file: AddrBookFileContents, path: string, fromBackup: boolean): AddrBookEntries {
  const skipped = new Map<string, number>();
  const skip = (why: string, n = 1): void => {
    skipped.set(why, (skipped.get(why) ?? 0) + n);
  };

  const bans = new Map<string, KnownAddress>();
  for (const entry of file.bans.slice(0, MAX_BANS)) {
    let ka: KnownAddress;
    try {
      ka = KnownAddress.fromJSON(entry, { allowNoBuckets: true });
    } catch (err) {
      skip(`ban: ${(err as Error).message}`);
      continue;
    }
    if (ka.bannedUntil === 0) skip('ban: no expiry');
    else if (bans.has(ka.id)) skip('ban: duplicate ID');
    else {
      ka.bucketType = 'new';
      ka.buckets = [];
      bans.set(ka.id, ka);
    }
  }
  if (file.bans.length > MAX_BANS) skip(`ban: beyond the ${MAX_BANS}-record limit`, file.bans.length - MAX_BANS);

  const addrs: KnownAddress[] = [];
  const limit = Math.min(file.addrs.length, ADDR_BOOK_CAPACITY);
  for (let i = 0; i < limit; i++) {
    try {
      addrs.push(KnownAddress.fromJSON(file.addrs[i]));
    } catch (err) {
      skip((err as Error).message);
    }
  }
  if (file.addrs.length > limit) skip(`beyond the book's capacity of ${ADDR_BOOK_CAPACITY}`, file.addrs.length - limit);
  return { key: Buffer.from(file.key, 'hex'), bans: [...bans.values()], addrs, skipped, path, fromBackup };
}
