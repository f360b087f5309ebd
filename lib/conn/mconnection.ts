/**
 * MConnection: prioritised, multiplexed channels over one stream, as
 * CometBFT's `p2p/conn.MConnection`. Its parts, one file each: settings
 * (`mconn-config.ts`), which channel sends next (`scheduler.ts`), what one
 * socket write carries (`batch.ts`), ping/pong and round-trip time
 * (`keepalive.ts`), credit owed to the peer (`window-updates.ts`), the
 * isolation deadlines (`deadlines.ts`), `status()` (`connection-status.ts`),
 * one channel's queue, packet cutting, window and reassembly (`channel.ts`).
 *
 * Sending: each channel has a bounded queue; the scheduler picks the pending
 * channel with the least `recentlySent / priority` for each packet of at most
 * `maxPacketMsgPayloadSize` bytes, so a large message on one channel cannot
 * starve another; packets are batched into one buffer per socket write.
 *
 * Receiving: packets are decoded as they arrive, fragments reassembled per
 * channel under `recvMessageCapacity`, and each message handed to
 * `onReceive`. A handler that returns a Promise pauses that channel only,
 * until it settles: the connection keeps reading, other channels and
 * keepalive flow, messages of the paused channel already in flight are held
 * (in order, at most its window), and the channel's credit is not returned,
 * so the peer's queue for it fills (CometBFT #3250, #3199).
 *
 * Flow control: per channel, as HTTP/2 streams (RFC 9113 §5.2, §6.9;
 * docs/PROTOCOL.md §4). The window we grant starts at `recvWindowBytes` and
 * is auto-tuned (`Channel.release`, against the connection's least round
 * trip) up to `maxRecvWindowBytes` for all channels together.
 *
 * Isolation: everything a peer can make us hold or wait for is bounded —
 * blocked senders per channel (`maxSendWaiters`), bytes held for sending
 * (`maxSendBufferBytes`, with a share per channel so that one stopped channel
 * cannot lock the others out), on receipt its windows plus one message being
 * reassembled per channel — and a peer that stalls us is disconnected
 * (docs/operations.md lists each bound).
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import {
  ConnectionClosedError,
  FlowControlError,
  InvalidArgumentError,
  ReceiveFailedError,
  SwitchboardError,
  UnknownChannelError,
} from '../errors.js';
import { Channel, channelIdHex, type ChannelDescriptor, type SendBudget } from './channel.js';
import { nextBatch } from './batch.js';
import { connectionStatus, type ConnectionStatus } from './connection-status.js';
import { overdue, watchdogPeriod } from './deadlines.js';
import { FlowRate, RecentRate } from './flow-rate.js';
import { Keepalive } from './keepalive.js';
import { parseMConnConfig, type MConnConfig } from './mconn-config.js';
import { MAX_WINDOW, MSG_HEADER_SIZE, PACKET_PING, PacketDecoder, type PacketHandler } from './packet.js';
import { catchUp, decay } from './scheduler.js';
import { WindowUpdates } from './window-updates.js';

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

/** Messages held for a paused channel delivered per event-loop turn once it resumes. */
const MAX_HELD_PER_TURN = 64;
/** Batches written per event-loop turn before yielding to the loop. */
const MAX_BATCHES_PER_TURN = 16;
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
  /** Bytes held for sending, shared with the channels (`maxSendBufferBytes`). */
  private readonly budget: SendBudget;
  // flow control (per channel, RFC 9113 §6.9 semantics): channels with credit to grant in the next batch
  private readonly grants = new WindowUpdates();
  /** Least round-trip time seen (ms; 0 until the first pong): the auto-tuning's RTT, as BBR's min_rtt, so queueing behind our own bulk data does not inflate it. */
  private minRtt = 0;
  private lastDecay = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly keepalive: Keepalive;
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
  private readonly recentRecv = new RecentRate();

  /**
   * @param conn the stream to run over (owned by the connection from `start()`: it is destroyed on stop).
   * @param channels one descriptor per channel; ids must be unique.
   * @param onReceive gets each complete message (a view of received bytes; keep it or copy it).
   * @param onError gets the error that stopped the connection, exactly once.
   * @param config overrides of `DEFAULT_MCONN_CONFIG` (validated by `parseMConnConfig`).
   */
  constructor(
    private readonly conn: Duplex,
    channels: readonly ChannelDescriptor[],
    private readonly onReceive: ReceiveHandler,
    private readonly onError: ErrorHandler,
    config: Partial<MConnConfig> = {},
  ) {
    this.config = parseMConnConfig(config);
    if (channels.length === 0) throw new InvalidArgumentError('an MConnection needs at least one channel');
    this.budget = { held: 0, max: this.config.maxSendBufferBytes, share: this.config.maxSendBufferBytes / Math.max(1, channels.length) };
    this.channels = channels.map((d) => new Channel(d, this.config.maxSendWaiters, this.budget));
    for (const ch of this.channels) {
      if (this.byId[ch.desc.id]) throw new InvalidArgumentError(`duplicate channel id ${channelIdHex(ch.desc.id)}`);
      this.byId[ch.desc.id] = ch;
    }
    this.sendFlow = new FlowRate(this.config.sendRate);
    this.recvFlow = new FlowRate(this.config.recvRate);
    this.keepalive = new Keepalive(this.config.pingIntervalMs, this.config.pongTimeoutMs, {
      scheduleFlush: () => this.scheduleFlush(),
      fail: (err) => this.fail(err),
      readPaused: () => this.readPaused,
      sampled: (ms) => {
        if (this.minRtt === 0 || ms < this.minRtt) this.minRtt = ms; // flow control's RTT is the least one
        this.onRtt?.(ms);
      },
    });
    const handler: PacketHandler = {
      onControl: (type) => (type === PACKET_PING ? this.keepalive.onPing() : this.keepalive.onPong()),
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
    this.lastRecvAt = this.lastMsgAt = this.startedAt;
    const period = watchdogPeriod(this.config);
    if (period !== undefined) {
      this.watchdogTimer = setInterval(this.watchdog, period);
      this.watchdogTimer.unref();
    }
    // open each channel's receive window from the protocol's initial size to the configured one
    for (const ch of this.channels) {
      this.grants.add(ch, ch.openWindow(this.config.recvWindowBytes, this.startedAt));
    }
    // a first ping, so the round-trip time (flow control's auto-tuning, status) is known at once
    this.keepalive.start();
    this.scheduleFlush();
  }

  /**
   * When the last complete message arrived (`performance.now()` ms of the read that completed it; the start time until one has).
   * The Switch replaces the inbound peer with the oldest one when its inbound slots are full.
   */
  get lastMessageAt(): number {
    return this.lastMsgAt;
  }

  /** Blocked `send()` callers on this connection's busiest channel (≤ `maxSendWaiters`): how far behind the peer is in taking. */
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
   * Receive rate over the last quarter to half second (bytes/s, as read from the stream): quick to react, unlike the 1 s moving
   * average of {@link status}. The Switch compares peers by it to slow a flood.
   */
  get recentRecvRate(): number {
    return this.recentRecv.rate(performance.now());
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
   * Stop at once, as CometBFT's `Stop`: queued messages are dropped, blocked senders resolve false, the stream is destroyed. Does
   * not call `onError`. Idempotent.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.keepalive.stop();
    clearInterval(this.watchdogTimer);
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
   * Write every queued message, then close, as CometBFT's `FlushStop`: once the queues are written it sends FIN and keeps reading
   * until the peer closes too (so no reset can discard what the peer has not read yet). New sends are refused (false) from the
   * moment it is called. Each of the two waits is bounded by `flushStopTimeoutMs`, after which it closes anyway.
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
          // Let the stream write out what it holds (a SecretConnection seals it), send our FIN, and keep reading
          // until the peer closes too: closing a socket with unread input (window updates, pings) makes the
          // kernel send a reset, which can discard data the peer has not read yet.
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
   * Queue `msg` on `channelId`, waiting for room if the queue or the peer's send buffer (`maxSendBufferBytes`) is full, as
   * CometBFT's `MConnection.Send`. Resolves true once queued (at once when there is room), false after `opts.timeoutMs` (default
   * `sendTimeoutMs`, 10 s), on abort, or when the connection is stopped or stopping — and false at once when `maxSendWaiters`
   * senders already wait on the channel. The bytes are not copied: do not modify `msg` after sending it. Rejects with
   * InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a channel id this connection does not have.
   */
  send(channelId: number, msg: Uint8Array, opts?: SendOptions): Promise<boolean> {
    const ch = this.byId[channelId];
    if (ch === undefined) return Promise.reject(new InvalidArgumentError(`unknown channel ${channelIdHex(channelId)}`));
    if (this.stopped || this.stopping || opts?.signal?.aborted) return Promise.resolve(false);
    if (this.enqueue(ch, msg)) return Promise.resolve(true);
    return ch.enqueueWait(msg, opts?.timeoutMs ?? this.config.sendTimeoutMs, opts?.signal);
  }

  /**
   * Queue `msg` if there is room, never waiting, as CometBFT's `TrySend`. Returns false when the channel's queue is full, the
   * peer's send buffer is full (`maxSendBufferBytes`) or the connection is stopped.
   * @throws InvalidArgumentError for an unknown channel id.
   */
  trySend(channelId: number, msg: Uint8Array): boolean {
    const ch = this.channel(channelId);
    if (this.stopped || this.stopping) return false;
    return this.enqueue(ch, msg);
  }

  /**
   * True when `trySend` on `channelId` would queue now, checked against that channel's own `sendQueueCapacity` (CometBFT checks
   * the default capacity — a known bug). False when stopped. @throws InvalidArgumentError for an unknown channel id.
   */
  canSend(channelId: number): boolean {
    const ch = this.channel(channelId);
    return !this.stopped && !this.stopping && ch.canEnqueue();
  }

  /** Queue sizes, priorities, recently sent bytes and rates. */
  status(): ConnectionStatus {
    const durationMs = this.started ? performance.now() - this.startedAt : 0;
    return connectionStatus(durationMs, this.sendFlow, this.recvFlow, this.channels, this.keepalive.rtt);
  }

  private channel(id: number): Channel {
    const ch = this.byId[id];
    if (ch === undefined) throw new InvalidArgumentError(`unknown channel ${channelIdHex(id)}`);
    return ch;
  }

  private enqueue(ch: Channel, msg: Uint8Array): boolean {
    const wasIdle = !ch.hasPending;
    if (!ch.tryEnqueue(msg)) return false;
    if (wasIdle) catchUp(this.channels, ch);
    if (!this.flushScheduled && this.started) this.scheduleFlush();
    return true;
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
        this.lastDecay = decay(this.channels, this.lastDecay, performance.now());
        const batch = nextBatch(this.channels, this.keepalive, this.grants, this.config.maxPacketMsgPayloadSize, this.config.maxBatchBytes);
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
   * The stream drained: write on in the next turn, not now. A SecretConnection's drain comes in a nextTick after a write the
   * kernel took at once, so flushing here chained batch after batch in nextTicks and kept the event loop from reading the peer's
   * pongs and window updates (W5 p99 56 → 36 ms under encrypted bulk, W2 unchanged within noise).
   */
  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.sendStalledSince = 0;
    this.scheduleFlush();
  };

  /** What the channels' receive windows may still grow by, together (`maxRecvWindowBytes` less their sum); asked only when a window would grow. */
  private readonly growRoom = (): number => {
    let sum = 0;
    for (const c of this.channels) sum += c.recvWindow;
    return this.config.maxRecvWindowBytes - sum;
  };

  private checkIdle(): void {
    if (this.idleWaiters.length === 0) return;
    if (this.waitingDrain || this.keepalive.pending || this.grants.length > 0) return;
    if (this.channels.some((c) => c.hasPending || c.waitingSenders > 0)) return;
    this.releaseIdleWaiters();
  }

  private releaseIdleWaiters(): void {
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  /** The peer granted more credit on a channel (RFC 9113 §6.9: a window may not exceed 2^31−1). */
  private onWindowUpdate(channelId: number, increment: number): void {
    const ch = this.byId[channelId];
    if (ch === undefined) return; // a channel only the peer has: it opens its window to us, we never send on it
    ch.sendCredit += increment;
    if (ch.sendCredit > MAX_WINDOW)
      throw new FlowControlError(
        `peer grew our send window on channel ${channelIdHex(channelId)} to ${ch.sendCredit} bytes, over ${MAX_WINDOW}`,
      );
    if (!ch.ready()) return; // credit that lets no queued packet out is no progress: it does not hold off ERR_SEND_STALL
    this.sendStalledSince = 0;
    if (this.started && !this.flushScheduled) this.scheduleFlush();
  }

  // ---- receive side ---------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.stopped) return;
    this.recvFlow.record(chunk.length);
    this.lastRecvAt = performance.now();
    this.recentRecv.record(this.lastRecvAt, chunk.length);
    const before = this.decoder.bufferedBytes;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.fail(asSwitchboardError(err));
      return;
    }
    if (this.stopped) return;
    // the packet deadline runs from the first byte of the packet now incomplete: it began in this chunk if one completed in it
    if (this.decoder.bufferedBytes === 0) this.packetStartedAt = 0;
    else if (this.packetStartedAt === 0 || this.decoder.bufferedBytes < before + chunk.length) this.packetStartedAt = this.lastRecvAt;
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
    if (this.stopped) return; // a handler stopped the connection: the rest of this chunk is not delivered
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
   * A paused channel's handler settled: deliver what it holds, in order, at most {@link MAX_HELD_PER_TURN} per event-loop turn
   * (as reading would deliver them chunk by chunk, so that a receive handler that pauses by a cached verdict — the Switch's fair
   * share — sees each turn, not one burst of a whole window), then return its withheld credit.
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
    if (this.remoteEnded && !this.channels.some((c) => c.blocked)) this.onEnd();
  }

  /** Return consumed bytes of `ch` to the peer (see `Channel.release`), growing the window by auto-tuning. */
  private returnCredit(ch: Channel, cost: number): void {
    const inc = ch.release(cost, this.lastRecvAt, this.minRtt, this.config.maxRecvWindowBytes, this.growRoom);
    if (inc === 0 || this.writeEnded) return;
    this.grants.add(ch, inc);
    // Grant at once rather than at the end of the turn: a busy receiver may read many chunks in a
    // turn while its peer sits idle waiting for credit. Behind a backed-up socket it waits its turn.
    if (this.waitingDrain || this.stopped) return this.scheduleFlush();
    const w = this.grants.take();
    this.sendFlow.record(w.length);
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
    this.keepalive.readerPaused();
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
    this.keepalive.readerResumed();
  }

  private readonly onEnd = (): void => {
    this.remoteEnded = true;
    if (this.closeWaiter) return this.closeWaiter(); // flushStop: the peer closed after our FIN
    // messages held for a paused channel are delivered first (unblock calls back here)
    if (!this.channels.some((c) => c.blocked)) this.fail(new ConnectionClosedError());
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

  /** Checks the isolation deadlines (see deadlines.ts); runs every quarter of the shortest one. */
  private readonly watchdog = (): void => {
    if (this.stopped) return;
    const { sendStalledSince, lastRecvAt, packetStartedAt, readPaused } = this;
    const err = overdue(this.config, performance.now(), { sendStalledSince, lastRecvAt, packetStartedAt, readPaused }, this.channels);
    if (err) this.fail(err);
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
