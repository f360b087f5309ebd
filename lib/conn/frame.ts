/**
 * SecretConnection frames: the frame codec of docs/PROTOCOL.md §2.3 —
 * `u32 BE length ‖ ChaCha20-Poly1305(payload) ‖ tag` with the length as
 * associated data and a 96-bit nonce holding a 64-bit little-endian counter
 * per direction (CometBFT's `p2p/conn/secret_connection.go` frames, with
 * authenticated lengths and 64 KiB payloads).
 *
 * @module
 */
import { createCipheriv, createDecipheriv, type DecipherChaCha20Poly1305 } from 'node:crypto';
import { InvalidArgumentError, MessageTooLargeError, SwitchboardError } from '../errors.js';

/** Size of the frame length prefix (`u32` big-endian), bytes. */
export const FRAME_HEADER_SIZE = 4;
/** Size of the Poly1305 tag that ends every frame, bytes. */
export const FRAME_TAG_SIZE = 16;
/** Per-frame overhead on the wire: length prefix + tag = 20 bytes. */
export const FRAME_OVERHEAD = FRAME_HEADER_SIZE + FRAME_TAG_SIZE;
/** Default (and protocol maximum a peer must accept) frame payload, bytes. */
export const DEFAULT_MAX_FRAME_PAYLOAD = 65536;
/** Largest `maxFramePayload` this implementation accepts as an option (16 MiB). */
export const MAX_FRAME_PAYLOAD_LIMIT = 16 * 1024 * 1024;
/** Largest nonce counter (2^64 − 1); after a frame used it the direction is exhausted. */
export const MAX_NONCE_COUNTER = (1n << 64n) - 1n;

const CIPHER = 'chacha20-poly1305' as const;

/** `counter` if it is a valid initial nonce counter. @throws InvalidArgumentError otherwise. */
export function checkCounter(counter: bigint): bigint {
  if (typeof counter !== 'bigint' || counter < 0n || counter > MAX_NONCE_COUNTER + 1n) {
    throw new InvalidArgumentError(`nonce counter must be a bigint in [0, 2^64], got ${String(counter)}`);
  }
  return counter;
}

/** `max` if it is a valid frame payload bound (1..16 MiB). @throws InvalidArgumentError otherwise. */
export function checkMaxPayload(max: number): number {
  if (!Number.isInteger(max) || max < 1 || max > MAX_FRAME_PAYLOAD_LIMIT) {
    throw new InvalidArgumentError(`maxFramePayload must be an integer in [1, ${MAX_FRAME_PAYLOAD_LIMIT}], got ${max}`);
  }
  return max;
}

function exhausted(): SwitchboardError {
  return new SwitchboardError('ERR_NONCE_EXHAUSTED', 'nonce counter exhausted (2^64 frames); the connection must be re-established');
}

/**
 * The state one direction of frames shares between its two ends: the
 * ChaCha20-Poly1305 key, the payload bound, and the 64-bit nonce counter
 * (nonce = 4 zero bytes ‖ u64 LE counter, as CometBFT's SecretConnection).
 */
export abstract class FrameCipherState {
  /** Payload bound per frame, bytes: larger frames are not sealed, and their length prefix is refused before anything is allocated. */
  readonly maxFramePayload: number;
  /** 32-byte key of this direction. */
  protected readonly key: Buffer;
  /** 12-byte nonce buffer, rewritten per frame by {@link FrameCipherState.nonceFor}. */
  protected readonly nonce = Buffer.alloc(12);
  /** Counter of the next frame (2^64 once exhausted). */
  protected counter: bigint;

  /**
   * @param key 32-byte ChaCha20-Poly1305 key.
   * @param maxFramePayload payload bound per frame (default 65536).
   * @param initialCounter first nonce counter (default 0; tests only).
   * @throws InvalidArgumentError on a bad key length, bound or counter.
   */
  constructor(key: Uint8Array, maxFramePayload = DEFAULT_MAX_FRAME_PAYLOAD, initialCounter = 0n) {
    if (key.length !== 32) throw new InvalidArgumentError(`frame key must be 32 bytes, got ${key.length}`);
    this.key = Buffer.from(key);
    this.maxFramePayload = checkMaxPayload(maxFramePayload);
    this.counter = checkCounter(initialCounter);
  }

  /** The counter the next frame is (to be) sealed with; 2^64 once exhausted. */
  get nextCounter(): bigint {
    return this.counter;
  }

  /** The nonce of the next frame (the shared 12-byte buffer). */
  protected nonceFor(): Buffer {
    this.nonce.writeBigUInt64LE(this.counter, 4);
    return this.nonce;
  }
}

/**
 * Seals frames for one direction: `u32 BE L ‖ ChaCha20-Poly1305(key, nonce,
 * plaintext, aad = the 4 length bytes) ‖ 16-byte tag`, nonce = 4 zero bytes ‖
 * u64 LE counter, the counter starting at `initialCounter` (default 0) and
 * incremented per frame.
 */
export class FrameSealer extends FrameCipherState {
  private scratch: Buffer | undefined;

  /** How many more frames this direction may seal. */
  get framesLeft(): bigint {
    return MAX_NONCE_COUNTER + 1n - this.counter;
  }

  /**
   * Seal `plaintext` (any length ≥ 1) as ⌈len / maxFramePayload⌉ frames
   * into one new buffer.
   * @throws SwitchboardError `ERR_NONCE_EXHAUSTED` (nothing sealed) when
   *   the counter would pass 2^64 − 1; InvalidArgumentError if empty.
   */
  seal(plaintext: Uint8Array): Buffer {
    if (plaintext.length === 0) throw new InvalidArgumentError('cannot seal an empty frame');
    return Buffer.concat(this.sealChunks([plaintext], plaintext.length));
  }

  /**
   * Seal the concatenation of `chunks` (`total` bytes, > 0) as
   * ⌈total / maxFramePayload⌉ frames, returned as the buffers to write in
   * order — per frame its 4-byte length, its ciphertext and its 16-byte tag —
   * so the ciphertext is never copied again. A frame whose payload lies in one
   * chunk is encrypted straight from it; one spanning several chunks is
   * gathered into a reused scratch buffer first (one update per frame
   * measured ~3.5x faster than one per 1 KiB piece).
   * @throws SwitchboardError `ERR_NONCE_EXHAUSTED` (nothing sealed).
   */
  sealChunks(chunks: readonly Uint8Array[], total: number): Buffer[] {
    const max = this.maxFramePayload;
    const frames = Math.ceil(total / max);
    if (BigInt(frames) > this.framesLeft) throw exhausted();
    // per frame: [length, ciphertext, tag], written with one gathered write (no copy of the ciphertext)
    const out: Buffer[] = [];
    let ci = 0; // current chunk
    let co = 0; // offset in it
    let left = total;
    while (left > 0) {
      const len = left < max ? left : max;
      left -= len;
      const head = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
      head.writeUInt32BE(len, 0);
      // Stryker disable next-line ObjectLiteral: 16 bytes is chacha20-poly1305's default tag length; the option only says so
      const cipher = createCipheriv(CIPHER, this.key, this.nonceFor(), { authTagLength: FRAME_TAG_SIZE });
      cipher.setAAD(head, { plaintextLength: len });
      let chunk = chunkAt(chunks, ci);
      while (co === chunk.length) {
        chunk = chunkAt(chunks, ++ci); // skip empty chunks
        co = 0;
      }
      let payload: Uint8Array;
      if (chunk.length - co >= len) {
        payload = chunk.subarray(co, co + len);
        co += len;
      } else {
        const scratch = (this.scratch ??= Buffer.allocUnsafe(max));
        let need = len;
        let s = 0;
        while (need > 0) {
          while (co === chunk.length) {
            chunk = chunkAt(chunks, ++ci);
            co = 0;
          }
          const n = Math.min(need, chunk.length - co);
          scratch.set(chunk.subarray(co, co + n), s);
          s += n;
          co += n;
          need -= n;
        }
        payload = scratch.subarray(0, len);
      }
      out.push(head, cipher.update(payload));
      const fin = cipher.final(); // empty for a stream cipher; kept in case it is not
      // Stryker disable next-line ConditionalExpression,EqualityOperator: final() of a stream cipher returns no bytes, so pushing it or not is the same
      if (fin.length > 0) out.push(fin);
      out.push(cipher.getAuthTag());
      this.counter++;
    }
    return out;
  }
}

/**
 * `chunks[i]`, in range while `total` is at most the chunks' length.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) when `sealChunks` was given a `total` beyond its chunks.
 */
function chunkAt(chunks: readonly Uint8Array[], i: number): Uint8Array {
  const c = chunks[i];
  if (c === undefined) throw new InvalidArgumentError(`sealChunks: total exceeds the ${chunks.length} chunks' bytes`);
  return c;
}

/**
 * Opens frames of one direction (see {@link FrameSealer}), either one whole
 * frame at a time ({@link FrameOpener.open}) or incrementally from a byte
 * stream ({@link FrameOpener.feed}); both share the nonce counter.
 */
export class FrameOpener extends FrameCipherState {
  // incremental state
  private readonly header = Buffer.alloc(FRAME_HEADER_SIZE);
  private readonly tag = Buffer.alloc(FRAME_TAG_SIZE);
  private have = 0; // bytes of header or tag collected
  private state: 0 | 1 | 2 = 0; // 0 header, 1 body, 2 tag
  private bodyLeft = 0;
  private decipher: DecipherChaCha20Poly1305 | undefined;
  private pieces: Buffer[] = [];

  /** True while part of a frame has been fed but not the whole frame. */
  get midFrame(): boolean {
    return this.state !== 0 || this.have !== 0;
  }

  /**
   * Validate a frame's length prefix.
   * @throws SwitchboardError `ERR_BAD_FRAME` for length 0,
   *   MessageTooLargeError (`ERR_MESSAGE_TOO_LARGE`) above the bound.
   */
  checkLength(len: number): void {
    if (len === 0) throw new SwitchboardError('ERR_BAD_FRAME', 'frame length 0');
    if (len > this.maxFramePayload) {
      throw new MessageTooLargeError(`frame length ${len} exceeds the bound ${this.maxFramePayload}`);
    }
  }

  private startFrame(): DecipherChaCha20Poly1305 {
    if (this.counter > MAX_NONCE_COUNTER) throw exhausted();
    // Stryker disable next-line ObjectLiteral: 16 bytes is chacha20-poly1305's default tag length; the option only says so
    const d = createDecipheriv(CIPHER, this.key, this.nonceFor(), { authTagLength: FRAME_TAG_SIZE });
    d.setAAD(this.header, { plaintextLength: this.header.readUInt32BE(0) });
    return d;
  }

  private finishFrame(d: DecipherChaCha20Poly1305): void {
    d.setAuthTag(this.tag);
    try {
      d.final();
    } catch (err) {
      throw new SwitchboardError('ERR_BAD_FRAME', `frame ${this.counter} failed authentication`, { cause: err });
    }
    this.counter++;
  }

  /**
   * Open one whole frame: `header` = the 4 length bytes, `rest` = ciphertext
   * ‖ tag (exactly L + 16 bytes). Returns the plaintext.
   * @throws as {@link FrameOpener.checkLength}; SwitchboardError
   *   `ERR_BAD_FRAME` on a wrong size or a bad tag, `ERR_NONCE_EXHAUSTED`.
   */
  open(header: Uint8Array, rest: Uint8Array): Buffer {
    if (this.midFrame) throw new SwitchboardError('ERR_BAD_FRAME', 'open() while a frame is partially fed');
    if (header.length !== FRAME_HEADER_SIZE) throw new SwitchboardError('ERR_BAD_FRAME', 'frame header must be 4 bytes');
    this.header.set(header);
    const len = this.header.readUInt32BE(0);
    this.checkLength(len);
    if (rest.length !== len + FRAME_TAG_SIZE) {
      throw new SwitchboardError('ERR_BAD_FRAME', `frame body must be ${len + FRAME_TAG_SIZE} bytes, got ${rest.length}`);
    }
    const d = this.startFrame();
    const a = d.update(rest.subarray(0, len));
    this.tag.set(rest.subarray(len));
    this.finishFrame(d);
    return a;
  }

  /**
   * Feed stream bytes; for every frame completed and authenticated,
   * `onPayload` is called once per plaintext piece (in order; a frame's
   * pieces are released only after its tag verified). Lengths are checked
   * as soon as the 4 prefix bytes are in, before anything is allocated.
   * @throws as {@link FrameOpener.open}; after a throw the opener is unusable.
   */
  feed(chunk: Buffer, onPayload: (piece: Buffer) => void): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.state === 0) {
        if (this.have === 0 && end - pos >= FRAME_HEADER_SIZE) {
          chunk.copy(this.header, 0, pos, pos + FRAME_HEADER_SIZE);
          pos += FRAME_HEADER_SIZE;
          this.have = FRAME_HEADER_SIZE;
        } else {
          const n = Math.min(FRAME_HEADER_SIZE - this.have, end - pos);
          chunk.copy(this.header, this.have, pos, pos + n);
          pos += n;
          this.have += n;
        }
        if (this.have < FRAME_HEADER_SIZE) return;
        const len = this.header.readUInt32BE(0);
        this.checkLength(len);
        this.decipher = this.startFrame();
        this.bodyLeft = len;
        this.have = 0;
        this.state = 1;
      } else if (this.state === 1) {
        const n = Math.min(this.bodyLeft, end - pos);
        const out = this.decipher!.update(chunk.subarray(pos, pos + n));
        if (out.length > 0) this.pieces.push(out);
        pos += n;
        this.bodyLeft -= n;
        if (this.bodyLeft === 0) this.state = 2;
      } else {
        const n = Math.min(FRAME_TAG_SIZE - this.have, end - pos);
        chunk.copy(this.tag, this.have, pos, pos + n);
        pos += n;
        this.have += n;
        if (this.have < FRAME_TAG_SIZE) return;
        const d = this.decipher!;
        this.decipher = undefined;
        this.have = 0;
        this.state = 0;
        this.finishFrame(d);
        const pieces = this.pieces;
        this.pieces = [];
        for (const p of pieces) onPayload(p);
      }
    }
  }
}
