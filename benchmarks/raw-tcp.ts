/**
 * W8, the raw TCP baseline: the ceiling of this machine for a Node.js message
 * pipe, against which the MConnection figures are read as ratios.
 *
 * A {@link RawConnection} has the MConnection's sending API (`trySend`, a
 * blocking `send`, a bounded queue) and its batching (packets copied into
 * 64 KiB batches carved from a 1 MiB slab, written at the end of the
 * event-loop turn, at most 16 writes per turn, waiting for `'drain'` when the
 * socket is full), but nothing else: no encryption, no channels or
 * scheduling, no fragmentation, no keepalive, no rate accounting. Framing is
 * `u32 BE length ‖ bytes`; on receipt a message that lies within one chunk is
 * handed over as a view (no copy), as the MConnection does.
 *
 * @module
 */
import type { Socket } from 'node:net';

/** Bytes of the length prefix. */
export const RAW_HEADER_SIZE = 4;
/** Largest message accepted (bytes); longer length prefixes are an error. */
export const RAW_MAX_MESSAGE = 32 << 20;
/** Largest batch per socket write (bytes), as MConnection's `maxBatchBytes`. */
const MAX_BATCH_BYTES = 65536;
/** Writes per event-loop turn before yielding, as the MConnection. */
const MAX_WRITES_PER_TURN = 16;
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
  send(channelId: number, msg: Uint8Array): Promise<boolean> {
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
    for (let i = 0; i < MAX_WRITES_PER_TURN; i++) {
      const batch = this.buildBatch();
      if (batch === null) return;
      if (!this.socket.write(batch)) {
        this.waitingDrain = true;
        this.socket.once('drain', this.onDrain);
        return;
      }
    }
    this.flushScheduled = true;
    setImmediate(this.flush);
  };

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.flush();
  };

  /** Copy as many queued messages as fit in one batch (at least one) into the slab. */
  private buildBatch(): Buffer | null {
    const q = this.queue;
    const end = q.length;
    if (this.qHead === end) return null;
    let size = 0;
    let j = this.qHead;
    while (j < end) {
      const len = RAW_HEADER_SIZE + q[j]!.length;
      if (j > this.qHead && size + len > MAX_BATCH_BYTES) break;
      size += len;
      j++;
    }
    if (this.slab.length - this.slabOff < size) {
      this.slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, size));
      this.slabOff = 0;
    }
    const buf = this.slab;
    const start = this.slabOff;
    let off = start;
    for (let k = this.qHead; k < j; k++) {
      const m = q[k]!;
      buf.writeUInt32BE(m.length, off);
      buf.set(m, off + RAW_HEADER_SIZE);
      off += RAW_HEADER_SIZE + m.length;
      q[k] = undefined as unknown as Uint8Array;
    }
    this.qHead = j;
    if (this.qHead > 4096 && this.qHead * 2 > q.length) {
      q.splice(0, this.qHead);
      this.qHead = 0;
    }
    this.slabOff = off;
    this.admitWaiters();
    return buf.subarray(start, off);
  }

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
