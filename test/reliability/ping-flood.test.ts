/**
 * Issue #14, row 3: pings written at socket speed, and pongs nobody asked
 * for. A peer that pings without waiting for our pong is disconnected with
 * `ERR_PING_FLOOD` (one pong answers any number of pings meanwhile), an
 * unsolicited pong is `ERR_UNSOLICITED_PONG`, and an honest peer's round
 * trips go on throughout.
 */
import t from 'tap';
import { RawPeer } from '../helpers/raw-peer.js';
import { GoodPeer, startTarget } from '../helpers/target.js';
import { within } from '../helpers/time.js';

const PINGS = Buffer.alloc(4096, 0x01); // 4096 ping packets

t.test('a ping flood is a protocol error; the honest peer is not slowed', async (t) => {
  const target = await startTarget(t);
  const good = await GoodPeer.start(t, target, { intervalMs: 10 });
  await good.rounds(3);
  const raw = await RawPeer.connect(t, target.port);
  await raw.join();
  let writes = 0;
  let closed = false;
  void raw.closed.then(() => (closed = true));
  const started = performance.now();
  const flooding = (async () => {
    // at socket speed: as fast as the socket takes the sealed frames, for at most 5 s
    while (!closed && performance.now() - started < 5000 && writes < 100_000) {
      writes++;
      if (!raw.sock.write(raw.sealer!.seal(PINGS))) await new Promise((r) => raw.sock.once('drain', r).once('close', r));
      else if (writes % 16 === 0) await new Promise((r) => setImmediate(r));
    }
  })();
  const refusal = await within(raw.closed, 8000, 'the flooder is disconnected').then(() => target.log.forRaw(raw, 1000));
  await flooding;
  t.comment(`disconnected after ${(performance.now() - started).toFixed(0)} ms and ${writes} writes of 4096 pings`);
  t.equal(refusal.code, 'ERR_PING_FLOOD', 'the flooder is disconnected with ERR_PING_FLOOD');
  await good.rounds(3);
  t.equal(good.failures, 0, 'no honest round trip failed');
});

t.test('a pong we did not ask for is a protocol error', async (t) => {
  const target = await startTarget(t);
  const raw = await RawPeer.connect(t, target.port);
  await raw.join();
  // the node pings once at start: one pong answers that, the second was not asked for
  raw.sendPackets({ type: 'pong' }, { type: 'pong' });
  const refusal = await target.log.forRaw(raw, 5000);
  t.equal(refusal.code, 'ERR_UNSOLICITED_PONG', 'disconnected with ERR_UNSOLICITED_PONG');
  await within(raw.closed, 3000, 'its socket is closed');
});

t.test('an honest keepalive is not a flood: pings answered one at a time, our pongs accepted', async (t) => {
  const mconn = { pingIntervalMs: 20, pongTimeoutMs: 2000, idleTimeoutMs: 0 };
  const target = await startTarget(t, { mconn });
  const good = await GoodPeer.start(t, target, { config: { mconn }, intervalMs: 50 });
  await good.rounds(20); // about a second: 50 pings each way
  t.equal(target.sw.peers.size, 1, 'still connected');
  t.equal(target.log.all.length, 0, 'no refusal');
  t.equal(good.failures, 0, 'no failed round trip');
});
