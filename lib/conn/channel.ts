/**
 * Channels of an MConnection: descriptors with CometBFT's defaults, and one
 * channel's state — the send queue with blocking-send waiters, the cutting
 * of packets, the channel's flow-control windows, reassembly of fragmented
 * messages and the messages held while the channel's reader is paused.
 *
 * @module
 */
import { FlowControlError, InvalidArgumentError, MessageTooLargeError } from '../errors.js';
import { INITIAL_WINDOW, MSG_HEADER_SIZE, writeMsgHeader } from './packet.js';

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
 *   of the received packets (a small fragment of a large received buffer is
 *   copied, so that it does not pin the buffer) and copied once, into a
 *   buffer of its exact size, when its last packet arrives.
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
    if (!Number.isInteger(full[k]) || full[k] < 1)
      throw new InvalidArgumentError(`channel ${channelIdHex(full.id)}: ${k} must be a positive integer, got ${d[k]}`);
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
 * The bytes an MConnection holds for sending, shared by its channels
 * (queued messages and the ones being cut into packets). A message is
 * accepted when the total stays within `max`, or when its channel stays
 * within its guaranteed `share` (so a channel the peer has stopped, whose
 * queue fills the budget, cannot lock the other channels out), or when its
 * channel holds nothing (one message is always accepted). The total is so
 * bounded by 2 × `max` plus one message per channel.
 */
export interface SendBudget {
  /** Bytes held now, over all channels. */
  held: number;
  /** Most bytes held in all (`maxSendBufferBytes`). */
  readonly max: number;
  /** Bytes each channel may always hold (`max` ÷ channels). */
  readonly share: number;
}

/** Round trips shorter than this (ms) never grow a receive window (see `Channel.release`). */
export const MIN_TUNING_RTT_MS = 1;

/** Smallest fragment cut to fill the tail of a batch or to use up the last of a window (bytes). */
export const MIN_FRAGMENT = 1024;

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
  private sending: Uint8Array | null = null;
  private sendingOff = 0;
  /** Bytes sent recently, decayed periodically (CometBFT's `recentlySent`). */
  recentlySent = 0;
  /** Total payload bytes sent on this channel. */
  bytesSent = 0;
  /** Total payload bytes received on this channel. */
  bytesRecv = 0;
  /** Bytes of msg packets (headers included) the peer lets us send on this channel (docs/PROTOCOL.md §4). */
  sendCredit = INITIAL_WINDOW;
  /** Bytes of msg packets the peer may still send us on this channel. */
  recvCredit = INITIAL_WINDOW;
  /** The receive window granted to the peer on this channel (bytes); grows by auto-tuning. */
  recvWindow = INITIAL_WINDOW;
  /** Consumed bytes not yet returned to the peer, and the auto-tuning epoch (start ms, bytes consumed). */
  private consumed = 0;
  private epochStart = 0;
  private epochBytes = 0;
  /** Credit to grant the peer in the next window update (queued by the MConnection). */
  grantPending = 0;
  /** Credit withheld while the reader is paused: returned when it resumes. */
  withheld = 0;
  /** True while the reader of this channel is paused (its receive handler's Promise is pending). */
  blocked = false;
  /** Complete messages that arrived while paused, in order (copies: they do not pin received buffers). */
  private held: (Uint8Array | undefined)[] = [];
  private heldHead = 0;
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
   * @param budget the connection's send budget, shared by its channels. Default unbounded.
   */
  constructor(
    desc: ChannelDescriptor,
    private readonly maxSendWaiters = Infinity,
    private readonly budget: SendBudget = { held: 0, max: Infinity, share: Infinity },
  ) {
    this.desc = fillChannelDescriptor(desc);
    // Stryker disable next-line MethodExpression: only the size the ring is first allocated with (memory), not what it holds: it grows on demand
    this.ring = new Array(Math.min(this.desc.sendQueueCapacity, 8));
  }

  // ---- send side -------------------------------------------------------

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

  /** Bytes this channel holds for sending (queued messages and the one being cut). */
  private heldHere = 0;

  /** True when `bytes` more fit the connection's send budget (see {@link SendBudget}). */
  private fits(bytes: number): boolean {
    const b = this.budget;
    return this.heldHere === 0 || b.held + bytes <= b.max || this.heldHere + bytes <= b.share;
  }

  /** Queue `msg` if the queue and the send budget have room and no blocked sender is ahead of it. */
  tryEnqueue(msg: Uint8Array): boolean {
    if (this.count >= this.desc.sendQueueCapacity || this.waiters.length > 0 || !this.fits(msg.length)) return false;
    this.push(msg);
    return true;
  }

  private push(msg: Uint8Array): void {
    // Stryker disable next-line EqualityOperator: with `!==` every push but a full one grows the ring, so it is always longer than `count` and a full one never happens
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.head + this.count) % this.ring.length] = msg;
    this.count++;
    this.budget.held += msg.length;
    this.heldHere += msg.length;
  }

  /** Double the ring (up to the capacity), unrolling it so the head is at 0. */
  private grow(): void {
    const old = this.ring;
    // Stryker disable next-line MethodExpression: growing to the capacity at once only allocates more (memory), the queue behaves the same
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
   * A waiting message is the caller's until queued: it does not count
   * against the send budget.
   */
  enqueueWait(msg: Uint8Array, timeoutMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.waiters.length >= this.maxSendWaiters) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w: SendWaiter = { msg, resolve, timer: undefined, signal, onAbort: undefined };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) w.timer = setTimeout(() => this.dropWaiter(w), timeoutMs);
      if (signal) {
        w.onAbort = () => this.dropWaiter(w);
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: an AbortSignal fires 'abort' once, and settle() removes the listener anyway
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
    });
  }

  private dropWaiter(w: SendWaiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    this.settle(w, false);
  }

  private settle(w: SendWaiter, ok: boolean): void {
    if (w.timer) clearTimeout(w.timer);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    w.resolve(ok);
  }

  /** Queue blocked senders, in order, while the queue and the send budget have room; each resolves true. */
  admitWaiters(): void {
    for (
      let w = this.waiters[0];
      w !== undefined && this.count < this.desc.sendQueueCapacity && this.fits(w.msg.length);
      w = this.waiters[0]
    ) {
      this.waiters.shift();
      this.push(w.msg);
      this.settle(w, true);
    }
  }

  /** Blocked senders (for status). */
  get waitingSenders(): number {
    return this.waiters.length;
  }

  /**
   * True when a packet of this channel can be written now: a message is
   * pending (the next queued one becomes the one being sent) and the peer's
   * credit covers a header plus the rest of it or at least
   * {@link MIN_FRAGMENT} bytes of it.
   */
  ready(): boolean {
    if (this.sending === null) {
      const next = this.ring[this.head]; // undefined exactly when the queue is empty
      if (this.count === 0 || next === undefined) return false;
      this.sending = next;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.ring.length;
      this.count--;
      this.sendingOff = 0;
    }
    const rest = this.sending.length - this.sendingOff;
    return this.sendCredit - MSG_HEADER_SIZE >= (rest < MIN_FRAGMENT ? rest : MIN_FRAGMENT);
  }

  /**
   * Cut the next packet of the message being sent into `buf` at `off`, as
   * CometBFT's `writePacketMsgTo`: at most `maxPayload` bytes of data, within
   * the peer's credit and the `room` bytes left in the batch (a fragment cut
   * to fill the room is at least {@link MIN_FRAGMENT} bytes, unless the
   * batch is empty). Call only after {@link ready} returned true.
   * @returns the offset after the packet; `off` when it does not fit the room.
   */
  writePacketTo(buf: Buffer, off: number, room: number, maxPayload: number, batchEmpty: boolean): number {
    const msg = this.sending!;
    const rest = msg.length - this.sendingOff;
    let n = rest < maxPayload ? rest : maxPayload;
    const credit = this.sendCredit - MSG_HEADER_SIZE;
    const space = room - MSG_HEADER_SIZE;
    const limit = space < credit ? space : credit;
    if (n > limit) {
      if (limit < MIN_FRAGMENT && !batchEmpty && limit === space) return off;
      n = limit;
    }
    const eof = n === rest;
    let p = writeMsgHeader(buf, off, this.desc.id, eof, n);
    if (n > 0) {
      buf.set(n === msg.length ? msg : msg.subarray(this.sendingOff, this.sendingOff + n), p);
      p += n;
    }
    this.sendCredit -= MSG_HEADER_SIZE + n;
    this.recentlySent += n;
    this.bytesSent += n;
    if (eof) {
      this.budget.held -= msg.length;
      this.heldHere -= msg.length;
      this.sending = null;
      this.sendingOff = 0;
    } else {
      this.sendingOff += n;
    }
    return p;
  }

  /** Resolve every blocked sender with false and drop queued, held and partly received messages (on stop). */
  close(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) this.settle(w, false);
    let freed = this.sending ? this.sending.length : 0;
    for (let i = 0; i < this.count; i++) freed += this.ring[(this.head + i) % this.ring.length]?.length ?? 0;
    this.budget.held -= freed;
    this.heldHere = 0;
    this.ring.fill(undefined);
    this.count = 0;
    this.sending = null;
    this.recvParts = [];
    this.recvLen = 0;
    this.recvStartedAt = 0;
    this.held = [];
    this.heldHead = 0;
  }

  // ---- receive side ------------------------------------------------------

  /**
   * Charge a received msg packet of `cost` bytes (header + data) to the
   * window. @throws FlowControlError (`ERR_FLOW_CONTROL`) when the peer sent
   * beyond the credit it was granted on this channel.
   */
  chargeRecv(cost: number): void {
    this.recvCredit -= cost;
    if (this.recvCredit < 0) {
      throw new FlowControlError(
        `peer sent ${-this.recvCredit} bytes beyond the ${this.recvWindow}-byte window of channel ${channelIdHex(this.desc.id)}`,
      );
    }
  }

  /**
   * Return `cost` consumed bytes to the window. Credit goes back to the peer
   * once a quarter of the window has been consumed; the result is the
   * increment to grant now (0 until then). Auto-tuning, as quic-go's
   * `maybeAdjustWindowSize` (and go-yamux's window growth): when more than
   * half the window was consumed in an epoch shorter than 4 × `rttMs` ×
   * (consumed ÷ window), the reader keeps up with a sender that the window
   * holds back, so the window doubles — by at most `growRoom()` bytes (asked
   * only then: it sums the connection's windows) and
   * never past `maxWindow`; each evaluation starts a new epoch. Below
   * {@link MIN_TUNING_RTT_MS} of round trip the window never grows: there the
   * starting window already covers the bandwidth × delay of any link (1 MiB
   * at 1 GB/s × 1 ms), and a reader that drains a burst from its socket
   * buffers in a fraction of a loopback round trip would look like a fast
   * link and grow the window for nothing but queueing (measured: W5's p99
   * 34 → 16 ms in plaintext when growth was off).
   * @param now performance.now() ms.
   * @param rttMs the connection's round-trip time (ms); 0 = unknown (no growth).
   */
  release(cost: number, now: number, rttMs: number, maxWindow: number, growRoom: () => number): number {
    this.consumed += cost;
    this.epochBytes += cost;
    if (this.consumed < this.recvWindow >>> 2) return 0;
    let inc = this.consumed;
    this.consumed = 0;
    if (this.epochBytes > this.recvWindow >>> 1) {
      if (rttMs >= MIN_TUNING_RTT_MS && now - this.epochStart < 4 * rttMs * (this.epochBytes / this.recvWindow)) {
        const grow = Math.min(this.recvWindow, maxWindow - this.recvWindow, growRoom());
        if (grow > 0) {
          this.recvWindow += grow;
          inc += grow;
        }
      }
      this.epochStart = now;
      this.epochBytes = 0;
    }
    this.recvCredit += inc;
    return inc;
  }

  /**
   * Open the window to `window` bytes (the first grant after start).
   * @returns the increment to grant (0 when the window is already that large).
   */
  openWindow(window: number, now: number): number {
    this.epochStart = now;
    const inc = window - this.recvWindow;
    if (inc <= 0) return 0;
    this.recvWindow = window;
    this.recvCredit += inc;
    return inc;
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
      throw new MessageTooLargeError(
        `message on channel ${channelIdHex(this.desc.id)} exceeds recvMessageCapacity ${this.desc.recvMessageCapacity} bytes`,
      );
    }
    this.bytesRecv += data.length;
    if (this.recvLen === 0 && eof) return data;
    if (this.recvParts.length === 0) this.recvStartedAt = performance.now();
    // a small view would pin a large received buffer (a frame) until the message ends: copy it
    // Stryker disable next-line ArithmeticOperator: `/ 4` copies (nearly) every fragment: more copying, the same message
    this.recvParts.push(data.length * 4 < data.buffer.byteLength ? Buffer.from(data) : data);
    this.recvLen = total;
    if (!eof) return null;
    const msg = Buffer.concat(this.recvParts, total);
    this.recvParts = [];
    this.recvLen = 0;
    this.recvStartedAt = 0;
    return msg;
  }

  /** Keep a message that arrived while the reader is paused (a copy when it is a view of a larger buffer). */
  hold(msg: Buffer): void {
    this.held.push(msg.byteLength === msg.buffer.byteLength ? msg : Buffer.from(msg));
  }

  /** The next held message, in arrival order, or undefined when none is left. */
  nextHeld(): Uint8Array | undefined {
    const m = this.held[this.heldHead]; // undefined exactly when none is left (entries before heldHead are cleared)
    if (m === undefined) return undefined;
    this.held[this.heldHead++] = undefined;
    // Stryker disable next-line BlockStatement: only frees the array of taken messages (memory); heldMessages and the order stay right
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    }
    return m;
  }

  /** Messages held while paused. */
  get heldMessages(): number {
    return this.held.length - this.heldHead;
  }
}
