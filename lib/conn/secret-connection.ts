/**
 * SecretConnection: an authenticated, encrypted byte stream over any duplex
 * transport (usually a TCP socket), after CometBFT's
 * `p2p/conn/secret_connection.go`, with the improvements listed in
 * DESIGN.md ("Cryptography") and specified byte for byte in docs/PROTOCOL.md
 * section 2. The handshake is in `handshake.ts`, the frame codec in
 * `frame.ts`; this module is the stream: writes made in one tick are
 * coalesced into as few frames as possible and go out in one write to the
 * transport, and received frames are authenticated before their plaintext
 * is pushed.
 *
 * @module
 */
import { Duplex } from 'node:stream';
import { ConnectionClosedError } from '../errors.js';
import { nodeIdFromPubKey, type NodeKey } from '../node-key.js';
import type { FrameOpener, FrameSealer } from './frame.js';
import { handshake, type SecretConnectionOptions } from './handshake.js';

export type { SecretConnectionOptions, SecretConnectionTestOptions } from './handshake.js';

/** Internal constructor token so `new SecretConnection` is only reachable from `make`. */
const CONSTRUCT = Symbol('SecretConnection');

/**
 * An authenticated, encrypted duplex byte stream over `conn`, as CometBFT's
 * `SecretConnection` (p2p/conn/secret_connection.go) with transcript-bound
 * keys, authenticated frame lengths and 64 KiB frames (docs/PROTOCOL.md §2).
 *
 * Create with {@link SecretConnection.make}. Then write plaintext and read
 * plaintext as with any Duplex:
 * - everything written in one tick is sealed into as few frames as possible
 *   (≤ `maxFramePayload` bytes each) and handed to `conn` in one write;
 *   the write callback waits for `conn` to drain, so backpressure propagates;
 * - received frames are authenticated before their plaintext is pushed;
 *   when the readable buffer is full the transport is paused.
 *
 * Errors (`'error'` event, then the transport is destroyed):
 * `ERR_BAD_FRAME` (tag mismatch: tampered, replayed, reordered or dropped
 * frames; length 0), `ERR_MESSAGE_TOO_LARGE` (length prefix above the bound,
 * refused before allocating), `ERR_NONCE_EXHAUSTED` (2^64 frames in one
 * direction; raised by the write that would need a wrapped nonce),
 * `ERR_CONNECTION_CLOSED` (transport ended mid-frame, or closed without an
 * end), `ERR_SOCKET` (transport error, `cause` = the socket error).
 *
 * `end()` flushes and ends the transport's writable side (waiting for its
 * `'finish'`); a clean end from the remote (between frames) ends this
 * readable side. When the transport closes after such an end, the writable
 * side is ended too, so the stream closes once its buffered plaintext has
 * been read. `destroy()` destroys the transport.
 */
export class SecretConnection extends Duplex {
  /** Node ID of the authenticated remote: `nodeIdFromPubKey(remotePubKey())`. */
  readonly remoteId: string;
  private readonly remoteKey: Uint8Array;
  private readonly conn: Duplex;
  private readonly sealer: FrameSealer;
  private readonly opener: FrameOpener;
  private pausedByUs: boolean; // set from the handshake's state in the constructor
  private corkScheduled = false;
  private readEnded = false;
  private pendingWriteCb: ((err?: Error | null) => void) | undefined;
  private readonly uncorkTick = (): void => {
    this.corkScheduled = false;
    this.uncork();
  };
  private readonly onConnData = (chunk: Buffer | string): void => {
    try {
      this.ingest(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    } catch (err) {
      this.destroy(err as Error);
    }
  };
  private readonly onConnEnd = (): void => {
    if (this.destroyed) return;
    if (this.opener.midFrame) {
      this.destroy(new ConnectionClosedError('connection ended in the middle of a frame'));
      return;
    }
    this.readEnded = true;
    this.push(null);
  };
  private readonly onConnClose = (): void => {
    if (this.destroyed) return;
    if (!this.readEnded) {
      this.destroy(new ConnectionClosedError('connection closed'));
      return;
    }
    // Clean end already delivered: nothing more can be written. Fail a write
    // still waiting for 'drain' and finish the writable side, so the stream
    // closes once the consumer has read what is buffered.
    this.failPendingWrite(new ConnectionClosedError('connection closed'));
    if (!this.writableEnded) this.end();
  };
  private readonly onConnError = (err: Error): void => {
    this.destroy(new ConnectionClosedError(`transport error: ${err.message}`, { cause: err, code: 'ERR_SOCKET' }));
  };
  private readonly onConnDrain = (): void => {
    const cb = this.pendingWriteCb;
    this.pendingWriteCb = undefined;
    cb?.();
  };

  /** @internal use {@link SecretConnection.make}. */
  constructor(
    token: typeof CONSTRUCT,
    conn: Duplex,
    remotePubKey: Uint8Array,
    sealer: FrameSealer,
    opener: FrameOpener,
    leftover: Buffer,
    connPaused: boolean,
  ) {
    if (token !== CONSTRUCT) throw new TypeError('use SecretConnection.make()');
    const hwm = Math.max(sealer.maxFramePayload, 16 * 1024);
    super({ readableHighWaterMark: 2 * hwm, writableHighWaterMark: hwm, decodeStrings: true });
    this.conn = conn;
    this.remoteKey = remotePubKey;
    this.remoteId = nodeIdFromPubKey(remotePubKey);
    this.sealer = sealer;
    this.opener = opener;
    this.pausedByUs = connPaused;
    conn.on('error', this.onConnError);
    conn.on('end', this.onConnEnd);
    conn.on('close', this.onConnClose);
    conn.on('drain', this.onConnDrain);
    try {
      this.ingest(leftover); // an empty leftover feeds nothing
    } catch (err) {
      this.destroy(err as Error);
      return;
    }
    conn.on('data', this.onConnData);
    if (!this.pausedByUs && conn.isPaused()) conn.resume();
    if (conn.destroyed) this.onConnClose();
    else if (conn.readableEnded) this.onConnEnd();
  }

  /**
   * Perform the handshake (docs/PROTOCOL.md §2.1–2.4) over `conn` as
   * `localKey` and resolve with the authenticated connection. Both sides
   * call `make`; there is no initiator/responder distinction.
   *
   * Rejects, after destroying `conn`, with:
   * - HandshakeError `ERR_HANDSHAKE_TIMEOUT` when the handshake is not
   *   complete within `handshakeTimeoutMs` (default 20 000 ms);
   * - HandshakeError `ERR_HANDSHAKE` when `conn` ends, closes or errors
   *   during the handshake, or the auth frame has a length other than 96;
   * - AuthError `ERR_AUTH` for a low-order or reflected remote ephemeral key,
   *   an all-zero shared secret, an auth frame that fails authentication,
   *   or a signature that does not verify;
   * - InvalidArgumentError `ERR_INVALID_ARGUMENT` for bad options.
   *
   * As in CometBFT the remote's identity is only *authenticated*, not
   * checked: compare {@link SecretConnection.remoteId} with the dialed ID.
   */
  static async make(conn: Duplex, localKey: NodeKey, opts: SecretConnectionOptions = {}): Promise<SecretConnection> {
    const h = await handshake(conn, localKey, opts);
    return new SecretConnection(CONSTRUCT, conn, h.remotePubKey, h.sealer, h.opener, h.leftover, h.paused);
  }

  /** The remote's 32-byte Ed25519 public key, authenticated by the handshake (a copy). */
  remotePubKey(): Uint8Array {
    return this.remoteKey.slice();
  }

  /** Decrypt transport bytes and push the plaintext; pauses the transport when the readable buffer is full. */
  private ingest(chunk: Buffer): void {
    if (this.destroyed) return;
    this.opener.feed(chunk, (piece) => {
      if (this.destroyed || this.readEnded) return;
      if (!this.push(piece) && !this.pausedByUs) {
        this.pausedByUs = true;
        this.conn.pause();
      }
    });
  }

  /** Duplex implementation (called by the stream machinery, not by applications). */
  override _read(): void {
    if (this.pausedByUs) {
      this.pausedByUs = false;
      // Stryker disable next-line ConditionalExpression: resuming a destroyed socket reads nothing (Readable.resume on a destroyed stream emits no data); the check only skips the call
      if (!this.conn.destroyed) this.conn.resume();
    }
  }

  /**
   * Coalesce writes made within one tick: cork on the first write of a
   * tick and uncork on the next, so they reach `_writev` together.
   */
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    cb?: (error: Error | null | undefined) => void,
  ): boolean {
    if (!this.corkScheduled && !this.writableEnded && !this.destroyed) {
      this.corkScheduled = true;
      this.cork();
      process.nextTick(this.uncorkTick);
    }
    return super.write(chunk, encoding as BufferEncoding, cb);
  }

  /** Duplex implementation (called by the stream machinery, not by applications). */
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendChunks([chunk], chunk.length, cb);
  }

  /** Duplex implementation (called by the stream machinery): seals the chunks into frames. */
  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    const bufs: Buffer[] = [];
    let total = 0;
    for (const { chunk } of chunks) {
      bufs.push(chunk);
      total += chunk.length;
    }
    this.sendChunks(bufs, total, cb);
  }

  private sendChunks(bufs: Buffer[], total: number, cb: (err?: Error | null) => void): void {
    if (total === 0) {
      cb();
      return;
    }
    if (this.conn.destroyed || this.conn.writableEnded) {
      cb(new ConnectionClosedError('connection closed'));
      return;
    }
    let sealed: Buffer[];
    try {
      sealed = this.sealer.sealChunks(bufs, total);
    } catch (err) {
      cb(err as Error);
      return;
    }
    // one gathered socket write for every frame of this flush
    this.conn.cork();
    // Stryker disable next-line BooleanLiteral: total > 0 here, so sealed holds at least one frame and the loop always assigns ok
    let ok = true;
    for (const b of sealed) ok = this.conn.write(b);
    this.conn.uncork();
    if (ok) {
      cb();
    } else {
      this.pendingWriteCb = cb;
    }
  }

  private failPendingWrite(err: Error): void {
    const cb = this.pendingWriteCb;
    this.pendingWriteCb = undefined;
    cb?.(err);
  }

  /** Duplex implementation (called by the stream machinery, not by applications). */
  override _final(cb: (err?: Error | null) => void): void {
    if (this.conn.destroyed || this.conn.writableFinished) {
      cb();
      return;
    }
    // The first of 'finish' and 'close' completes _final; the other, if it
    // comes, finds `done` set. (Once-listeners on a transport whose writable
    // side is over: left in place rather than removed.)
    let done = false;
    const finish = (err?: Error | null): void => {
      if (done) return;
      done = true;
      cb(err);
    };
    const onFinish = (): void => finish();
    const onClose = (): void => finish(this.conn.writableFinished ? null : new ConnectionClosedError('connection closed before end'));
    this.conn.once('finish', onFinish);
    this.conn.once('close', onClose);
    this.conn.end();
  }

  /** Duplex implementation (called by the stream machinery, not by applications). */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Stryker disable StringLiteral: the handlers also do nothing once this is destroyed (ingest and onConnEnd/onConnClose return, failPendingWrite below clears the drain callback); removing them only lets the transport go
    this.conn.off('data', this.onConnData);
    this.conn.off('end', this.onConnEnd);
    this.conn.off('close', this.onConnClose);
    this.conn.off('drain', this.onConnDrain);
    // Stryker restore StringLiteral
    // keep onConnError attached: a late transport error must not be unhandled
    this.failPendingWrite(err ?? new ConnectionClosedError('connection destroyed'));
    this.conn.destroy();
    cb(err);
  }
}
