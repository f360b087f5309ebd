// Time in tests: a pause, a deadline on a promise, and a performance.now stepped by hand.
import { performance } from 'node:perf_hooks';
import type { Teardown } from './teardown.js';

/**
 * Resolves after `ms`: to pace a peer (a slow or flooding one), or as the
 * interval of a poll bounded in count where there is no event to await. Never
 * to wait for a condition an event tells.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with `p`'s value, or rejects naming `what` when it has not settled within `timeoutMs`. */
export async function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Replaces `target.now` by a clock at `start` ms that only `step(ms)` moves, until the test ends. */
function stepped(t: Teardown, target: { now(): number }, start: number): (ms: number) => number {
  const real = target.now;
  let now = start;
  target.now = () => now;
  t.teardown(() => (target.now = real));
  return (ms: number) => (now += ms);
}

/**
 * Replaces `performance.now` (which the connection's clocks read) by one the test steps by hand, for
 * the rest of the test; timers still run in real time. @returns `step(ms)`, which moves the clock on.
 */
export function steppedClock(t: Teardown): (ms: number) => number {
  return stepped(t, performance, 1000);
}

/**
 * Replaces `Date.now` (which bans and the transport's per-second admission windows read) by one the
 * test steps by hand, starting at `start` ms, for the rest of the test; timers still run in real
 * time. @returns `step(ms)`, which moves the clock on.
 */
export function steppedDateNow(t: Teardown, start = 1_000_000): (ms: number) => number {
  return stepped(t, Date, start);
}
