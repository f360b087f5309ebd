import t from 'tap';
import { readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { NodeKey, nodeIdFromPubKey, verifySignature } from '../lib/node-key.js';

t.test('the ID is the hex of the first 20 bytes of SHA-256 of the public key', async (t) => {
  // RFC 8032 TEST 1 seed → known public key
  const key = NodeKey.fromSeed(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'));
  t.equal(Buffer.from(key.pubKey).toString('hex'), 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  t.equal(key.id, nodeIdFromPubKey(key.pubKey));
  t.match(key.id, /^[0-9a-f]{40}$/);
  t.throws(() => nodeIdFromPubKey(new Uint8Array(31)), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('signatures verify with the right key only', async (t) => {
  const a = NodeKey.generate();
  const b = NodeKey.generate();
  const msg = Buffer.from('challenge');
  const sig = a.sign(msg);
  t.equal(sig.length, 64);
  t.equal(verifySignature(a.pubKey, msg, sig), true);
  t.equal(verifySignature(b.pubKey, msg, sig), false);
  t.equal(verifySignature(a.pubKey, Buffer.from('other'), sig), false);
  t.equal(verifySignature(a.pubKey.subarray(1), msg, sig), false);
});

t.test('loadOrGen creates a 0600 key once and loads the same key after', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'config', 'node_key.json');
  const k1 = NodeKey.loadOrGen(path);
  t.equal(statSync(path).mode & 0o777, 0o600);
  const k2 = NodeKey.loadOrGen(path);
  t.equal(k2.id, k1.id);
  t.same(JSON.parse(readFileSync(path, 'utf8')).priv_key.type, 'ed25519');
});

t.test('a malformed key file is a clear error and is never replaced', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'k.json');
  const cases: [string, RegExp][] = [
    ['not json', /not valid JSON/],
    ['{}', /expected/],
    ['{"priv_key":{"type":"secp256k1","value":"AAAA"}}', /expected/],
    ['{"priv_key":{"type":"ed25519","value":"!!"}}', /not base64/],
    ['{"priv_key":{"type":"ed25519","value":"AAAA"}}', /64 bytes/],
    [JSON.stringify({ priv_key: { type: 'ed25519', value: Buffer.alloc(64, 1).toString('base64') } }), /does not match/],
    ['x'.repeat(5000), /larger than/],
  ];
  for (const [content, why] of cases) {
    writeFileSync(path, content);
    t.throws(() => NodeKey.loadOrGen(path), { code: 'ERR_INVALID_KEY_FILE', message: why });
    t.throws(() => NodeKey.loadOrGen(path), { message: `invalid node key file ${path}: ` }, 'names the file');
    t.throws(
      () => NodeKey.loadOrGen(path),
      { message: /\(restore it from a backup, or move it away to create a new key: a new node ID\)$/ },
      'and the fix',
    );
    t.equal(readFileSync(path, 'utf8'), content, 'file left as it was');
  }
});

t.test('a node key path that is a FIFO or a huge file is refused at once, without reading it', async (t) => {
  const dir = t.testdir();
  const fifo = join(dir, 'fifo.json');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo (coreutils) made a FIFO');
  // without a non-blocking open this would hang the process until a writer appeared
  t.throws(() => NodeKey.load(fifo), { code: 'ERR_INVALID_KEY_FILE', message: /not a regular file/ });
  const huge = join(dir, 'huge.json');
  writeFileSync(huge, '');
  truncateSync(huge, 1 << 30); // a sparse 1 GiB file: its size is refused before any of it is read
  t.throws(() => NodeKey.load(huge), { code: 'ERR_INVALID_KEY_FILE', message: /larger than 4096 bytes \(1073741824\)/ });
});
