// Switches over the in-memory transport (no sockets: each node a virtual IP host, fast and
// deterministic), and a pino logger that records what a Switch logs, for tests of its log lines.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { P2PConfigInput } from '../../lib/config.js';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import type { P2PMetrics } from '../../lib/metrics.js';
import { NodeKey } from '../../lib/node-key.js';
import type { PeerFilter, ConnFilter } from '../../lib/peer-filters.js';
import type { Reactor } from '../../lib/reactor.js';
import { Switch } from '../../lib/switch.js';
import type { MemoryNetwork, MemoryTransport } from '../../lib/transport-memory.js';
import { RecordingReactor } from './switches.js';
import type { Teardown } from './teardown.js';

/** Options of {@link memSwitch}. */
export interface MemSwitchOptions {
  /** The node's virtual IP (default: the network picks one). */
  host?: string;
  config?: P2PConfigInput;
  /** Channels of its RecordingReactor (default one channel, 0x20). */
  channels?: ChannelDescriptor[];
  /** Extra reactors, added after the RecordingReactor. */
  reactors?: Reactor[];
  key?: NodeKey;
  moniker?: string;
  logger?: Logger;
  metrics?: P2PMetrics;
  connFilters?: ConnFilter[];
  peerFilters?: PeerFilter[];
  /** Do not call `start()` (default false). */
  noStart?: boolean;
}

/** A Switch with a RecordingReactor on `net` (and its transport, to dial from its host by hand), listening on `<host>:26656`, started unless `noStart`; stopped at teardown. */
export async function memSwitch(
  t: Teardown,
  net: MemoryNetwork,
  opts: MemSwitchOptions = {},
): Promise<{ sw: Switch; reactor: RecordingReactor; transport: MemoryTransport }> {
  const transport = net.transport(opts.host);
  const sw = new Switch({
    nodeKey: opts.key ?? NodeKey.generate(),
    nodeInfo: { network: 'test', moniker: opts.moniker },
    config: { listenAddress: `${transport.host}:26656`, ...opts.config },
    transport,
    logger: opts.logger,
    metrics: opts.metrics,
    connFilters: opts.connFilters,
    peerFilters: opts.peerFilters,
  });
  const reactor = sw.addReactor(new RecordingReactor(opts.channels));
  for (const r of opts.reactors ?? []) sw.addReactor(r);
  t.teardown(() => sw.stop());
  if (!opts.noStart) await sw.start();
  return { sw, reactor, transport };
}

/** One record a {@link LogRecorder} saw: pino's JSON object (`level` 20 debug, 30 info, 40 warn; `msg`; the fields). */
export type LogRecord = { level: number; msg: string } & Record<string, unknown>;

/** A pino logger at `debug` whose records the test reads back (`records`), or awaits (`next`). */
export class LogRecorder {
  readonly records: LogRecord[] = [];
  readonly logger: Logger;
  private waiters: { match: (r: LogRecord) => boolean; resolve: (r: LogRecord) => void }[] = [];
  constructor() {
    this.logger = pino(
      { level: 'debug' },
      new Writable({
        write: (chunk: Buffer, _e, cb) => {
          for (const line of chunk.toString().split('\n')) if (line) this.add(JSON.parse(line) as LogRecord);
          cb();
        },
      }),
    );
  }
  private add(r: LogRecord): void {
    this.records.push(r);
    this.waiters = this.waiters.filter((w) => (w.match(r) ? (w.resolve(r), false) : true));
  }
  /** The records with message `msg`. */
  withMsg(msg: string): LogRecord[] {
    return this.records.filter((r) => r.msg === msg);
  }
  /** The first record (past or future) with message `msg` that passes `match`. */
  next(msg: string, match: (r: LogRecord) => boolean = () => true): Promise<LogRecord> {
    const m = (r: LogRecord) => r.msg === msg && match(r);
    const past = this.records.find(m);
    if (past) return Promise.resolve(past);
    return new Promise((resolve) => this.waiters.push({ match: m, resolve }));
  }
}
