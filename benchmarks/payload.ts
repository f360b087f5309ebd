/**
 * Benchmark payloads: random bytes with a fixed first and last marker byte
 * that the receiver checks on every message.
 *
 * Payloads come from a pool (at most 8 MiB of distinct random messages per
 * size) that the sender cycles through, so generating random bytes is never
 * part of a timed loop. The connection under test does not copy a message on
 * `send` and never modifies it, so reusing pool entries is safe.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** First byte of every payload. */
export const MARK_FIRST = 0xa5;
/** Last byte of every payload. */
export const MARK_LAST = 0x5a;
/** Bytes of distinct payloads kept per pool. */
const POOL_BYTES = 8 << 20;

/**
 * A pool of random payloads of `size` bytes (≥ 2) with the markers set:
 * between 2 and `maxCount` messages, at most 8 MiB in total, as views into
 * one buffer.
 */
export function makePayloads(size: number, maxCount = 1024): Buffer[] {
  if (!Number.isInteger(size) || size < 2) throw new RangeError(`payload size must be an integer ≥ 2, got ${size}`);
  const n = Math.max(2, Math.min(maxCount, Math.floor(POOL_BYTES / size)));
  const slab = randomFillSync(Buffer.allocUnsafe(n * size));
  const out: Buffer[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = slab.subarray(i * size, (i + 1) * size);
    p[0] = MARK_FIRST;
    p[size - 1] = MARK_LAST;
    out[i] = p;
  }
  return out;
}

/** True when `msg` has `size` bytes and both markers. */
export function checkPayload(msg: Uint8Array, size: number): boolean {
  return msg.length === size && msg[0] === MARK_FIRST && msg[size - 1] === MARK_LAST;
}
