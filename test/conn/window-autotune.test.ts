// The receive window's auto-tuning in an MConnection runs against the least round trip its keepalive has measured (as BBR's
// min_rtt): a window grows while the reader keeps up with a sender it holds back, judged against that round trip, and
// queueing that makes a later round trip longer does not make the window grow.
import t from 'tap';
import { Duplex } from 'node:stream';
import { MConnection } from '../../lib/conn/mconnection.js';
import { INITIAL_WINDOW, MSG_HEADER_SIZE, PACKET_PING, PacketDecoder, encodePacket } from '../../lib/conn/packet.js';
import { steppedClock } from '../helpers/time.js';

type Teardown = { teardown(fn: () => unknown): void };

const PAYLOAD = 8000;
const COST = MSG_HEADER_SIZE + PAYLOAD;

/**
 * Our MConnection (one channel or `opts.channels`, window 64 KiB each, auto-tuned up to 1 MiB in all or `opts.maxRecvWindowBytes`) over a Duplex standing for the peer. The peer counts
 * the credit we grant it, answers our pings when the test says, and sends msg packets within its credit.
 */
function setup(t: Teardown, pingIntervalMs: number, opts: { channels?: number; maxRecvWindowBytes?: number } = {}) {
  let credit = INITIAL_WINDOW;
  let pings = 0;
  let onPing: (() => void) | null = null;
  const dec = new PacketDecoder(
    {
      onControl: (type) => {
        if (type !== PACKET_PING) return;
        pings++;
        onPing?.();
      },
      onWindowUpdate: (_id, inc) => void (credit += inc),
      onMsg() {},
    },
    1 << 20,
  );
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _e, cb) {
      dec.push(chunk);
      cb();
    },
  });
  t.teardown(() => d.destroy());
  const errors: unknown[] = [];
  const c = new MConnection(
    d,
    Array.from({ length: opts.channels ?? 1 }, (_, i) => ({ id: i + 1, sendQueueCapacity: 10 })),
    () => {},
    (e) => void errors.push(e),
    {
      recvWindowBytes: INITIAL_WINDOW,
      maxRecvWindowBytes: opts.maxRecvWindowBytes ?? 1 << 20,
      pingIntervalMs,
      pongTimeoutMs: 60_000,
      idleTimeoutMs: 0,
    },
  );
  t.teardown(() => c.stop());
  /** Resolves when our `n`-th ping is out; rejects after 10 s (the keepalive's timer does not keep the process alive). */
  const ping = (n: number) =>
    new Promise<void>((resolve, reject) => {
      if (pings >= n) return resolve();
      const guard = setTimeout(() => reject(new Error(`no ping ${n} within 10 s`)), 10_000);
      onPing = () => {
        if (pings >= n) {
          onPing = null;
          clearTimeout(guard);
          resolve();
        }
      };
    });
  const turn = () => new Promise((r) => setImmediate(r));
  const pong = async () => {
    d.push(encodePacket({ type: 'pong' }));
    await turn();
  };
  /** Send three quarters of the window, a packet per turn, within the credit: at least one auto-tuning evaluation. */
  const burst = async () => {
    const n = Math.ceil((0.75 * window()) / COST) + 1;
    for (let i = 0; i < n; i++) {
      if (credit < COST) throw new Error(`no credit after ${i} packets`);
      credit -= COST;
      d.push(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.alloc(PAYLOAD) }));
      await turn();
    }
  };
  const window = () => c.status().channels[0]!.recvWindow;
  return { c, errors, ping, pong, burst, window };
}

t.test('a window grows when the reader keeps up within the round trip the keepalive measured', async (t) => {
  const step = steppedClock(t); // the connection's clocks; the keepalive's timers still run in real time
  const s = setup(t, 60_000);
  s.c.start();
  await s.ping(1);
  step(100); // the peer is 100 ms away
  await s.pong();
  t.equal(s.c.status().rttMs!.latest, 100, 'a round trip of 100 ms');
  t.equal(s.window(), INITIAL_WINDOW);
  await s.burst(); // three quarters of the window right after the round trip: the window holds the sender back
  t.equal(s.window(), 2 * INITIAL_WINDOW, 'the window doubled');
  t.same(s.errors, []);
});

t.test('the round trip of the tuning is the least one seen, not the first, the latest or the longest', async (t) => {
  const step = steppedClock(t); // the connection's clocks; the keepalive's timers still run in real time
  const s = setup(t, 150);
  s.c.start();
  await s.ping(1);
  step(100);
  await s.pong(); // 100 ms
  await s.ping(2);
  step(1);
  await s.pong(); // 1 ms: the least round trip
  await s.ping(3);
  step(100);
  await s.pong(); // 100 ms again (say, behind our own bulk data)
  t.equal(s.c.status().rttMs!.latest, 100, 'the latest round trip took 100 ms');
  await s.burst(); // starts a new epoch of the tuning
  const before = s.window();
  step(60); // slower than the least round trip allows, faster than 100 ms would
  await s.burst();
  t.equal(s.window(), before, 'against the least round trip the reader did not keep up: no growth');
  t.same(s.errors, []);
});

t.test('the windows of all channels together grow to at most maxRecvWindowBytes', async (t) => {
  const step = steppedClock(t);
  const s = setup(t, 60_000, { channels: 2, maxRecvWindowBytes: 3 * INITIAL_WINDOW });
  s.c.start();
  await s.ping(1);
  step(100);
  await s.pong();
  await s.burst();
  t.equal(s.window(), 2 * INITIAL_WINDOW, 'channel 1 doubled: with channel 2’s 64 KiB, the bound is reached');
  step(200); // a new epoch of the tuning
  await s.burst();
  t.equal(s.window(), 2 * INITIAL_WINDOW, 'the reader kept up again, but there is no room left for channel 1 to grow');
  t.same(
    s.c.status().channels.map((c) => c.recvWindow),
    [2 * INITIAL_WINDOW, INITIAL_WINDOW],
    'together 3 × 64 KiB, the bound',
  );
  t.same(s.errors, []);
});
