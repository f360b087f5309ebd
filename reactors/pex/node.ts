/**
 * `createNode`: a working node from one config object — a Switch plus,
 * when `pex` is on, an {@link AddrBook} and a {@link PEXReactor} — as
 * CometBFT's `node.NewNode` does for its p2p part. The Switch alone does not
 * run PEX (the framework core never imports this package), so the PEX
 * settings live here: a {@link NodeConfig} is a `P2PConfig` plus
 * {@link PEXConfigSchema}'s `pex`, `seeds`, `seedMode`, `routabilityStrict`,
 * `ensurePeersPeriodMs`, `crawlPeriodMs` and `minTimeBetweenCrawlsMs`.
 * `switchboard node` is built with it.
 *
 * ```ts
 * import { NodeKey } from 'switchboard';
 * import { createNode } from 'switchboard/reactors/pex';
 *
 * const node = createNode({
 *   nodeKey: NodeKey.loadOrGen('./home/config/node_key.json'),
 *   nodeInfo: { network: 'my-net', moniker: 'alice' },
 *   config: { listenAddress: '0.0.0.0:26656', seeds: ['<id>@seed.example.com:26656'] },
 *   addrBookPath: './home/data/addrbook.json',
 *   reactors: [new EchoReactor()],
 * });
 * await node.start();
 * ```
 *
 * @module
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { P2PConfigSchema } from '../../lib/config.js';
import { parseConfig } from '../../lib/parse-config.js';
import { InvalidArgumentError } from '../../lib/errors.js';
import type { P2PMetrics } from '../../lib/metrics.js';
import type { NodeKey } from '../../lib/node-key.js';
import type { Reactor } from '../../lib/reactor.js';
import type { Transport } from '../../lib/transport.js';
import type { NodeInfoSettings } from '../../lib/node-info-settings.js';
import type { ConnFilter, PeerFilter } from '../../lib/peer-filters.js';
import { Switch } from '../../lib/switch.js';
import { AddrBook } from './addrbook.js';
import { PEXSettingsSchema } from './options.js';
import { PEXReactor } from './reactor.js';

/**
 * The schema of the PEX settings of {@link NodeConfig} (unknown keys are
 * errors). Defaults: `pex` true, `seeds` [], `seedMode` false,
 * `routabilityStrict` true, `ensurePeersPeriodMs`
 * `DEFAULT_ENSURE_PEERS_PERIOD_MS` (30 000 ms, CometBFT's), `crawlPeriodMs`
 * 30 000 and `minTimeBetweenCrawlsMs` 120 000 (CometBFT's `crawlPeerPeriod`
 * and `minTimeBetweenCrawls`); the three from `PEXSettingsSchema`.
 */
export const PEXConfigSchema = z
  .object({
    /** Run the PEX reactor with an AddrBook. Default true. */
    pex: z.boolean().default(true),
    /** `id@host:port` of seed nodes, asked for addresses while the node is isolated (CometBFT's `seeds`). Default []. */
    seeds: z.array(z.string().max(400)).max(10_000).default([]),
    /** Crawl and answer address requests, then hang up: a seed node (CometBFT's `seed_mode`). Default false. */
    seedMode: z.boolean().default(false),
    /** Refuse non-routable (private, loopback) addresses in the AddrBook (the book's option; CometBFT's `addr_book_strict`). Default true. */
    routabilityStrict: z.boolean().default(true),
    /** Period of PEX's `ensurePeers`, ms, 1..2^31−1. Default 30 000. */
    ensurePeersPeriodMs: PEXSettingsSchema.shape.ensurePeersPeriodMs,
    /** Seed mode: period of the crawl, ms (CometBFT's `crawlPeerPeriod`). Default 30 000. */
    crawlPeriodMs: PEXSettingsSchema.shape.crawlPeriodMs,
    /** Seed mode: least time between two crawls of one address, ms (CometBFT's `minTimeBetweenCrawls`). Default 120 000. */
    minTimeBetweenCrawlsMs: PEXSettingsSchema.shape.minTimeBetweenCrawlsMs,
  })
  .strict();

/** The PEX settings with defaults filled (see {@link PEXConfigSchema}). */
export type PEXConfig = z.output<typeof PEXConfigSchema>;

/**
 * The schema of {@link NodeConfig}: `P2PConfigSchema` (the Switch's) extended
 * with {@link PEXConfigSchema}'s fields; unknown keys are errors. In a config
 * file these are the fields of `p2p`.
 */
export const NodeConfigSchema = P2PConfigSchema.extend(PEXConfigSchema.shape).strict();

/**
 * A node's settings: every `P2PConfig` field (the Switch's) plus the
 * PEX ones of {@link PEXConfig}, defaults filled. In a config file these are
 * the fields of `p2p`.
 */
export type NodeConfig = z.output<typeof NodeConfigSchema>;

/** What callers may pass: any subset of {@link NodeConfig}. */
export type NodeConfigInput = z.input<typeof NodeConfigSchema>;

/**
 * Validate `input` and fill defaults ({@link NodeConfigSchema}).
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) listing every invalid
 *   or unknown field at once, at its full path, with a suggestion for a near miss.
 */
export function parseNodeConfig(input: unknown = {}): NodeConfig {
  return parseConfig(NodeConfigSchema, input ?? {}, 'invalid p2p config');
}

/** Options of {@link createNode}. */
export interface CreateNodeOptions {
  /** Our identity. */
  nodeKey: NodeKey;
  /** What we tell peers about ourselves (network, moniker, version, other). */
  nodeInfo?: NodeInfoSettings;
  /** Any subset of {@link NodeConfig}; validated by {@link parseNodeConfig}, defaults filled. */
  config?: NodeConfigInput;
  /**
   * The AddrBook file (created by the first save, parent directories as
   * needed). Required when `config.pex` is on (the default).
   */
  addrBookPath?: string;
  /** The application's reactors, added after PEX in this order, each under its `name` (`'pex'` is PEX's). Default none. */
  reactors?: readonly Reactor[];
  /** pino logger for the Switch, PEX (child `{ reactor: 'pex' }`) and the book (child `{ module: 'addrbook' }`). Default silent. */
  logger?: Logger;
  /** prom-client metrics; default none. */
  metrics?: P2PMetrics;
  /** Run for each inbound connection before the handshake (see `SwitchOptions`). */
  connFilters?: ConnFilter[];
  /** Run for each peer after the handshake (see `SwitchOptions`). */
  peerFilters?: PeerFilter[];
  /** What carries connections (see `SwitchOptions.transport`). Default TCP. */
  transport?: Transport;
}

/** What {@link createNode} built. Start it with {@link SwitchboardNode.start}. */
export interface SwitchboardNode {
  /** The Switch (peers, dialing, events); `switch.config` holds its part of {@link config}. */
  readonly switch: Switch;
  /** The PEX reactor, registered as `pex`; undefined when `pex` is off. */
  readonly pex: PEXReactor | undefined;
  /** The address book PEX uses; undefined when `pex` is off. */
  readonly book: AddrBook | undefined;
  /** The effective settings (validated, defaults filled). */
  readonly config: Readonly<NodeConfig>;
  /** Start the Switch (which loads the book and starts PEX and the other reactors). Rejects as `Switch.start()`. */
  start(): Promise<void>;
  /** Stop the Switch and its reactors (the book is saved). Rejects as `Switch.stop()`. */
  stop(): Promise<void>;
}

/**
 * Build a node (not started): a Switch with `config`'s Switch settings; when
 * `pex` is on, an {@link AddrBook} at `addrBookPath` (with
 * `routabilityStrict`) and a {@link PEXReactor} (`seedMode`, `seeds`,
 * `ensurePeersPeriodMs`, `crawlPeriodMs`, `minTimeBetweenCrawlsMs`, other PEX options at their defaults) registered as
 * `pex`; then `reactors` in order. As CometBFT's node setup.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an invalid config
 *   (every bad field listed), or when `pex` is on and `addrBookPath` is
 *   missing; (`ERR_INVALID_ADDRESS`) for a malformed seed or peer address;
 *   the Switch's error for a reactor whose channel is taken.
 */
export function createNode(opts: CreateNodeOptions): SwitchboardNode {
  const config = parseNodeConfig(opts.config);
  const { pex: pexOn, seeds, seedMode, routabilityStrict, ensurePeersPeriodMs, crawlPeriodMs, minTimeBetweenCrawlsMs, ...p2p } = config;
  if (pexOn && (typeof opts.addrBookPath !== 'string' || opts.addrBookPath === '')) {
    throw new InvalidArgumentError('createNode: addrBookPath is required when pex is on (or set config.pex to false)');
  }
  const sw = new Switch({
    nodeKey: opts.nodeKey,
    nodeInfo: opts.nodeInfo,
    config: p2p,
    logger: opts.logger,
    metrics: opts.metrics,
    connFilters: opts.connFilters,
    peerFilters: opts.peerFilters,
    transport: opts.transport,
  });
  let book: AddrBook | undefined;
  let pex: PEXReactor | undefined;
  if (pexOn) {
    book = new AddrBook(opts.addrBookPath!, { routabilityStrict, logger: opts.logger?.child({ module: 'addrbook' }) });
    pex = sw.addReactor(new PEXReactor(book, { seedMode, seeds, ensurePeersPeriodMs, crawlPeriodMs, minTimeBetweenCrawlsMs }));
  }
  for (const reactor of opts.reactors ?? []) sw.addReactor(reactor);
  return {
    switch: sw,
    pex,
    book,
    config: Object.freeze(config),
    start: () => sw.start(),
    stop: () => sw.stop(),
  };
}
