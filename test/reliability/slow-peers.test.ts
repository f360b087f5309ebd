/**
 * Slow and vanishing peers, cut off by deadlines: slowloris clients in the
 * handshake (silent, one byte per second, stalled mid-frame, stalled in the
 * NodeInfo exchange) hit `handshakeTimeoutMs` while a good peer's handshake
 * completes at full speed; a peer that stalls in the middle of a frame after
 * the handshake, and one that vanishes without a FIN (a proxy silently
 * dropping both directions), are detected by the keepalive (ERR_PONG_TIMEOUT). Short timeouts throughout; upper bounds 10×.
 */
import t from 'tap';
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { ECHO_CHANNEL, EchoReactor } from '../helpers/echo-reactor.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { RefusalLog } from '../helpers/refusals.js';
import { GoodPeer, NETWORK, startTarget } from '../helpers/target.js';
import { sleep, within } from '../helpers/time.js';
import type { Teardown } from '../helpers/teardown.js';

const HANDSHAKE_MS = 1000;
const PING_MS = 300;
const PONG_MS = 400;
/**
 * Upper bounds are 10× the expected time (the standards' rule for wall-clock
 * bounds): a loaded 2-core machine may be slow, never that slow.
 */
const BOUND = 10;
const mconn = { pingIntervalMs: PING_MS, pongTimeoutMs: PONG_MS };

t.test('slowloris clients are cut off at handshakeTimeoutMs; a good handshake is not delayed', async (t) => {
  const target = await startTarget(t, { handshakeTimeoutMs: HANDSHAKE_MS, mconn });
  const good = await GoodPeer.start(t, target, { config: { mconn } });
  const before = good.ok;

  // (a) silent; (b) one byte per second; (c) half an auth frame, then nothing; (d) stalls in the NodeInfo exchange
  const silent = await RawPeer.connect(t, target.port);
  const dribbler = await RawPeer.connect(t, target.port);
  const key = Buffer.alloc(32, 0x55);
  let i = 0;
  const drip = setInterval(() => (i < key.length ? dribbler.write(key.subarray(i, ++i)) : undefined), 1000);
  t.teardown(() => clearInterval(drip));
  dribbler.write(key.subarray(0, ++i));
  const midFrame = await RawPeer.connect(t, target.port);
  void midFrame.secretHandshake({ authFrame: (f) => f.subarray(0, 50) }).catch(() => {});
  const midInfo = await RawPeer.connect(t, target.port);
  await midInfo.secretHandshake();
  midInfo.sendPlain(Buffer.from([0, 0, 0, 200, 0x88])); // NodeInfo of 200 bytes: 1 byte of it, then nothing
  const extra = await Promise.all(Array.from({ length: 5 }, () => RawPeer.connect(t, target.port)));
  const started = performance.now();

  // meanwhile a new good peer connects at full speed
  const newcomer = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK },
    config: { listenAddress: '127.0.0.1:0', mconn },
  });
  newcomer.addReactor(new EchoReactor());
  await newcomer.start();
  t.teardown(() => newcomer.stop());
  const dialStart = performance.now();
  await newcomer.dialPeerWithAddress(target.sw.listenAddr);
  const dialMs = performance.now() - dialStart;
  const dialDone = performance.now();

  for (const [name, raw] of [
    ['silent', silent],
    ['one byte per second', dribbler],
    ['half an auth frame', midFrame],
    ['stalled NodeInfo', midInfo],
    ...extra.map((r, n) => [`silent #${n + 2}`, r] as const),
  ] as const) {
    const r = await target.log.forRaw(raw, BOUND * HANDSHAKE_MS);
    const ms = r.at - started;
    t.equal(r.code, 'ERR_HANDSHAKE_TIMEOUT', `${name}: ERR_HANDSHAKE_TIMEOUT after ${ms.toFixed(0)} ms`);
    // connected before `started`, so at least the deadline less the time the connects took
    t.ok(ms >= HANDSHAKE_MS - 250, `${name}: not cut off before the deadline (${ms.toFixed(0)} ms, deadline ${HANDSHAKE_MS} ms)`);
    // the good peer did not wait for a slot freed by a slow client's deadline
    t.ok(dialDone < r.at, `${name}: cut off after the good peer's dial had completed (dial + handshake ${dialMs.toFixed(0)} ms)`);
    await within(raw.closed, BOUND * 1000, `${name}: socket closed by the target`);
  }
  clearInterval(drip);
  t.ok(i <= 3, `the dribbler got ${i} bytes in before the cut`);
  await good.rounds(2);
  t.ok(good.ok >= before + 2 && good.failures === 0, `the good peer kept exchanging messages (worst ${good.maxLatencyMs.toFixed(0)} ms)`);
  t.equal(target.sw.handshakingCount, 0, 'no handshake left open');
});

t.test('a peer that stalls in the middle of a frame after the handshake is cut off by the keepalive', async (t) => {
  const target = await startTarget(t, { handshakeTimeoutMs: HANDSHAKE_MS, mconn });
  const good = await GoodPeer.start(t, target, { config: { mconn } });
  const raw = await RawPeer.connect(t, target.port);
  raw.autoPong = true;
  await raw.join();
  await within(
    new Promise<void>((r) => (target.sw.peers.has(raw.key.id) ? r() : target.sw.on('peer:add', (p) => p.id === raw.key.id && r()))),
    2000,
    'raw peer added',
  );
  // let it behave through a couple of keepalive rounds first
  await sleep(PING_MS * 2);
  t.ok(target.sw.peers.has(raw.key.id), 'a peer answering pings stays connected');
  raw.autoPong = false;
  const frame = raw.sealer!.seal(Buffer.alloc(100, 0x02));
  raw.write(frame.subarray(0, 40)); // header says 100 bytes; 36 of them arrive, then nothing
  const stalled = performance.now();
  const r = await target.log.forRaw(raw, BOUND * (PING_MS + PONG_MS));
  const ms = r.at - stalled;
  t.equal(
    r.code,
    'ERR_PONG_TIMEOUT',
    `ERR_PONG_TIMEOUT ${ms.toFixed(0)} ms after the stall (pingInterval + pongTimeout = ${PING_MS} + ${PONG_MS} ms)`,
  );
  await within(raw.closed, BOUND * 1000, 'socket closed by the target');
  await good.rounds(2);
  t.equal(good.failures, 0, 'the good peer was unaffected');
});

/** A TCP proxy that can silently drop everything in both directions without closing anything. */
async function blackholeProxy(t: Teardown, upstreamPort: number): Promise<{ port: number; blackhole(): void; dropped: () => number }> {
  let holed = false;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('error', () => {});
    }
    const pipe = (from: Socket, to: Socket) =>
      from.on('data', (d) => {
        if (holed) dropped += d.length;
        else to.write(d);
      });
    pipe(down, up);
    pipe(up, down);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, blackhole: () => void (holed = true), dropped: () => dropped };
}

t.test('a peer that vanishes without a FIN is detected by the keepalive on both sides', async (t) => {
  const target = await startTarget(t, { handshakeTimeoutMs: HANDSHAKE_MS, mconn });
  const good = await GoodPeer.start(t, target, { config: { mconn } });
  const proxy = await blackholeProxy(t, target.port);
  const far = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK, moniker: 'far' },
    config: { listenAddress: '127.0.0.1:0', mconn },
  });
  const farEcho = far.addReactor(new EchoReactor());
  await far.start();
  t.teardown(() => far.stop());
  const farLog = new RefusalLog(far);
  const peer = await far.dialPeerWithAddress(`${target.sw.nodeKey.id}@127.0.0.1:${proxy.port}`);
  t.ok(await farEcho.request(peer, 1, 2000), 'messages flow through the proxy');
  await sleep(PING_MS * 2); // a couple of keepalive rounds through the proxy
  t.ok(target.sw.peers.has(far.nodeKey.id) && far.peers.has(target.sw.nodeKey.id), 'both sides still connected');

  proxy.blackhole();
  const gone = performance.now();
  t.notOk(
    peer.trySend(ECHO_CHANNEL, Buffer.from([1, 0, 0, 0, 2])) === false,
    'sends still queue: nothing tells the sender the peer is gone',
  );
  const [atTarget, atFar] = await Promise.all([
    target.log.wait((r) => r.kind === 'peer' && r.who === far.nodeKey.id, BOUND * (PING_MS + PONG_MS), 'target detects the vanished peer'),
    farLog.wait(
      (r) => r.kind === 'peer' && r.who === target.sw.nodeKey.id,
      BOUND * (PING_MS + PONG_MS),
      'the far side detects the vanished target',
    ),
  ]);
  for (const [side, r] of [
    ['target', atTarget],
    ['far side', atFar],
  ] as const) {
    const ms = r.at - gone;
    t.equal(
      r.code,
      'ERR_PONG_TIMEOUT',
      `${side}: ERR_PONG_TIMEOUT after ${ms.toFixed(0)} ms (pingInterval + pongTimeout = ${PING_MS} + ${PONG_MS} ms)`,
    );
  }
  t.ok(proxy.dropped() > 0, `the proxy dropped ${proxy.dropped()} bytes without closing either socket`);
  await good.rounds(2);
  t.equal(good.failures, 0, 'the target’s other peer was unaffected');
});
