/**
 * Prometheus metrics of a Switch (prom-client), in the spirit of CometBFT's
 * `p2p.Metrics`. Values that live in the connections (bytes, queue sizes,
 * peer counts) are read when the registry is scraped, so the hot path does
 * no metric work; dial outcomes are counted as they happen.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `<prefix>peers` | gauge | `direction` = inbound / outbound |
 * | `<prefix>peer_send_bytes_total` | counter | `channel` (hex id) |
 * | `<prefix>peer_receive_bytes_total` | counter | `channel` |
 * | `<prefix>send_queue_size` | gauge | `channel` (messages queued, summed over peers) |
 * | `<prefix>dials_total` | counter | `outcome` = ok or an error code |
 * | `<prefix>inbound_refused_total` | counter | `reason` = an error code |
 * | `<prefix>peer_rtt_seconds` | histogram | — (keepalive ping→pong round trips, observed as each pong arrives) |
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Peer } from './peer.js';

/** Where the metrics read live values from. */
export interface MetricsSource {
  peers(): Peer[];
}

/** Metrics of one Switch. Pass `new P2PMetrics()` (or with your registry) in the Switch options. */
export class P2PMetrics {
  /** The registry holding these metrics (scrape it with `await registry.metrics()`). */
  readonly registry: Registry;
  private source: MetricsSource | undefined;
  /** Byte totals of peers that have gone, per channel, so counters never go down. */
  private readonly goneSent = new Map<string, number>();
  private readonly goneRecv = new Map<string, number>();
  private readonly reportedSent = new Map<string, number>();
  private readonly reportedRecv = new Map<string, number>();
  private readonly dials: Counter<'outcome'>;
  private readonly refused: Counter<'reason'>;
  private readonly rtt: Histogram;

  /**
   * @param opts.registry default: a new Registry.
   * @param opts.prefix metric name prefix, default `switchboard_p2p_`.
   */
  constructor(opts: { registry?: Registry; prefix?: string } = {}) {
    this.registry = opts.registry ?? new Registry();
    const prefix = opts.prefix ?? 'switchboard_p2p_';
    const registers = [this.registry];
    // prom-client calls collect() with the metric as `this`: the P2PMetrics is reached through `self`
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    new Gauge({
      name: `${prefix}peers`,
      help: 'Connected peers by direction.',
      labelNames: ['direction'],
      registers,
      collect() {
        const ps = self.source?.peers() ?? [];
        const out = ps.filter((p) => p.isOutbound()).length;
        this.set({ direction: 'outbound' }, out);
        this.set({ direction: 'inbound' }, ps.length - out);
      },
    });
    new Counter({
      name: `${prefix}peer_send_bytes_total`,
      help: 'Payload bytes sent, by channel.',
      labelNames: ['channel'],
      registers,
      collect() {
        self.advance(this, self.totals('bytesSent', self.goneSent), self.reportedSent);
      },
    });
    new Counter({
      name: `${prefix}peer_receive_bytes_total`,
      help: 'Payload bytes received, by channel.',
      labelNames: ['channel'],
      registers,
      collect() {
        self.advance(this, self.totals('bytesRecv', self.goneRecv), self.reportedRecv);
      },
    });
    new Gauge({
      name: `${prefix}send_queue_size`,
      help: 'Messages waiting in send queues, by channel, summed over peers.',
      labelNames: ['channel'],
      registers,
      collect() {
        this.reset();
        for (const p of self.source?.peers() ?? []) {
          for (const c of p.status().channels) this.inc({ channel: chLabel(c.id) }, c.sendQueueSize);
        }
      },
    });
    this.dials = new Counter({ name: `${prefix}dials_total`, help: 'Outbound dials by outcome.', labelNames: ['outcome'], registers });
    this.refused = new Counter({
      name: `${prefix}inbound_refused_total`,
      help: 'Inbound connections refused, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.rtt = new Histogram({
      name: `${prefix}peer_rtt_seconds`,
      help: 'Round-trip time of keepalive ping/pong, per sample.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  /** @internal A pong arrived: one round-trip sample (ms). Pongs are rare (one per ping interval), so this is cheap. */
  readonly observeRtt = (rttMs: number): void => {
    this.rtt.observe(rttMs / 1000);
  };

  /** @internal Called by the Switch that owns these metrics. */
  attach(source: MetricsSource): void {
    this.source = source;
  }

  /** @internal A dial ended: `ok` or the error code. */
  dialed(outcome: string): void {
    this.dials.inc({ outcome });
  }

  /** @internal An inbound connection was refused for `reason` (an error code). */
  inboundRefused(reason: string): void {
    this.refused.inc({ reason });
  }

  /** @internal A peer left: keep its byte totals. */
  peerGone(peer: Peer): void {
    for (const c of peer.status().channels) {
      const k = chLabel(c.id);
      this.goneSent.set(k, (this.goneSent.get(k) ?? 0) + c.bytesSent);
      this.goneRecv.set(k, (this.goneRecv.get(k) ?? 0) + c.bytesRecv);
    }
  }

  private totals(field: 'bytesSent' | 'bytesRecv', gone: Map<string, number>): Map<string, number> {
    const t = new Map(gone);
    for (const p of this.source?.peers() ?? []) {
      for (const c of p.status().channels) t.set(chLabel(c.id), (t.get(chLabel(c.id)) ?? 0) + c[field]);
    }
    return t;
  }

  private advance(counter: Counter<'channel'>, totals: Map<string, number>, reported: Map<string, number>): void {
    for (const [channel, total] of totals) {
      const delta = total - (reported.get(channel) ?? 0);
      if (delta > 0) {
        counter.inc({ channel }, delta);
        reported.set(channel, total);
      }
    }
  }
}

function chLabel(id: number): string {
  return `0x${id.toString(16).padStart(2, '0')}`;
}
