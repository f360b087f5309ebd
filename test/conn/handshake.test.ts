/**
 * lib/conn/handshake.ts in-process: the key-exchange helpers against fixed
 * vectors, and handshake() over an in-memory Duplex driven by a scripted
 * peer, for every error path (class, code and message) and the hand-over of
 * bytes received beyond the handshake.
 */
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { once } from 'node:events';
import { Duplex, type DuplexOptions } from 'node:stream';
import {
  AUTH_MESSAGE_SIZE,
  HKDF_LABEL,
  LOW_ORDER_POINTS,
  deriveSessionKeys,
  encodeAuthMessage,
  ephemeralKeyPair,
  handshake,
  hkdfInfo,
  isLowOrderPoint,
  verifyAuthMessage,
  x25519SharedSecret,
  type EphemeralKeyPair,
  type HandshakeResult,
  type SecretConnectionTestOptions,
} from '../../lib/conn/handshake.js';
import { FRAME_TAG_SIZE, FrameOpener, FrameSealer } from '../../lib/conn/frame.js';
import { AuthError, HandshakeError, InvalidArgumentError } from '../../lib/errors.js';
import { NodeKey } from '../../lib/node-key.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

// RFC 7748 §6.1 (checked against node:crypto when this test was written).
const ALICE_SECRET = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUB = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_SECRET = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const BOB_PUB = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const ALICE_BOB_SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
/** 32 bytes of 0x06: its shared secret with Bob's key has a zero byte (byte 20), without being all zero. */
const ZERO_BYTE_SECRET = Buffer.alloc(32, 6);
const ZERO_BYTE_SHARED = 'e47111f7b60609e3423ce354f815793f6fc30002363d80496570acf49ff83803';

/** Auth frame on the wire: 4-byte length ‖ 96-byte auth message ‖ 16-byte tag. */
const AUTH_FRAME_SIZE = 4 + AUTH_MESSAGE_SIZE + FRAME_TAG_SIZE;

// ---------------------------------------------------------------------------
// Key-exchange helpers

t.test('ephemeralKeyPair: a given secret gives the RFC 7748 public key; a wrong length is refused', async (t) => {
  const a = ephemeralKeyPair(ALICE_SECRET);
  t.equal(a.publicKey.toString('hex'), ALICE_PUB);
  t.equal(a.secretKey.toString('hex'), ALICE_SECRET.toString('hex'));
  t.equal(ephemeralKeyPair(BOB_SECRET).publicKey.toString('hex'), BOB_PUB);
  const fresh = ephemeralKeyPair();
  t.equal(fresh.publicKey.length, 32);
  t.equal(fresh.secretKey.length, 32);
  t.equal(ephemeralKeyPair(fresh.secretKey).publicKey.toString('hex'), fresh.publicKey.toString('hex'), 'the pair of its own secret');
  for (const n of [0, 31, 33]) {
    t.throws(
      () => ephemeralKeyPair(new Uint8Array(n)),
      new InvalidArgumentError(`X25519 secret key must be 32 bytes, got ${n}`),
      `${n}-byte secret`,
    );
  }
});

t.test('x25519SharedSecret: RFC 7748 vector, zero bytes allowed, failures are AuthErrors', async (t) => {
  const a = ephemeralKeyPair(ALICE_SECRET);
  const b = ephemeralKeyPair(BOB_SECRET);
  t.equal(x25519SharedSecret(a, b.publicKey).toString('hex'), ALICE_BOB_SHARED);
  t.equal(x25519SharedSecret(b, a.publicKey).toString('hex'), ALICE_BOB_SHARED);
  t.equal(x25519SharedSecret(ephemeralKeyPair(ZERO_BYTE_SECRET), b.publicKey).toString('hex'), ZERO_BYTE_SHARED, 'a zero byte is fine');
  for (const [i, p] of LOW_ORDER_POINTS.entries()) {
    t.throws(() => x25519SharedSecret(a, p), new AuthError('remote ephemeral key is a low-order X25519 point'), `low-order point ${i}`);
  }
  // node:crypto refusing the agreement (here: a key object that is not X25519) is an AuthError with the cause
  const notX25519: EphemeralKeyPair = { ...a, keyObject: generateKeyPairSync('ed25519').privateKey };
  let caught: unknown;
  try {
    x25519SharedSecret(notX25519, b.publicKey);
  } catch (err) {
    caught = err;
  }
  t.type(caught, AuthError);
  t.equal((caught as AuthError).code, 'ERR_AUTH');
  t.equal((caught as AuthError).message, 'X25519 key agreement failed (all-zero shared secret)');
  t.type((caught as AuthError).cause, Error, 'the node:crypto error is the cause');
});

t.test('isLowOrderPoint: the 7 points, the top bit of byte 31 ignored, any other length, one byte off is not', async (t) => {
  for (const [i, p] of LOW_ORDER_POINTS.entries()) {
    t.ok(isLowOrderPoint(p), `point ${i}`);
    const top = Buffer.from(p);
    top[31]! |= 0x80;
    t.ok(isLowOrderPoint(top), `point ${i} with the top bit set`);
    // a view into a larger buffer at an offset
    const big = Buffer.alloc(40, 0xaa);
    big.set(p, 5);
    t.ok(isLowOrderPoint(big.subarray(5, 37)), `point ${i} as a view at offset 5`);
    t.ok(isLowOrderPoint(Buffer.concat([p, Buffer.alloc(1)])), `point ${i} + 1 byte (33 bytes) is unusable`);
    t.ok(isLowOrderPoint(p.subarray(0, 31)), `point ${i} - 1 byte (31 bytes) is unusable`);
  }
  t.ok(isLowOrderPoint(new Uint8Array(0)), 'empty');
  const real = ephemeralKeyPair(ALICE_SECRET).publicKey;
  t.notOk(isLowOrderPoint(real), 'a real key');
  t.ok(isLowOrderPoint(Buffer.concat([real, Buffer.alloc(1)])), 'a real key + 1 byte (33 bytes) is unusable');
  t.ok(isLowOrderPoint(real.subarray(0, 31)), 'a real key - 1 byte (31 bytes) is unusable');
  const offByOne: number[] = [];
  for (const [i, p] of LOW_ORDER_POINTS.entries()) {
    for (let pos = 0; pos < 32; pos++) {
      const k = Buffer.from(p);
      k[pos]! ^= 0x01;
      if (isLowOrderPoint(k)) offByOne.push(i * 100 + pos);
    }
  }
  // flipping bit 0 of byte 0 turns 0 into 1, p - 1 into p and p into p - 1, all on the list
  t.same(offByOne, [0, 100, 400, 500], 'one byte off a point is not low order, unless it is another point');
  for (let pos = 0; pos < 32; pos++) {
    const k = Buffer.from(LOW_ORDER_POINTS[2]!);
    k[pos]! ^= 0x10;
    t.notOk(isLowOrderPoint(k), `point 2 with byte ${pos} changed`);
  }
});

t.test('hkdfInfo: label ‖ lo ‖ hi whichever order the keys come in', async (t) => {
  const a = ephemeralKeyPair(ALICE_SECRET).publicKey; // 0x85... > 0x00...
  const lo = Buffer.alloc(32, 0x01);
  const want = Buffer.concat([Buffer.from(HKDF_LABEL, 'ascii'), lo, a]).toString('hex');
  t.equal(HKDF_LABEL.length, 32);
  t.equal(hkdfInfo(lo, a).toString('hex'), want);
  t.equal(hkdfInfo(a, lo).toString('hex'), want, 'arguments swapped: the same info');
  t.equal(hkdfInfo(a, a).toString('hex'), Buffer.concat([Buffer.from(HKDF_LABEL, 'ascii'), a, a]).toString('hex'));
});

t.test('deriveSessionKeys: okm layout and the direction keys of each side', async (t) => {
  const shared = hex(ALICE_BOB_SHARED);
  const lo = Buffer.alloc(32, 0x01);
  const hi = Buffer.alloc(32, 0xfe);
  const l = deriveSessionKeys(shared, lo, hi);
  const h = deriveSessionKeys(shared, hi, lo);
  t.equal(l.okm.length, 96);
  t.ok(l.okm.equals(h.okm), 'one okm for both sides');
  t.equal(l.localIsLo, true);
  t.equal(h.localIsLo, false);
  t.ok(l.recvKey.equals(l.okm.subarray(0, 32)), 'lo receives with okm[0:32]');
  t.ok(l.sendKey.equals(l.okm.subarray(32, 64)), 'lo sends with okm[32:64]');
  t.ok(h.recvKey.equals(h.okm.subarray(32, 64)), 'hi receives with okm[32:64]');
  t.ok(h.sendKey.equals(h.okm.subarray(0, 32)), 'hi sends with okm[0:32]');
  t.ok(l.sendKey.equals(h.recvKey) && h.sendKey.equals(l.recvKey), "one side's send key is the other's receive key");
  t.ok(l.challenge.equals(l.okm.subarray(64, 96)) && h.challenge.equals(l.challenge), 'challenge = okm[64:96] on both sides');
  t.notOk(l.sendKey.equals(l.recvKey), 'the two directions differ');
  const other = deriveSessionKeys(shared, lo, Buffer.alloc(32, 0xfd));
  t.notOk(other.okm.equals(l.okm), 'the transcript is part of the derivation');
});

t.test('verifyAuthMessage: length and signature, each with its message', async (t) => {
  const key = NodeKey.fromSeed(Buffer.alloc(32, 3));
  const challenge = Buffer.alloc(32, 7);
  const msg = encodeAuthMessage(key, challenge);
  t.equal(msg.length, AUTH_MESSAGE_SIZE);
  t.ok(msg.subarray(0, 32).equals(Buffer.from(key.pubKey)), 'pubKey first');
  t.same(Buffer.from(verifyAuthMessage(msg, challenge)), Buffer.from(key.pubKey));
  t.throws(() => verifyAuthMessage(msg.subarray(0, 95), challenge), new AuthError('auth message must be 96 bytes, got 95'));
  t.throws(
    () => verifyAuthMessage(Buffer.concat([msg, Buffer.alloc(1)]), challenge),
    new AuthError('auth message must be 96 bytes, got 97'),
  );
  t.throws(() => verifyAuthMessage(msg, Buffer.alloc(32, 8)), new AuthError('remote signature of the challenge does not verify'));
});

// ---------------------------------------------------------------------------
// handshake() over an in-memory transport

/** An in-memory transport: what handshake() writes is recorded; the test pushes what the peer sends. */
class Wire extends Duplex {
  private out = Buffer.alloc(0);
  pauses = 0;
  constructor(opts?: DuplexOptions) {
    super(opts);
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.out = Buffer.concat([this.out, chunk]);
    this.emit('wrote');
    cb();
  }
  override pause(): this {
    this.pauses++;
    return super.pause();
  }
  /** The next `n` bytes handshake() wrote. */
  async wrote(n: number): Promise<Buffer> {
    while (this.out.length < n) await once(this, 'wrote');
    const b = this.out.subarray(0, n);
    this.out = this.out.subarray(n);
    return b;
  }
}

const LOCAL = NodeKey.fromSeed(Buffer.alloc(32, 1));
const PEER = NodeKey.fromSeed(Buffer.alloc(32, 2));

/** The peer's side of the key exchange, once handshake() has written its ephemeral key. */
async function peerKeys(w: Wire): Promise<{ eph: EphemeralKeyPair; sealer: FrameSealer; opener: FrameOpener; challenge: Buffer }> {
  const eph = ephemeralKeyPair();
  const local = await w.wrote(32);
  const keys = deriveSessionKeys(x25519SharedSecret(eph, local), eph.publicKey, local);
  return { eph, sealer: new FrameSealer(keys.sendKey), opener: new FrameOpener(keys.recvKey), challenge: keys.challenge };
}

/** handshake() with `opts` and a short timeout, recording the rejection. */
function run(w: Wire, opts: SecretConnectionTestOptions = {}, key: NodeKey = LOCAL): Promise<HandshakeResult | Error> {
  return handshake(w, key, { handshakeTimeoutMs: 2000, ...opts }).catch((err: Error) => err);
}

async function rejects(
  t: TT,
  p: Promise<HandshakeResult | Error>,
  type: new (...args: never[]) => Error,
  code: string,
  message: string,
): Promise<Error> {
  const err = await p;
  t.type(err, type, message);
  t.equal((err as HandshakeError).code, code, message);
  t.equal((err as Error).message, message);
  return err as Error;
}

type TT = Parameters<Parameters<typeof t.test>[0]>[0];

/** A full handshake as PEER; `extra` is sent in the same chunk as the peer's auth frame. */
async function fullHandshake(
  w: Wire,
  extra: Buffer[] = [],
  opts: SecretConnectionTestOptions = {},
): Promise<{ r: HandshakeResult; sealer: FrameSealer }> {
  const p = run(w, opts);
  const { eph, sealer, opener, challenge } = await peerKeys(w);
  const auth = sealer.seal(encodeAuthMessage(PEER, challenge));
  w.push(Buffer.concat([eph.publicKey, auth, ...extra]));
  const ours = await w.wrote(AUTH_FRAME_SIZE);
  verifyAuthMessage(opener.open(ours.subarray(0, 4), ours.subarray(4)), challenge);
  const r = await p;
  if (r instanceof Error) throw r;
  return { r, sealer };
}

t.test('handshake: a complete exchange, bytes split across chunks, a conn paused beforehand', async (t) => {
  for (const split of [false, true]) {
    const w = new Wire();
    if (split) w.pause(); // handshake() must resume a paused transport
    const p = run(w);
    const { eph, sealer, opener, challenge } = await peerKeys(w);
    const bytes = Buffer.concat([eph.publicKey, sealer.seal(encodeAuthMessage(PEER, challenge))]);
    if (split) for (let i = 0; i < bytes.length; i++) w.push(bytes.subarray(i, i + 1));
    else w.push(bytes);
    const ours = await w.wrote(AUTH_FRAME_SIZE);
    t.same(Buffer.from(verifyAuthMessage(opener.open(ours.subarray(0, 4), ours.subarray(4)), challenge)), Buffer.from(LOCAL.pubKey));
    const r = await p;
    if (r instanceof Error) throw r;
    t.same(Buffer.from(r.remotePubKey), Buffer.from(PEER.pubKey), `split=${split}: the peer is authenticated`);
    t.type(r.leftover, Buffer);
    t.equal(r.leftover.length, 0, 'nothing beyond the handshake');
    t.equal(r.paused, false);
    t.equal(w.isPaused(), false);
    t.equal(w.listenerCount('data') + w.listenerCount('end') + w.listenerCount('close') + w.listenerCount('error'), 0, 'no listeners left');
    // the session works: our sealer against the peer's opener and back
    const f = r.sealer.seal(Buffer.from('hello'));
    t.equal(opener.open(f.subarray(0, 4), f.subarray(4)).toString(), 'hello');
    const g = sealer.seal(Buffer.from('world'));
    t.equal(r.opener.open(g.subarray(0, 4), g.subarray(4)).toString(), 'world');
    w.destroy();
  }
});

t.test('handshake: frames sent right after the auth frame are handed over intact', async (t) => {
  const w = new Wire();
  const p = run(w);
  const { eph, sealer, challenge } = await peerKeys(w);
  const auth = sealer.seal(encodeAuthMessage(PEER, challenge));
  const f1 = sealer.seal(Buffer.from('first'));
  const f2 = sealer.seal(Buffer.from('second'));
  w.push(Buffer.concat([eph.publicKey, auth, f1.subarray(0, 3)]));
  w.push(Buffer.concat([f1.subarray(3), f2]));
  const r = await p;
  if (r instanceof Error) throw r;
  t.equal(r.leftover.toString('hex'), Buffer.concat([f1, f2]).toString('hex'), 'the leftover is the two data frames');
  const pieces: string[] = [];
  r.opener.feed(r.leftover, (piece) => pieces.push(piece.toString()));
  t.same(pieces, ['first', 'second']);
  t.equal(r.paused, false);
  w.destroy();
});

t.test('handshake: more than maxFramePayload + 4096 held pauses the transport; reading below resumes it', async (t) => {
  const max = 1024;
  const limit = max + 4096;
  {
    // the peer floods: everything beyond the auth frame stays held and the conn stays paused
    const w = new Wire();
    const { r } = await fullHandshake(w, [Buffer.alloc(limit + 1, 0x55)], { maxFramePayload: max });
    t.equal(r.leftover.length, limit + 1);
    t.equal(r.paused, true, 'reported paused');
    t.equal(w.isPaused(), true, 'and the conn is paused');
    w.destroy();
  }
  {
    // exactly `limit` left over: the conn was paused while more was held and is resumed
    const w = new Wire();
    const { r } = await fullHandshake(w, [Buffer.alloc(limit, 0x55)], { maxFramePayload: max });
    t.equal(r.leftover.length, limit);
    t.equal(r.paused, false, 'reported not paused');
    t.equal(w.isPaused(), false, 'and the conn flows');
    t.equal(w.pauses, 1, 'it was paused once, while more than the limit was held');
    w.destroy();
  }
  {
    // at most `limit` held at any time: never paused
    const w = new Wire();
    const p = run(w, { maxFramePayload: max });
    const { eph, sealer, challenge } = await peerKeys(w);
    w.push(eph.publicKey);
    await w.wrote(AUTH_FRAME_SIZE); // our auth frame is written: we wait for the peer's
    w.push(Buffer.concat([sealer.seal(encodeAuthMessage(PEER, challenge)), Buffer.alloc(limit - AUTH_FRAME_SIZE, 0x55)]));
    const r = await p;
    if (r instanceof Error) throw r;
    t.equal(r.leftover.length, limit - AUTH_FRAME_SIZE);
    t.equal(r.paused, false);
    t.equal(w.pauses, 0, 'holding exactly the limit does not pause');
    w.destroy();
  }
  {
    // the default bound: 65536 + 4096
    const w = new Wire();
    const { r } = await fullHandshake(w, [Buffer.alloc(limit + 1, 0x55)]);
    t.equal(r.paused, false, 'far below the default limit');
    t.equal(w.pauses, 0);
    w.destroy();
  }
});

t.test('handshake: string chunks are bytes too', async (t) => {
  const w = new Wire({ readableObjectMode: true });
  const p = run(w);
  await w.wrote(32);
  w.push(ephemeralKeyPair().publicKey);
  await w.wrote(AUTH_FRAME_SIZE);
  w.push('\u0000\u0000\u0000a'); // length 97
  await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'auth frame length 97, want 96');
});

t.test('handshake: bad options and dead transports', async (t) => {
  for (const ms of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    const w = new Wire();
    await rejects(
      t,
      run(w, { handshakeTimeoutMs: ms }),
      InvalidArgumentError,
      'ERR_INVALID_ARGUMENT',
      `handshakeTimeoutMs must be a positive number, got ${ms}`,
    );
    t.ok(w.destroyed, 'the transport is destroyed');
  }
  for (const max of [0, 1.5, 16 * 1024 * 1024 + 1]) {
    const w = new Wire();
    const err = await run(w, { maxFramePayload: max });
    t.type(err, InvalidArgumentError);
    t.equal((err as InvalidArgumentError).code, 'ERR_INVALID_ARGUMENT');
    t.match((err as Error).message, `maxFramePayload must be an integer in [1, 16777216], got ${max}`);
    t.ok(w.destroyed);
  }
  {
    const w = new Wire();
    w.destroy();
    await rejects(t, run(w), HandshakeError, 'ERR_HANDSHAKE', 'connection already closed');
  }
  {
    const w = new Wire();
    w.push(null);
    w.resume();
    await once(w, 'end');
    t.notOk(w.destroyed, 'ended, not destroyed');
    await rejects(t, run(w), HandshakeError, 'ERR_HANDSHAKE', 'connection already closed');
    t.ok(w.destroyed);
  }
});

t.test('handshake: the peer never answers → ERR_HANDSHAKE_TIMEOUT naming the ms', async (t) => {
  const w = new Wire();
  const p = handshake(w, LOCAL, { handshakeTimeoutMs: 50 }).catch((err: Error) => err);
  t.equal((await w.wrote(32)).length, 32, 'our key was sent');
  await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE_TIMEOUT', 'handshake not completed within 50 ms');
  t.ok(w.destroyed);
  t.equal(w.listenerCount('data') + w.listenerCount('end') + w.listenerCount('close'), 0, 'the reader left no listeners');
  // an 'error' with no listener throws from emit: a late socket error would crash the process
  t.doesNotThrow(() => w.emit('error', new Error('late transport error')), 'a late transport error after the failure is absorbed');
});

t.test('handshake: the transport ends, closes or fails during the handshake', async (t) => {
  {
    const w = new Wire();
    const p = run(w);
    await w.wrote(32);
    w.push(null);
    await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'connection closed by remote during the handshake');
    t.ok(w.destroyed);
  }
  {
    // ended between two reads: the key and the end arrive together
    const w = new Wire();
    const p = run(w);
    await w.wrote(32);
    w.push(ephemeralKeyPair().publicKey);
    w.push(null);
    await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'connection closed by remote during the handshake');
  }
  {
    // the first failure is the one reported: the end, not the close that follows it
    const w = new Wire();
    const p = run(w);
    await w.wrote(32);
    // pushed from a tick, so the end and the close are seen before the handshake asks for its next read
    w.once('end', () => w.destroy());
    process.nextTick(() => {
      w.push(ephemeralKeyPair().publicKey);
      w.push(null);
    });
    await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'connection closed by remote during the handshake');
  }
  {
    // an end seen after the last read but before the hand-over is not lost: the handshake fails
    const w = new Wire();
    const p = run(w);
    const { eph, sealer, challenge } = await peerKeys(w);
    w.push(eph.publicKey);
    await w.wrote(AUTH_FRAME_SIZE);
    const auth = sealer.seal(encodeAuthMessage(PEER, challenge));
    w.push(auth.subarray(0, 4)); // the header: the handshake now waits for the body
    process.nextTick(() => {
      w.push(auth.subarray(4));
      w.push(null);
    });
    await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'connection closed by remote during the handshake');
  }
  {
    const w = new Wire();
    const p = run(w);
    await w.wrote(32);
    w.destroy();
    await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'connection closed during the handshake');
  }
  {
    const w = new Wire();
    const p = run(w);
    await w.wrote(32);
    const boom = new Error('boom');
    w.destroy(boom);
    const err = await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', 'connection error during the handshake: boom');
    t.equal(err.cause, boom, 'the transport error is the cause');
  }
});

t.test('handshake: bad keys from the peer → ERR_AUTH', async (t) => {
  {
    const w = new Wire();
    const p = run(w);
    w.push(await w.wrote(32)); // reflected
    await rejects(t, p, AuthError, 'ERR_AUTH', 'remote ephemeral key equals ours (reflection)');
    t.ok(w.destroyed);
  }
  const points = LOW_ORDER_POINTS.map((q) => Buffer.from(q));
  for (const q of LOW_ORDER_POINTS) {
    const top = Buffer.from(q);
    top[31]! |= 0x80;
    points.push(top);
  }
  for (const q of points) {
    const w = new Wire();
    const p = run(w);
    await w.wrote(32);
    w.push(q);
    await rejects(t, p, AuthError, 'ERR_AUTH', 'remote ephemeral key is a low-order X25519 point');
    t.ok(w.destroyed);
  }
});

t.test('handshake: bad auth frames', async (t) => {
  for (const len of [0, 95, 97, 0xffffffff]) {
    const w = new Wire();
    const p = run(w);
    const { eph } = await peerKeys(w);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(len);
    w.push(Buffer.concat([eph.publicKey, hdr, Buffer.alloc(AUTH_MESSAGE_SIZE + FRAME_TAG_SIZE + 1)]));
    await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', `auth frame length ${len}, want 96`);
    t.ok(w.destroyed);
  }
  {
    // right length, sealed under the wrong key
    const w = new Wire();
    const p = run(w);
    const { eph, challenge } = await peerKeys(w);
    w.push(Buffer.concat([eph.publicKey, new FrameSealer(Buffer.alloc(32, 9)).seal(encodeAuthMessage(PEER, challenge))]));
    const err = await rejects(t, p, AuthError, 'ERR_AUTH', 'auth frame failed authentication (wrong key exchange or tampering)');
    t.ok(err.cause instanceof Error, 'the frame error is the cause');
  }
  {
    // authentic frame, signature of something else
    const w = new Wire();
    const p = run(w);
    const { eph, sealer } = await peerKeys(w);
    w.push(Buffer.concat([eph.publicKey, sealer.seal(encodeAuthMessage(PEER, Buffer.alloc(32, 4)))]));
    await rejects(t, p, AuthError, 'ERR_AUTH', 'remote signature of the challenge does not verify');
  }
});

t.test('handshake: an error that is not a SwitchboardError is wrapped', async (t) => {
  const boom = new Error('no signer');
  for (const [thrown, message] of [
    [boom, 'handshake failed: no signer'],
    ['oops', 'handshake failed: oops'],
    [undefined, 'handshake failed: undefined'],
  ] as const) {
    const key = Object.create(LOCAL, {
      sign: {
        value: () => {
          throw thrown;
        },
      },
    }) as NodeKey;
    const w = new Wire();
    const p = run(w, {}, key);
    const { eph } = await peerKeys(w);
    w.push(eph.publicKey);
    const err = await rejects(t, p, HandshakeError, 'ERR_HANDSHAKE', message);
    t.equal(err.cause, thrown, 'the original is the cause');
    t.ok(w.destroyed);
  }
});
