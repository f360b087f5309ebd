/**
 * An MConnection's isolation deadlines: a peer that stalls us is
 * disconnected with a typed StallError. A peer that grants no credit (or
 * does not read) while we have data for it, for `sendStallTimeoutMs`
 * (`ERR_SEND_STALL`); one that sends nothing at all for `idleTimeoutMs`
 * (`ERR_IDLE_TIMEOUT`, as neo-go's idle timeout); one that leaves a packet or
 * a message half-sent for `packetTimeoutMs` or `messageTimeoutMs`
 * (`ERR_RECV_STALL`). Time our own reader spends paused is not counted
 * against the peer. The MConnection keeps the clocks (they move on its hot
 * path) and asks {@link overdue} every {@link watchdogPeriod} ms.
 *
 * @module
 */
import { StallError } from '../errors.js';
import type { Channel } from './channel.js';
import type { MConnConfig } from './mconn-config.js';

/** Bounds of the watchdog period (ms): a quarter of the shortest deadline, within these. */
const WATCHDOG_MIN_MS = 20;
const WATCHDOG_MAX_MS = 1000;

/** The clocks the deadlines run on (performance.now() ms; 0 = not running). */
export interface DeadlineClocks {
  /** Since when the peer has let us send nothing while we have data for it. */
  sendStalledSince: number;
  /** When we last read anything. */
  lastRecvAt: number;
  /** When the first bytes of the packet still incomplete arrived. */
  packetStartedAt: number;
  /** True while our own reader is paused (the receive deadlines wait). */
  readPaused: boolean;
}

/** How often (ms) to check the deadlines of `c`: a quarter of the shortest, 20..1000; undefined when none is set. */
export function watchdogPeriod(c: MConnConfig): number | undefined {
  const deadlines = [c.sendStallTimeoutMs, c.idleTimeoutMs, c.packetTimeoutMs, c.messageTimeoutMs].filter((d) => d > 0);
  if (deadlines.length === 0) return undefined;
  return Math.min(WATCHDOG_MAX_MS, Math.max(WATCHDOG_MIN_MS, Math.min(...deadlines) / 4));
}

/** The error for the first deadline of `c` that is past at `now`, or undefined. Messages in progress on a paused channel do not count. */
export function overdue(c: MConnConfig, now: number, s: DeadlineClocks, channels: readonly Channel[]): StallError | undefined {
  if (c.sendStallTimeoutMs > 0 && s.sendStalledSince > 0 && now - s.sendStalledSince > c.sendStallTimeoutMs) {
    return new StallError('ERR_SEND_STALL', `peer let us send nothing for ${c.sendStallTimeoutMs} ms while we had data for it`);
  }
  if (s.readPaused) return undefined;
  if (c.idleTimeoutMs > 0 && now - s.lastRecvAt > c.idleTimeoutMs) {
    return new StallError('ERR_IDLE_TIMEOUT', `nothing received for ${c.idleTimeoutMs} ms`);
  }
  if (c.packetTimeoutMs > 0 && s.packetStartedAt > 0 && now - s.packetStartedAt > c.packetTimeoutMs) {
    return new StallError('ERR_RECV_STALL', `a packet stayed incomplete for ${c.packetTimeoutMs} ms`);
  }
  if (c.messageTimeoutMs > 0) {
    for (const ch of channels) {
      if (!ch.blocked && ch.recvStartedAt > 0 && now - ch.recvStartedAt > c.messageTimeoutMs) {
        return new StallError(
          'ERR_RECV_STALL',
          `a message on channel 0x${ch.desc.id.toString(16)} stayed incomplete for ${c.messageTimeoutMs} ms`,
        );
      }
    }
  }
  return undefined;
}
