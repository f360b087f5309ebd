/**
 * Byte-rate accounting and limiting for one direction of an MConnection, in
 * the role of CometBFT's `flowrate.Monitor`: a token bucket enforces the
 * limit and an exponential moving average reports the current rate.
 *
 * @module
 */
import { performance } from 'node:perf_hooks';

/** Length of one rate sample (ms). */
const SAMPLE_MS = 1000;

/**
 * Token-bucket limiter plus rate meter.
 *
 * `limit` is in bytes/s; 0 means unlimited. The bucket holds at most 100 ms
 * of traffic (`limit / 10` bytes, at least 64 KiB), so a limited connection
 * sends in bursts of at most that size and averages `limit` over time.
 */
export class FlowRate {
  /** Total bytes recorded. */
  total = 0;
  private tokens: number;
  private readonly burst: number;
  private last: number;
  private sampleStart: number;
  private sampleBytes = 0;
  private avg = 0;

  /**
   * @param limit bytes/s, 0 = unlimited.
   * @param now clock in ms (default `performance.now`), injectable for tests.
   */
  constructor(
    readonly limit: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = Math.max(limit / 10, 65536);
    this.tokens = this.burst;
    this.last = this.sampleStart = now();
  }

  /** Record `n` bytes sent or received. */
  record(n: number): void {
    this.total += n;
    this.sampleBytes += n;
    if (this.limit > 0) {
      this.refill();
      this.tokens -= n;
    }
  }

  /** Milliseconds to wait before more bytes may pass (0 = now). */
  delayMs(): number {
    if (this.limit <= 0) return 0;
    this.refill();
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.limit);
  }

  /** Current rate estimate in bytes/s (moving average of 1 s samples). */
  rate(): number {
    const t = this.now();
    const elapsed = t - this.sampleStart;
    if (elapsed >= SAMPLE_MS) {
      const inst = (this.sampleBytes * 1000) / elapsed;
      // Samples older than a few seconds stop mattering; an idle gap of k samples decays k times.
      const gaps = Math.min(Math.floor(elapsed / SAMPLE_MS), 10);
      this.avg = this.avg * Math.pow(0.5, gaps) + inst * (1 - Math.pow(0.5, gaps));
      this.sampleStart = t;
      this.sampleBytes = 0;
    }
    return this.avg;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) * this.limit) / 1000);
    this.last = t;
  }
}

/** Window of {@link RecentRate} (ms). */
const RECENT_WINDOW_MS = 250;

/**
 * Byte rate over the last quarter to half second: quick to react, unlike
 * {@link FlowRate.rate}'s 1 s moving average. Two windows of 250 ms, the
 * current and the previous one; `record` takes the time the caller already
 * read, so it reads no clock.
 */
export class RecentRate {
  /** Bytes in the current and the previous window (previous: −1 before the first ends). */
  private cur = 0;
  private prev = -1;
  private start = performance.now();

  /** Count `n` bytes at `now` (performance.now() ms). */
  record(now: number, n: number): void {
    this.roll(now);
    this.cur += n;
  }

  /** The rate at `now` (bytes/s). */
  rate(now: number): number {
    this.roll(now);
    const span = now - this.start + (this.prev >= 0 ? RECENT_WINDOW_MS : 0);
    return span > 0 ? ((Math.max(0, this.prev) + this.cur) * 1000) / span : 0;
  }

  private roll(now: number): void {
    const age = now - this.start;
    if (age < RECENT_WINDOW_MS) return;
    this.prev = age < 2 * RECENT_WINDOW_MS ? this.cur : 0;
    this.cur = 0;
    this.start = now;
  }
}
