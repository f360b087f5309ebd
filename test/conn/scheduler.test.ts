// The send scheduler's pure parts (lib/conn/scheduler.ts): which channel sends next, the
// start-time fair queuing of a channel that was idle, and the decay of recentlySent.
import t from 'tap';
import type { Channel } from '../../lib/conn/channel.js';
import { catchUp, decay, DECAY_PERIOD_MS, pickChannel } from '../../lib/conn/scheduler.js';

/** The fields of a Channel the scheduler reads. */
function ch(id: number, priority: number, recentlySent: number, ready = true, hasPending = ready): Channel {
  return { desc: { id, priority }, recentlySent, ready: () => ready, hasPending } as unknown as Channel;
}

t.test('pickChannel: the ready channel with the least recentlySent / priority', async (t) => {
  t.equal(pickChannel([]), null, 'no channels');
  t.equal(pickChannel([ch(1, 1, 0, false), ch(2, 5, 0, false)]), null, 'none ready');
  const a = ch(1, 1, 100); // ratio 100
  const b = ch(2, 10, 500); // ratio 50
  const c = ch(3, 2, 120); // ratio 60
  t.equal(pickChannel([a, b, c]), b, 'least ratio, not least bytes');
  t.equal(pickChannel([a, ch(2, 10, 0, false), c]), c, 'a channel that is not ready is skipped, however low its ratio');
  const d = ch(4, 2, 100); // ratio 50, as b
  t.equal(pickChannel([b, d]), b, 'a tie goes to the first');
  t.equal(pickChannel([d, b]), d, 'a tie goes to the first (other order)');
  const huge = ch(5, 1, Number.MAX_VALUE);
  t.equal(pickChannel([huge]), huge, 'any ready channel beats none');
});

t.test('catchUp: an idle channel re-enters at no worse than the best backlogged ratio', async (t) => {
  const idle = ch(1, 4, 10_000, true, false);
  const busy = ch(2, 2, 300, true, true); // ratio 150
  const busier = ch(3, 1, 400, true, true); // ratio 400
  const quiet = ch(4, 1, 1, false, false); // ratio 1, but nothing pending: not a competitor
  catchUp([idle, busy, busier, quiet], idle);
  t.equal(idle.recentlySent, 600, '150 (the best backlogged ratio) × priority 4');
  catchUp([idle, busy], idle);
  t.equal(idle.recentlySent, 600, 'already at the cap: unchanged');
  const low = ch(5, 1, 10, true, false);
  catchUp([low, busy], low);
  t.equal(low.recentlySent, 10, 'below the cap: unchanged');
  const alone = ch(6, 3, 999, true, true);
  catchUp([alone], alone);
  t.equal(alone.recentlySent, 0, 'its own backlog does not count; no backlogged competitor: back to 0');
  const again = ch(7, 1, 50, true, false);
  catchUp([again, quiet], again);
  t.equal(again.recentlySent, 0, 'competitors with nothing pending do not count');
});

t.test('decay: ×0.8 per whole 2 s period since the last decay, at most 100 periods', async (t) => {
  t.equal(DECAY_PERIOD_MS, 2000);
  const a = ch(1, 1, 1000);
  const b = ch(2, 1, 500);
  t.equal(decay([a, b], 10_000, 10_000 + DECAY_PERIOD_MS - 1), 10_000, 'under one period: nothing');
  t.equal(a.recentlySent, 1000);
  t.equal(decay([a, b], 10_000, 10_000 + DECAY_PERIOD_MS), 10_000 + DECAY_PERIOD_MS, 'one period');
  t.equal(a.recentlySent, 800);
  t.equal(b.recentlySent, 400);
  t.equal(decay([a, b], 20_000, 20_000 + 2.5 * DECAY_PERIOD_MS), 20_000 + 2 * DECAY_PERIOD_MS, 'whole periods only; the rest carries');
  t.ok(Math.abs(a.recentlySent - 512) < 1e-9, `two periods: ×0.64 (${a.recentlySent})`);
  t.equal(decay([a], 30_000, 29_000), 30_000, 'a clock behind the last decay: nothing');
  t.ok(Math.abs(a.recentlySent - 512) < 1e-9);
  const big = ch(3, 1, 1e12);
  t.equal(decay([big], 0, 300 * DECAY_PERIOD_MS), 300 * DECAY_PERIOD_MS, '300 periods are consumed');
  const expected = 1e12 * Math.pow(0.8, 100);
  t.ok(Math.abs(big.recentlySent - expected) < 1e-6 * expected, `but decayed by at most 100 of them (${big.recentlySent})`);
});
