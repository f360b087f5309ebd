/**
 * W8, the raw TCP baseline: the ceiling of this machine for a Node.js message
 * pipe, against which the MConnection figures are read as ratios.
 *
 * A {@link RawConnection} has the MConnection's sending API (`trySend`, a
 * blocking `send`, a bounded queue) and the best batching Node.js allows,
 * so that it is an honest ceiling: everything queued in an event-loop turn
 * (up to 1 MiB) is written at the end of the turn as one gathered write
 * (the socket corked, then uncorked: one writev) — small messages copied
 * with their length prefix into a batch carved from a 1 MiB slab, messages
 * of 4 KiB or more passed by reference (never copied) — waiting for
 * `'drain'` only when more than 1 MiB is still unwritten in the socket. Nothing else: no encryption, no channels
 * or scheduling, no fragmentation, no keepalive, no rate accounting. Framing
 * is `u32 BE length ‖ bytes`; on receipt a message that lies within one chunk
 * is handed over as a view (no copy), as the MConnection does.
 *
 * @module
 */
import type { Socket } from 'node:net';

/** Bytes of the length prefix. */
export const RAW_HEADER_SIZE = 4;
/** Largest message accepted (bytes); longer length prefixes are an error. */
export const RAW_MAX_MESSAGE = 32 << 20;
/** Most bytes written per event-loop turn (one gathered write). */
const MAX_TURN_BYTES = 1 << 20;
/** Bytes the socket may hold unwritten before we wait for `'drain'` (which comes only when all is written). */
const MAX_UNWRITTEN = 1 << 20;
/** Messages at least this long are written by reference, not copied (bytes). */
const BY_REFERENCE = 4096;
/** Slab the batches are carved from (bytes). */
const SLAB_SIZE = 1 << 20;

/** Gets each message (a view of received bytes); `channelId` is always 0. */
export type RawReceiveHandler = (channelId: number, msg: Buffer) => void;

/**
 * A length-prefixed message connection over a TCP socket with a bounded
 * send queue (see the module doc). The channel id arguments exist only to
 * match the MConnection's API and are ignored.
 */
export class RawConnection {
  private readonly queue: Uint8Array[] = [];
  private qHead = 0;
  private waiters: { msg: Uint8Array; resolve: (ok: boolean) => void }[] = [];
  private flushScheduled = false;
  private waitingDrain = false;
  private stopped = false;
  private slab = Buffer.allocUnsafe(0);
  private slabOff = 0;
  // receive state
  private partial: Buffer | null = null;
  private partialLen = 0;
  private readonly head = Buffer.allocUnsafe(RAW_HEADER_SIZE);
  private headLen = 0;

  /**
   * @param socket a connected socket, owned from now on (destroyed by `stop`).
   * @param onReceive gets every message.
   * @param onError gets the first error (socket error, close, bad length), once.
   * @param sendQueueCapacity messages that may wait to be written.
   */
  constructor(
    private readonly socket: Socket,
    private readonly onReceive: RawReceiveHandler,
    private readonly onError: (err: Error) => void,
    private readonly sendQueueCapacity = 4096,
  ) {
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  private get queued(): number {
    return this.queue.length - this.qHead;
  }

  /** Queue `msg` if there is room; false when the queue is full or stopped. */
  trySend(_channelId: number, msg: Uint8Array): boolean {
    if (this.stopped || this.queued >= this.sendQueueCapacity) return false;
    this.queue.push(msg);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return true;
  }

  /** Queue `msg`, waiting for room; resolves false only when stopped. */
  send(channelId: number, msg: Uint8Array, _opts?: { timeoutMs?: number }): Promise<boolean> {
    if (this.trySend(channelId, msg)) return Promise.resolve(true);
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => this.waiters.push({ msg, resolve }));
  }

  /** Close at once; blocked senders resolve false. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const w of this.waiters) w.resolve(false);
    this.waiters = [];
    this.socket.destroy();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.stopped || this.waitingDrain) return;
    const q = this.queue;
    const sock = this.socket;
    sock.cork();
    let turn = 0;
    let batchStart = -1; // start of the copied run in the slab, -1 when none is open
    const closeBatch = () => {
      if (batchStart >= 0 && this.slabOff > batchStart) sock.write(this.slab.subarray(batchStart, this.slabOff));
      batchStart = -1;
    };
    while (this.qHead < q.length && turn < MAX_TURN_BYTES) {
      const m = q[this.qHead]!;
      q[this.qHead++] = undefined as unknown as Uint8Array;
      const copy = m.length < BY_REFERENCE;
      const need = RAW_HEADER_SIZE + (copy ? m.length : 0);
      if (this.slab.length - this.slabOff < need) {
        closeBatch();
        this.slab = Buffer.allocUnsafe(SLAB_SIZE);
        this.slabOff = 0;
      }
      if (batchStart < 0) batchStart = this.slabOff;
      this.slab.writeUInt32BE(m.length, this.slabOff);
      this.slabOff += RAW_HEADER_SIZE;
      if (copy) {
        this.slab.set(m, this.slabOff);
        this.slabOff += m.length;
      } else {
        closeBatch();
        sock.write(m);
      }
      turn += RAW_HEADER_SIZE + m.length;
    }
    closeBatch();
    sock.uncork();
    if (this.qHead > 4096 && this.qHead * 2 > q.length) {
      q.splice(0, this.qHead);
      this.qHead = 0;
    }
    if (sock.writableLength > MAX_UNWRITTEN) {
      this.waitingDrain = true;
      sock.once('drain', this.onDrain);
    }
    this.admitWaiters();
  };

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.flush();
  };

  private admitWaiters(): void {
    while (this.waiters.length > 0 && this.queued < this.sendQueueCapacity) {
      const w = this.waiters.shift()!;
      this.queue.push(w.msg);
      w.resolve(true);
    }
    if (this.queued > 0 && !this.flushScheduled && !this.waitingDrain) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly onData = (chunk: Buffer): void => {
    try {
      this.decode(chunk);
    } catch (err) {
      this.fail(err as Error);
    }
  };

  private decode(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n && !this.stopped) {
      if (this.partial !== null) {
        const c = Math.min(this.partial.length - this.partialLen, n - pos);
        chunk.copy(this.partial, this.partialLen, pos, pos + c);
        this.partialLen += c;
        pos += c;
        if (this.partialLen < this.partial.length) return;
        const msg = this.partial;
        this.partial = null;
        this.onReceive(0, msg);
        continue;
      }
      let len: number;
      if (this.headLen > 0 || n - pos < RAW_HEADER_SIZE) {
        const c = Math.min(RAW_HEADER_SIZE - this.headLen, n - pos);
        chunk.copy(this.head, this.headLen, pos, pos + c);
        this.headLen += c;
        pos += c;
        if (this.headLen < RAW_HEADER_SIZE) return;
        this.headLen = 0;
        len = this.head.readUInt32BE(0);
      } else {
        len = chunk.readUInt32BE(pos);
        pos += RAW_HEADER_SIZE;
      }
      if (len > RAW_MAX_MESSAGE) throw new Error(`raw message of ${len} bytes exceeds ${RAW_MAX_MESSAGE}`);
      if (n - pos >= len) {
        const msg = chunk.subarray(pos, pos + len);
        pos += len;
        this.onReceive(0, msg);
      } else {
        this.partial = Buffer.allocUnsafe(len);
        this.partialLen = 0;
      }
    }
  }

  private fail(err: Error): void {
    if (this.stopped) return;
    this.stop();
    this.onError(err);
  }
}
