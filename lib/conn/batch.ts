/**
 * The batch one socket write of an MConnection carries: the keepalive's
 * control packets and the window updates first (never queued behind channel
 * data), then packets of at most `maxPacketMsgPayloadSize` bytes from the
 * channels the scheduler picks ({@link pickChannel}), until the batch is
 * full or no channel may send.
 *
 * Batches are carved from one slab shared by every connection of the
 * process: batches are disjoint views written once, so sharing is safe, and
 * 1,000 idle peers do not each pin a slab.
 *
 * @module
 */
import type { Channel } from './channel.js';
import { KEEPALIVE_BYTES, type Keepalive } from './keepalive.js';
import { MSG_HEADER_SIZE, WINDOW_UPDATE_SIZE } from './packet.js';
import { pickChannel } from './scheduler.js';
import type { WindowUpdates } from './window-updates.js';

/** Room kept in a batch for control packets: a pong, a ping and a window update. */
const CONTROL_BYTES = KEEPALIVE_BYTES + WINDOW_UPDATE_SIZE;
/** Size of the slab that batches are carved from (bytes). */
const SLAB_SIZE = 1 << 20;
let slab: Buffer = Buffer.allocUnsafe(0);
let slabOff = 0;

/**
 * The next batch of packets of a connection (at most the larger of
 * `maxBatchBytes` and one full packet plus control packets), or null when
 * nothing is pending. Channels' blocked senders are admitted to the room it
 * made.
 */
export function nextBatch(
  channels: readonly Channel[],
  keepalive: Keepalive,
  grants: WindowUpdates,
  maxPayload: number,
  maxBatchBytes: number,
): Buffer | null {
  const size = Math.max(maxBatchBytes, maxPayload + MSG_HEADER_SIZE + CONTROL_BYTES);
  if (slab.length - slabOff < size) {
    slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, size));
    slabOff = 0;
  }
  const buf = slab;
  const start = slabOff;
  const end = start + size;
  let off = start;
  off = keepalive.writeTo(buf, off);
  off = grants.writeTo(buf, off, end);
  const single = channels.length === 1 ? channels[0]! : null;
  while (end - off > MSG_HEADER_SIZE) {
    const ch = single ? (single.ready() ? single : null) : pickChannel(channels);
    if (ch === null) break;
    const next = ch.writePacketTo(buf, off, end - off, maxPayload, off === start);
    if (next === off) break;
    off = next;
  }
  for (const ch of channels) ch.admitWaiters();
  if (off === start) return null;
  slabOff = off;
  return buf.subarray(start, off);
}
