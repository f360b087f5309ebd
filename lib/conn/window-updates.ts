/**
 * The flow-control credit an MConnection owes its peer: per channel, the
 * bytes consumed since the last window update and not yet granted back
 * (RFC 9113 §6.9 semantics, docs/PROTOCOL.md §4), written as window-update
 * packets at the head of the next batch, or at once by the receive path.
 *
 * @module
 */
import type { Channel } from './channel.js';
import { WINDOW_UPDATE_SIZE, writeWindowUpdate } from './packet.js';

/** Channels with credit to grant, in the order they first owed it; each channel's amount is its `grantPending`. */
export class WindowUpdates {
  private readonly q: Channel[] = [];

  /** Channels with credit to grant. */
  get length(): number {
    return this.q.length;
  }

  /** Grant `inc` bytes more (0 or less: nothing) on `ch` with the next write. */
  add(ch: Channel, inc: number): void {
    if (inc <= 0) return;
    if (ch.grantPending === 0) this.q.push(ch);
    ch.grantPending += inc;
  }

  /** Write the window updates that fit before `end` at `off` in `buf`, oldest first. @returns the offset after them. */
  writeTo(buf: Buffer, off: number, end: number): number {
    const q = this.q;
    let i = 0;
    for (; i < q.length && end - off >= WINDOW_UPDATE_SIZE; i++) {
      const ch = q[i]!;
      off = writeWindowUpdate(buf, off, ch.desc.id, ch.grantPending);
      ch.grantPending = 0;
    }
    q.splice(0, i);
    return off;
  }

  /** Every pending window update in a buffer of its own (for a write at once, outside a batch). */
  take(): Buffer {
    const w = Buffer.allocUnsafe(WINDOW_UPDATE_SIZE * this.q.length);
    return w.subarray(0, this.writeTo(w, 0, w.length));
  }
}
