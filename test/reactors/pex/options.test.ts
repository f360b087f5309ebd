// The PEX reactor's settings (reactors/pex/options.ts): each one's default (CometBFT's values), its
// range, and the one-line InvalidArgumentError (ERR_INVALID_ARGUMENT) naming every bad one.
import t from 'tap';
import {
  DEFAULT_BAN_MS,
  DEFAULT_CRAWL_PERIOD_MS,
  DEFAULT_DIAL_BACKOFF_BASE_MS,
  DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_MAX_ATTEMPTS_TO_DIAL,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
  DEFAULT_SEED_DISCONNECT_WAIT_MS,
  MAX_TIMER_MS,
  parsePEXSettings,
  type PEXReactorOptions,
} from '../../../reactors/pex/options.js';

const PREFIX = 'invalid PEXReactor options: ';

t.test('the defaults are CometBFT’s', async (t) => {
  t.same(parsePEXSettings({}), {
    ensurePeersPeriodMs: 30_000,
    requestIntervalMs: 10_000,
    maxAddrsPerResponse: 250,
    seedDisconnectWaitMs: 28 * 60 * 60_000,
    crawlPeriodMs: 30_000,
    minTimeBetweenCrawlsMs: 120_000,
    dialBackoffBaseMs: 1000,
    maxAttemptsToDial: 16,
    banMs: 24 * 60 * 60_000,
  });
  t.same(
    [
      DEFAULT_ENSURE_PEERS_PERIOD_MS,
      DEFAULT_CRAWL_PERIOD_MS,
      DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
      DEFAULT_SEED_DISCONNECT_WAIT_MS,
      DEFAULT_BAN_MS,
      DEFAULT_DIAL_BACKOFF_BASE_MS,
      DEFAULT_MAX_ATTEMPTS_TO_DIAL,
      MAX_TIMER_MS,
    ],
    [30_000, 30_000, 120_000, 100_800_000, 86_400_000, 1000, 16, 2_147_483_647],
  );
});

t.test('requestIntervalMs defaults to a third of ensurePeersPeriodMs, rounded down; an explicit one is kept', async (t) => {
  t.equal(parsePEXSettings({ ensurePeersPeriodMs: 1000 }).requestIntervalMs, 333);
  t.equal(parsePEXSettings({ ensurePeersPeriodMs: 1000, requestIntervalMs: 0 }).requestIntervalMs, 0);
  t.equal(parsePEXSettings({ requestIntervalMs: 12.5 }).requestIntervalMs, 12.5);
});

t.test('the bounds of each setting are accepted', async (t) => {
  const ok: PEXReactorOptions[] = [
    { ensurePeersPeriodMs: 1 },
    { ensurePeersPeriodMs: MAX_TIMER_MS },
    { crawlPeriodMs: 1 },
    { crawlPeriodMs: MAX_TIMER_MS },
    { maxAddrsPerResponse: 1 },
    { maxAddrsPerResponse: 250 },
    { maxAttemptsToDial: 1 },
    { maxAttemptsToDial: 1_000_000 },
    { seedDisconnectWaitMs: 0, minTimeBetweenCrawlsMs: 0, dialBackoffBaseMs: 0, banMs: 0, requestIntervalMs: 0 },
  ];
  for (const o of ok) t.match(parsePEXSettings(o), o, JSON.stringify(o));
});

t.test('an out-of-range setting is refused with ERR_INVALID_ARGUMENT naming it', async (t) => {
  const bad: [PEXReactorOptions, string][] = [
    [{ ensurePeersPeriodMs: 0 }, 'ensurePeersPeriodMs: Too small: expected number to be >=1'],
    [{ ensurePeersPeriodMs: MAX_TIMER_MS + 1 }, 'ensurePeersPeriodMs: Too big: expected number to be <=2147483647'],
    [{ crawlPeriodMs: 0.5 }, 'crawlPeriodMs: Too small: expected number to be >=1'],
    [{ crawlPeriodMs: MAX_TIMER_MS + 1 }, 'crawlPeriodMs: Too big: expected number to be <=2147483647'],
    [{ maxAddrsPerResponse: 0 }, 'maxAddrsPerResponse: Too small: expected number to be >=1'],
    [{ maxAddrsPerResponse: 251 }, 'maxAddrsPerResponse: Too big: expected number to be <=250'],
    [{ maxAddrsPerResponse: 1.5 }, 'maxAddrsPerResponse: expected int, received number'],
    [{ maxAttemptsToDial: 0 }, 'maxAttemptsToDial: Too small: expected number to be >=1'],
    [{ maxAttemptsToDial: 1_000_001 }, 'maxAttemptsToDial: Too big: expected number to be <=1000000'],
    [{ maxAttemptsToDial: 2.5 }, 'maxAttemptsToDial: expected int, received number'],
    [{ banMs: -1 }, 'banMs: Too small: expected number to be >=0'],
    [{ dialBackoffBaseMs: -1 }, 'dialBackoffBaseMs: Too small: expected number to be >=0'],
    [{ dialBackoffBaseMs: Number.POSITIVE_INFINITY }, 'dialBackoffBaseMs: expected number, received Infinity'],
    [{ requestIntervalMs: -1 }, 'requestIntervalMs: Too small: expected number to be >=0'],
    [{ seedDisconnectWaitMs: -1 }, 'seedDisconnectWaitMs: Too small: expected number to be >=0'],
    [{ minTimeBetweenCrawlsMs: -1 }, 'minTimeBetweenCrawlsMs: Too small: expected number to be >=0'],
    [{ banMs: '1' as unknown as number }, 'banMs: expected number, received string'],
  ];
  for (const [o, problem] of bad) {
    t.throws(() => parsePEXSettings(o), { name: 'InvalidArgumentError', code: 'ERR_INVALID_ARGUMENT', message: PREFIX + problem }, problem);
  }
});

t.test('every bad setting is listed in one error', async (t) => {
  t.throws(() => parsePEXSettings({ banMs: -1, crawlPeriodMs: 0 }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: `${PREFIX}crawlPeriodMs: Too small: expected number to be >=1; banMs: Too small: expected number to be >=0`,
  });
});

t.test('the reactor-only options are not settings: they pass unvalidated here and are not returned', async (t) => {
  const s = parsePEXSettings({ seedMode: true, seeds: ['x'], logger: undefined, now: () => 1 });
  for (const k of ['seedMode', 'seeds', 'logger', 'now']) t.notOk(k in s, k);
});
