/**
 * Child roles of the Switch workloads: W6 fan-out (a hub broadcasting to
 * N peers) and W7 scale (a hub holding N idle peers). Every node is a real
 * {@link Switch} with one small reactor on channel 0x10; peers dial the hub.
 * Several peer Switches may share one process (each with its own listener,
 * key and connection).
 *
 * @module
 */
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import { BaseReactor, type Envelope } from '../lib/reactor.js';
import { Switch } from '../lib/switch.js';
import type { ChannelDescriptor } from '../lib/conn/channel.js';
import type { MConnConfig } from '../lib/conn/mconn-config.js';
import { type ChildIpc, Meter, type RoleSpec } from './ipc.js';
import { BENCH_SEND_QUEUE_CAPACITY } from './link.js';
import { checkPayload, makePayloads } from './payload.js';

/** The benchmark reactor's channel. */
export const FANOUT_CH = 0x10;
/** Network name of every benchmark node. */
const NETWORK = 'bench';
/** Dials in flight per peer process. */
const DIAL_CONCURRENCY = 16;
/** Attempts per peer Switch to connect to the hub. */
const DIAL_ATTEMPTS = 8;

/**
 * A reactor on {@link FANOUT_CH} that hands every message to a callback.
 * W6 gives the channel a send queue of {@link BENCH_SEND_QUEUE_CAPACITY};
 * W7 keeps CometBFT's defaults (queue of 1), as an idle application would.
 */
export class BenchReactor extends BaseReactor {
  constructor(
    private readonly onMessage: (e: Envelope) => void,
    private readonly sendQueueCapacity: number | undefined,
  ) {
    super('bench');
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: FANOUT_CH, sendQueueCapacity: this.sendQueueCapacity, name: 'bench' }];
  }
  override receive(e: Envelope): void {
    this.onMessage(e);
  }
}

/** How every Switch of a run is configured. */
interface NodeSettings {
  plaintext: boolean;
  mconn: Partial<MConnConfig>;
}

/** A started Switch on 127.0.0.1 with a {@link BenchReactor}. */
async function startSwitch(s: NodeSettings, queue: number | undefined, onMessage: (e: Envelope) => void, inbound = 40): Promise<Switch> {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK },
    config: {
      listenAddress: '127.0.0.1:0',
      plaintext: s.plaintext,
      mconn: s.mconn,
      maxNumInboundPeers: inbound,
      // every peer may be handshaking at once
      maxHandshaking: Math.max(64, inbound),
      handshakeTimeoutMs: 60_000,
      dialTimeoutMs: 10_000,
    },
  });
  sw.addReactor(new BenchReactor(onMessage, queue));
  await sw.start();
  return sw;
}

/** Resolves once `sw` has `n` peers. */
function peersReached(sw: Switch, n: number): Promise<void> {
  if (sw.peers.size >= n) return Promise.resolve();
  return new Promise((resolve) => {
    const on = () => {
      if (sw.peers.size >= n) {
        sw.off('peer:add', on);
        resolve();
      }
    };
    sw.on('peer:add', on);
  });
}

/** Start `n` peer Switches and connect each to `hub`, `DIAL_CONCURRENCY` at a time, retrying failures. */
async function startPeers(
  n: number,
  s: NodeSettings,
  queue: number | undefined,
  hub: string,
  onMessage: (i: number, e: Envelope) => void,
): Promise<Switch[]> {
  const sws: Switch[] = [];
  for (let i = 0; i < n; i++) sws.push(await startSwitch(s, queue, (e) => onMessage(i, e)));
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const sw = sws[next++]!;
      for (let a = 1; ; a++) {
        try {
          await sw.dialPeerWithAddress(hub);
          break;
        } catch (err) {
          if (a >= DIAL_ATTEMPTS)
            throw new Error(`could not connect to the hub after ${a} attempts: ${(err as Error).message}`, { cause: err });
          await new Promise((r) => setTimeout(r, 100 * a + Math.random() * 200));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DIAL_CONCURRENCY, n) }, worker));
  return sws;
}

/** W6 hub: wait for `peers` peers, then broadcast `count` messages on `go`. */
export async function fanoutHub(spec: Extract<RoleSpec, { role: 'fanout-hub' }>, ipc: ChildIpc): Promise<void> {
  const sw = await startSwitch(spec, BENCH_SEND_QUEUE_CAPACITY, () => {}, spec.peers + 16);
  ipc.post({ type: 'ready', addr: sw.listenAddr.toString() });
  await peersReached(sw, spec.peers);
  ipc.post({ type: 'connected' });
  const pool = makePayloads(spec.size);
  await ipc.command('go');
  const meter = new Meter();
  meter.start();
  const t0 = process.hrtime.bigint();
  const peers: Peer[] = sw.peers.list();
  const pending: Promise<boolean>[] = [];
  for (let i = 0; i < spec.count; i++) {
    const msg = pool[i % pool.length]!;
    // a broadcast: trySend to every peer, a blocking send where the queue is full
    for (const p of peers) if (!p.trySend(FANOUT_CH, msg)) pending.push(p.send(FANOUT_CH, msg));
    if (pending.length > 0) {
      const ok = await Promise.all(pending);
      pending.length = 0;
      if (ok.includes(false)) throw new Error('broadcast send failed');
    }
  }
  await ipc.command('stop');
  const proc = meter.stats('hub');
  ipc.exit({ type: 'done', t0, proc, data: { peers: peers.length } });
}

/** W6 peers: `switches` Switches that each expect `count` messages from the hub. */
export async function fanoutPeers(spec: Extract<RoleSpec, { role: 'fanout-peers' }>, ipc: ChildIpc): Promise<void> {
  const counts = new Uint32Array(spec.switches);
  const meter = new Meter();
  let complete = 0;
  let bad = 0;
  let t1 = 0n;
  await startPeers(spec.switches, spec, BENCH_SEND_QUEUE_CAPACITY, spec.hub, (i, e) => {
    meter.start();
    if (!checkPayload(e.message, spec.size)) bad++;
    if (++counts[i]! === spec.count) {
      t1 = process.hrtime.bigint();
      if (++complete === spec.switches) ipc.post({ type: 'done', t1, proc: meter.stats('peers'), data: { bad, switches: spec.switches } });
    }
  });
  ipc.post({ type: 'ready' });
  ipc.post({ type: 'connected' });
  await ipc.command('stop');
  ipc.exit();
}

/** Runs V8's GC if the process was started with `--expose-gc`. */
function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Memory of this process (bytes); `external` includes ArrayBuffers (Buffers). */
function memory(): { rss: number; heap: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * W7 hub: memory before any peer, after `peers` idle peers, and after one
 * message each way per peer; CPU while idle.
 */
export async function scaleHub(spec: Extract<RoleSpec, { role: 'scale-hub' }>, ipc: ChildIpc): Promise<void> {
  let echoes = 0;
  let allEchoed: (() => void) | undefined;
  const sw = await startSwitch(
    spec,
    undefined,
    () => {
      if (++echoes === spec.peers) allEchoed?.();
    },
    spec.peers + 16,
  );
  await sleep(spec.settleMs);
  const base = memory();
  ipc.post({ type: 'ready', addr: sw.listenAddr.toString() });
  await peersReached(sw, spec.peers);
  ipc.post({ type: 'connected' });
  await ipc.command('go');
  await sleep(spec.settleMs);
  const idle = memory();
  const meter = new Meter();
  meter.start();
  await sleep(spec.idleMs);
  const proc = meter.stats('hub');
  // one 1 KiB message to every peer and back: allocates what a first message allocates
  const done = new Promise<void>((resolve) => (allEchoed = resolve));
  const msg = makePayloads(1024, 2)[0]!;
  for (const p of sw.peers.list()) if (!p.trySend(FANOUT_CH, msg)) throw new Error('trySend to an idle peer failed');
  await done;
  await sleep(spec.settleMs);
  const after = memory();
  const n = spec.peers;
  const kib = (b: number) => b / 1024 / n;
  ipc.post({
    type: 'done',
    proc,
    data: {
      peers: sw.peers.size,
      baseRssMiB: base.rss / 2 ** 20,
      rssPerPeerKiB: kib(idle.rss - base.rss),
      heapPerPeerKiB: kib(idle.heap - base.heap),
      externalPerPeerKiB: kib(idle.external - base.external),
      rssPerPeerAfterMsgKiB: kib(after.rss - base.rss),
      heapPerPeerAfterMsgKiB: kib(after.heap - base.heap),
      externalPerPeerAfterMsgKiB: kib(after.external - base.external),
      idleCpuPct: proc.cpuPct,
    },
  });
  await ipc.command('stop');
  ipc.exit();
}

/** W7 peers: `switches` idle Switches connected to the hub; each echoes what it receives. */
export async function scalePeers(spec: Extract<RoleSpec, { role: 'scale-peers' }>, ipc: ChildIpc): Promise<void> {
  const meter = new Meter();
  await startPeers(spec.switches, spec, undefined, spec.hub, (_i, e) => {
    if (!e.src.trySend(FANOUT_CH, Buffer.from(e.message))) ipc.exit({ type: 'error', message: 'echo trySend failed' }, 1);
  });
  ipc.post({ type: 'ready' });
  ipc.post({ type: 'connected' });
  await ipc.command('stop');
  ipc.exit({ type: 'done', proc: meter.stats('peers'), data: { switches: spec.switches } });
}
