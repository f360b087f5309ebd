// The reliability suite's node under attack (a Switch with the real gossip
// and PEX reactors plus an echo channel) and a good peer that keeps
// exchanging messages with it. Everything is stopped at teardown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { P2PConfigInput } from '../../lib/config.js';
import type { P2PMetrics } from '../../lib/metrics.js';
import { NodeKey } from '../../lib/node-key.js';
import type { Peer } from '../../lib/peer.js';
import { Switch } from '../../lib/switch.js';
import { GossipReactor } from '../../reactors/examples/gossip/reactor.js';
import { AddrBook, PEXReactor } from '../../reactors/pex/index.js';
import { EchoReactor } from './echo-reactor.js';
import { RefusalLog } from './refusals.js';
import type { Teardown } from './teardown.js';
import { sleep } from './time.js';

/** Network name of the target and its peers. */
export const NETWORK = 'reliability';

/** The node under attack. */
export interface Target {
  sw: Switch;
  echo: EchoReactor;
  gossip: GossipReactor;
  log: RefusalLog;
  port: number;
}

/**
 * Start a target node on 127.0.0.1 (stopped at teardown). With `pex`, a PEXReactor with a book in a temp dir;
 * `metrics` and `logger` are passed to its Switch.
 */
export async function startTarget(
  t: Teardown,
  config: P2PConfigInput = {},
  opts: { pex?: boolean; metrics?: P2PMetrics; logger?: Logger } = {},
): Promise<Target> {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK, moniker: 'target' },
    config: { listenAddress: '127.0.0.1:0', ...config },
    metrics: opts.metrics,
    logger: opts.logger,
  });
  const echo = sw.addReactor(new EchoReactor());
  const gossip = sw.addReactor(new GossipReactor());
  // the book saves on stop: its directory goes only after the Switch has stopped
  const dir = opts.pex ? mkdtempSync(join(tmpdir(), 'switchboard-target-')) : undefined;
  if (dir)
    sw.addReactor(new PEXReactor(new AddrBook(join(dir, 'addrbook.json'), { routabilityStrict: true }), { ensurePeersPeriodMs: 60_000 }));
  const log = new RefusalLog(sw);
  t.teardown(async () => {
    await sw.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  await sw.start();
  return { sw, echo, gossip, log, port: sw.listenAddr.port };
}

/**
 * A good peer: its own Switch, connected to the target, doing an echo round
 * trip every `intervalMs` for as long as it runs. Latencies and failures
 * (no reply within `timeoutMs`) are recorded.
 */
export class GoodPeer {
  sent = 0;
  ok = 0;
  failures = 0;
  maxLatencyMs = 0;
  latencies: number[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private tick: (() => void)[] = [];

  private constructor(
    readonly sw: Switch,
    readonly echo: EchoReactor,
    readonly peer: Peer,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {}

  static async start(
    t: Teardown,
    target: Target,
    opts: { config?: P2PConfigInput; intervalMs?: number; timeoutMs?: number } = {},
  ): Promise<GoodPeer> {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      nodeInfo: { network: NETWORK, moniker: 'good' },
      config: { listenAddress: '127.0.0.1:0', ...opts.config },
    });
    const echo = sw.addReactor(new EchoReactor());
    await sw.start();
    t.teardown(() => sw.stop());
    const peer = await sw.dialPeerWithAddress(target.sw.listenAddr);
    const g = new GoodPeer(sw, echo, peer, opts.intervalMs ?? 20, opts.timeoutMs ?? 3000);
    g.running = true;
    g.loop = g.run();
    t.teardown(() => g.stop());
    return g;
  }

  private async run(): Promise<void> {
    let seq = 0;
    while (this.running) {
      const start = performance.now();
      this.sent++;
      const ok = await this.echo.request(this.peer, ++seq, this.timeoutMs);
      const ms = performance.now() - start;
      if (ok) {
        this.ok++;
        this.latencies.push(ms);
        if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
      } else if (this.running) this.failures++;
      const ws = this.tick;
      this.tick = [];
      for (const w of ws) w();
      if (this.running) await sleep(this.intervalMs);
    }
  }

  /** Resolves after `n` more round trips have completed (successfully or not). */
  async rounds(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise<void>((r) => this.tick.push(r));
  }

  /** Median round-trip latency so far (ms). */
  get medianMs(): number {
    const s = [...this.latencies].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)]! : NaN;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const w of this.tick) w();
    this.tick = [];
    await this.loop;
  }
}
