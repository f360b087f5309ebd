/**
 * The SecretConnection handshake (docs/PROTOCOL.md §2.1, §2.2, §2.4), after
 * CometBFT's `p2p/conn/secret_connection.go` (station-to-station):
 *
 * - X25519 ephemeral key exchange (node:crypto), rejecting low-order points
 *   (libsodium's list), a reflected key and an all-zero shared secret;
 * - HKDF-SHA256 over the shared secret **and the transcript** (both sorted
 *   ephemeral keys) for the two direction keys and the challenge (the fix
 *   the 2021 audit asked of CometBFT, which derives them from the shared
 *   secret alone);
 * - each side signs the challenge with its Ed25519 node key and sends
 *   `pubKey ‖ signature` as the first encrypted frame.
 *
 * @module
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { Duplex } from 'node:stream';
import { AuthError, HandshakeError, InvalidArgumentError, SwitchboardError } from '../errors.js';
import { verifySignature, type NodeKey } from '../node-key.js';
import {
  checkCounter,
  checkMaxPayload,
  DEFAULT_MAX_FRAME_PAYLOAD,
  FRAME_HEADER_SIZE,
  FRAME_TAG_SIZE,
  FrameOpener,
  FrameSealer,
} from './frame.js';

/** Size of an X25519 public or secret key, bytes. */
export const EPHEMERAL_KEY_SIZE = 32;
/** Size of the auth message: 32-byte Ed25519 public key ‖ 64-byte signature. */
export const AUTH_MESSAGE_SIZE = 96;
/** Default bound on the whole handshake, milliseconds. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 20_000;
/**
 * HKDF `info` prefix (ASCII, 32 bytes). The full info is this label followed
 * by the lower and then the higher of the two ephemeral public keys.
 */
export const HKDF_LABEL = 'SWITCHBOARD_SECRET_CONNECTION_V1';

/** DER prefix of an X25519 SubjectPublicKeyInfo (RFC 8410); the raw key follows. */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** DER prefix of an X25519 PKCS#8 PrivateKeyInfo (RFC 8410); the raw key follows. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
// Stryker disable next-line StringLiteral: the label is ASCII, so the default encoding (utf8) gives the same bytes
const HKDF_LABEL_BYTES = Buffer.from(HKDF_LABEL, 'ascii');
const EMPTY = Buffer.alloc(0);

/**
 * X25519 public keys of small order, which would make the shared secret
 * independent of our secret key. This is libsodium's blocklist
 * (`has_small_order` in
 * `src/libsodium/crypto_scalarmult/curve25519/ref10/x25519_ref10.c`; see
 * also https://eprint.iacr.org/2017/806.pdf), which Tendermint copied as
 * `blacklist` / `hasSmallOrder` in `p2p/conn/secret_connection.go`
 * (amino-era releases; current CometBFT relies on Go's `curve25519.X25519`
 * refusing an all-zero output instead). As in libsodium, the top bit of the last byte is
 * ignored when comparing, since X25519 ignores it (RFC 7748 §5).
 */
export const LOW_ORDER_POINTS: readonly Uint8Array[] = Object.freeze(
  [
    // 0 (order 4)
    '0000000000000000000000000000000000000000000000000000000000000000',
    // 1 (order 1)
    '0100000000000000000000000000000000000000000000000000000000000000',
    // 325606250916557431795983626356110631294008115727848805560023387167927233504 (order 8)
    'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
    // 39382357235489614581723060781553021112529911719440698176882885853963445705823 (order 8)
    '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
    // p - 1 (order 2)
    'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    // p (= 0, order 4)
    'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    // p + 1 (= 1, order 1)
    'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  ].map((h) => new Uint8Array(Buffer.from(h, 'hex'))),
);

// ---------------------------------------------------------------------------
// Key exchange helpers

/**
 * True when `pubKey` (32 bytes) is one of {@link LOW_ORDER_POINTS}, ignoring
 * the top bit of byte 31. Runs in time independent of which point matches.
 * Any length other than 32 counts as low order (unusable).
 */
export function isLowOrderPoint(pubKey: Uint8Array): boolean {
  if (pubKey.length !== EPHEMERAL_KEY_SIZE) return true;
  let found = 0;
  const key = Buffer.from(pubKey.buffer, pubKey.byteOffset, EPHEMERAL_KEY_SIZE); // views: readUInt8 is bounds-checked
  for (const p of LOW_ORDER_POINTS) {
    const q = Buffer.from(p.buffer, p.byteOffset, p.length);
    let diff = 0;
    for (let i = 0; i < 31; i++) diff |= key.readUInt8(i) ^ q.readUInt8(i);
    diff |= (key.readUInt8(31) & 0x7f) ^ q.readUInt8(31);
    found |= diff === 0 ? 1 : 0;
  }
  return found === 1;
}

/** An X25519 key pair: raw 32-byte public key and secret scalar (RFC 7748). */
export interface EphemeralKeyPair {
  /** 32-byte X25519 public key (u-coordinate, little-endian). */
  readonly publicKey: Buffer;
  /** 32-byte X25519 secret scalar, as given or generated (clamped by X25519 itself). */
  readonly secretKey: Buffer;
  /** The node:crypto key object of `secretKey`. */
  readonly keyObject: KeyObject;
}

/**
 * A fresh X25519 key pair from node:crypto (measured ~40x faster than
 * tweetnacl's `box.keyPair`), or the pair of a given 32-byte secret
 * (deterministic; for test vectors only).
 * @throws InvalidArgumentError if `secretKey` is given and not 32 bytes.
 */
export function ephemeralKeyPair(secretKey?: Uint8Array): EphemeralKeyPair {
  let keyObject: KeyObject;
  if (secretKey === undefined) {
    keyObject = generateKeyPairSync('x25519').privateKey;
  } else {
    if (secretKey.length !== EPHEMERAL_KEY_SIZE) {
      throw new InvalidArgumentError(`X25519 secret key must be 32 bytes, got ${secretKey.length}`);
    }
    keyObject = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
  }
  const secret = keyObject.export({ format: 'der', type: 'pkcs8' }).subarray(X25519_PKCS8_PREFIX.length);
  const pub = createPublicKey(keyObject).export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_PREFIX.length);
  return { publicKey: Buffer.from(pub), secretKey: Buffer.from(secret), keyObject };
}

/**
 * The X25519 shared secret of our key pair and the remote public key
 * (32 bytes).
 * @throws AuthError (`ERR_AUTH`) when `remotePub` is a low-order point
 *   ({@link isLowOrderPoint}) or the shared secret is all zero.
 */
export function x25519SharedSecret(local: EphemeralKeyPair, remotePub: Uint8Array): Buffer {
  if (isLowOrderPoint(remotePub)) throw new AuthError('remote ephemeral key is a low-order X25519 point');
  let shared: Buffer;
  try {
    const pub = createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, remotePub]), format: 'der', type: 'spki' });
    shared = diffieHellman({ privateKey: local.keyObject, publicKey: pub });
  } catch (err) {
    // OpenSSL refuses an all-zero X25519 output.
    throw new AuthError('X25519 key agreement failed (all-zero shared secret)', { cause: err });
  }
  // Stryker disable next-line ConditionalExpression,LogicalOperator,ArrowFunction,StringLiteral: diffieHellman always returns 32 bytes and refuses an all-zero X25519 output (the catch above), so only the variants that always throw are observable
  if (shared.length !== 32 || shared.every((b) => b === 0)) throw new AuthError('X25519 shared secret is all zero');
  return shared;
}

/** Keys derived from one handshake, from the point of view of one side. */
export interface SessionKeys {
  /** 32-byte ChaCha20-Poly1305 key for frames this side sends. */
  readonly sendKey: Buffer;
  /** 32-byte ChaCha20-Poly1305 key for frames this side receives. */
  readonly recvKey: Buffer;
  /** 32-byte challenge both sides sign with their node keys. */
  readonly challenge: Buffer;
  /** True when this side's ephemeral public key is the (bytewise) lower one. */
  readonly localIsLo: boolean;
  /** The full 96-byte HKDF output: `okm[0:32] ‖ okm[32:64] ‖ challenge`. */
  readonly okm: Buffer;
}

/**
 * The HKDF `info` for a pair of ephemeral keys: {@link HKDF_LABEL} ‖ lo ‖ hi
 * (96 bytes), lo/hi being the two 32-byte keys sorted bytewise.
 */
export function hkdfInfo(ephA: Uint8Array, ephB: Uint8Array): Buffer {
  // Stryker disable next-line EqualityOperator: for equal keys both orders give the same info
  const [lo, hi] = Buffer.compare(ephA, ephB) < 0 ? [ephA, ephB] : [ephB, ephA];
  return Buffer.concat([HKDF_LABEL_BYTES, lo, hi]);
}

/**
 * Derive the direction keys and the challenge (transcript-bound; docs/PROTOCOL.md §2.3):
 * `okm = HKDF-SHA256(ikm = sharedSecret, salt = empty, info = hkdfInfo(lo, hi), L = 96)`.
 * The side whose ephemeral key is lo receives with `okm[0:32]` and sends
 * with `okm[32:64]`; the other side the reverse (as CometBFT's
 * `deriveSecrets`); `challenge = okm[64:96]`.
 */
export function deriveSessionKeys(sharedSecret: Uint8Array, localEph: Uint8Array, remoteEph: Uint8Array): SessionKeys {
  const okm = Buffer.from(hkdfSync('sha256', sharedSecret, EMPTY, hkdfInfo(localEph, remoteEph), 96));
  // Stryker disable next-line EqualityOperator: equal ephemeral keys never get here: handshake() refuses them as a reflection first
  const localIsLo = Buffer.compare(localEph, remoteEph) < 0;
  const k0 = okm.subarray(0, 32);
  const k1 = okm.subarray(32, 64);
  return {
    recvKey: localIsLo ? k0 : k1,
    sendKey: localIsLo ? k1 : k0,
    challenge: okm.subarray(64, 96),
    localIsLo,
    okm,
  };
}

/** The 96-byte auth message: our Ed25519 public key ‖ our signature of `challenge`. */
export function encodeAuthMessage(nodeKey: NodeKey, challenge: Uint8Array): Buffer {
  return Buffer.concat([nodeKey.pubKey, nodeKey.sign(challenge)]);
}

/**
 * Split and verify an auth message against `challenge`.
 * @returns the remote's 32-byte Ed25519 public key.
 * @throws AuthError (`ERR_AUTH`) if the message is not 96 bytes or the
 *   signature does not verify.
 */
export function verifyAuthMessage(msg: Uint8Array, challenge: Uint8Array): Uint8Array {
  if (msg.length !== AUTH_MESSAGE_SIZE) throw new AuthError(`auth message must be ${AUTH_MESSAGE_SIZE} bytes, got ${msg.length}`);
  const pubKey = new Uint8Array(msg.subarray(0, 32));
  const sig = msg.subarray(32, 96);
  if (!verifySignature(pubKey, challenge, sig)) throw new AuthError('remote signature of the challenge does not verify');
  return pubKey;
}

// ---------------------------------------------------------------------------
// Handshake reader

/** Collects transport bytes during the handshake and hands out exact reads. */
class HandshakeReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private pausedByUs = false;
  private readonly onData = (chunk: Buffer | string): void => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.chunks.push(b);
    this.length += b.length;
    // A peer may stream data frames right after its auth frame; hold at
    // most `limit` bytes until the connection is handed over.
    if (this.length > this.limit && !this.pausedByUs) {
      this.pausedByUs = true;
      this.conn.pause();
    }
    this.serve();
  };
  private readonly onEnd = (): void => this.fail(new HandshakeError('connection closed by remote during the handshake'));
  private readonly onClose = (): void => this.fail(new HandshakeError('connection closed during the handshake'));
  private readonly onError = (err: Error): void =>
    this.fail(new HandshakeError(`connection error during the handshake: ${err.message}`, { cause: err }));

  constructor(
    private readonly conn: Duplex,
    private readonly limit: number,
  ) {
    conn.on('data', this.onData);
    conn.on('end', this.onEnd);
    conn.on('close', this.onClose);
    conn.on('error', this.onError);
    // Stryker disable next-line ConditionalExpression: resume() of a stream already flowing (the 'data' listener above made it so unless it was paused) changes nothing
    if (conn.isPaused()) conn.resume();
  }

  /** Resolve with exactly `n` bytes (n ≤ limit) once available. */
  read(n: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    // Stryker disable next-line ConditionalExpression,StringLiteral: handshake() awaits each read before the next, so there is never a waiter here (a guard against a programming error)
    if (this.waiter) return Promise.reject(new Error('concurrent handshake read'));
    return new Promise<Buffer>((resolve, reject) => {
      this.waiter = { n, resolve, reject };
      this.serve();
    });
  }

  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  /** The bytes received so far, in one buffer (the chunk itself when there is one). */
  private joined(): Buffer {
    const [first] = this.chunks;
    return this.chunks.length === 1 && first !== undefined ? first : Buffer.concat(this.chunks, this.length);
  }

  private serve(): void {
    const w = this.waiter;
    if (!w || this.length < w.n) return;
    this.waiter = undefined;
    const all = this.joined();
    const out = all.subarray(0, w.n);
    const rest = all.subarray(w.n);
    // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty chunk kept in the list adds no bytes: joined() and length are the same
    this.chunks = rest.length > 0 ? [rest] : [];
    this.length = rest.length;
    if (this.pausedByUs && this.length <= this.limit) {
      this.pausedByUs = false;
      this.conn.resume();
    }
    w.resolve(out);
  }

  /**
   * Stop listening; returns the bytes received beyond the handshake and
   * whether the conn was left paused by us.
   * @throws the failure if one was recorded.
   */
  detach(): { leftover: Buffer; paused: boolean } {
    this.conn.off('data', this.onData);
    this.conn.off('end', this.onEnd);
    this.conn.off('close', this.onClose);
    this.conn.off('error', this.onError);
    if (this.failure) throw this.failure;
    const leftover = this.joined();
    this.chunks = [];
    this.length = 0;
    return { leftover, paused: this.pausedByUs };
  }
}

/** Options of {@link SecretConnection.make}. */
export interface SecretConnectionOptions {
  /**
   * Bound on the whole handshake (every read and write of it), milliseconds.
   * Default 20 000. On expiry `make` rejects with HandshakeError
   * `ERR_HANDSHAKE_TIMEOUT` and the transport is destroyed.
   */
  handshakeTimeoutMs?: number;
  /**
   * Largest frame payload sent and accepted, bytes. Default (and protocol
   * value) 65536; both peers must use the same bound, lower values are for
   * tests. Range 1 .. 16 MiB.
   */
  maxFramePayload?: number;
}

/**
 * Test-only knobs of {@link SecretConnection.make}. Not part of the public
 * API: they break forward secrecy (`ephemeralSecretKey`) or exist to show
 * a failure path (`initialNonceCounter`).
 * @internal
 */
export interface SecretConnectionTestOptions extends SecretConnectionOptions {
  /** Use this 32-byte X25519 secret instead of a fresh one (test vectors). */
  ephemeralSecretKey?: Uint8Array;
  /** Start both nonce counters here instead of 0 (nonce exhaustion test). */
  initialNonceCounter?: bigint;
}

/** Internal constructor token so `new SecretConnection` is only reachable from `make`. */

/** What a completed handshake hands to the encrypted stream. */
export interface HandshakeResult {
  /** The remote's authenticated 32-byte Ed25519 public key. */
  remotePubKey: Uint8Array;
  /** Seals the frames we send. */
  sealer: FrameSealer;
  /** Opens the frames we receive. */
  opener: FrameOpener;
  /** Bytes received beyond the handshake (the start of the first data frames). */
  leftover: Buffer;
  /** True when the handshake left `conn` paused (it holds at most a frame and 4 KiB). */
  paused: boolean;
}

/**
 * Run the handshake over `conn` as `localKey`. Rejects, after destroying
 * `conn`, as `SecretConnection.make` documents.
 */
export async function handshake(conn: Duplex, localKey: NodeKey, opts: SecretConnectionOptions = {}): Promise<HandshakeResult> {
  const o = opts as SecretConnectionTestOptions;
  let reader: HandshakeReader | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeoutMs = o.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidArgumentError(`handshakeTimeoutMs must be a positive number, got ${timeoutMs}`);
    }
    const maxFramePayload = checkMaxPayload(o.maxFramePayload ?? DEFAULT_MAX_FRAME_PAYLOAD);
    const initialCounter = checkCounter(o.initialNonceCounter ?? 0n);
    if (conn.destroyed || conn.readableEnded) throw new HandshakeError('connection already closed');
    const eph = ephemeralKeyPair(o.ephemeralSecretKey);

    const r = (reader = new HandshakeReader(conn, maxFramePayload + 4096));
    timer = setTimeout(() => r.fail(new HandshakeError(`handshake not completed within ${timeoutMs} ms`, { timeout: true })), timeoutMs);

    // 1. Exchange ephemeral keys.
    conn.write(eph.publicKey);
    const remEph = await r.read(EPHEMERAL_KEY_SIZE);

    // 2. Reject bad keys; shared secret.
    if (timingSafeEqual(remEph, eph.publicKey)) throw new AuthError('remote ephemeral key equals ours (reflection)');
    const shared = x25519SharedSecret(eph, remEph);

    // 3. Transcript-bound keys.
    const keys = deriveSessionKeys(shared, eph.publicKey, remEph);
    const sealer = new FrameSealer(keys.sendKey, maxFramePayload, initialCounter);
    const opener = new FrameOpener(keys.recvKey, maxFramePayload, initialCounter);

    // 4. Exchange auth messages in the first encrypted frame each way.
    conn.write(sealer.seal(encodeAuthMessage(localKey, keys.challenge)));
    const header = await r.read(FRAME_HEADER_SIZE);
    const len = header.readUInt32BE(0);
    if (len !== AUTH_MESSAGE_SIZE) {
      throw new HandshakeError(`auth frame length ${len}, want ${AUTH_MESSAGE_SIZE}`);
    }
    const body = await r.read(AUTH_MESSAGE_SIZE + FRAME_TAG_SIZE);
    let authMsg: Buffer;
    try {
      authMsg = opener.open(header, body);
    } catch (err) {
      throw new AuthError('auth frame failed authentication (wrong key exchange or tampering)', { cause: err });
    }
    const remotePubKey = verifyAuthMessage(authMsg, keys.challenge);

    const { leftover, paused } = r.detach();
    reader = undefined;
    clearTimeout(timer);
    return { remotePubKey, sealer, opener, leftover, paused };
  } catch (err) {
    clearTimeout(timer);
    if (reader) {
      try {
        reader.detach();
      } catch {
        // failure already carried by err
      }
    }
    conn.on('error', () => {}); // late transport errors must not crash the process
    conn.destroy();
    if (err instanceof SwitchboardError) throw err;
    throw new HandshakeError(`handshake failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}
