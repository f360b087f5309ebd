/**
 * Child roles of W9, request/response: a server Switch with a
 * {@link RequestReactor} that answers every request with its own bytes, and
 * a client Switch that dials it and keeps `inFlight` requests going on that
 * one peer (each answered request is replaced by a new one) — warm-up
 * requests, then `count` timed ones. It reports requests per second over the
 * timed ones and the latency of each (`request()` called → response
 * resolved), p50/p99 in µs.
 *
 * @module
 */
import { NodeKey } from '../lib/node-key.js';
import { RequestReactor } from '../lib/request-reactor.js';
import { Switch } from '../lib/switch.js';
import type { MConnConfig } from '../lib/conn/mconn-config.js';
import { type ChildIpc, Meter, type RoleSpec } from './ipc.js';
import { checkPayload, makePayloads } from './payload.js';
import { latencyUs } from './stats.js';

/** The W9 request channel. */
export const REQUEST_CH = 0x11;

/** Parameters of the W9 roles. */
export interface RequestParams {
  plaintext: boolean;
  mconn: Partial<MConnConfig>;
  /** Request (and response) size, bytes. */
  size: number;
  warmup: number;
  count: number;
  /** Requests kept in flight. */
  inFlight: number;
}

function startSwitch(
  p: RequestParams,
  handler?: ConstructorParameters<typeof RequestReactor>[0]['handler'],
): { sw: Switch; rr: RequestReactor } {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'bench' },
    config: { listenAddress: '127.0.0.1:0', plaintext: p.plaintext, mconn: p.mconn },
  });
  const rr = sw.addReactor(
    new RequestReactor({ channelId: REQUEST_CH, handler, maxInFlightPerPeer: p.inFlight, timeoutMs: 60_000, stallLimit: 0 }),
  );
  return { sw, rr };
}

/** W9 server: answers each request with its bytes (the client checks the markers). */
export async function requestServer(spec: Extract<RoleSpec, { role: 'request-server' }>, ipc: ChildIpc): Promise<void> {
  const meter = new Meter();
  const { sw } = startSwitch(spec, ({ request }) => {
    meter.start();
    return request;
  });
  await sw.start();
  sw.once('peer:add', () => ipc.post({ type: 'connected' }));
  ipc.post({ type: 'ready', addr: sw.listenAddr.toString() });
  await ipc.command('stop');
  const proc = meter.stats('server');
  await sw.stop();
  ipc.exit({ type: 'done', proc, data: {} });
}

/** W9 client: `inFlight` requests at a time on one peer; warm-up, then `count` timed. */
export async function requestClient(spec: Extract<RoleSpec, { role: 'request-client' }>, ipc: ChildIpc): Promise<void> {
  const { sw, rr } = startSwitch(spec);
  await sw.start();
  const peer = await sw.dialPeerWithAddress(spec.server);
  ipc.post({ type: 'connected' });
  await ipc.command('go');
  const payloads = makePayloads(spec.size, spec.warmup + spec.count);
  const lat = new Float64Array(spec.count);
  const meter = new Meter();
  let bad = 0;
  let next = 0;
  let t0 = 0n;
  const total = spec.warmup + spec.count;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      if (i === spec.warmup) {
        meter.start();
        t0 = process.hrtime.bigint();
      }
      const started = process.hrtime.bigint();
      const res = await rr.request(peer, payloads[i % payloads.length]!);
      if (i >= spec.warmup) lat[i - spec.warmup] = Number(process.hrtime.bigint() - started);
      if (!checkPayload(res, spec.size)) bad++;
    }
  };
  await Promise.all(Array.from({ length: spec.inFlight }, worker));
  const t1 = process.hrtime.bigint();
  const proc = meter.stats('client');
  const l = latencyUs(lat);
  const s = Number(t1 - t0) / 1e9;
  ipc.post({
    type: 'done',
    proc,
    t0,
    t1,
    data: { requestsPerSec: spec.count / s, p50Us: l.p50, p99Us: l.p99, meanUs: l.mean, maxUs: l.max, bad },
  });
  await ipc.command('stop');
  await sw.stop();
  ipc.exit();
}
