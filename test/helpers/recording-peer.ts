// A Duplex standing for an MConnection's peer, in memory: it records what the connection writes and
// reports its FIN; the test pushes the peer's bytes (window updates with `grant`). Destroyed at teardown.
import { Duplex } from 'node:stream';
import { INITIAL_WINDOW, MAX_WINDOW, encodePacket } from '../../lib/conn/packet.js';
import { deferred } from './net.js';
import type { Teardown } from './teardown.js';

/**
 * @param opts.credit channels on which the peer at once grants all the credit flow control allows
 *   (default none: only the protocol's initial window until the test calls `grant`).
 * @param opts.holdWrites writes are recorded but never complete: the stream stays backed up.
 */
export function recordingPeer(t: Teardown, opts: { credit?: number[]; holdWrites?: boolean } = {}) {
  const chunks: Buffer[] = [];
  const ended = deferred();
  let finAt = -1;
  let total = 0;
  let onWrite: (() => void) | null = null;
  const d = new Duplex({
    read() {},
    writableHighWaterMark: opts.holdWrites ? 1 : undefined,
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      total += chunk.length;
      onWrite?.();
      if (!opts.holdWrites) cb();
    },
    final(cb) {
      finAt = chunks.length;
      ended.resolve();
      cb();
    },
  });
  t.teardown(() => d.destroy());
  const grant = (increment: number, channelId = 1) => d.push(encodePacket({ type: 'window', channelId, increment }));
  for (const channelId of opts.credit ?? []) grant(MAX_WINDOW - INITIAL_WINDOW, channelId);
  /** Resolves once at least `n` bytes were written in all. */
  const written = (n: number) =>
    new Promise<void>((resolve) => {
      if (total >= n) return resolve();
      onWrite = () => {
        if (total >= n) {
          onWrite = null;
          resolve();
        }
      };
    });
  return {
    d,
    chunks,
    /** Resolves on our FIN. */
    ended: ended.promise,
    written,
    total: () => total,
    /** Writes recorded after our FIN (-1 until the FIN). */
    afterFin: () => (finAt < 0 ? -1 : chunks.length - finAt),
    grant,
  };
}
