/**
 * One node of the churn soak (scripts/soak.ts): a Switch with PEX and the
 * gossip reactor, persistent peers from the parent, short keepalive and
 * redial settings, publishing a gossip line every couple of seconds.
 * Reports to the parent over IPC and catches every unhandled rejection and
 * uncaught exception (reported, never fatal, so the parent can count them).
 *
 * Run: `node --expose-gc --import tsx scripts/soak/node.ts '<json NodeSpec>'` with an IPC channel.
 *
 * @module
 */
import { join } from 'node:path';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import type { SwitchboardError } from '../../lib/errors.js';
import { AddrBook, PEXReactor } from '../../reactors/pex/index.js';
import { GossipReactor } from '../../reactors/examples/gossip/reactor.js';

/** What the parent passes in argv[2] (JSON). */
export interface NodeSpec {
  index: number;
  home: string;
  port: number;
  persistentPeers: string[];
}

/** Messages to the parent. */
export type SoakReport =
  | { type: 'ready'; id: string }
  | { type: 'peer'; peer: string; up: boolean; code?: string }
  | { type: 'unhandled'; kind: string; error: string }
  | { type: 'stats'; heapUsedMb: number; rssMb: number; peers: string[]; heard: number; handshaking: number }
  | { type: 'fatal'; error: string }
  | {
      type: 'debug';
      about: string;
      reconnecting: boolean;
      dialing: boolean;
      connected: boolean;
      dialFailures: string[];
      persistent: boolean;
    };

const spec = JSON.parse(process.argv[2]!) as NodeSpec;
const report = (r: SoakReport): void => {
  if (process.connected) process.send!(r);
};

for (const kind of ['unhandledRejection', 'uncaughtException'] as const) {
  process.on(kind, (err: unknown) => {
    report({ type: 'unhandled', kind, error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) });
  });
}

async function main(): Promise<void> {
  const key = NodeKey.loadOrGen(join(spec.home, 'config', 'node_key.json'));
  const sw = new Switch({
    nodeKey: key,
    nodeInfo: { network: 'soak', moniker: `s${spec.index}` },
    config: {
      listenAddress: `127.0.0.1:${spec.port}`,
      persistentPeers: spec.persistentPeers,
      maxNumOutboundPeers: 4,
      dialTimeoutMs: 1000,
      handshakeTimeoutMs: 3000,
      reconnectIntervalMs: 300,
      reconnectAttempts: 60,
      mconn: { pingIntervalMs: 2000, pongTimeoutMs: 2000 },
    },
  });
  const quiet = { warn() {}, info() {}, debug() {} };
  sw.addReactor(
    new PEXReactor(new AddrBook(join(spec.home, 'data', 'addrbook.json'), { routabilityStrict: false, logger: quiet }), {
      ensurePeersPeriodMs: 1000,
      dialBackoffBaseMs: 200,
    }),
  );
  const gossip = sw.addReactor(new GossipReactor());
  let heard = 0;
  gossip.events.on('message', (_m, from) => void (from && heard++));
  const dialFailures = new Map<string, string[]>();
  sw.on('peer:dial-failed', (addr, err) => {
    const id = addr.split('@')[0]!;
    const l = dialFailures.get(id) ?? [];
    l.push(`${Math.round(performance.now())}:${err.code}`);
    if (l.length > 8) l.shift();
    dialFailures.set(id, l);
  });
  sw.on('peer:add', (p) => report({ type: 'peer', peer: p.id, up: true }));
  sw.on('peer:remove', (p, reason) =>
    report({ type: 'peer', peer: p.id, up: false, code: (reason as SwitchboardError | undefined)?.code }),
  );
  await sw.start();
  report({ type: 'ready', id: key.id });
  let n = 0;
  const talk = setInterval(() => gossip.publish(`s${spec.index} #${++n}`), 2000);
  talk.unref();

  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      (globalThis as { gc?: () => void }).gc?.();
      const mu = process.memoryUsage();
      report({
        type: 'stats',
        heapUsedMb: mu.heapUsed / 1048576,
        rssMb: mu.rss / 1048576,
        peers: sw.peers.list().map((p) => p.id),
        heard,
        handshaking: sw.handshakingCount,
      });
    } else if (m.type === 'debug') {
      const about = (m as unknown as { about: string }).about;
      const internals = sw as unknown as { reconnecting: Map<string, unknown> };
      report({
        type: 'debug',
        about,
        reconnecting: internals.reconnecting.has(about),
        dialing: sw.isDialing(about),
        connected: sw.peers.has(about),
        dialFailures: dialFailures.get(about) ?? [],
        persistent: sw.isPersistentPeer(about),
      });
    } else if (m.type === 'stop') {
      clearInterval(talk);
      void sw.stop().then(() => process.exit(0));
    }
  });
  const stop = () => {
    clearInterval(talk);
    void sw.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
}

main().catch((err: Error) => {
  report({ type: 'fatal', error: `${(err as { code?: string }).code ?? ''} ${err.message}` });
  process.exit(3);
});
