/**
 * The PEX reactor's settings: one zod schema ({@link PEXSettingsSchema})
 * gives each setting's range and default, as CometBFT's `pex_reactor.go`
 * constants; {@link PEXReactorOptions} (what the constructor takes) and
 * {@link PEXSettings} (what it runs with) are derived from it, and
 * `createNode()`'s config (node.ts) takes `ensurePeersPeriodMs`, `crawlPeriodMs` and `minTimeBetweenCrawlsMs` from it.
 * Every duration is in milliseconds.
 *
 * @module
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseConfig } from '../../lib/parse-config.js';
import { MAX_PEX_ADDRS } from './messages.js';

/** Default period of `ensurePeers`, ms (CometBFT's `defaultEnsurePeersPeriod`, 30 s). */
export const DEFAULT_ENSURE_PEERS_PERIOD_MS = 30_000;
/** Default period of the seed-mode crawl, ms (CometBFT's `crawlPeerPeriod`, 30 s). */
export const DEFAULT_CRAWL_PERIOD_MS = 30_000;
/** Default minimum time between two crawls of one address, ms (CometBFT's `minTimeBetweenCrawls`, 2 min). */
export const DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS = 2 * 60_000;
/** Default time a seed keeps a non-persistent peer, ms (CometBFT's `SeedDisconnectWaitPeriod` default, 28 h). */
export const DEFAULT_SEED_DISCONNECT_WAIT_MS = 28 * 60 * 60_000;
/** Default ban of a misbehaving peer, ms (CometBFT's `defaultBanTime`, 24 h). */
export const DEFAULT_BAN_MS = 24 * 60 * 60_000;
/** Default base of the per-address dial backoff, ms (CometBFT: 1 s, i.e. 2^n s plus up to 1 s of jitter). */
export const DEFAULT_DIAL_BACKOFF_BASE_MS = 1_000;
/** Default failed dials of one address before it is banned (CometBFT's `maxAttemptsToDial`, 16 ≈ 35 h of backoff). */
export const DEFAULT_MAX_ATTEMPTS_TO_DIAL = 16;

/** Largest delay setTimeout accepts, ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer period: a finite number of ms, 1..2^31−1. */
const period = z.number().min(1).max(MAX_TIMER_MS);
/** A duration: a finite number of ms ≥ 0. */
const duration = z.number().nonnegative();

/**
 * The schema of {@link PEXSettings}: each field optional, its default filled
 * (`requestIntervalMs` defaults to a third of `ensurePeersPeriodMs`, filled by
 * the PEXReactor constructor).
 */
export const PEXSettingsSchema = z.object({
  /** Period of `ensurePeers` (first run: at once without peers, else after a random part of it), 1..2^31−1. Default 30 000. */
  ensurePeersPeriodMs: period.default(DEFAULT_ENSURE_PEERS_PERIOD_MS),
  /**
   * Least time between two PexRequests of one peer; its third request
   * sooner than this after the previous accepted one disconnects and bans it
   * (the first two are free, as CometBFT). Default `ensurePeersPeriodMs / 3`
   * (CometBFT's `minReceiveRequestInterval`); keep it below the peers'
   * `ensurePeersPeriodMs`.
   */
  requestIntervalMs: duration.optional(),
  /** Most addresses in one answer, 1..250. Default 250 (CometBFT's `maxGetSelection`). */
  maxAddrsPerResponse: z.number().int().min(1).max(MAX_PEX_ADDRS).default(MAX_PEX_ADDRS),
  /** Seed mode: a non-persistent peer connected longer than this is disconnected at the next crawl. Default 28 h (CometBFT). */
  seedDisconnectWaitMs: duration.default(DEFAULT_SEED_DISCONNECT_WAIT_MS),
  /** Seed mode: period of the crawl, 1..2^31−1. Default 30 000 (CometBFT's `crawlPeerPeriod`). */
  crawlPeriodMs: period.default(DEFAULT_CRAWL_PERIOD_MS),
  /** Seed mode: least time between two crawls of one address. Default 120 000 (CometBFT's `minTimeBetweenCrawls`). */
  minTimeBetweenCrawlsMs: duration.default(DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS),
  /**
   * Base of the per-address dial backoff: after the n-th failed dial an
   * address is not dialed again for base·2^n plus up to base of jitter
   * (CometBFT: 1 s · 2^n + up to 1 s). Default 1000.
   */
  dialBackoffBaseMs: duration.default(DEFAULT_DIAL_BACKOFF_BASE_MS),
  /** Failed dials after which a (non-persistent) address is banned for `banMs`, 1..1000000. Default 16 (CometBFT's `maxAttemptsToDial`). */
  maxAttemptsToDial: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_ATTEMPTS_TO_DIAL),
  /** Ban of a misbehaving peer (abuse, malformed message, failed authentication). Default 24 h (CometBFT's `defaultBanTime`). */
  banMs: duration.default(DEFAULT_BAN_MS),
});

/** The effective settings of a PEXReactor, defaults filled (see {@link PEXSettingsSchema} for each). Durations in ms. */
export type PEXSettings = Required<z.output<typeof PEXSettingsSchema>>;

/** Options of `PEXReactor`: any of {@link PEXSettings}, and the ones below. Every duration is in milliseconds. */
export type PEXReactorOptions = z.input<typeof PEXSettingsSchema> & {
  /**
   * Seed (crawler) mode, as CometBFT's `seed_mode`: no `ensurePeers`;
   * instead crawl the book every `crawlPeriodMs`, answer each inbound
   * requester once and disconnect it. Default false.
   */
  seedMode?: boolean;
  /**
   * Seed nodes, `id@host:port` each, dialed when the book needs addresses and
   * nothing else can be dialed (CometBFT's `seeds`). Default none.
   * Addresses a seed sends are dialed at once (CometBFT #2093).
   */
  seeds?: readonly string[];
  /** pino logger; default the Switch's logger with `{ reactor: 'pex' }`. */
  logger?: Logger;
  /** Clock, ms since the epoch; default `Date.now`. Rate limits, backoff and crawl records use it. */
  now?: () => number;
};

/**
 * Validate the settings among `opts` (other keys are ignored) and fill the defaults.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) listing every invalid setting.
 */
export function parsePEXSettings(opts: PEXReactorOptions): PEXSettings {
  const { seedMode: _m, seeds: _s, logger: _l, now: _n, ...settings } = opts;
  const s = parseConfig(PEXSettingsSchema, settings, 'invalid PEXReactor options');
  return { ...s, requestIntervalMs: s.requestIntervalMs ?? Math.floor(s.ensurePeersPeriodMs / 3) };
}
