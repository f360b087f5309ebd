/**
 * Child roles of the point-to-point workloads (W1–W5, and W8 over the raw
 * link): a server that listens and receives (and echoes pings), and a client
 * that connects and sends.
 *
 * Sending discipline (every workload): call `trySend` while it returns true,
 * await `send` when it does not, on channels with a send queue of
 * {@link BENCH_SEND_QUEUE_CAPACITY} messages.
 *
 * - `bulk` (W1–W3): the client sends `count` messages of `size` bytes; the
 *   server checks each and reports the hrtime of the last one.
 * - `pingpong` (W4): the client sends one `size`-byte message and waits for
 *   the echo, `warmup` untimed then `count` timed round trips.
 * - `priority` (W5): the ping-pong runs on channel 0x02 (priority 10), first
 *   on the idle link (`warmup` + `count`), then while channel 0x01
 *   (priority 1) carries `bulkSize`-byte messages as fast as the link takes
 *   them (`loaded.warmup` + up to `loaded.count` round trips, at most
 *   `loaded.maxMs` of timed ones).
 * - `paused` (W10): as `priority`, but the server's reactor for channel 0x01
 *   pauses on its first bulk message (its receive Promise stays pending
 *   until the run ends), so the loaded phase measures what a paused channel
 *   costs the other one (per-channel flow control: nothing, ideally).
 *
 * @module
 */
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { connect, createServer, type Socket } from 'node:net';
import type { ChannelDescriptor } from '../lib/conn/channel.js';
import { type ChildIpc, Meter, type RoleSpec, type StreamMode } from './ipc.js';
import { BENCH_SEND_QUEUE_CAPACITY, type Link, openLink } from './link.js';
import { checkPayload, makePayloads } from './payload.js';
import { latencyUs } from './stats.js';

/** Channel of bulk traffic (priority 1). */
export const BULK_CH = 0x01;
/** Channel of pings in W5 (priority 10). */
export const PING_CH = 0x02;
/** Time the bulk channel runs before W5's pings start (ms). */
const BULK_RAMP_MS = 500;

type ServerSpec = Extract<RoleSpec, { role: 'stream-server' }>;
type ClientSpec = Extract<RoleSpec, { role: 'stream-client' }>;

/** The channels of a mode: one bulk channel, plus the ping channel for `priority`. */
export function streamChannels(mode: StreamMode): ChannelDescriptor[] {
  const chs: ChannelDescriptor[] = [{ id: BULK_CH, priority: 1, sendQueueCapacity: BENCH_SEND_QUEUE_CAPACITY, name: 'bulk' }];
  if (mode === 'priority' || mode === 'paused')
    chs.push({ id: PING_CH, priority: 10, sendQueueCapacity: BENCH_SEND_QUEUE_CAPACITY, name: 'ping' });
  return chs;
}

/** Queue `msg` following the sending discipline; throws if the link refuses it. */
async function put(link: Link, ch: number, msg: Uint8Array): Promise<void> {
  if (link.trySend(ch, msg)) return;
  if (!(await link.send(ch, msg))) throw new Error('send failed (link stopped or send timeout)');
}

/** The server end: accept one connection, receive, echo pings. */
export async function streamServer(spec: ServerSpec, ipc: ChildIpc): Promise<void> {
  const server = createServer({ noDelay: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  ipc.post({ type: 'ready', port: (server.address() as { port: number }).port });
  const [socket] = (await once(server, 'connection')) as [Socket];
  server.close();

  const meter = new Meter();
  const pingSize = spec.size;
  let received = 0;
  let bad = 0;
  let bulkBytes = 0;
  let pings = 0;
  let finished = false;
  // W5: bulk bytes at the first timed loaded ping and at the latest ping, for the bulk rate under test
  const idlePings = spec.warmup + spec.count;
  let loadedStart: [bigint, number] | undefined;
  let loadedEnd: [bigint, number] | undefined;
  // eslint-disable-next-line prefer-const -- assigned once the link is open, read by the handlers defined before
  let link: Link | undefined;
  // W10: the bulk channel's reader pauses on its first message, until the run ends
  let releasePause: (() => void) | undefined;
  const paused = spec.mode === 'paused' ? new Promise<void>((r) => (releasePause = r)) : undefined;

  const echo = (ch: number, msg: Uint8Array) => {
    if (!checkPayload(msg, pingSize)) bad++;
    put(link!, ch, Buffer.from(msg)).catch((err: Error) => ipc.exit({ type: 'error', message: err.message }, 1));
  };
  const onReceive =
    spec.mode === 'bulk'
      ? (_ch: number, msg: Uint8Array) => {
          if (received === 0) meter.start();
          if (!checkPayload(msg, spec.size)) bad++;
          if (++received === spec.count) {
            const t1 = process.hrtime.bigint();
            finished = true;
            ipc.post({ type: 'done', t1, proc: meter.stats('receiver'), data: { received, bad } });
          }
        }
      : spec.mode === 'pingpong'
        ? (ch: number, msg: Uint8Array) => {
            meter.start();
            received++;
            echo(ch, msg);
          }
        : (ch: number, msg: Uint8Array) => {
            meter.start();
            if (ch === BULK_CH) {
              received++;
              bulkBytes += msg.length;
              if (!checkPayload(msg, spec.bulkSize)) bad++;
              return received === 1 ? paused : undefined;
            }
            // pings: the idle phase, then the loaded phase
            pings++;
            if (pings === idlePings + spec.loaded.warmup + 1) loadedStart = [process.hrtime.bigint(), bulkBytes];
            else if (loadedStart) loadedEnd = [process.hrtime.bigint(), bulkBytes];
            echo(ch, msg);
          };
  link = await openLink(
    socket,
    spec.link,
    streamChannels(spec.mode),
    {
      onReceive,
      onError: (err) => {
        // in W5 the client closes the link as soon as its last pong is in
        if ((spec.mode === 'priority' || spec.mode === 'paused') && pings > idlePings) return;
        if (!finished) ipc.exit({ type: 'error', message: `server link failed: ${err.message}` }, 1);
      },
    },
    spec.mconn,
  );
  ipc.post({ type: 'connected' });
  await ipc.command('stop');
  finished = true;
  releasePause?.();
  const data: Record<string, number> = { received, bad, pings };
  if (loadedStart && loadedEnd) {
    const s = Number(loadedEnd[0] - loadedStart[0]) / 1e9;
    data.bulkMBps = s > 0 ? (loadedEnd[1] - loadedStart[1]) / 1e6 / s : NaN;
  }
  ipc.exit({ type: 'done', proc: meter.stats('receiver'), data });
}

/** The client end: connect, wait for `go`, send. */
export async function streamClient(spec: ClientSpec, ipc: ChildIpc): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port: spec.port, noDelay: true });
  await once(socket, 'connect');
  const pool = makePayloads(spec.size);
  let reply: (() => void) | undefined;
  let bad = 0;
  let finished = false;
  const link = await openLink(
    socket,
    spec.link,
    streamChannels(spec.mode),
    {
      onReceive: (_ch, msg) => {
        if (!checkPayload(msg, spec.size)) bad++;
        const r = reply;
        reply = undefined;
        r?.();
      },
      onError: (err) => {
        if (!finished) ipc.exit({ type: 'error', message: `client link failed: ${err.message}` }, 1);
      },
    },
    spec.mconn,
  );
  ipc.post({ type: 'connected' });
  await ipc.command('go');
  const meter = new Meter();
  meter.start();
  const t0 = process.hrtime.bigint();
  const data: Record<string, number> = {};

  /** `warmup` + up to `count` round trips on `ch` (timed ones stop after `maxMs`); the timed ones' latency. */
  const pingPong = async (ch: number, warmup: number, count: number, maxMs = Infinity) => {
    const rtt = new Float64Array(count);
    let deadline = Infinity;
    let n = 0;
    for (let i = 0; i < warmup + count && performance.now() < deadline; i++) {
      if (i === warmup) deadline = performance.now() + maxMs;
      const got = new Promise<void>((resolve) => (reply = resolve));
      const t = process.hrtime.bigint();
      await put(link, ch, pool[i % pool.length]!);
      await got;
      if (i >= warmup) rtt[n++] = Number(process.hrtime.bigint() - t);
    }
    return { ...latencyUs(rtt.subarray(0, n)), n };
  };

  if (spec.mode === 'bulk') {
    const n = pool.length;
    for (let i = 0; i < spec.count;) {
      const m = pool[i % n]!;
      if (link.trySend(BULK_CH, m)) {
        i++;
        continue;
      }
      if (!(await link.send(BULK_CH, m))) throw new Error('send failed (link stopped or send timeout)');
      i++;
    }
  } else if (spec.mode === 'pingpong') {
    const l = await pingPong(BULK_CH, spec.warmup, spec.count);
    Object.assign(data, { p50Us: l.p50, p99Us: l.p99, meanUs: l.mean, maxUs: l.max });
  } else {
    const idle = await pingPong(PING_CH, spec.warmup, spec.count);
    Object.assign(data, { idleP50Us: idle.p50, idleP99Us: idle.p99, idleMaxUs: idle.max });
    const bulk = makePayloads(spec.bulkSize, 32);
    let pumping = true;
    let bulkSent = 0;
    const pump = (async () => {
      for (let i = 0; pumping; i++) {
        // W10: the paused channel's queue fills and `send` waits (no timeout: the pause outlasts it)
        if (!link.trySend(BULK_CH, bulk[i % bulk.length]!) && !(await link.send(BULK_CH, bulk[i % bulk.length]!, { timeoutMs: 0 }))) break;
        bulkSent++;
      }
    })();
    await new Promise((r) => setTimeout(r, BULK_RAMP_MS));
    const loaded = await pingPong(PING_CH, spec.loaded.warmup, spec.loaded.count, spec.loaded.maxMs);
    pumping = false;
    Object.assign(data, {
      p50Us: loaded.p50,
      p99Us: loaded.p99,
      meanUs: loaded.mean,
      maxUs: loaded.max,
      loadedRoundTrips: loaded.n,
      bulkQueued: bulkSent,
    });
    // the bulk queue may hold up to 1 GiB of references: close instead of draining it
    finished = true;
    link.stop();
    await pump.catch(() => {});
  }
  if (bad > 0) data.bad = bad;
  if (spec.mode === 'bulk') {
    // everything is queued; the window ends when the receiver has it all and the driver says stop
    await ipc.command('stop');
    finished = true;
    ipc.exit({ type: 'done', t0, proc: meter.stats('sender'), data });
    return;
  }
  finished = true;
  ipc.post({ type: 'done', t0, proc: meter.stats('sender'), data });
  await ipc.command('stop');
  ipc.exit();
}
