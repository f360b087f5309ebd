/**
 * MConnection: prioritised, multiplexed channels over one stream, as
 * CometBFT's `p2p/conn.MConnection`.
 *
 * Sending: each channel has a bounded queue; a scheduler repeatedly picks,
 * among channels with pending data, the one with the least
 * `recentlySent / priority` and writes one packet of at most
 * `maxPacketMsgPayloadSize` bytes from it, so a large message on one channel
 * cannot starve another. Packets are batched into one buffer per socket write.
 * `recentlySent` decays by 0.8 every 2 s (as CometBFT's `updateStats`); and a
 * channel that was idle re-enters at no worse than the best backlogged
 * channel's ratio (start-time fair queuing), so a high-priority channel that
 * sent a big message earlier is not starved afterwards — a known weakness of
 * the reference.
 *
 * Receiving: packets are decoded as they arrive, fragments reassembled per
 * channel under `recvMessageCapacity`, and each message handed to
 * `onReceive`. A handler that returns a Promise pauses that channel only,
 * until it settles: the connection keeps reading, other channels and
 * keepalive flow, messages of the paused channel that are already in flight
 * are held (in order, at most its window), and the channel's credit is not
 * returned, so the peer's queue for it fills (CometBFT #3250, #3199).
 *
 * Flow control: per channel, as HTTP/2 streams (RFC 9113 §5.2, §6.9) — each
 * channel has its own credit window in each direction (docs/PROTOCOL.md §4).
 * The window we grant starts at `recvWindowBytes` and is auto-tuned (see
 * `Channel.release`: it doubles while the reader keeps up with a sender
 * that the window holds back, against the connection's minimum round-trip
 * time) up to `maxRecvWindowBytes` for all channels together. A ping goes
 * out at start so that the round-trip time is known from the first
 * milliseconds.
 *
 * Isolation: everything a peer can make us hold or wait for is bounded.
 * Blocked `send()` callers per channel are capped (`maxSendWaiters`: past
 * it `send` resolves false at once), and so are the bytes held for sending to
 * the peer (`maxSendBufferBytes`, with a guaranteed share per channel so that
 * one stopped channel cannot lock the others out: past it `trySend` returns
 * false and `send` waits). What the peer can make us buffer on receipt is its
 * flow-control windows (together at most the larger of `maxRecvWindowBytes`
 * and channels × `recvWindowBytes`) plus, per channel, one message being
 * reassembled (`recvMessageCapacity`). A peer that grants no credit (or does not read)
 * while we have data for it is disconnected after `sendStallTimeoutMs`
 * (`ERR_SEND_STALL`); one that sends nothing at all for `idleTimeoutMs`
 * (`ERR_IDLE_TIMEOUT`, as neo-go's idle timeout), or leaves a packet or a
 * message half-sent (`packetTimeoutMs`, `messageTimeoutMs`: `ERR_RECV_STALL`)
 * likewise; time our own reader spends paused is not counted against it.
 * A peer that pings without waiting for our pongs (`ERR_PING_FLOOD`) or
 * sends a pong we did not ask for (`ERR_UNSOLICITED_PONG`) breaks the
 * protocol: at most one pong answers any number of pings, so pings cost us
 * no more than one pong per flush.
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import {
  ConnectionClosedError,
  FlowControlError,
  InvalidArgumentError,
  KeepaliveError,
  PongTimeoutError,
  ReceiveFailedError,
  StallError,
  SwitchboardError,
  UnknownChannelError,
} from '../errors.js';
import { Channel, channelIdHex, type ChannelDescriptor, type SendBudget } from './channel.js';
import { FlowRate } from './flow-rate.js';
import {
  INITIAL_WINDOW,
  MAX_PACKET_PAYLOAD_LIMIT,
  MAX_WINDOW,
  MSG_HEADER_SIZE,
  PACKET_PING,
  PacketDecoder,
  WINDOW_UPDATE_SIZE,
  type PacketHandler,
  writePing,
  writePong,
  writeWindowUpdate,
} from './packet.js';

/**
 * MConnection settings. Units: ms for times, bytes for sizes, bytes/s for rates.
 */
export interface MConnConfig {
  /** Send rate limit (bytes/s); 0 = unlimited. Default 0 (CometBFT's node config uses 5120000). */
  sendRate: number;
  /** Receive rate limit (bytes/s); 0 = unlimited. Default 0. */
  recvRate: number;
  /**
   * Largest data of one msg packet (bytes), 1..1048576. Default 16384: large
   * enough that per-packet work does not bound throughput, small enough that a
   * high-priority packet waits at most ~16 KiB behind a bulk channel.
   * CometBFT uses 1024. Both ends must agree (a peer sending larger packets
   * than ours accepts is disconnected).
   */
  maxPacketMsgPayloadSize: number;
  /**
   * Longest a queued packet waits before it is written (ms). 0 (default):
   * written at the end of the current event-loop turn, batching everything
   * queued in that turn into one write. CometBFT v1 uses 10 ms.
   */
  flushThrottleMs: number;
  /** Bytes per socket write at most (a batch of packets). Default 65536. */
  maxBatchBytes: number;
  /**
   * Flow-control window we grant the peer on each channel at start (bytes
   * of msg packets, headers included, that may be in flight to us
   * unconsumed on that channel), 65536..2^31−1. Default 1048576. It bounds
   * what sits in socket buffers ahead of a high-priority packet (so the
   * priority scheduler keeps its meaning under bulk traffic) and what a peer
   * can make us hold for a paused channel. Credit is returned (HTTP/2-style
   * window updates, RFC 9113 §6.9) each time a quarter of the window has
   * been consumed; a channel whose receive handler is pending returns none.
   * Smaller windows cut the wait of urgent packets behind bulk, larger ones
   * raise bulk throughput on long links (see benchmarks/README.md, W5).
   */
  recvWindowBytes: number;
  /**
   * Most bytes the receive windows of all channels may add up to by
   * auto-tuning (each starts at `recvWindowBytes` and doubles while its
   * reader keeps up with a sender the window holds back), recvWindowBytes..2^31−1.
   * Default 16777216 (16 MiB): a window of 8 MiB or more on one channel, line
   * rate over a 100 ms, 640 Mbit/s path.
   */
  maxRecvWindowBytes: number;
  /** Interval between pings (ms). Default 60000, as CometBFT. */
  pingIntervalMs: number;
  /** Time to wait for a pong (ms) before failing with `ERR_PONG_TIMEOUT`. Default 45000, as CometBFT. */
  pongTimeoutMs: number;
  /** Default timeout of a blocking `send()` (ms). Default 10000, as CometBFT's `defaultSendTimeout`. */
  sendTimeoutMs: number;
  /** Longest `flushStop()` waits for the queues to drain before closing anyway (ms). Default 10000. */
  flushStopTimeoutMs: number;
  /**
   * Blocked `send()` callers allowed at once per channel; past it `send`
   * resolves false at once. Default 1024 (the gossip example's history of
   * 1000 messages to a new peer fits). CometBFT does not bound them.
   */
  maxSendWaiters: number;
  /**
   * Bytes held for sending to this peer, summed over its channels (queued
   * messages and the ones being cut into packets; a blocked sender's message
   * is the sender's until queued): past it `trySend` returns false and `send`
   * waits for room, except that each channel may always hold its share
   * (this ÷ channels) and one message — so the total stays under 2 × this
   * plus a message per channel, and a channel the peer has stopped cannot
   * lock the others out. Default 16777216 (16 MiB).
   */
  maxSendBufferBytes: number;
  /**
   * A peer that lets us make no progress while we have data for it — no
   * flow-control credit, or a socket that does not drain — for this long is
   * disconnected with `ERR_SEND_STALL` (ms); 0 = never. Default 30000
   * (shorter than a ping interval plus pong timeout).
   */
  sendStallTimeoutMs: number;
  /**
   * Nothing at all received (not even a pong to our pings) for this long
   * disconnects with `ERR_IDLE_TIMEOUT` (ms); 0 = never. Must exceed
   * `pingIntervalMs` (our pings draw a pong from a live peer). Default 90000.
   */
  idleTimeoutMs: number;
  /** A packet whose first bytes arrived must be complete within this (ms), else `ERR_RECV_STALL`; 0 = never. Default 10000. */
  packetTimeoutMs: number;
  /**
   * A message sent in several packets must be complete within this (ms) of
   * its first packet, else `ERR_RECV_STALL`; 0 = never. Default 120000 (a
   * 21 MiB message at 180 kB/s).
   */
  messageTimeoutMs: number;
}

/** Defaults of {@link MConnConfig}. */
export const DEFAULT_MCONN_CONFIG: Readonly<MConnConfig> = Object.freeze({
  sendRate: 0,
  recvRate: 0,
  maxPacketMsgPayloadSize: 16384,
  flushThrottleMs: 0,
  maxBatchBytes: 65536,
  recvWindowBytes: 1 << 20,
  maxRecvWindowBytes: 16 << 20,
  pingIntervalMs: 60_000,
  pongTimeoutMs: 45_000,
  sendTimeoutMs: 10_000,
  flushStopTimeoutMs: 10_000,
  maxSendWaiters: 1024,
  maxSendBufferBytes: 16 << 20,
  sendStallTimeoutMs: 30_000,
  idleTimeoutMs: 90_000,
  packetTimeoutMs: 10_000,
  messageTimeoutMs: 120_000,
});

/** One channel in a {@link ConnectionStatus}. */
export interface ChannelStatus {
  /** Channel id. */
  id: number;
  /** Channel name (descriptor `name`). */
  name: string;
  /** Channel priority. */
  priority: number;
  /** Capacity of the send queue (messages). */
  sendQueueCapacity: number;
  /** Messages waiting (not counting one partly written). */
  sendQueueSize: number;
  /** Decayed bytes sent recently (the scheduler's measure). */
  recentlySent: number;
  /** Payload bytes sent / received on this channel since start. */
  bytesSent: number;
  /** Payload bytes received on this channel since start. */
  bytesRecv: number;
  /** The flow-control window we grant the peer on this channel (bytes; starts at `recvWindowBytes`, grows by auto-tuning). */
  recvWindow: number;
  /** Credit the peer has left us on this channel (bytes of msg packets we may send now). */
  sendCredit: number;
  /** True while this channel's receive handler is pending (the channel is paused). */
  paused: boolean;
}

/** Snapshot returned by {@link MConnection.status}. */
export interface ConnectionStatus {
  /** Time since `start()` (ms). */
  durationMs: number;
  /** Moving-average rates (bytes/s) and totals (bytes) on the wire, headers included. */
  sendRate: number;
  /** Moving-average receive rate (bytes/s). */
  recvRate: number;
  /** Bytes written since start. */
  bytesSent: number;
  /** Bytes read since start. */
  bytesRecv: number;
  /** One entry per channel. */
  channels: ChannelStatus[];
  /**
   * Round-trip time of the keepalive ping/pong (ms): the latest sample and
   * the smoothed value, as TCP's SRTT (RFC 6298, alpha = 1/8). Absent until
   * the first pong (the first ping goes out after `pingIntervalMs`). A round
   * trip during which our own reader was paused is not sampled (it measures
   * us, not the link), as Karn's rule skips ambiguous samples.
   */
  rttMs?: RttStatus;
}

/** Keepalive round-trip time of a connection (ms). */
export interface RttStatus {
  /** The latest ping→pong sample (ms). */
  latest: number;
  /** The smoothed round-trip time, SRTT of RFC 6298 with alpha = 1/8 (ms). */
  smoothed: number;
}

/** Options of a blocking send. */
export interface SendOptions {
  /** Give up (resolve false) when aborted. */
  signal?: AbortSignal;
  /** Give up (resolve false) after this many ms; default `sendTimeoutMs` (10 s). 0 = wait forever. */
  timeoutMs?: number;
}

/** Called with each complete message; return a Promise to pause reading until it settles. */
export type ReceiveHandler = (channelId: number, msg: Uint8Array) => void | Promise<unknown>;
/** Called at most once, with the typed error that stopped the connection. */
export type ErrorHandler = (err: SwitchboardError) => void;

const DECAY_PERIOD_MS = 2000;
const DECAY_FACTOR = 0.8;
/** Room kept in a batch for control packets: a pong, a ping and a window update. */
const CONTROL_BYTES = 2 + WINDOW_UPDATE_SIZE;
/** Pings a peer may send without a pong of ours in between before `ERR_PING_FLOOD` (an honest peer waits for each pong). */
const MAX_PINGS_PER_PONG = 4;
/** Window of {@link MConnection.recentRecvRate} (ms). */
const RECV_WINDOW_MS = 250;
/** Bounds of the watchdog period (ms): a quarter of the shortest deadline, within these. */
const WATCHDOG_MIN_MS = 20;
const WATCHDOG_MAX_MS = 1000;
/** Messages held for a paused channel delivered per event-loop turn once it resumes. */
const MAX_HELD_PER_TURN = 64;
/** Batches written per event-loop turn before yielding to the loop. */
const MAX_BATCHES_PER_TURN = 16;
/**
 * Size of the slab that batches are carved from (bytes). One slab is shared
 * by every connection of the process: batches are disjoint views written
 * once, so sharing is safe, and 1,000 idle peers do not each pin a slab.
 */
const SLAB_SIZE = 1 << 20;
let slab: Buffer = Buffer.allocUnsafe(0);
let slabOff = 0;

/**
 * A multiplexed connection over any Duplex (a socket, a SecretConnection,
 * an in-memory pair). See the module doc for the scheduling rules.
 *
 * Constructor errors: InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for no
 * channels, duplicate channel ids, invalid descriptors or config.
 */
export class MConnection {
  /** The effective settings (defaults filled in). */
  readonly config: Readonly<MConnConfig>;
  private readonly channels: Channel[];
  private readonly byId: (Channel | undefined)[] = new Array(256);
  private readonly decoder: PacketDecoder;
  private readonly sendFlow: FlowRate;
  private readonly recvFlow: FlowRate;
  private started = false;
  private stopped = false;
  private stopping = false;
  /** Set by flushStop once it has ended our writable side: nothing more may be written (a late pong or grant would be a write after end). */
  private writeEnded = false;
  private failed = false;
  private startedAt = 0;
  // send side
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private pingPending = false;
  private pongPending = 0;
  /** Bytes held for sending, shared with the channels (`maxSendBufferBytes`). */
  private readonly budget: SendBudget;
  // flow control (per channel, RFC 9113 §6.9 semantics): channels with credit to grant in the next batch
  private readonly grantQueue: Channel[] = [];
  /** Least round-trip time seen (ms; 0 until the first pong): the auto-tuning's RTT, as BBR's min_rtt, so queueing behind our own bulk data does not inflate it. */
  private minRtt = 0;
  private lastDecay = 0;
  private idleWaiters: (() => void)[] = [];
  // keepalive
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;
  private pausedSincePing = false;
  private pongDeferred = false;
  private pingSentAt = 0;
  private rtt: RttStatus | undefined;
  /** Called with each round-trip sample (ms) when a pong arrives (the Switch feeds its RTT histogram). */
  onRtt: ((rttMs: number) => void) | undefined;
  // receive side
  private readPaused = false;
  private recvRateTimer: NodeJS.Timeout | undefined;
  private remoteEnded = false;
  /** Set by flushStop while it waits for the peer to close after our FIN. */
  private closeWaiter: (() => void) | undefined;
  // isolation deadlines (performance.now() ms; 0 = not running)
  private watchdogTimer: NodeJS.Timeout | undefined;
  private lastRecvAt = 0;
  private lastMsgAt = 0;
  private packetStartedAt = 0;
  private sendStalledSince = 0;
  private pingsSincePong = 0;
  /** Bytes read in the current and the previous window of RECV_WINDOW_MS (previous: −1 before the first ends). */
  private recvWin = 0;
  private recvPrevWin = -1;
  private recvWinStart = performance.now();

  /**
   * @param conn the stream to run over (owned by the connection from `start()`: it is destroyed on stop).
   * @param channels one descriptor per channel; ids must be unique.
   * @param onReceive gets each complete message (a view of received bytes; keep it or copy it).
   * @param onError gets the error that stopped the connection, exactly once.
   * @param config overrides of {@link DEFAULT_MCONN_CONFIG}.
   */
  constructor(
    private readonly conn: Duplex,
    channels: readonly ChannelDescriptor[],
    private readonly onReceive: ReceiveHandler,
    private readonly onError: ErrorHandler,
    config: Partial<MConnConfig> = {},
  ) {
    this.config = validateConfig({ ...DEFAULT_MCONN_CONFIG, ...stripUndefined(config) });
    if (channels.length === 0) throw new InvalidArgumentError('an MConnection needs at least one channel');
    this.budget = { held: 0, max: this.config.maxSendBufferBytes, share: this.config.maxSendBufferBytes / Math.max(1, channels.length) };
    this.channels = channels.map((d) => new Channel(d, this.config.maxSendWaiters, this.budget));
    for (const ch of this.channels) {
      if (this.byId[ch.desc.id]) throw new InvalidArgumentError(`duplicate channel id ${channelIdHex(ch.desc.id)}`);
      this.byId[ch.desc.id] = ch;
    }
    this.sendFlow = new FlowRate(this.config.sendRate);
    this.recvFlow = new FlowRate(this.config.recvRate);
    const handler: PacketHandler = {
      onControl: (type) => this.onControl(type),
      onWindowUpdate: (id, inc) => this.onWindowUpdate(id, inc),
      onMsg: (id, eof, data) => this.onMsg(id, eof, data),
    };
    this.decoder = new PacketDecoder(handler, this.config.maxPacketMsgPayloadSize);
  }

  /** Begin reading, writing and keepalive. Idempotent. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.startedAt = this.lastDecay = performance.now();
    this.conn.on('data', this.onData);
    this.conn.resume(); // a handshake may have left the stream in paused mode
    this.conn.on('end', this.onEnd);
    this.conn.on('error', this.onStreamError);
    this.conn.on('close', this.onClose);
    this.pingTimer = setInterval(this.sendPing, this.config.pingIntervalMs);
    this.pingTimer.unref();
    this.lastRecvAt = this.lastMsgAt = this.startedAt;
    const c = this.config;
    const deadlines = [c.sendStallTimeoutMs, c.idleTimeoutMs, c.packetTimeoutMs, c.messageTimeoutMs].filter((d) => d > 0);
    if (deadlines.length > 0) {
      const period = Math.min(WATCHDOG_MAX_MS, Math.max(WATCHDOG_MIN_MS, Math.min(...deadlines) / 4));
      this.watchdogTimer = setInterval(this.watchdog, period);
      this.watchdogTimer.unref();
    }
    // open each channel's receive window from the protocol's initial size to the configured one
    for (const ch of this.channels) {
      this.queueGrant(ch, ch.openWindow(this.config.recvWindowBytes, this.startedAt));
    }
    // a first ping, so the round-trip time (flow control's auto-tuning, status) is known at once
    this.pingPending = true;
    this.scheduleFlush();
  }

  /**
   * When the last complete message arrived (`performance.now()` ms of the
   * read that completed it; the start time until one has). The Switch replaces the inbound peer with the
   * oldest one when its inbound slots are full.
   */
  get lastMessageAt(): number {
    return this.lastMsgAt;
  }

  /**
   * Blocked `send()` callers on this connection's busiest channel (bounded by
   * `maxSendWaiters`): how far behind the peer is in taking what we send.
   */
  get mostSendWaiters(): number {
    let n = 0;
    for (const ch of this.channels) if (ch.waitingSenders > n) n = ch.waitingSenders;
    return n;
  }

  /** How long (ms) the peer has let us send nothing (no credit, or a socket that does not drain) though we have data for it; 0 when it takes data. */
  get sendStalledMs(): number {
    return this.sendStalledSince > 0 ? performance.now() - this.sendStalledSince : 0;
  }

  /**
   * Receive rate over the last quarter to half second (bytes/s, as read
   * from the stream): quick to react, unlike the 1 s moving average of
   * {@link status}. The Switch compares peers by it to slow a flood.
   */
  get recentRecvRate(): number {
    const now = performance.now();
    this.rollRecvWindow(now);
    const span = now - this.recvWinStart + (this.recvPrevWin >= 0 ? RECV_WINDOW_MS : 0);
    return span > 0 ? ((Math.max(0, this.recvPrevWin) + this.recvWin) * 1000) / span : 0;
  }

  private rollRecvWindow(now: number): void {
    const age = now - this.recvWinStart;
    if (age < RECV_WINDOW_MS) return;
    this.recvPrevWin = age < 2 * RECV_WINDOW_MS ? this.recvWin : 0;
    this.recvWin = 0;
    this.recvWinStart = now;
  }

  /** Bytes held for sending to the peer, over all channels (bounded by `maxSendBufferBytes`). */
  get sendBufferedBytes(): number {
    return this.budget.held;
  }

  /** True once stopped (by `stop`, `flushStop` or an error). */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Stop at once, as CometBFT's `Stop`: queued messages are dropped, blocked
   * senders resolve false, the stream is destroyed. Does not call `onError`.
   * Idempotent.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearInterval(this.watchdogTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.flushTimer);
    clearTimeout(this.recvRateTimer);
    for (const ch of this.channels) ch.close();
    this.conn.off('data', this.onData);
    this.conn.off('drain', this.onDrain);
    this.conn.off('end', this.onEnd);
    // keep an error listener: a late socket error must not crash the process
    this.conn.off('close', this.onClose);
    this.conn.destroy();
    this.releaseIdleWaiters();
    this.closeWaiter?.();
  }

  /**
   * Write every queued message, then close, as CometBFT's `FlushStop`: once
   * the queues are written it sends FIN and keeps reading until the peer
   * closes too (so no reset can discard what the peer has not read yet). New
   * sends are refused (false) from the moment it is called. Each of the two
   * waits is bounded by `flushStopTimeoutMs`, after which it closes anyway.
   */
  async flushStop(): Promise<void> {
    if (this.stopped) return;
    this.stopping = true;
    if (this.started) {
      const deadline = setTimeout(() => this.releaseIdleWaiters(), this.config.flushStopTimeoutMs);
      try {
        await new Promise<void>((resolve) => {
          this.idleWaiters.push(resolve);
          this.scheduleFlush();
          this.checkIdle();
        });
        if (!this.stopped) {
          // Let the stream write out what it holds (a SecretConnection seals it), send our FIN, and
          // keep reading until the peer closes too: closing a socket with unread input (window
          // updates, pings) makes the kernel send a reset, which can discard data the peer has not
          // read yet.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.config.flushStopTimeoutMs);
            this.closeWaiter = () => {
              clearTimeout(timer);
              resolve();
            };
            this.writeEnded = true;
            this.conn.end();
            if (this.remoteEnded) this.closeWaiter(); // the peer had already finished
          });
        }
      } finally {
        clearTimeout(deadline);
      }
    }
    this.stop();
  }

  /**
   * Queue `msg` on `channelId`, waiting for room if the queue or the peer's
   * send buffer (`maxSendBufferBytes`) is full, as CometBFT's
   * `MConnection.Send`. Resolves true once queued (at once when there is
   * room), false after `opts.timeoutMs` (default `sendTimeoutMs`, 10 s), on
   * abort, or when the connection is stopped or stopping — and false at once
   * when `maxSendWaiters` senders already wait on the channel.
   * The bytes are not copied: do not modify `msg` after sending it.
   * Rejects with InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a channel id this connection does not have.
   */
  send(channelId: number, msg: Uint8Array, opts?: SendOptions): Promise<boolean> {
    const ch = this.byId[channelId];
    if (ch === undefined) return Promise.reject(new InvalidArgumentError(`unknown channel ${channelIdHex(channelId)}`));
    if (this.stopped || this.stopping || opts?.signal?.aborted) return Promise.resolve(false);
    if (this.enqueue(ch, msg)) return Promise.resolve(true);
    return ch.enqueueWait(msg, opts?.timeoutMs ?? this.config.sendTimeoutMs, opts?.signal);
  }

  /**
   * Queue `msg` if there is room, never waiting, as CometBFT's `TrySend`.
   * Returns false when the channel's queue is full, the peer's send buffer is
   * full (`maxSendBufferBytes`) or the connection is stopped.
   * @throws InvalidArgumentError for an unknown channel id.
   */
  trySend(channelId: number, msg: Uint8Array): boolean {
    const ch = this.channel(channelId);
    if (this.stopped || this.stopping) return false;
    return this.enqueue(ch, msg);
  }

  /**
   * True when `trySend` on `channelId` would queue now, checked against that
   * channel's own `sendQueueCapacity` (CometBFT checks the default capacity — a
   * known bug). False when stopped. @throws InvalidArgumentError for an unknown channel id.
   */
  canSend(channelId: number): boolean {
    const ch = this.channel(channelId);
    return !this.stopped && !this.stopping && ch.canEnqueue();
  }

  /** Queue sizes, priorities, recently sent bytes and rates. */
  status(): ConnectionStatus {
    return {
      durationMs: this.started ? performance.now() - this.startedAt : 0,
      sendRate: this.sendFlow.rate(),
      recvRate: this.recvFlow.rate(),
      bytesSent: this.sendFlow.total,
      bytesRecv: this.recvFlow.total,
      channels: this.channels.map((c) => ({
        id: c.desc.id,
        name: c.desc.name,
        priority: c.desc.priority,
        sendQueueCapacity: c.desc.sendQueueCapacity,
        sendQueueSize: c.queueSize,
        recentlySent: c.recentlySent,
        bytesSent: c.bytesSent,
        bytesRecv: c.bytesRecv,
        recvWindow: c.recvWindow,
        sendCredit: c.sendCredit,
        paused: c.blocked,
      })),
      ...(this.rtt ? { rttMs: { ...this.rtt } } : {}),
    };
  }

  private channel(id: number): Channel {
    const ch = this.byId[id];
    if (ch === undefined) throw new InvalidArgumentError(`unknown channel ${channelIdHex(id)}`);
    return ch;
  }

  private enqueue(ch: Channel, msg: Uint8Array): boolean {
    const wasIdle = !ch.hasPending;
    if (!ch.tryEnqueue(msg)) return false;
    if (wasIdle) this.catchUp(ch);
    if (!this.flushScheduled && this.started) this.scheduleFlush();
    return true;
  }

  /** Start-time fair queuing: an idle channel re-enters at no worse than the best backlogged ratio. */
  private catchUp(ch: Channel): void {
    let best = Infinity;
    for (const c of this.channels) {
      if (c !== ch && c.hasPending) {
        const r = c.recentlySent / c.desc.priority;
        if (r < best) best = r;
      }
    }
    const cap = best === Infinity ? 0 : best * ch.desc.priority;
    if (ch.recentlySent > cap) ch.recentlySent = cap;
  }

  // ---- send side ------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled || this.stopped || this.writeEnded) return;
    this.flushScheduled = true;
    if (this.config.flushThrottleMs > 0) this.flushTimer = setTimeout(this.flush, this.config.flushThrottleMs);
    else setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.stopped || this.waitingDrain || this.writeEnded) return;
    try {
      for (let i = 0; i < MAX_BATCHES_PER_TURN; i++) {
        const wait = this.sendFlow.delayMs();
        if (wait > 0) {
          this.flushScheduled = true;
          this.flushTimer = setTimeout(this.flush, wait);
          return;
        }
        const batch = this.buildBatch();
        if (batch === null) {
          // data left but nothing written: the peer's windows are exhausted
          if (this.sendStalledSince === 0 && this.channels.some((c) => c.hasPending)) this.sendStalledSince = performance.now();
          this.checkIdle();
          return;
        }
        this.sendFlow.record(batch.length);
        if (!this.conn.write(batch)) {
          if (this.sendStalledSince === 0) this.sendStalledSince = performance.now();
          this.waitingDrain = true;
          this.conn.once('drain', this.onDrain);
          return;
        }
      }
      this.scheduleFlush();
    } catch (err) {
      this.fail(asSwitchboardError(err));
    }
  };

  /**
   * The stream drained: write on in the next turn, not now. A SecretConnection's drain comes in
   * a nextTick after a write the kernel took at once, so flushing here chained batch after batch
   * in nextTicks and kept the event loop from reading the peer's pongs and window updates
   * (W5 p99 56 → 36 ms under encrypted bulk, W2 unchanged within noise).
   */
  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.sendStalledSince = 0;
    this.scheduleFlush();
  };

  /** Next batch of packets, or null when nothing is pending. */
  private buildBatch(): Buffer | null {
    const maxPayload = this.config.maxPacketMsgPayloadSize;
    const size = Math.max(this.config.maxBatchBytes, maxPayload + MSG_HEADER_SIZE + CONTROL_BYTES);
    if (slab.length - slabOff < size) {
      slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, size));
      slabOff = 0;
    }
    const buf = slab;
    const start = slabOff;
    const end = start + size;
    let off = start;
    if (this.pongPending > 0) {
      off = writePong(buf, off);
      this.pongPending--;
      this.pingsSincePong = 0;
    }
    if (this.pingPending) {
      off = writePing(buf, off);
      this.pingPending = false;
      this.pingSentAt = performance.now();
      this.armPongTimer();
    }
    off = this.writeGrants(buf, off, end);
    this.decay();
    const single = this.channels.length === 1 ? this.channels[0]! : null;
    while (end - off > MSG_HEADER_SIZE) {
      const ch = single ? (single.ready() ? single : null) : this.pick();
      if (ch === null) break;
      const next = ch.writePacketTo(buf, off, end - off, maxPayload, off === start);
      if (next === off) break;
      off = next;
    }
    for (const ch of this.channels) ch.admitWaiters();
    if (off === start) return null;
    slabOff = off;
    return buf.subarray(start, off);
  }

  /** Write the window updates queued by {@link queueGrant} that fit before `end`. */
  private writeGrants(buf: Buffer, off: number, end: number): number {
    const q = this.grantQueue;
    let i = 0;
    for (; i < q.length && end - off >= WINDOW_UPDATE_SIZE; i++) {
      const ch = q[i]!;
      off = writeWindowUpdate(buf, off, ch.desc.id, ch.grantPending);
      ch.grantPending = 0;
    }
    q.splice(0, i);
    return off;
  }

  /** Grant `inc` bytes (0: nothing) on `ch` in the next batch. */
  private queueGrant(ch: Channel, inc: number): void {
    if (inc <= 0) return;
    if (ch.grantPending === 0) this.grantQueue.push(ch);
    ch.grantPending += inc;
  }

  /** What the channels' receive windows may still grow by, together (`maxRecvWindowBytes` less their sum); asked only when a window would grow. */
  private readonly growRoom = (): number => {
    let sum = 0;
    for (const c of this.channels) sum += c.recvWindow;
    return this.config.maxRecvWindowBytes - sum;
  };

  /** True while some channel's reader is paused or it still holds messages for it. */
  private get anyChannelBlocked(): boolean {
    return this.channels.some((c) => c.blocked);
  }

  /** The pending channel with the least recentlySent/priority (CometBFT's selection). */
  private pick(): Channel | null {
    let best: Channel | null = null;
    let bestRatio = Infinity;
    for (const ch of this.channels) {
      if (!ch.ready()) continue;
      const r = ch.recentlySent / ch.desc.priority;
      if (r < bestRatio) {
        bestRatio = r;
        best = ch;
      }
    }
    return best;
  }

  private decay(): void {
    const now = performance.now();
    const periods = Math.floor((now - this.lastDecay) / DECAY_PERIOD_MS);
    if (periods <= 0) return;
    this.lastDecay += periods * DECAY_PERIOD_MS;
    const f = Math.pow(DECAY_FACTOR, Math.min(periods, 100));
    for (const ch of this.channels) ch.recentlySent *= f;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0) return;
    if (this.waitingDrain || this.pingPending || this.pongPending > 0 || this.grantQueue.length > 0) return;
    if (this.channels.some((c) => c.hasPending || c.waitingSenders > 0)) return;
    this.releaseIdleWaiters();
  }

  private releaseIdleWaiters(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  // ---- keepalive ------------------------------------------------------

  private readonly sendPing = (): void => {
    if (this.stopped || this.awaitingPong) return;
    this.pingPending = true;
    this.scheduleFlush();
  };

  private armPongTimer(): void {
    this.awaitingPong = true;
    this.pausedSincePing = this.readPaused;
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(this.onPongTimeout, this.config.pongTimeoutMs);
    this.pongTimer.unref();
  }

  private readonly onPongTimeout = (): void => {
    if (this.stopped) return;
    if (this.readPaused) {
      // The pong may be sitting unread behind our own paused reader: not the peer's fault.
      this.pongDeferred = true;
      return;
    }
    if (this.pausedSincePing) {
      this.armPongTimer();
      return;
    }
    this.fail(new PongTimeoutError(this.config.pongTimeoutMs));
  };

  private onControl(type: number): void {
    if (type === PACKET_PING) {
      // one pong answers any number of pings; an honest peer waits for it before pinging again
      if (++this.pingsSincePong > MAX_PINGS_PER_PONG)
        throw new KeepaliveError('ERR_PING_FLOOD', `peer sent ${this.pingsSincePong} pings without waiting for our pong`);
      if (this.pongPending < 1) this.pongPending++;
      this.scheduleFlush();
    } else {
      if (!this.awaitingPong) throw new KeepaliveError('ERR_UNSOLICITED_PONG', 'peer sent a pong we did not ask for');
      if (!this.pausedSincePing) this.sampleRtt(performance.now() - this.pingSentAt);
      this.awaitingPong = false;
      this.pongDeferred = false;
      clearTimeout(this.pongTimer);
    }
  }

  /** RFC 6298 §2: SRTT ← (1 − 1/8)·SRTT + 1/8·R′, the first sample taken as is. */
  private sampleRtt(ms: number): void {
    if (this.minRtt === 0 || ms < this.minRtt) this.minRtt = ms;
    this.rtt = { latest: ms, smoothed: this.rtt ? this.rtt.smoothed + (ms - this.rtt.smoothed) / 8 : ms };
    this.onRtt?.(ms);
  }

  /** The peer granted more credit on a channel (RFC 9113 §6.9: a window may not exceed 2^31−1). */
  private onWindowUpdate(channelId: number, increment: number): void {
    const ch = this.byId[channelId];
    if (ch === undefined) return; // a channel only the peer has: it opens its window to us, we never send on it
    ch.sendCredit += increment;
    this.sendStalledSince = 0;
    if (ch.sendCredit > MAX_WINDOW)
      throw new FlowControlError(
        `peer grew our send window on channel ${channelIdHex(channelId)} to ${ch.sendCredit} bytes, over ${MAX_WINDOW}`,
      );
    if (this.started && !this.flushScheduled && ch.hasPending) this.scheduleFlush();
  }

  // ---- receive side ---------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.stopped) return;
    this.recvFlow.record(chunk.length);
    this.lastRecvAt = performance.now();
    this.rollRecvWindow(this.lastRecvAt);
    this.recvWin += chunk.length;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(asSwitchboardError(err));
      return;
    }
    if (this.stopped) return;
    if (this.decoder.bufferedBytes === 0) this.packetStartedAt = 0;
    else if (this.packetStartedAt === 0) this.packetStartedAt = this.lastRecvAt;
    const wait = this.recvFlow.delayMs();
    if (wait > 0 && !this.recvRateTimer) {
      this.pauseReading();
      this.recvRateTimer = setTimeout(() => {
        this.recvRateTimer = undefined;
        this.resumeReading();
      }, wait);
    }
  };

  private onMsg(channelId: number, eof: boolean, data: Buffer): void {
    const ch = this.byId[channelId];
    if (ch === undefined) throw new UnknownChannelError(channelId);
    const cost = MSG_HEADER_SIZE + data.length;
    ch.chargeRecv(cost);
    const msg = ch.receive(eof, data);
    if (ch.blocked) {
      // the channel's reader is paused: hold what is in flight, return no credit until it resumes
      ch.withheld += cost;
      if (msg !== null) ch.hold(msg);
      return;
    }
    this.returnCredit(ch, cost);
    if (msg !== null) this.deliver(ch, msg);
  }

  /** Hand a message to onReceive; a returned Promise pauses the channel until it settles. */
  private deliver(ch: Channel, msg: Uint8Array): void {
    this.lastMsgAt = this.lastRecvAt; // the time its chunk arrived: no clock read per message
    const r = this.onReceive(ch.desc.id, msg);
    if (r === undefined || typeof (r as Promise<unknown>).then !== 'function') return;
    ch.blocked = true;
    (r as Promise<unknown>).then(
      () => this.unblock(ch),
      (err: unknown) => this.fail(asSwitchboardError(err)),
    );
  }

  /**
   * A paused channel's handler settled: deliver what it holds, in order, at
   * most {@link MAX_HELD_PER_TURN} per event-loop turn (as reading would
   * deliver them chunk by chunk, so that a receive handler that pauses by a
   * cached verdict — the Switch's fair share — sees each turn, not one burst
   * of a whole window), then return its withheld credit.
   */
  private unblock(ch: Channel): void {
    if (this.stopped) return;
    ch.blocked = false;
    try {
      let n = 0;
      for (let m = ch.nextHeld(); m !== undefined; m = ch.blocked ? undefined : ch.nextHeld()) {
        this.deliver(ch, m);
        if (this.stopped) return;
        if (++n === MAX_HELD_PER_TURN && !ch.blocked && ch.heldMessages > 0) {
          // the rest next turn; the channel stays paused meanwhile, so what arrives is held behind
          ch.blocked = true;
          setImmediate(() => this.unblock(ch));
          return;
        }
      }
      if (ch.blocked) return;
      // the peer could not make progress on this message while we withheld credit: its deadline restarts
      if (ch.recvStartedAt > 0) ch.recvStartedAt = performance.now();
      const w = ch.withheld;
      ch.withheld = 0;
      this.returnCredit(ch, w);
    } catch (err) {
      this.fail(asSwitchboardError(err));
      return;
    }
    if (this.remoteEnded && !this.anyChannelBlocked) this.onEnd();
  }

  /** Return consumed bytes of `ch` to the peer (see `Channel.release`), growing the window by auto-tuning. */
  private returnCredit(ch: Channel, cost: number): void {
    const inc = ch.release(cost, this.lastRecvAt, this.minRtt, this.config.maxRecvWindowBytes, this.growRoom);
    if (inc === 0 || this.writeEnded) return;
    this.queueGrant(ch, inc);
    // Grant at once rather than at the end of the turn: a busy receiver may read many chunks in a
    // turn while its peer sits idle waiting for credit. Behind a backed-up socket it waits its turn.
    if (this.waitingDrain || this.stopped) return this.scheduleFlush();
    const w = Buffer.allocUnsafe(WINDOW_UPDATE_SIZE * this.grantQueue.length);
    const n = this.writeGrants(w, 0, w.length);
    this.sendFlow.record(n);
    if (!this.conn.write(w)) {
      this.waitingDrain = true;
      this.conn.once('drain', this.onDrain);
    }
  }

  private pauseReading(): void {
    if (!this.readPaused) {
      this.readPaused = true;
      this.conn.pause();
    }
    this.pausedSincePing = true;
  }

  private resumeReading(): void {
    if (this.stopped || this.recvRateTimer) return;
    if (this.readPaused) {
      this.readPaused = false;
      // time spent paused by our own reader is not the peer's: its receive deadlines restart
      const now = performance.now();
      this.lastRecvAt = now;
      if (this.packetStartedAt > 0) this.packetStartedAt = now;
      for (const ch of this.channels) if (ch.recvStartedAt > 0) ch.recvStartedAt = now;
      this.conn.resume();
    }
    if (this.pongDeferred) {
      this.pongDeferred = false;
      this.armPongTimer();
    }
  }

  private readonly onEnd = (): void => {
    this.remoteEnded = true;
    if (this.closeWaiter) return this.closeWaiter(); // flushStop: the peer closed after our FIN
    // messages held for a paused channel are delivered first (unblock calls back here)
    if (!this.anyChannelBlocked) this.fail(new ConnectionClosedError());
  };

  private readonly onClose = (): void => {
    if (this.closeWaiter) return this.closeWaiter();
    if (!this.remoteEnded) this.fail(new ConnectionClosedError());
  };

  private readonly onStreamError = (err: Error): void => {
    if (this.stopped) return;
    this.fail(
      err instanceof SwitchboardError ? err : new ConnectionClosedError(`stream error: ${err.message}`, { cause: err, code: 'ERR_SOCKET' }),
    );
  };

  /** Checks the isolation deadlines (module doc); runs every quarter of the shortest one. */
  private readonly watchdog = (): void => {
    if (this.stopped) return;
    const c = this.config;
    const now = performance.now();
    if (c.sendStallTimeoutMs > 0 && this.sendStalledSince > 0 && now - this.sendStalledSince > c.sendStallTimeoutMs) {
      return this.fail(
        new StallError('ERR_SEND_STALL', `peer let us send nothing for ${c.sendStallTimeoutMs} ms while we had data for it`),
      );
    }
    if (this.readPaused) return;
    if (c.idleTimeoutMs > 0 && now - this.lastRecvAt > c.idleTimeoutMs) {
      return this.fail(new StallError('ERR_IDLE_TIMEOUT', `nothing received for ${c.idleTimeoutMs} ms`));
    }
    if (c.packetTimeoutMs > 0 && this.packetStartedAt > 0 && now - this.packetStartedAt > c.packetTimeoutMs) {
      return this.fail(new StallError('ERR_RECV_STALL', `a packet stayed incomplete for ${c.packetTimeoutMs} ms`));
    }
    if (c.messageTimeoutMs > 0) {
      for (const ch of this.channels) {
        if (!ch.blocked && ch.recvStartedAt > 0 && now - ch.recvStartedAt > c.messageTimeoutMs) {
          return this.fail(
            new StallError(
              'ERR_RECV_STALL',
              `a message on channel 0x${ch.desc.id.toString(16)} stayed incomplete for ${c.messageTimeoutMs} ms`,
            ),
          );
        }
      }
    }
  };

  /** Stop and report `err` to onError, once. */
  private fail(err: SwitchboardError): void {
    if (this.failed || this.stopped) return;
    this.failed = true;
    this.stop();
    this.onError(err);
  }
}

function asSwitchboardError(err: unknown): SwitchboardError {
  if (err instanceof SwitchboardError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  return new ReceiveFailedError(`receive handler failed: ${e.message}`, { cause: e });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validateConfig(c: MConnConfig): MConnConfig {
  const nonNeg = [
    'sendRate',
    'recvRate',
    'flushThrottleMs',
    'sendStallTimeoutMs',
    'idleTimeoutMs',
    'packetTimeoutMs',
    'messageTimeoutMs',
  ] as const;
  const pos = ['maxBatchBytes', 'pingIntervalMs', 'pongTimeoutMs', 'flushStopTimeoutMs', 'maxSendWaiters', 'maxSendBufferBytes'] as const;
  for (const k of nonNeg)
    if (!(Number.isFinite(c[k]) && c[k] >= 0)) throw new InvalidArgumentError(`MConnConfig.${k} must be ≥ 0, got ${c[k]}`);
  for (const k of pos)
    if (!(Number.isFinite(c[k]) && c[k] > 0)) throw new InvalidArgumentError(`MConnConfig.${k} must be > 0, got ${c[k]}`);
  if (c.idleTimeoutMs > 0 && !(c.idleTimeoutMs > c.pingIntervalMs)) {
    throw new InvalidArgumentError(
      `MConnConfig.idleTimeoutMs (${c.idleTimeoutMs}) must exceed pingIntervalMs (${c.pingIntervalMs}), or be 0`,
    );
  }
  if (!(c.sendTimeoutMs >= 0)) throw new InvalidArgumentError(`MConnConfig.sendTimeoutMs must be ≥ 0, got ${c.sendTimeoutMs}`);
  if (!Number.isInteger(c.recvWindowBytes) || c.recvWindowBytes < INITIAL_WINDOW || c.recvWindowBytes > MAX_WINDOW) {
    throw new InvalidArgumentError(`MConnConfig.recvWindowBytes must be ${INITIAL_WINDOW}..${MAX_WINDOW}, got ${c.recvWindowBytes}`);
  }
  if (!Number.isInteger(c.maxRecvWindowBytes) || c.maxRecvWindowBytes < c.recvWindowBytes || c.maxRecvWindowBytes > MAX_WINDOW) {
    throw new InvalidArgumentError(
      `MConnConfig.maxRecvWindowBytes must be recvWindowBytes (${c.recvWindowBytes})..${MAX_WINDOW}, got ${c.maxRecvWindowBytes}`,
    );
  }
  const m = c.maxPacketMsgPayloadSize;
  if (!Number.isInteger(m) || m < 1 || m > MAX_PACKET_PAYLOAD_LIMIT) {
    throw new InvalidArgumentError(`MConnConfig.maxPacketMsgPayloadSize must be 1..${MAX_PACKET_PAYLOAD_LIMIT}, got ${m}`);
  }
  return c;
}
