/**
 * An MConnection's keepalive, as CometBFT's ping/pong in `MConnection`: a
 * ping every `pingIntervalMs` (and one at start, so the round-trip time is
 * known from the first milliseconds, then RTT probes {@link RTT_PROBE_FIRST_MS}
 * after each pong, doubling, while under `pingIntervalMs`, so the least round
 * trip is not the one of a connection still cold), `ERR_PONG_TIMEOUT` when no pong comes
 * within `pongTimeoutMs`, and the round-trip time of each ping/pong (latest
 * and smoothed, RFC 6298). Time our own reader spends paused is not the
 * peer's: a pong timeout while our reader is paused waits for it to resume
 * (CometBFT #2685), and a round trip spanning a pause is not sampled.
 *
 * The protocol's rules for the peer: at most one pong answers any number of
 * pings, so pings cost us no more than one pong per flush; a peer that pings
 * without waiting for our pongs (`ERR_PING_FLOOD`) or sends a pong we did not
 * ask for (`ERR_UNSOLICITED_PONG`) breaks the protocol.
 *
 * The MConnection writes the control packets this asks for at the head of
 * its next batch ({@link Keepalive.writeTo}).
 *
 * @module
 */
import { performance } from 'node:perf_hooks';
import { KeepaliveError, PongTimeoutError, type SwitchboardError } from '../errors.js';
import { writePing, writePong } from './packet.js';

/** Keepalive round-trip time of a connection (ms). */
export interface RttStatus {
  /** The latest ping→pong sample (ms). */
  latest: number;
  /** The smoothed round-trip time, SRTT of RFC 6298 with alpha = 1/8 (ms). */
  smoothed: number;
}

/** What the keepalive needs of its connection (closures made once per connection). */
export interface KeepaliveHooks {
  /** Write pending control packets soon (the connection's next batch). */
  scheduleFlush(): void;
  /** Stop the connection with `err`. */
  fail(err: SwitchboardError): void;
  /** True while our own reader is paused. */
  readPaused(): boolean;
  /** A round-trip sample (ms) when a pong arrives. */
  sampled(rttMs: number): void;
}

/** Pings a peer may send without a pong of ours in between before `ERR_PING_FLOOD` (an honest peer waits for each pong). */
const MAX_PINGS_PER_PONG = 4;

/**
 * Delay of the first extra round-trip probe after the start ping's pong (ms); each later probe waits
 * twice as long, until the delay reaches `pingIntervalMs` (with the defaults: pings at 0, 1, 3, 7, 15 and
 * 31 s, then every 60 s). The start ping's round trip is taken while both ends are still cold (measured
 * 3–6 ms on loopback against a warm 0.2 ms) and flow control grows windows on the least round trip seen
 * (W5 ping p99 under bulk, both peers on `--initial-old-space-size=128`: 10.7–14.2 → 4.2 ms when they did not grow).
 */
export const RTT_PROBE_FIRST_MS = 1000;

/** Bytes the control packets of one {@link Keepalive.writeTo} take at most: a pong and a ping. */
export const KEEPALIVE_BYTES = 2;

/** Ping/pong state of one MConnection. */
export class Keepalive {
  /** The smoothed and latest round-trip time; undefined until the first pong. */
  rtt: RttStatus | undefined;
  private pingPending = false;
  private pongPending = false;
  private pingsSincePong = 0;
  private awaitingPong = false;
  // Stryker disable next-line BooleanLiteral: armPongTimer sets it before anything reads it (onPong only while awaitingPong)
  private pausedSincePing = false;
  private pongDeferred = false;
  private pingSentAt = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeDelay: number;
  private stopped = false;

  /**
   * @param pingIntervalMs interval between pings (ms).
   * @param pongTimeoutMs wait for a pong before `ERR_PONG_TIMEOUT` (ms).
   * @param firstProbeMs delay of the first round-trip probe (ms; default {@link RTT_PROBE_FIRST_MS}).
   */
  constructor(
    private readonly pingIntervalMs: number,
    private readonly pongTimeoutMs: number,
    private readonly hooks: KeepaliveHooks,
    firstProbeMs = RTT_PROBE_FIRST_MS,
  ) {
    this.probeDelay = firstProbeMs;
  }

  /** Start the ping interval and ask for a first ping at once (the caller schedules the flush). */
  start(): void {
    this.pingTimer = setInterval(this.sendPing, this.pingIntervalMs);
    this.pingTimer.unref();
    this.pingPending = true;
  }

  /** Clear the timers. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.probeTimer);
  }

  /** True while a ping or a pong waits to be written. */
  get pending(): boolean {
    return this.pingPending || this.pongPending;
  }

  /** Write the pending pong, then the pending ping (arming the pong timer), at `off` in `buf`; at most {@link KEEPALIVE_BYTES}. @returns the offset after them. */
  writeTo(buf: Buffer, off: number): number {
    if (this.pongPending) {
      off = writePong(buf, off);
      this.pongPending = false;
      this.pingsSincePong = 0;
    }
    if (this.pingPending) {
      off = writePing(buf, off);
      this.pingPending = false;
      this.pingSentAt = performance.now();
      this.armPongTimer();
    }
    return off;
  }

  /** The peer pinged. @throws KeepaliveError (`ERR_PING_FLOOD`). */
  onPing(): void {
    // one pong answers any number of pings; an honest peer waits for it before pinging again
    if (++this.pingsSincePong > MAX_PINGS_PER_PONG)
      throw new KeepaliveError('ERR_PING_FLOOD', `peer sent ${this.pingsSincePong} pings without waiting for our pong`);
    this.pongPending = true;
    this.hooks.scheduleFlush();
  }

  /** The peer answered our ping. @throws KeepaliveError (`ERR_UNSOLICITED_PONG`). */
  onPong(): void {
    if (!this.awaitingPong) throw new KeepaliveError('ERR_UNSOLICITED_PONG', 'peer sent a pong we did not ask for');
    if (!this.pausedSincePing) this.sampleRtt(performance.now() - this.pingSentAt);
    this.awaitingPong = false;
    this.pongDeferred = false;
    clearTimeout(this.pongTimer);
    this.scheduleProbe();
  }

  /** The next round-trip probe, while its delay is under the ping interval. */
  private scheduleProbe(): void {
    if (this.stopped || this.probeDelay >= this.pingIntervalMs) return;
    this.probeTimer = setTimeout(this.sendPing, this.probeDelay);
    this.probeTimer.unref();
    this.probeDelay *= 2;
  }

  /** Our reader paused: the round trip in progress measures us, not the link. */
  readerPaused(): void {
    this.pausedSincePing = true;
  }

  /** Our reader resumed: a pong timeout that fired meanwhile starts again. */
  readerResumed(): void {
    if (this.pongDeferred) {
      this.pongDeferred = false;
      this.armPongTimer();
    }
  }

  private readonly sendPing = (): void => {
    if (this.awaitingPong) return;
    this.pingPending = true;
    this.hooks.scheduleFlush();
  };

  private armPongTimer(): void {
    this.awaitingPong = true;
    this.pausedSincePing = this.hooks.readPaused();
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(this.onPongTimeout, this.pongTimeoutMs);
    this.pongTimer.unref();
  }

  private readonly onPongTimeout = (): void => {
    if (this.hooks.readPaused()) {
      // The pong may be sitting unread behind our own paused reader: not the peer's fault.
      this.pongDeferred = true;
      return;
    }
    if (this.pausedSincePing) {
      this.armPongTimer();
      return;
    }
    this.hooks.fail(new PongTimeoutError(this.pongTimeoutMs));
  };

  /** RFC 6298 §2: SRTT ← (1 − 1/8)·SRTT + 1/8·R′, the first sample taken as is. */
  private sampleRtt(ms: number): void {
    this.rtt = { latest: ms, smoothed: this.rtt ? this.rtt.smoothed + (ms - this.rtt.smoothed) / 8 : ms };
    this.hooks.sampled(ms);
  }
}
