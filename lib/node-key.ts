/**
 * Node identity: an Ed25519 key pair and the node ID derived from it.
 *
 * As CometBFT's `p2p.NodeKey`: the ID is the lower-case hex of the first
 * 20 bytes of SHA-256 of the 32-byte Ed25519 public key (40 hex characters).
 *
 * @module
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readBoundedFile } from './bounded-file.js';
import { InvalidArgumentError } from './errors.js';

/** Length of a node ID in hex characters (20 bytes). */
export const NODE_ID_HEX_LENGTH = 40;
/** Largest key file accepted by {@link NodeKey.load} (bytes); anything bigger is not a key file. */
export const MAX_KEY_FILE_BYTES = 4096;

const ID_RE = /^[0-9a-f]{40}$/;

/**
 * The node ID of an Ed25519 public key: hex of the first 20 bytes of its
 * SHA-256 (as CometBFT's `PubKeyToID`).
 * @param pubKey 32-byte Ed25519 public key.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) if `pubKey` is not 32 bytes.
 */
export function nodeIdFromPubKey(pubKey: Uint8Array): string {
  if (pubKey.length !== 32) throw new InvalidArgumentError(`Ed25519 public key must be 32 bytes, got ${pubKey.length}`);
  return createHash('sha256').update(pubKey).digest().subarray(0, 20).toString('hex');
}

/** True when `id` is a well-formed node ID: 40 lower-case hex characters. */
export function isValidNodeId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id);
}

/** Shape of the JSON key file (as CometBFT's `node_key.json`, with our own type tag). */
interface KeyFile {
  priv_key: { type: 'ed25519'; value: string };
}

/** DER prefixes that wrap a raw 32-byte Ed25519 seed / public key (RFC 8410). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * An Ed25519 node key (node:crypto: signing and verifying are several times
 * faster than tweetnacl's, which matters because every handshake does one of
 * each). `privKey` is the 64-byte secret key (32-byte seed followed by the
 * 32-byte public key, the layout of CometBFT's and NaCl's), `pubKey` 32 bytes.
 */
export class NodeKey {
  /** 64-byte Ed25519 secret key (seed ‖ public key). */
  readonly privKey: Uint8Array;
  /** 32-byte Ed25519 public key. */
  readonly pubKey: Uint8Array;
  /** Node ID: 40 lower-case hex characters, see {@link nodeIdFromPubKey}. */
  readonly id: string;

  private readonly key: KeyObject;

  private constructor(seed: Uint8Array) {
    this.key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.key).export({ format: 'der', type: 'spki' });
    this.pubKey = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
    this.privKey = new Uint8Array(Buffer.concat([seed, this.pubKey]));
    this.id = nodeIdFromPubKey(this.pubKey);
  }

  /** A fresh random key (32 bytes from node:crypto's CSPRNG as the seed). */
  static generate(): NodeKey {
    return NodeKey.fromSeed(randomBytes(32));
  }

  /**
   * The key for a 32-byte seed (deterministic; for tests and vectors).
   * @throws InvalidArgumentError if `seed` is not 32 bytes.
   */
  static fromSeed(seed: Uint8Array): NodeKey {
    if (seed.length !== 32) throw new InvalidArgumentError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
    return new NodeKey(Uint8Array.from(seed));
  }

  /**
   * Sign `msg` (detached Ed25519 signature, 64 bytes).
   */
  sign(msg: Uint8Array): Uint8Array {
    return new Uint8Array(cryptoSign(null, msg, this.key));
  }

  /**
   * Load the key at `path`. The file is JSON
   * `{"priv_key":{"type":"ed25519","value":"<base64 of 64 bytes>"}}`.
   * @throws InvalidArgumentError (`ERR_INVALID_KEY_FILE`) when the file is
   *   not a regular file (a FIFO is refused, not waited on), larger than `MAX_KEY_FILE_BYTES` (4096, checked before reading), not JSON, of another shape, the
   *   key is not 64 bytes, or its public half does not match its seed; the
   *   message names the file, the problem and the fix. The file is never replaced.
   * @throws the fs error (ENOENT, EACCES) when it cannot be read.
   */
  static load(path: string): NodeKey {
    const read = readBoundedFile(path, MAX_KEY_FILE_BYTES);
    if ('problem' in read) throw keyFileError(path, read.problem);
    const raw = read.bytes;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw keyFileError(path, 'not valid JSON', err);
    }
    const pk = (parsed as Partial<KeyFile> | null)?.priv_key;
    if (!pk || typeof pk !== 'object' || pk.type !== 'ed25519' || typeof pk.value !== 'string') {
      throw keyFileError(path, 'expected {"priv_key":{"type":"ed25519","value":"<base64>"}}');
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(pk.value)) throw keyFileError(path, 'value is not base64');
    const bytes = Buffer.from(pk.value, 'base64');
    if (bytes.length !== 64) throw keyFileError(path, `key must be 64 bytes, got ${bytes.length}`);
    const key = NodeKey.fromSeed(bytes.subarray(0, 32));
    if (!Buffer.from(key.pubKey).equals(bytes.subarray(32))) {
      throw keyFileError(path, 'public key half does not match the seed');
    }
    return key;
  }

  /**
   * Write this key to `path` as JSON (see {@link NodeKey.load}), creating
   * parent directories, with file mode 0600.
   */
  save(path: string): void {
    mkdirSync(dirname(path), { recursive: true });
    const file: KeyFile = { priv_key: { type: 'ed25519', value: Buffer.from(this.privKey).toString('base64') } };
    writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  }

  /**
   * Load the key at `path`, or generate and save one (mode 0600) when the file
   * does not exist (as CometBFT's `LoadOrGenNodeKey`). A file that exists but
   * is malformed is an error, never silently replaced.
   * @throws InvalidArgumentError (`ERR_INVALID_KEY_FILE`) as {@link NodeKey.load}.
   */
  static loadOrGen(path: string): NodeKey {
    try {
      return NodeKey.load(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const key = NodeKey.generate();
    key.save(path);
    return key;
  }
}

/**
 * Verify a detached Ed25519 signature.
 * @param pubKey 32 bytes; @param sig 64 bytes. Returns false for wrong lengths.
 */
export function verifySignature(pubKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (pubKey.length !== 32 || sig.length !== 64) return false;
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, pubKey]), format: 'der', type: 'spki' });
    return cryptoVerify(null, msg, key, sig);
  } catch {
    return false; // not a valid point
  }
}

function keyFileError(path: string, why: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `invalid node key file ${path}: ${why} (restore it from a backup, or move it away to create a new key: a new node ID)`,
    'ERR_INVALID_KEY_FILE',
    { cause },
  );
}
