/**
 * `switchboard node`: run one node — a Switch with PEX and the gossip demo
 * reactor — until SIGINT/SIGTERM, printing what it sees.
 *
 * Configuration: `<home>/config/config.json` (or `--config FILE`), a JSON
 * object `{ "moniker"?, "network"?, "p2p"?: P2PConfig }`, with command-line
 * flags on top. The node key is `<home>/config/node_key.json` and the
 * address book `<home>/data/addrbook.json`. The node is built by
 * `createNode` (reactors/pex/node.ts), as an application would build one.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { z } from 'zod';
import { parseConfig } from '../lib/parse-config.js';
import { readBoundedFile, type BoundedRead } from '../lib/bounded-file.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { isSystemError, systemErrorText } from './errors.js';
import { P2PMetrics } from '../lib/metrics.js';
import { NodeKey } from '../lib/node-key.js';
import type { RttStatus } from '../lib/conn/keepalive.js';
import { createNode, NodeConfigSchema, parseNodeConfig, type NodeConfig, type NodeConfigInput } from '../reactors/pex/index.js';
import { GossipReactor } from '../reactors/examples/gossip/reactor.js';

/** Options of {@link runNode}: the command-line flags (undefined = from the config file, else the default). */
export interface NodeOptions {
  /** Home directory. Default `~/.switchboard`. */
  home: string;
  /** Config file; default `<home>/config/config.json` when it exists. */
  config?: string;
  network?: string;
  moniker?: string;
  /** Text to gossip once at start. */
  say?: string;
  /** Serve Prometheus metrics on 127.0.0.1:<port>/metrics. */
  metrics?: number;
  logLevel: string;
  logFormat: 'pretty' | 'json';
  /** Overrides of the p2p config (Switch and PEX settings) from flags. */
  p2p: NodeConfigInput;
}

/** Defaults of the node command. */
export const NODE_DEFAULTS = {
  home: join(homedir(), '.switchboard'),
  network: 'switchboard',
  moniker: hostname().slice(0, 64) || 'node',
  logLevel: 'warn',
} as const;

/** Events a node reports to a parent `testnet` process over IPC. */
export type NodeReport =
  | { type: 'ready'; id: string; listen: string }
  | { type: 'peer'; peer: string; moniker: string; outbound: boolean; up: boolean; numOutbound: number; maxOutbound: number }
  | { type: 'message'; origin: string; moniker: string; text: string; hops: number }
  /** Every second (under a parent process): each peer's `peer.status()` — wire rates in bytes/s, per-channel payload byte totals. */
  | { type: 'stats'; at: number; peers: PeerStats[] };

/** One peer in a `stats` {@link NodeReport}. */
export interface PeerStats {
  peer: string;
  outbound: boolean;
  sendRate: number;
  recvRate: number;
  bytesSent: number;
  bytesRecv: number;
  channels: { id: number; name: string; bytesSent: number; bytesRecv: number }[];
  /** Keepalive round-trip time (ms): latest sample and SRTT; absent until the first pong. */
  rttMs?: RttStatus;
}

/** Path of a home directory's node key. */
export function nodeKeyPath(home: string): string {
  return join(home, 'config', 'node_key.json');
}

/** Path of a home directory's address book (its backup is this plus `.bak`). */
export function addrBookPath(home: string): string {
  return join(home, 'data', 'addrbook.json');
}

/** What a config file may hold: unknown keys are errors (typos do not pass silently). */
const ConfigFileSchema = z
  .object({
    moniker: z.string().optional(),
    network: z.string().optional(),
    p2p: NodeConfigSchema.optional(),
  })
  .strict();

/** What a config file may hold. */
type ConfigFile = z.input<typeof ConfigFileSchema>;

/** Largest config file read (bytes). */
const MAX_CONFIG_FILE_BYTES = 1 << 20;

/**
 * Read and validate a config file (the whole file: top-level keys and `p2p`).
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`), one line naming the
 *   file: it does not exist, cannot be read, is a directory, is over 1 MiB,
 *   is not valid JSON (with the line and column, never the file's bytes), or
 *   lists every invalid or unknown key at its full path (`p2p.maxNumInboundPeer:
 *   unknown key (did you mean maxNumInboundPeers?)`).
 */
export function readConfigFile(path: string): ConfigFile {
  const text = readConfigText(path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`config file ${path} is not valid JSON: ${jsonProblem(text, err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError(`config file ${path} must hold a JSON object {"moniker", "network", "p2p"}`);
  parseConfig(ConfigFileSchema, parsed, `invalid config file ${path}`);
  return parsed as ConfigFile;
}

/** The file's text, read at most 1 MiB + 1 bytes; fs errors become one line naming the file. */
function readConfigText(path: string): string {
  let read: BoundedRead;
  try {
    read = readBoundedFile(path, MAX_CONFIG_FILE_BYTES);
  } catch (err) {
    if (!isSystemError(err)) throw err;
    const why =
      err.code === 'ENOENT'
        ? 'does not exist (check the path given to --config)'
        : err.code === 'EACCES' || err.code === 'EPERM'
          ? 'cannot be read: permission denied (check its owner and mode)'
          : `cannot be read: ${systemErrorText(err)}`;
    throw new InvalidArgumentError(`config file ${path} ${why}`, 'ERR_INVALID_ARGUMENT', { cause: err });
  }
  if ('problem' in read) {
    if (statSync(path).isDirectory()) throw new InvalidArgumentError(`config file ${path} is a directory: --config takes a JSON file`);
    if (read.problem.startsWith('larger'))
      throw new InvalidArgumentError(`config file ${path} is larger than 1 MiB: is it the right file?`);
    throw new InvalidArgumentError(`config file ${path} is ${read.problem} (a FIFO or device?): --config takes a JSON file`);
  }
  return read.bytes.toString('utf8');
}

/**
 * What is wrong with `text` as JSON and where (`line 3, column 7`), from
 * JSON.parse's error without the excerpt of the input V8 puts in some messages
 * (a binary file would be echoed). Where V8 gives no position, the first
 * position no JSON can continue from is found by bisection over prefixes.
 */
function jsonProblem(text: string, err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const at = / (?:in|after) JSON at position (\d+)/.exec(msg);
  let what: string;
  let pos: number;
  if (at) [what, pos] = [at[0].startsWith(' after') ? 'unexpected text after the JSON value' : msg.slice(0, at.index), Number(at[1])];
  else if (msg.startsWith('Unexpected end of JSON input')) [what, pos] = ['the file ends inside a JSON value', text.length];
  else [what, pos] = ['unexpected character', firstNonJsonPosition(text)];
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  const c = text.charCodeAt(pos);
  const binary =
    c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d
      ? ` (byte 0x${c.toString(16).padStart(2, '0')}: not a text file?)`
      : c === 0xfffd
        ? ' (not UTF-8 text: not a text file?)'
        : '';
  return `${what.charAt(0).toLowerCase()}${what.slice(1)} at line ${line}, column ${column}${binary}`;
}

/** The index of the first character of `text` after which no JSON document can continue (`text` itself is not JSON). */
function firstNonJsonPosition(text: string): number {
  const viable = (k: number): boolean => {
    const prefix = text.slice(0, k);
    try {
      JSON.parse(prefix);
      return true;
    } catch (err) {
      const m = (err as Error).message;
      const at = / (?:in|after) JSON at position (\d+)/.exec(m);
      return m.startsWith('Unexpected end of JSON input') || (at !== null && Number(at[1]) >= k);
    }
  };
  let lo = 0; // viable
  let hi = text.length; // not viable
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (viable(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The effective settings: defaults < config file < flags. */
export function resolveNodeConfig(o: NodeOptions): { moniker: string; network: string; p2p: NodeConfig } {
  const path = o.config ?? join(o.home, 'config', 'config.json');
  const file: ConfigFile = o.config !== undefined || existsSync(path) ? readConfigFile(path) : {};
  return {
    moniker: o.moniker ?? file.moniker ?? NODE_DEFAULTS.moniker,
    network: o.network ?? file.network ?? NODE_DEFAULTS.network,
    p2p: parseNodeConfig({ ...file.p2p, ...o.p2p, mconn: { ...file.p2p?.mconn, ...o.p2p.mconn } }),
  };
}

/**
 * Start a node and keep it running until a signal (or the parent's IPC
 * channel closes). Resolves with a function that stops it.
 * Rejects with the listen error, a key-file error or a config error.
 */
export async function runNode(o: NodeOptions): Promise<() => Promise<void>> {
  const cfg = resolveNodeConfig(o);
  const key = NodeKey.loadOrGen(nodeKeyPath(o.home));
  const logger = makeLogger(o, cfg.moniker);
  const metrics = o.metrics !== undefined ? new P2PMetrics() : undefined;
  const gossip = new GossipReactor();
  const node = createNode({
    nodeKey: key,
    nodeInfo: { network: cfg.network, moniker: cfg.moniker },
    config: cfg.p2p,
    addrBookPath: addrBookPath(o.home),
    reactors: [gossip],
    logger,
    metrics,
  });
  const sw = node.switch;
  const report = (r: NodeReport) => process.send?.(r);
  const say = (line: string) => process.stdout.write(`${cfg.moniker.padEnd(8)} ${line}\n`);
  const peerReport = (p: { id: string; nodeInfo: { moniker: string }; isOutbound(): boolean }, up: boolean) =>
    report({
      type: 'peer',
      peer: p.id,
      moniker: p.nodeInfo.moniker,
      outbound: p.isOutbound(),
      up,
      numOutbound: sw.peers.numOutbound(),
      maxOutbound: cfg.p2p.maxNumOutboundPeers,
    });

  sw.on('peer:add', (p) => {
    say(
      `+ peer ${p.nodeInfo.moniker} (${p.isOutbound() ? 'outbound' : 'inbound'}, ${p.remoteAddr.dialString()}; ${sw.peers.numOutbound()}/${cfg.p2p.maxNumOutboundPeers} out, ${sw.peers.numInbound()} in)`,
    );
    peerReport(p, true);
  });
  sw.on('peer:remove', (p, reason) => {
    const why = reason instanceof Error ? ` (${reason.message})` : '';
    say(`- peer ${p.nodeInfo.moniker}${why}`);
    peerReport(p, false);
  });
  gossip.events.on('message', (m, from) => {
    if (from) say(`heard "${preview(m.text)}" from ${m.moniker} via ${from.nodeInfo.moniker} (${m.hops} hops)`);
    report({ type: 'message', origin: m.origin, moniker: m.moniker, text: m.text, hops: m.hops });
  });

  await node.start();
  const server = metrics && o.metrics !== undefined ? await serveMetrics(metrics, o.metrics) : undefined;
  say(
    `listening on ${sw.listenAddr} (${cfg.p2p.plaintext ? 'plaintext' : 'encrypted'}${cfg.p2p.seedMode ? ', seed mode' : ''}${server ? `, metrics on http://127.0.0.1:${o.metrics}/metrics` : ''})`,
  );
  report({ type: 'ready', id: key.id, listen: sw.listenAddr.toString() });
  if (o.say) gossip.publish(o.say);
  const stats = process.send
    ? setInterval(() => {
        const peers = sw.peers.list().map((p): PeerStats => {
          const s = p.status();
          const channels = s.channels.map((c) => ({ id: c.id, name: c.name, bytesSent: c.bytesSent, bytesRecv: c.bytesRecv }));
          return {
            peer: p.id,
            outbound: p.isOutbound(),
            sendRate: s.sendRate,
            recvRate: s.recvRate,
            bytesSent: s.bytesSent,
            bytesRecv: s.bytesRecv,
            channels,
            ...(s.rttMs ? { rttMs: s.rttMs } : {}),
          };
        });
        if (process.connected) report({ type: 'stats', at: Date.now(), peers });
      }, 1000).unref()
    : undefined;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(stats);
      server?.close();
      await node.stop();
      logger.flush();
    })());
  const onSignal = () => void stop().then(() => process.exit(0));
  // `on`, not `once`: under `testnet`, Ctrl-C reaches the whole process group and the parent
  // then sends SIGTERM too; a second signal must not kill a node that is stopping cleanly
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.once('disconnect', onSignal); // the testnet parent went away
  return stop;
}

/** Longest gossip text printed whole (characters); a longer one is cut there with '…' (a flood of 1 KiB texts is 1 KiB lines otherwise). */
const PREVIEW_LENGTH = 80;

function preview(text: string): string {
  return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH - 1)}…` : text;
}

function makeLogger(o: NodeOptions, moniker: string): Logger {
  const opts = { level: o.logLevel, base: { node: moniker } };
  if (o.logFormat === 'json') return pino(opts, pino.destination(2));
  return pino(opts, pretty({ destination: 2, colorize: process.stderr.isTTY, sync: true, ignore: 'pid,hostname' }));
}

function serveMetrics(metrics: P2PMetrics, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
