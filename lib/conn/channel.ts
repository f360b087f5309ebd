/**
 * Channels of an MConnection: descriptors with CometBFT's defaults, the
 * per-channel send queue with blocking-send waiters, and reassembly of
 * fragmented messages.
 *
 * @module
 */
import { InvalidArgumentError, MessageTooLargeError } from '../errors.js';

/**
 * Describes one channel, as CometBFT's `conn.ChannelDescriptor`.
 *
 * - `id`: 0..255, unique per connection.
 * - `priority`: > 0; a channel's share of the link while others are busy is
 *   proportional to it. Default 1.
 * - `sendQueueCapacity`: messages that may wait in the send queue (not counting
 *   the one being written). Default 1, as CometBFT.
 * - `recvBufferCapacity`: accepted for CometBFT compatibility (default 4096)
 *   but unused: a message that arrives in several packets is kept as views
 *   of the received packets and copied once, into a buffer of its exact
 *   size, when its last packet arrives.
 * - `recvMessageCapacity`: largest message (bytes) accepted on this channel;
 *   a larger one stops the connection with `ERR_MESSAGE_TOO_LARGE` before it
 *   is buffered. Default 22020096 (21 MiB), as CometBFT.
 * - `name`: for logs and metrics.
 * - `versions`: the versions of this channel's protocol the node speaks
 *   (1..8 distinct integers in 1..2^32−1, default `[1]`). The handshake
 *   agrees on the highest version both sides have (as go-ethereum's
 *   `matchProtocols`); see `Peer.channelVersion`.
 */
export interface ChannelDescriptor {
  /** Channel id, 0..255, unique per connection. */
  id: number;
  /** Share of the link while other channels are busy (> 0). Default 1. */
  priority?: number;
  /** Messages that may wait in the send queue. Default 1. */
  sendQueueCapacity?: number;
  /** Initial reassembly buffer size (bytes). Default 4096. */
  recvBufferCapacity?: number;
  /** Largest message accepted (bytes). Default 22020096. */
  recvMessageCapacity?: number;
  /** For logs and metrics. Default the hex id. */
  name?: string;
  /** Versions of the channel's protocol this node speaks (advertised in NodeInfo). Default `[1]`. */
  versions?: number[];
}

/** A {@link ChannelDescriptor} with every default filled in (`versions` is read by the Switch, not the connection). */
export type FullChannelDescriptor = Required<Omit<ChannelDescriptor, 'versions'>> & Pick<ChannelDescriptor, 'versions'>;

/** CometBFT's channel defaults. */
export const CHANNEL_DEFAULTS = {
  /** Default priority. */
  priority: 1,
  /** Default send queue capacity (messages). */
  sendQueueCapacity: 1,
  /** Default initial reassembly buffer (bytes). */
  recvBufferCapacity: 4096,
  /** Default largest message (bytes, 21 MiB). */
  recvMessageCapacity: 22020096,
} as const;

/**
 * A channel id as every message, log and label writes it: `0x` and two hex
 * digits (`0x40`, `0x00`); a value that is not an integer 0..255 (a caller's
 * mistake) as `String(id)`.
 */
export function channelIdHex(id: number): string {
  return Number.isInteger(id) && id >= 0 && id <= 255 ? `0x${id.toString(16).padStart(2, '0')}` : String(id);
}

/**
 * Fill defaults and validate a descriptor.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an id outside
 *   0..255, a priority ≤ 0, or a non-positive-integer capacity.
 */
export function fillChannelDescriptor(d: ChannelDescriptor): FullChannelDescriptor {
  const full: FullChannelDescriptor = {
    id: d.id,
    priority: d.priority ?? CHANNEL_DEFAULTS.priority,
    sendQueueCapacity: d.sendQueueCapacity ?? CHANNEL_DEFAULTS.sendQueueCapacity,
    recvBufferCapacity: d.recvBufferCapacity ?? CHANNEL_DEFAULTS.recvBufferCapacity,
    recvMessageCapacity: d.recvMessageCapacity ?? CHANNEL_DEFAULTS.recvMessageCapacity,
    name: d.name ?? channelIdHex(d.id),
  };
  if (!Number.isInteger(full.id) || full.id < 0 || full.id > 255) throw new InvalidArgumentError(`channel id must be 0..255, got ${d.id}`);
  if (!(typeof full.priority === 'number' && full.priority > 0 && Number.isFinite(full.priority))) {
    throw new InvalidArgumentError(`channel ${channelIdHex(full.id)}: priority must be > 0, got ${d.priority}`);
  }
  for (const k of ['sendQueueCapacity', 'recvBufferCapacity', 'recvMessageCapacity'] as const) {
    if (!Number.isInteger(full[k]) || full[k] < 1) throw new InvalidArgumentError(`channel ${channelIdHex(full.id)}: ${k} must be a positive integer, got ${d[k]}`);
  }
  return full;
}

/** A blocked `send()` waiting for room in the queue. */
interface SendWaiter {
  msg: Uint8Array;
  resolve: (ok: boolean) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * One channel's state inside an MConnection (internal to the connection;
 * exported for tests and the status snapshot).
 */
export class Channel {
  /** The descriptor with defaults filled in. */
  readonly desc: FullChannelDescriptor;
  /** Ring buffer of queued messages; grows by doubling up to sendQueueCapacity (an idle peer does not hold a large array). */
  private ring: (Uint8Array | undefined)[];
  private head = 0;
  private count = 0;
  /** Message being cut into packets, and how far it has been sent. */
  sending: Uint8Array | null = null;
  /** Bytes of `sending` already cut into packets. */
  sendingOff = 0;
  /** Bytes sent recently, decayed periodically (CometBFT's `recentlySent`). */
  recentlySent = 0;
  /** Total payload bytes sent/received on this channel. */
  bytesSent = 0;
  /** Total payload bytes received on this channel. */
  bytesRecv = 0;
  /**
   * Bytes this channel holds for sending: queued messages, blocked senders'
   * messages, and the message being cut into packets (whole). The
   * MConnection bounds the sum over its channels (`maxSendBufferBytes`).
   */
  heldBytes = 0;
  /** When the partly received message started arriving (performance.now() ms); 0 when none is. */
  recvStartedAt = 0;
  private waiters: SendWaiter[] = [];
  /** Fragments of a multi-packet message (views of received bytes, copied once at its end). */
  private recvParts: Buffer[] = [];
  private recvLen = 0;

  /**
   * @param desc the channel's descriptor (defaults filled in here).
   * @param maxSendWaiters blocked `send()` callers allowed at once; past it
   *   `enqueueWait` resolves false at once. Default unbounded.
   */
  constructor(
    desc: ChannelDescriptor,
    private readonly maxSendWaiters = Infinity,
  ) {
    this.desc = fillChannelDescriptor(desc);
    this.ring = new Array(Math.min(this.desc.sendQueueCapacity, 8));
  }

  /** Messages waiting in the queue (not counting the one being sent). */
  get queueSize(): number {
    return this.count;
  }

  /** True when a message is being sent or waits in the queue. */
  get hasPending(): boolean {
    return this.sending !== null || this.count > 0;
  }

  /** True when the queue has room (against this channel's own capacity). */
  canEnqueue(): boolean {
    return this.count < this.desc.sendQueueCapacity;
  }

  /** Queue `msg` if there is room. */
  tryEnqueue(msg: Uint8Array): boolean {
    if (this.count >= this.desc.sendQueueCapacity) return false;
    this.push(msg);
    this.heldBytes += msg.length;
    return true;
  }

  private push(msg: Uint8Array): void {
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.head + this.count) % this.ring.length] = msg;
    this.count++;
  }

  /** The message being sent was written completely: it is no longer held. */
  finishSending(): void {
    if (this.sending) this.heldBytes -= this.sending.length;
    this.sending = null;
    this.sendingOff = 0;
  }

  /** Double the ring (up to the capacity), unrolling it so the head is at 0. */
  private grow(): void {
    const old = this.ring;
    const next: (Uint8Array | undefined)[] = new Array(Math.min(old.length * 2, this.desc.sendQueueCapacity));
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) % old.length];
    this.ring = next;
    this.head = 0;
  }

  /**
   * Wait for room and queue `msg`: resolves true once queued, false after
   * `timeoutMs`, on abort, or when the channel is closed — and false at once
   * when `maxSendWaiters` senders are already waiting, so a peer that does
   * not read cannot make us hold an unbounded number of messages and timers.
   */
  enqueueWait(msg: Uint8Array, timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.waiters.length >= this.maxSendWaiters) return Promise.resolve(false);
    this.heldBytes += msg.length;
    return new Promise<boolean>((resolve) => {
      const w: SendWaiter = { msg, resolve, timer: undefined, signal, onAbort: undefined };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) w.timer = setTimeout(() => this.dropWaiter(w, false), timeoutMs);
      if (signal) {
        w.onAbort = () => this.dropWaiter(w, false);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
    });
  }

  private dropWaiter(w: SendWaiter, ok: boolean): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) {
      this.waiters.splice(i, 1);
      this.heldBytes -= w.msg.length;
    }
    this.settle(w, ok);
  }

  private settle(w: SendWaiter, ok: boolean): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    w.resolve(ok);
  }

  /**
   * Move the next queued message into `sending` (if none is being sent) and
   * admit waiting senders into the freed room. Returns false when idle.
   */
  nextToSend(): boolean {
    if (this.sending !== null) return true;
    if (this.count === 0) return false;
    const msg = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    this.sending = msg;
    this.sendingOff = 0;
    while (this.waiters.length > 0 && this.count < this.desc.sendQueueCapacity) {
      const w = this.waiters.shift()!;
      this.push(w.msg); // its bytes were counted when it started waiting
      this.settle(w, true);
    }
    return true;
  }

  /** Resolve every blocked sender with false and drop queued messages (on stop). */
  close(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) this.settle(w, false);
    this.ring.fill(undefined);
    this.count = 0;
    this.sending = null;
    this.heldBytes = 0;
    this.recvParts = [];
    this.recvLen = 0;
    this.recvStartedAt = 0;
  }

  /** Blocked senders (for status). */
  get waitingSenders(): number {
    return this.waiters.length;
  }

  /**
   * Take one received fragment. Returns the whole message on `eof`, else null.
   * A single-packet message is returned as the given view (no copy).
   * @throws MessageTooLargeError when the message would exceed
   *   `recvMessageCapacity` (checked before buffering).
   */
  receive(eof: boolean, data: Buffer): Buffer | null {
    const total = this.recvLen + data.length;
    if (total > this.desc.recvMessageCapacity) {
      throw new MessageTooLargeError(`message on channel ${channelIdHex(this.desc.id)} exceeds recvMessageCapacity ${this.desc.recvMessageCapacity} bytes`);
    }
    this.bytesRecv += data.length;
    if (this.recvLen === 0 && eof) return data;
    if (this.recvParts.length === 0) this.recvStartedAt = performance.now();
    this.recvParts.push(data);
    this.recvLen = total;
    if (!eof) return null;
    const msg = Buffer.concat(this.recvParts, total);
    this.recvParts = [];
    this.recvLen = 0;
    this.recvStartedAt = 0;
    return msg;
  }
}
