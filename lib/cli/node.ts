/**
 * `switchboard node`: run one node — a Switch with the gossip demo reactor —
 * until SIGINT/SIGTERM, printing what it sees.
 *
 * @module
 */
import { join } from 'node:path';
import { homedir, hostname } from 'node:os';
import pino from 'pino';
import { NodeKey } from '../node-key.js';
import { Switch } from '../switch.js';
import { GossipReactor } from '../../reactors/examples/gossip/reactor.js';

/** Options of {@link runNode} (the CLI flags). */
export interface NodeOptions {
  /** Home directory: `config/node_key.json`, `data/`. Default `~/.switchboard`. */
  home: string;
  /** Listen address `host:port`. Default `0.0.0.0:26656`. */
  listen: string;
  externalAddress?: string;
  /** Persistent peers `id@host:port`. */
  persistentPeers: string[];
  network: string;
  moniker: string;
  /** Text to gossip once at start. */
  say?: string;
  plaintext: boolean;
  logLevel: string;
  maxInbound?: number;
  maxOutbound?: number;
}

/** Defaults of {@link NodeOptions}. */
export const NODE_DEFAULTS = {
  home: join(homedir(), '.switchboard'),
  listen: '0.0.0.0:26656',
  network: 'switchboard',
  moniker: hostname(),
  logLevel: 'warn',
} as const;

/** Events a node reports to a parent `testnet` process over IPC. */
export type NodeReport =
  | { type: 'ready'; id: string; listen: string }
  | { type: 'peer'; peer: string; moniker: string; outbound: boolean; up: boolean }
  | { type: 'message'; origin: string; moniker: string; text: string; hops: number };

/** Path of a home directory's node key. */
export function nodeKeyPath(home: string): string {
  return join(home, 'config', 'node_key.json');
}

/**
 * Start a node and keep it running until a signal (or the parent's IPC
 * channel closes). Resolves with a function that stops it.
 * Rejects with the listen error or a key-file error.
 */
export async function runNode(o: NodeOptions): Promise<() => Promise<void>> {
  const key = NodeKey.loadOrGen(nodeKeyPath(o.home));
  const logger = pino({ level: o.logLevel, base: { node: o.moniker } }, pino.destination(2));
  const sw = new Switch({
    nodeKey: key,
    nodeInfo: { network: o.network, moniker: o.moniker },
    logger,
    config: {
      listenAddress: o.listen,
      externalAddress: o.externalAddress,
      plaintext: o.plaintext,
      ...(o.maxInbound !== undefined ? { maxNumInboundPeers: o.maxInbound } : {}),
      ...(o.maxOutbound !== undefined ? { maxNumOutboundPeers: o.maxOutbound } : {}),
    },
  });
  const gossip = sw.addReactor('gossip', new GossipReactor());
  const report = (r: NodeReport) => process.send?.(r);
  const say = (line: string) => process.stdout.write(`${o.moniker.padEnd(8)} ${line}\n`);

  sw.on('peer:add', (p) => {
    say(`+ peer ${p.nodeInfo.moniker} (${p.isOutbound() ? 'outbound' : 'inbound'}, ${p.remoteAddr.dialString()})`);
    report({ type: 'peer', peer: p.id, moniker: p.nodeInfo.moniker, outbound: p.isOutbound(), up: true });
  });
  sw.on('peer:remove', (p, reason) => {
    say(`- peer ${p.nodeInfo.moniker}${reason ? ` (${(reason as Error).message ?? reason})` : ''}`);
    report({ type: 'peer', peer: p.id, moniker: p.nodeInfo.moniker, outbound: p.isOutbound(), up: false });
  });
  gossip.events.on('message', (m, from) => {
    if (from) say(`heard "${m.text}" from ${m.moniker} via ${from.nodeInfo.moniker} (${m.hops} hops)`);
    report({ type: 'message', origin: m.origin, moniker: m.moniker, text: m.text, hops: m.hops });
  });

  await sw.start();
  say(`listening on ${sw.listenAddr} (${o.plaintext ? 'plaintext' : 'encrypted'})`);
  report({ type: 'ready', id: key.id, listen: sw.listenAddr.toString() });
  if (o.persistentPeers.length > 0) sw.addPersistentPeers(o.persistentPeers);
  if (o.say) gossip.publish(o.say);

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= sw.stop().then(() => logger.flush()));
  const onSignal = () => void stop().then(() => process.exit(0));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('disconnect', onSignal); // the testnet parent went away
  return stop;
}
