/**
 * P2PConfig: every setting of a node's p2p layer in one validated object,
 * as CometBFT's `config.P2PConfig`. Times in ms, sizes in bytes, rates in
 * bytes/s. Validated with zod; {@link parseP2PConfig} fills the defaults.
 *
 * @module
 */
import { z } from 'zod';
import { InvalidArgumentError } from './errors.js';

const ms = (def: number) => z.number().int().positive().default(def);
const count = (def: number) => z.number().int().nonnegative().default(def);
const addrList = z.array(z.string().max(400)).max(10_000).default([]);
const idList = z
  .array(z.string().regex(/^[0-9a-f]{40}$/, 'must be a 40-hex node ID'))
  .max(10_000)
  .default([]);

/** MConnection settings (see `MConnConfig` for each field's meaning); all optional, MConnection fills defaults. */
export const MConnConfigSchema = z
  .object({
    /** Send rate limit (bytes/s); 0 = unlimited. Default 0. */
    sendRate: z.number().nonnegative(),
    /** Receive rate limit (bytes/s); 0 = unlimited. Default 0. */
    recvRate: z.number().nonnegative(),
    /** Largest data of one packet (bytes), 1..1048576. Default 16384. */
    maxPacketMsgPayloadSize: z
      .number()
      .int()
      .min(1)
      .max(1 << 20),
    /** Longest a queued packet waits before it is written (ms); 0 = end of the event-loop turn. Default 0. */
    flushThrottleMs: z.number().nonnegative(),
    /** Bytes per socket write at most. Default 65536. */
    maxBatchBytes: z.number().int().positive(),
    /** Flow-control window granted to the peer on each channel at start (bytes), 65536..2^31−1. Default 1048576. */
    recvWindowBytes: z.number().int().min(65536).max(0x7fffffff),
    /** Most bytes all channels' receive windows may add up to by auto-tuning, recvWindowBytes..2^31−1. Default 16777216. */
    maxRecvWindowBytes: z.number().int().min(65536).max(0x7fffffff),
    /** Interval between pings (ms). Default 60000. */
    pingIntervalMs: z.number().positive(),
    /** Wait for a pong before `ERR_PONG_TIMEOUT` (ms). Default 45000. */
    pongTimeoutMs: z.number().positive(),
    /** Default timeout of a blocking send (ms); 0 = wait forever. Default 10000. */
    sendTimeoutMs: z.number().nonnegative(),
    /** Longest `flushStop()` waits for the queues to drain (ms). Default 10000. */
    flushStopTimeoutMs: z.number().positive(),
    /** Blocked `send()` callers per channel at most; past it `send` resolves false at once. Default 1024. */
    maxSendWaiters: z.number().int().positive(),
    /** Bytes held for sending to one peer at most (queues + blocked senders). Default 16777216. */
    maxSendBufferBytes: z.number().int().positive(),
    /** No credit (or no drain) while we have data for the peer this long → `ERR_SEND_STALL` (ms); 0 = never. Default 30000. */
    sendStallTimeoutMs: z.number().nonnegative(),
    /** Nothing received this long → `ERR_IDLE_TIMEOUT` (ms), > pingIntervalMs; 0 = never. Default 90000. */
    idleTimeoutMs: z.number().nonnegative(),
    /** A started packet incomplete this long → `ERR_RECV_STALL` (ms); 0 = never. Default 10000. */
    packetTimeoutMs: z.number().nonnegative(),
    /** A started multi-packet message incomplete this long → `ERR_RECV_STALL` (ms); 0 = never. Default 120000. */
    messageTimeoutMs: z.number().nonnegative(),
  })
  .partial()
  .strict();

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
    /** MConnection settings (see {@link MConnConfigSchema}); defaults from `DEFAULT_MCONN_CONFIG`. */
    mconn: MConnConfigSchema.default({}),
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
 * | mconn | MConnection defaults | |
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

/**
 * Validate `input` against a zod `schema` (a config file, a config section)
 * and return the parsed value. Every problem is reported at once, in one
 * line, each at its full dotted path from the root of `input` (`p2p.mconn.sendRate`,
 * `p2p.seeds[0]`); an unknown key gets a "did you mean" for the closest known
 * key at that path (case, `_` and `-` ignored, so CometBFT's
 * `max_num_inbound_peers` finds `maxNumInboundPeers`).
 * @param what the start of the message, e.g. `invalid config file /etc/sb.json`.
 * @param keyHint what to say of an unknown key instead of a suggestion (`''` for nothing special).
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) `<what>: <path>: <problem>; …`.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  keyHint?: (key: string, path: readonly PropertyKey[]) => string,
): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map(
          (k) =>
            `${formatPath([...i.path, k])}: unknown key${keyHint?.(k, i.path) || renamed(k) || suggestion(k, knownKeys(schema, i.path))}`,
        )
      : [`${formatPath(i.path) || '(top level)'}: ${i.message.replace(/^Invalid input: /, '')}`],
  );
  const more = problems.length > MAX_PROBLEMS_LISTED ? `; and ${problems.length - MAX_PROBLEMS_LISTED} more` : '';
  throw new InvalidArgumentError(`${what}: ${problems.slice(0, MAX_PROBLEMS_LISTED).join('; ')}${more}`);
}

/** Problems a config error lists at most (the rest are counted). */
const MAX_PROBLEMS_LISTED = 20;

/** `p2p.seeds[0]` from `['p2p', 'seeds', 0]`; a key that is not a plain name is quoted and shortened (`["a\\nb"]`), so the message stays one line of text. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((k, i) => {
      if (typeof k === 'number') return `[${k}]`;
      const name = String(k);
      if (/^[A-Za-z0-9_$-]{1,64}$/.test(name)) return i === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)}]`;
    })
    .join('');
}

/** The keys of the object schema at `path` inside `schema` (through defaults, optionals and arrays). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s !== undefined;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else if (i === path.length) break;
    else if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(path[i++])];
    else if (s instanceof z.ZodArray) {
      s = s.element as z.ZodType;
      i++;
    } else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/** Keys that were renamed, old name → new name (said wherever the old one appears). */
const RENAMED_KEYS: Readonly<Record<string, string>> = { addrBookStrict: 'routabilityStrict' };

/** ` (now named x)` for a renamed key; else `''`. */
function renamed(key: string): string {
  return Object.hasOwn(RENAMED_KEYS, key) ? ` (now named ${RENAMED_KEYS[key]})` : '';
}

/** ` (did you mean x?)` for the known key nearest to `key`, if it is near enough; else `''`. */
function suggestion(key: string, known: readonly string[]): string {
  const norm = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  if (key.length > 64) return ''; // no known key is that long (and the distance costs length²)
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(norm(key), norm(k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  // a typo, a missing letter, swapped letters: at most 2 edits, and at most a third of the key
  return best !== undefined && bestD <= Math.min(2, Math.floor(norm(key).length / 3)) ? ` (did you mean ${best}?)` : '';
}

/** Edits (insert, delete, substitute, swap two adjacent) from `a` to `b`: optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
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
