/**
 * P2PConfig: every setting of a node's p2p layer in one validated object,
 * as CometBFT's `config.P2PConfig`. Times in ms, sizes in bytes, rates in
 * bytes/s. Validated with zod; {@link parseP2PConfig} fills the defaults.
 * The MConnection group is `MConnConfigSchema` (lib/conn/mconn-config.ts).
 *
 * @module
 */
import { z } from 'zod';
import { MConnConfigSchema } from './conn/mconn-config.js';
import { parseConfig } from './parse-config.js';

const ms = (def: number) => z.number().int().positive().default(def);
const count = (def: number) => z.number().int().nonnegative().default(def);
const addrList = z.array(z.string().max(400)).max(10_000).default([]);
const idList = z
  .array(z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-hex node ID'))
  .max(10_000)
  .default([]);

/**
 * The schema of {@link P2PConfig}; unknown keys are errors (catches typos in
 * config files, and PEX settings given to a Switch).
 */
export const P2PConfigSchema = z
  .object({
    /** `[tcp://]host:port` to listen on; port 0 = any free port. */
    listenAddress: z.string().default('0.0.0.0:26656'),
    /** `host:port` advertised to peers instead of the bound address. */
    externalAddress: z.string().optional(),
    /** Inbound peers at most (unconditional peers not counted). Default 40. */
    maxNumInboundPeers: count(40),
    /** Outbound peers at most, enforced on every dial. Default 10. */
    maxNumOutboundPeers: count(10),
    /** Deadline of a TCP connect (ms). Default 3000. */
    dialTimeoutMs: ms(3_000),
    /** Deadline of the SecretConnection + NodeInfo handshake (ms). Default 20000. */
    handshakeTimeoutMs: ms(20_000),
    /** Inbound connections allowed in the handshake at once; more are closed at accept. */
    maxHandshaking: ms(64),
    /** Deadline of each connection/peer filter. */
    filterTimeoutMs: ms(5_000),
    /** An inbound connection must send its first 32 bytes (ephemeral key) within this (ms). Default 5000. */
    handshakeKeyTimeoutMs: ms(5_000),
    /** Inbound connections in the handshake at once from one routable IP (loopback/private exempt). Default 8. */
    maxHandshakingPerIp: ms(8),
    /** New inbound connections per second from one routable IP (loopback/private exempt). Default 10. */
    maxInboundConnRatePerIp: ms(10),
    /**
     * With every inbound slot taken, a new inbound peer replaces the inbound
     * peer (never persistent or unconditional) that has sent no message for
     * longest, if that is at least this long (ms); 0 = never. Default 30000.
     */
    inboundEvictIdleMs: count(30_000),
    /** Which IPs an address ban (`banPeer(id@host:port)`, PEX abuse) also bans: `routable` (default), `all`, `none`. */
    banIpScope: z.union([z.literal('routable'), z.literal('all'), z.literal('none')]).default('routable'),
    /**
     * While the node is congested (a live peer has an eighth of `maxSendWaiters`
     * blocked senders), pause reading from peers receiving at more than twice
     * the average rate, so a flood cannot crowd out other peers' messages. Default true.
     */
    throttleHeavySenders: z.boolean().default(true),
    /** Refused inbound connections are logged at info at most once per reason per this interval, with the count (ms). Default 10000. */
    refusalLogIntervalMs: ms(10_000),
    /** Accept a second peer from an IP that already has one. */
    allowDuplicateIp: z.boolean().default(true),
    /** Disable SecretConnection (benchmarks and tests only). */
    plaintext: z.boolean().default(false),
    /** Wait between the first redials of a persistent peer (ms, plus up to 3 s jitter). Default 5000. */
    reconnectIntervalMs: ms(5_000),
    /** Redials at `reconnectIntervalMs`. Default 20. */
    reconnectAttempts: count(20),
    /** Base of the exponential redials that follow (waits base·3^i ms). Default 3000. */
    reconnectBackoffBaseMs: ms(3_000),
    /** Exponential redials before giving up. Default 10. */
    reconnectBackoffAttempts: count(10),
    /** `id@host:port` kept connected. */
    persistentPeers: addrList,
    /** IDs that bypass the peer limits. */
    unconditionalPeerIds: idList,
    /** IDs never gossiped by PEX. */
    privatePeerIds: idList,
    /** MConnection settings: `MConnConfigSchema` (lib/conn/mconn-config.ts), its defaults filled. */
    mconn: MConnConfigSchema.prefault({}),
  })
  .strict();

/**
 * The p2p settings with every default applied:
 *
 * | field | default | unit |
 * | --- | --- | --- |
 * | listenAddress | `0.0.0.0:26656` | |
 * | externalAddress | none (the bound address) | |
 * | maxNumInboundPeers / maxNumOutboundPeers | 40 / 10 | peers |
 * | dialTimeoutMs / handshakeTimeoutMs | 3000 / 20000 | ms |
 * | maxHandshaking | 64 | connections |
 * | filterTimeoutMs | 5000 | ms |
 * | handshakeKeyTimeoutMs | 5000 | ms |
 * | maxHandshakingPerIp / maxInboundConnRatePerIp | 8 / 10 (routable IPs only) | connections, connections/s |
 * | inboundEvictIdleMs | 30000 (0 = never) | ms |
 * | banIpScope | `routable` | |
 * | refusalLogIntervalMs | 10000 | ms |
 * | throttleHeavySenders | true | |
 * | allowDuplicateIp | true (CometBFT: false; true keeps loopback networks working) | |
 * | plaintext | false | |
 * | reconnectIntervalMs × reconnectAttempts | 5000 × 20 | ms |
 * | reconnectBackoffBaseMs × reconnectBackoffAttempts | 3000 × 10 (waits 3000·3^i) | ms |
 * | persistentPeers, unconditionalPeerIds, privatePeerIds | [] | |
 * | mconn | `DEFAULT_MCONN_CONFIG` (every field filled) | |
 *
 * PEX settings (`pex`, `seeds`, `seedMode`, `routabilityStrict`,
 * `ensurePeersPeriodMs`) are not here: the Switch does not run PEX. Pass them
 * to `createNode()` or `PEXReactor`/`AddrBook` (`switchboard/reactors/pex`).
 */
export type P2PConfig = z.output<typeof P2PConfigSchema>;
/** What callers may pass: any subset of {@link P2PConfig}. */
export type P2PConfigInput = z.input<typeof P2PConfigSchema>;

/**
 * Validate `input` and fill defaults.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) listing every invalid
 *   or unknown field at once, each at its full path, with a suggestion for a
 *   near-miss key: `invalid p2p config: maxNumInboundPeer: unknown key (did you
 *   mean maxNumInboundPeers?); mconn.sendRate: expected number, received string`.
 */
export function parseP2PConfig(input: unknown = {}): P2PConfig {
  return parseConfig(P2PConfigSchema, input ?? {}, 'invalid p2p config', pexKeyHint);
}

/** Keys of the PEX settings (and their old names), which the Switch refuses: named in the error. */
const PEX_KEYS = new Set([
  'pex',
  'seeds',
  'seedMode',
  'routabilityStrict',
  'addrBookStrict',
  'ensurePeersPeriodMs',
  'crawlPeriodMs',
  'minTimeBetweenCrawlsMs',
]);

/** For an unknown PEX key at the top level of the Switch's config: where it belongs instead. */
function pexKeyHint(key: string, path: readonly PropertyKey[]): string {
  if (path.length > 0 || !PEX_KEYS.has(key)) return '';
  return ` (\`${key}\` is a PEX setting${key === 'addrBookStrict' ? ', now named `routabilityStrict`' : ''}: pass it to createNode() or PEXReactor from switchboard/reactors/pex)`;
}

/** The defaults, for documentation and tests. */
export const DEFAULT_P2P_CONFIG: Readonly<P2PConfig> = Object.freeze(parseP2PConfig({}));
