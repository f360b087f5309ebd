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
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { InvalidArgumentError } from '../lib/errors.js';
import { P2PMetrics } from '../lib/metrics.js';
import { NodeKey } from '../lib/node-key.js';
import { createNode, parseNodeConfig, type NodeConfig, type NodeConfigInput } from '../reactors/pex/index.js';
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
}

/** Path of a home directory's node key. */
export function nodeKeyPath(home: string): string {
  return join(home, 'config', 'node_key.json');
}

/** What a config file may hold. */
interface ConfigFile {
  moniker?: string;
  network?: string;
  p2p?: NodeConfigInput;
}

/**
 * Read a config file. @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`)
 * for unreadable JSON, unknown top-level keys, or files over 1 MiB.
 */
export function readConfigFile(path: string): ConfigFile {
  const raw = readFileSync(path);
  if (raw.length > 1 << 20) throw new InvalidArgumentError(`config file ${path} is larger than 1 MiB`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`config file ${path} must hold a JSON object`);
  const unknown = Object.keys(parsed).filter((k) => !['moniker', 'network', 'p2p'].includes(k));
  if (unknown.length) throw new InvalidArgumentError(`config file ${path}: unknown keys ${unknown.join(', ')} (allowed: moniker, network, p2p)`);
  return parsed as ConfigFile;
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
    addrBookPath: join(o.home, 'data', 'addrbook.json'),
    reactors: { gossip },
    logger,
    metrics,
  });
  const sw = node.switch;
  const report = (r: NodeReport) => process.send?.(r);
  const say = (line: string) => process.stdout.write(`${cfg.moniker.padEnd(8)} ${line}\n`);
  const peerReport = (p: { id: string; nodeInfo: { moniker: string }; isOutbound(): boolean }, up: boolean) =>
    report({ type: 'peer', peer: p.id, moniker: p.nodeInfo.moniker, outbound: p.isOutbound(), up, numOutbound: sw.peers.numOutbound(), maxOutbound: cfg.p2p.maxNumOutboundPeers });

  sw.on('peer:add', (p) => {
    say(`+ peer ${p.nodeInfo.moniker} (${p.isOutbound() ? 'outbound' : 'inbound'}, ${p.remoteAddr.dialString()}; ${sw.peers.numOutbound()}/${cfg.p2p.maxNumOutboundPeers} out, ${sw.peers.numInbound()} in)`);
    peerReport(p, true);
  });
  sw.on('peer:remove', (p, reason) => {
    const why = reason instanceof Error ? ` (${reason.message})` : '';
    say(`- peer ${p.nodeInfo.moniker}${why}`);
    peerReport(p, false);
  });
  gossip.events.on('message', (m, from) => {
    if (from) say(`heard "${m.text}" from ${m.moniker} via ${from.nodeInfo.moniker} (${m.hops} hops)`);
    report({ type: 'message', origin: m.origin, moniker: m.moniker, text: m.text, hops: m.hops });
  });

  await node.start();
  const server = metrics && o.metrics !== undefined ? await serveMetrics(metrics, o.metrics) : undefined;
  say(`listening on ${sw.listenAddr} (${cfg.p2p.plaintext ? 'plaintext' : 'encrypted'}${cfg.p2p.seedMode ? ', seed mode' : ''}${server ? `, metrics on http://127.0.0.1:${o.metrics}/metrics` : ''})`);
  report({ type: 'ready', id: key.id, listen: sw.listenAddr.toString() });
  if (o.say) gossip.publish(o.say);
  const stats = process.send
    ? setInterval(() => {
        const peers = sw.peers.list().map((p): PeerStats => {
          const s = p.status();
          const channels = s.channels.map((c) => ({ id: c.id, name: c.name, bytesSent: c.bytesSent, bytesRecv: c.bytesRecv }));
          return { peer: p.id, outbound: p.isOutbound(), sendRate: s.sendRate, recvRate: s.recvRate, bytesSent: s.bytesSent, bytesRecv: s.bytesRecv, channels };
        });
        if (process.connected) report({ type: 'stats', at: Date.now(), peers });
      }, 1000).unref()
    : undefined;

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
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
