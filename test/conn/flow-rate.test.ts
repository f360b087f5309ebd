// FlowRate, the token bucket and rate meter behind MConnection's sendRate and
// recvRate, on a fake clock: exact delays, the burst size, refill and its cap,
// and the moving average of 1 s samples.
import t from 'tap';
import { FlowRate } from '../../lib/conn/flow-rate.js';

/** A FlowRate on a clock the test moves. */
function fakeClock(limit: number): { fr: FlowRate; advance(ms: number): void } {
  let now = 1000;
  const fr = new FlowRate(limit, () => now);
  return { fr, advance: (ms) => void (now += ms) };
}

t.test('limit 0 is unlimited: never a delay, bytes still counted', async (t) => {
  const { fr } = fakeClock(0);
  fr.record(10 << 20);
  fr.record(10 << 20);
  t.equal(fr.delayMs(), 0);
  t.equal(fr.total, 20 << 20);
});

t.test('the bucket holds 100 ms of traffic at a high limit: a burst of limit/10 passes, one byte more waits', async (t) => {
  const { fr } = fakeClock(1_000_000);
  fr.record(100_000);
  t.equal(fr.delayMs(), 0, 'the whole burst passes at once');
  fr.record(1);
  t.equal(fr.delayMs(), 1, '1 byte over at 1 MB/s: wait 1 ms (rounded up)');
  fr.record(9_999);
  t.equal(fr.delayMs(), 10, '10 000 bytes over at 1 MB/s: 10 ms');
});

t.test('the bucket holds at least 64 KiB at a low limit, and the delay is the debt over the limit', async (t) => {
  const { fr, advance } = fakeClock(1000);
  t.equal(fr.delayMs(), 0, 'a full bucket: no delay (not a negative one)');
  fr.record(65_536);
  t.equal(fr.delayMs(), 0, '64 KiB pass at once even at 1000 B/s');
  fr.record(2000);
  t.equal(fr.delayMs(), 2000, '2000 bytes over at 1000 B/s: 2 s');
  advance(500);
  t.equal(fr.delayMs(), 1500, 'half a second refills 500 bytes');
  advance(1500);
  t.equal(fr.delayMs(), 0, 'paid off');
  t.equal(fr.total, 67_536);
});

t.test('an idle connection refills only up to the burst, not without bound', async (t) => {
  const { fr, advance } = fakeClock(1000);
  advance(3_600_000); // an hour idle
  fr.record(65_536);
  t.equal(fr.delayMs(), 0);
  fr.record(1000);
  t.equal(fr.delayMs(), 1000, 'an hour of idling bought no more than one burst');
});

t.test('rate() is a moving average of 1 s samples; idle samples decay it, at most 10 at a time', async (t) => {
  const { fr, advance } = fakeClock(0);
  fr.record(1000);
  advance(999);
  t.equal(fr.rate(), 0, 'no estimate before the first full sample');
  advance(1);
  t.equal(fr.rate(), 500, 'first sample 1000 B/s, averaged with the start (0) at weight 1/2');
  fr.record(1000);
  advance(1000);
  t.equal(fr.rate(), 750);
  t.equal(fr.rate(), 750, 'reading does not start a new sample');
  advance(3000);
  t.equal(fr.rate(), 750 / 8, 'three idle seconds halve it three times');
  fr.record(20_000);
  advance(20_000);
  const w = Math.pow(0.5, 10);
  t.equal(fr.rate(), (750 / 8) * w + 1000 * (1 - w), 'a 20 s sample at 1000 B/s weighs as 10 samples, not 20');
});
