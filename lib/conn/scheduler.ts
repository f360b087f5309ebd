/**
 * The send scheduler's choice of channel, as CometBFT's `MConnection`
 * (`sendPacketMsg` and `updateStats`): the next packet comes from the channel
 * with pending data and the least `recentlySent / priority`; `recentlySent`
 * decays by 0.8 every 2 s; and a channel that was idle re-enters at no worse
 * than the best backlogged channel's ratio (start-time fair queuing), so a
 * high-priority channel that sent a big message earlier is not starved
 * afterwards — a known weakness of the reference. Plain functions over the
 * MConnection's channels: no object between the connection and its packets.
 *
 * @module
 */
import type { Channel } from './channel.js';

/** Period of the decay of `recentlySent` (ms), as CometBFT's `updateStats` ticker. */
export const DECAY_PERIOD_MS = 2000;
/** Factor of each decay, as CometBFT. */
const DECAY_FACTOR = 0.8;

/** The channel that may send with the least recentlySent/priority (CometBFT's selection), or null when none may. */
export function pickChannel(channels: readonly Channel[]): Channel | null {
  let best: Channel | null = null;
  let bestRatio = Infinity;
  for (const ch of channels) {
    if (!ch.ready()) continue;
    const r = ch.recentlySent / ch.desc.priority;
    if (r < bestRatio) {
      bestRatio = r;
      best = ch;
    }
  }
  return best;
}

/** Start-time fair queuing: `ch`, idle until now, re-enters at no worse than the best backlogged ratio. */
export function catchUp(channels: readonly Channel[], ch: Channel): void {
  let best = Infinity;
  for (const c of channels) {
    if (c !== ch && c.hasPending) {
      const r = c.recentlySent / c.desc.priority;
      if (r < best) best = r;
    }
  }
  const cap = best === Infinity ? 0 : best * ch.desc.priority;
  if (ch.recentlySent > cap) ch.recentlySent = cap;
}

/**
 * Decay every channel's `recentlySent` by 0.8 per whole {@link DECAY_PERIOD_MS}
 * since `lastDecay` (performance.now() ms). @returns the new `lastDecay`.
 */
export function decay(channels: readonly Channel[], lastDecay: number, now: number): number {
  const periods = Math.floor((now - lastDecay) / DECAY_PERIOD_MS);
  if (periods <= 0) return lastDecay;
  const f = Math.pow(DECAY_FACTOR, Math.min(periods, 100));
  for (const ch of channels) ch.recentlySent *= f;
  return lastDecay + periods * DECAY_PERIOD_MS;
}
