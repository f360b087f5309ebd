// The address book's file (reactors/pex/addrbook-file.ts) on its own: what load() accepts and
// refuses, where an unusable file goes, what .bak holds after each save, and the errors a caller
// sees. The AddrBook-level behaviour (a working book after any file) is in addrbook.test.ts.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { NetAddress } from '../../../lib/net-address.js';
import { AddrBookFile, serializeAddrBook } from '../../../reactors/pex/addrbook-file.js';
import { KnownAddress } from '../../../reactors/pex/known-address.js';
import { ADDR_BOOK_CAPACITY, MAX_BANS } from '../../../reactors/pex/params.js';
import { recordingBookLogger } from '../../helpers/pex.js';

/** The test object tap passes to a subtest callback (with its plugins, e.g. testdir). */
type TapTest = { testdir: typeof t.testdir };

const NOW = Date.UTC(2025, 0, 1);
const KEY = Buffer.alloc(24, 0xab);

let hostN = 0;
/** A fresh routable address with a random ID. */
function addr(): NetAddress {
  hostN++;
  return new NetAddress(randomBytes(20).toString('hex'), `8.${hostN >> 8}.${hostN & 255}.1`, 26656);
}

function entry(bucket = 3): KnownAddress {
  const a = addr();
  const ka = new KnownAddress(a, a, NOW);
  ka.buckets = [bucket];
  return ka;
}

function banRecord(until = NOW + 60_000): KnownAddress {
  const ka = entry();
  ka.buckets = [];
  ka.bannedUntil = until;
  return ka;
}

/** A book file in a fresh directory, with a clock fixed at `stamp`. */
function bookFile(t: TapTest, stamp = NOW, name = 'book.json') {
  const dir = t.testdir({});
  const path = join(dir, name);
  const logger = recordingBookLogger();
  return { dir, path, logger, file: new AddrBookFile(path, logger, () => stamp) };
}

const fileText = (over: Record<string, unknown> = {}): string =>
  JSON.stringify({ version: 1, key: KEY.toString('hex'), addrs: [entry().toJSON()], bans: [], ...over });

// ------------------------------------------------------------------ format

t.test('the file is one JSON document of format 1, ending in a newline', async (t) => {
  const ka = entry(7);
  const ban = banRecord();
  const text = serializeAddrBook(KEY, [ka], [ban]);
  t.ok(text.endsWith('}\n'), 'one line, newline-terminated');
  t.same(JSON.parse(text), { version: 1, key: KEY.toString('hex'), addrs: [ka.toJSON()], bans: [ban.toJSON()] });

  const { file, path } = bookFile(t);
  await file.save(() => text);
  t.equal(readFileSync(path, 'utf8'), text);
  const loaded = file.load()!;
  t.same(loaded.key, KEY);
  t.same(
    loaded.addrs.map((k) => k.toJSON()),
    [ka.toJSON()],
  );
  t.same(
    loaded.bans.map((k) => k.toJSON()),
    [ban.toJSON()],
  );
  t.same([loaded.path, loaded.fromBackup, loaded.skipped.size], [path, false, 0]);
});

t.test('a missing file, or a missing directory, loads as nothing', async (t) => {
  const { file, dir } = bookFile(t);
  t.equal(file.load(), undefined);
  const deep = new AddrBookFile(join(dir, 'no', 'such', 'dir', 'book.json'), recordingBookLogger(), () => NOW);
  t.equal(deep.load(), undefined, 'no directory yet: not an error');
  await deep.save(() => fileText());
  t.ok(existsSync(join(dir, 'no', 'such', 'dir', 'book.json')), 'save creates the parent directories');
});

t.test('a path that cannot be opened throws the fs error with its code', async (t) => {
  const { dir } = bookFile(t);
  const notDir = join(dir, 'plain');
  writeFileSync(notDir, 'x');
  const file = new AddrBookFile(join(notDir, 'book.json'), recordingBookLogger(), () => NOW);
  t.throws(() => file.load(), { code: 'ENOTDIR' });
  await t.rejects(
    file.save(() => fileText()),
    { code: /^(ENOTDIR|EEXIST)$/ },
  );
});

// ------------------------------------------------------------ quarantine

t.test('each kind of unusable top level is moved aside with its reason, and .bak is tried', async (t) => {
  const key = KEY.toString('hex');
  const cases: [string, string | Buffer, RegExp][] = [
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), /^not UTF-8 text$/],
    ['null', 'null', /^top level is not an object$/],
    ['a number', '5', /^top level is not an object$/],
    ['a string', '"book"', /^top level is not an object$/],
    ['no version', JSON.stringify({ key, addrs: [] }), /^no format version$/],
    ['a string version', JSON.stringify({ version: '1', key, addrs: [] }), /^no format version$/],
    ['version 0', JSON.stringify({ version: 0, key, addrs: [] }), /^unsupported format version 0$/],
    ['version 2', JSON.stringify({ version: 2, key, addrs: [] }), /^format version 2 is newer than this program's \(1\)$/],
    ['a numeric key', fileText({ key: 5 }), /^key is not 16\.\.64 bytes of lower-case hex$/],
    ['a 15-byte key', fileText({ key: 'ab'.repeat(15) }), /^key is not/],
    ['a 65-byte key', fileText({ key: 'ab'.repeat(65) }), /^key is not/],
    ['an upper-case key', fileText({ key: 'AB'.repeat(24) }), /^key is not/],
    ['a key with a prefix', fileText({ key: 'x' + 'ab'.repeat(24) }), /^key is not/],
    ['a key with a suffix', fileText({ key: 'ab'.repeat(24) + 'x' }), /^key is not/],
    ['an odd-length key', fileText({ key: 'ab'.repeat(24) + 'a' }), /^key is not/],
    ['no addrs', JSON.stringify({ version: 1, key }), /^addrs is not an array$/],
    ['bans an object', fileText({ bans: {} }), /^bans is not an array$/],
    ['bans null', fileText({ bans: null }), /^bans is not an array$/],
  ];
  for (const [name, content, reason] of cases) {
    await t.test(name, async (t) => {
      const { file, path, logger } = bookFile(t);
      writeFileSync(path, content);
      t.equal(file.load(), undefined, 'nothing usable');
      t.notOk(existsSync(path));
      const aside = `${path}.corrupt-${NOW}`;
      t.same(readFileSync(aside), Buffer.from(content), 'kept, unchanged, for inspection');
      t.equal(logger.warns().length, 1);
      t.match(logger.warns()[0]!.obj, { file: path, reason, movedTo: aside });
      t.ok(logger.warns()[0]!.msg.includes(`moved it to ${aside}`), logger.warns()[0]!.msg);
    });
  }
});

t.test('keys of 16 and 64 bytes are accepted; bans may be absent', async (t) => {
  for (const bytes of [16, 64]) {
    const { file, path } = bookFile(t);
    writeFileSync(path, fileText({ key: 'cd'.repeat(bytes) }));
    t.same(file.load()?.key, Buffer.alloc(bytes, 0xcd), `${bytes}-byte key`);
  }
  const { file, path } = bookFile(t);
  writeFileSync(path, JSON.stringify({ version: 1, key: KEY.toString('hex'), addrs: [entry().toJSON()] }));
  const loaded = file.load();
  t.same([loaded?.addrs.length, loaded?.bans, loaded?.skipped.size], [1, [], 0], 'no bans field: no bans, nothing skipped');
});

t.test('a corrupt file falls back to .bak; a corrupt .bak is moved aside too', async (t) => {
  const { file, path } = bookFile(t);
  const good = fileText();
  writeFileSync(path, '{"version":1,');
  writeFileSync(`${path}.bak`, good);
  const loaded = file.load()!;
  t.same([loaded.path, loaded.fromBackup, loaded.addrs.length], [`${path}.bak`, true, 1], 'from .bak');
  t.ok(existsSync(`${path}.bak`), 'a good .bak stays where it is');

  // the .bak text is now the last good one: the next save keeps it as .bak
  await file.save(() => fileText({ addrs: [] }));
  t.equal(readFileSync(`${path}.bak`, 'utf8'), good);

  const two = bookFile(t, NOW + 1);
  writeFileSync(two.path, '');
  writeFileSync(`${two.path}.bak`, '[]');
  t.equal(two.file.load(), undefined);
  t.same(readdirSync(two.dir).sort(), [`book.json.bak.corrupt-${NOW + 1}`, `book.json.corrupt-${NOW + 1}`]);
  const warns = two.logger.warns();
  t.equal(warns.length, 2);
  t.match(warns[0]?.obj, { file: two.path, reason: 'empty file' });
  t.match(warns[1]?.obj, { file: `${two.path}.bak`, reason: 'top level is not an object' });

  const three = bookFile(t);
  writeFileSync(three.path, 'garbage');
  t.equal(three.file.load(), undefined, 'no .bak at all');
  t.same(readdirSync(three.dir), [`book.json.corrupt-${NOW}`]);
  t.equal(three.logger.warns().length, 1, 'a missing .bak is not a warning');
});

t.test('quarantine names never overwrite an earlier quarantined file', async (t) => {
  const { file, path, dir } = bookFile(t); // the clock stands still: the same stamp each time
  for (const content of ['one', 'two', 'three']) {
    writeFileSync(path, content);
    file.load();
  }
  const aside = `${path}.corrupt-${NOW}`;
  t.same(readdirSync(dir).sort(), ['book.json.corrupt-' + NOW, `book.json.corrupt-${NOW}-1`, `book.json.corrupt-${NOW}-2`]);
  t.same(
    [aside, `${aside}-1`, `${aside}-2`].map((p) => readFileSync(p, 'utf8')),
    ['one', 'two', 'three'],
  );
});

t.test('a file that cannot be moved aside is ignored with a warning, and .bak still used', async (t) => {
  // The quarantine name is the book's name plus ".corrupt-<ms>": past NAME_MAX (255) the rename fails.
  const name = 'b'.repeat(240);
  const { file, path, logger, dir } = bookFile(t, NOW, name);
  writeFileSync(path, 'garbage');
  writeFileSync(`${path}.bak`, fileText());
  const loaded = file.load();
  t.equal(loaded?.fromBackup, true, 'loaded from .bak');
  t.equal(readFileSync(path, 'utf8'), 'garbage', 'left in place');
  t.equal(logger.warns().length, 1);
  const w = logger.warns()[0]!;
  t.match(w.obj, { file: path, reason: /JSON/, err: { code: 'ENAMETOOLONG' } });
  t.notOk('movedTo' in w.obj);
  t.match(w.msg, /could not be moved aside; ignoring it$/);
  t.same(readdirSync(dir).sort(), [name, `${name}.bak`]);
});

// ------------------------------------------------------------- temp files

t.test('temp files of a save killed midway are removed at load, nothing else', async (t) => {
  const { file, dir } = bookFile(t);
  const stale = ['book.json.123', 'book.json.bak.4567'];
  const kept = [
    'book.json',
    'book.json.bak',
    `book.json.corrupt-${NOW}`,
    'book.json.12a',
    'book.json.bak.',
    'book.json.bak.x1',
    'book.json.tmp.1',
    'book.jsox.123', // as long as the name, but another file
    'other.json.123',
    'xbook.json.123',
  ];
  for (const f of [...stale, ...kept]) writeFileSync(join(dir, f), f === 'book.json' ? fileText() : 'x');
  mkdirSync(join(dir, 'book.json.99')); // cannot be unlinked: skipped, not fatal
  t.ok(file.load());
  t.same(readdirSync(dir).sort(), [...kept, 'book.json.99'].sort());
  rmSync(join(dir, 'book.json.99'), { recursive: true });
});

// ---------------------------------------------------------------- entries

t.test('ban records: expiry required, IDs unique, new and in no bucket, at most MAX_BANS', async (t) => {
  const { file, path } = bookFile(t);
  const old = banRecord();
  old.bucketType = 'old';
  old.buckets = [5];
  const noExpiry = banRecord(0);
  const dup = banRecord();
  const bans = [old.toJSON(), noExpiry.toJSON(), dup.toJSON(), dup.toJSON(), { junk: 1 }];
  writeFileSync(path, fileText({ bans }));
  const loaded = file.load()!;
  t.same(
    loaded.bans.map((k) => k.id),
    [old.id, dup.id],
  );
  t.same([loaded.bans[0]!.bucketType, loaded.bans[0]!.buckets], ['new', []], 'a banned good peer is held as new, in no bucket');
  t.equal(loaded.skipped.get('ban: no expiry'), 1);
  t.equal(loaded.skipped.get('ban: duplicate ID'), 1);
  t.equal(loaded.skipped.get('ban: invalid address book entry: addr is not an object'), 1);
  t.equal(loaded.skipped.size, 3);

  const many = bookFile(t);
  const record = banRecord().toJSON();
  const list = Array.from({ length: MAX_BANS + 3 }, (_, i) => (i === MAX_BANS ? banRecord().toJSON() : record));
  writeFileSync(many.path, fileText({ bans: list }));
  const big = many.file.load()!;
  t.equal(big.bans.length, 1, 'the repeats count as duplicates');
  t.equal(big.skipped.get('ban: duplicate ID'), MAX_BANS - 1);
  t.equal(big.skipped.get(`ban: beyond the ${MAX_BANS}-record limit`), 3, 'records past the limit are not read');

  const exact = bookFile(t);
  writeFileSync(exact.path, fileText({ bans: list.slice(0, MAX_BANS) }));
  t.same(Object.keys(Object.fromEntries(exact.file.load()!.skipped)), ['ban: duplicate ID'], 'exactly MAX_BANS: none beyond the limit');
});

t.test('address entries: the bad are skipped and counted by reason, file order kept', async (t) => {
  const { file, path } = bookFile(t);
  const a = entry(1);
  const b = entry(2);
  const addrs = [a.toJSON(), null, 'x', { ...b.toJSON(), attempts: -1 }, b.toJSON(), a.toJSON()];
  writeFileSync(path, fileText({ addrs }));
  const loaded = file.load()!;
  t.same(
    loaded.addrs.map((k) => k.id),
    [a.id, b.id, a.id],
    'in file order; a repeated ID is for the book to refuse',
  );
  t.same(Object.fromEntries(loaded.skipped), {
    'invalid address book entry: entry is not an object': 2,
    'invalid address book entry: attempts is not a non-negative integer': 1,
  });

  const big = bookFile(t);
  const one = entry().toJSON();
  writeFileSync(big.path, fileText({ addrs: new Array(ADDR_BOOK_CAPACITY + 2).fill(one) }));
  const full = big.file.load()!;
  t.equal(full.addrs.length, ADDR_BOOK_CAPACITY, 'read up to the capacity');
  t.same(Object.fromEntries(full.skipped), { [`beyond the book's capacity of ${ADDR_BOOK_CAPACITY}`]: 2 });
});

// ------------------------------------------------------------------ saving

t.test('.bak holds the previous different contents, across saves of the same text', async (t) => {
  const { file, path, logger } = bookFile(t);
  const [a, b, c] = [fileText(), fileText(), fileText()];
  await file.save(() => a);
  t.notOk(existsSync(`${path}.bak`), 'first save: nothing to back up');
  await file.save(() => b);
  t.equal(readFileSync(`${path}.bak`, 'utf8'), a);
  await file.save(() => b);
  t.equal(readFileSync(`${path}.bak`, 'utf8'), a, 'an unchanged save keeps the older backup');
  await file.save(() => c);
  t.same([readFileSync(path, 'utf8'), readFileSync(`${path}.bak`, 'utf8')], [c, b]);
  t.same(
    logger.logs.filter((l) => l.level === 'debug' && l.msg === 'address book: saved').map((l) => l.obj),
    [a, b, b, c].map((text) => ({ file: path, bytes: Buffer.byteLength(text) })),
  );
});

t.test('a loaded file becomes .bak on the next save; forget() and a reload drop that', async (t) => {
  const { file, path } = bookFile(t);
  const loadedText = fileText();
  writeFileSync(path, loadedText);
  file.load();
  await file.save(() => fileText());
  t.equal(readFileSync(`${path}.bak`, 'utf8'), loadedText, 'the loaded contents are backed up');

  const two = bookFile(t);
  writeFileSync(two.path, fileText());
  two.file.load();
  two.file.forget();
  await two.file.save(() => fileText());
  t.notOk(existsSync(`${two.path}.bak`), 'forgotten: no .bak');

  const three = bookFile(t);
  writeFileSync(three.path, fileText());
  three.file.load();
  rmSync(three.path);
  t.equal(three.file.load(), undefined, 'the file is gone');
  await three.file.save(() => fileText());
  t.notOk(existsSync(`${three.path}.bak`), 'a reload that found nothing has nothing to back up');
});

t.test('saves run one after another, each serialising when its turn comes; a failed save does not block later ones', async (t) => {
  const { file, path, dir } = bookFile(t);
  const order: string[] = [];
  let state = 'first';
  const p1 = file.save(() => {
    order.push('serialize 1');
    return fileText({ note: state });
  });
  state = 'second';
  const p2 = file.save(() => {
    order.push('serialize 2');
    return fileText({ note: state });
  });
  state = 'third';
  await Promise.all([p1, p2]);
  t.same(order, ['serialize 1', 'serialize 2']);
  t.equal(JSON.parse(readFileSync(path, 'utf8')).note, 'third', 'the second save wrote the state of its turn');

  // a directory where the file should be: the rename fails, the next save (once it is gone) works
  const nested = join(dir, 'sub', 'book.json');
  const blocked = new AddrBookFile(nested, recordingBookLogger(), () => NOW);
  mkdirSync(nested, { recursive: true });
  const failing = blocked.save(() => fileText());
  const after = blocked.save(() => fileText({ note: 'after' }));
  await t.rejects(failing, { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ });
  await t.rejects(after, { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ }, 'queued behind it, fails the same way');
  rmSync(nested, { recursive: true });
  await blocked.save(() => fileText({ note: 'later' }));
  t.equal(JSON.parse(readFileSync(nested, 'utf8')).note, 'later', 'the chain goes on after a failure');
});
