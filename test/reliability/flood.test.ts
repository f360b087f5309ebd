/**
 * A connection flood: 1,000 connection attempts in one burst on loopback
 * (idle ones, ones that close at once, ones sending garbage, ones stalling
 * after an ephemeral key). The node keeps serving its existing peer
 * (messages keep flowing), its accept pipeline never holds more than
 * `maxHandshaking` connections in the handshake, every flood socket is
 * closed, and a new peer can connect afterwards.
 *
 * The burst is sized to the file-descriptor limit (`ulimit -n`): each
 * attempt costs two descriptors in this process (client and accepted end).
 */
import t from 'tap';
import net, { type Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { peerAdded } from '../helpers/switches.js';
import { connInternals } from '../helpers/conn-internals.js';
import { EchoReactor } from '../helpers/echo-reactor.js';
import { GoodPeer, NETWORK, startTarget } from '../helpers/target.js';
import { within } from '../helpers/time.js';

const WANT = 1000;
const MAX_HANDSHAKING = 16;
const HANDSHAKE_MS = 1500;

function fdLimit(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  } catch {
    return 1024;
  }
}

t.test(`${WANT} connection attempts in a burst`, async (t) => {
  const limit = fdLimit();
  const burst = Math.min(WANT, Math.floor((limit - 300) / 2));
  if (burst < WANT) t.comment(`ulimit -n is ${limit}: the burst is cut to ${burst} attempts`);
  const target = await startTarget(t, { handshakeTimeoutMs: HANDSHAKE_MS, maxHandshaking: MAX_HANDSHAKING });
  const good = await GoodPeer.start(t, target, { intervalMs: 10 });
  await good.rounds(3);

  // handshakingCount sampled at every accept (our listener runs after the transport's) and every millisecond
  const server = (target.sw as unknown as { transport: { transport: { server: net.Server } } }).transport.transport.server;
  let maxHandshaking = 0;
  let accepted = 0;
  const sample = () => (maxHandshaking = Math.max(maxHandshaking, target.sw.handshakingCount));
  const serverClosed: Promise<unknown>[] = [];
  server.on('connection', (s: Socket) => {
    serverClosed.push(new Promise((r) => s.once('close', r))); // not once(): a reset socket emits 'error' first
    accepted++;
    sample();
  });
  const sampler = setInterval(sample, 1);
  t.teardown(() => clearInterval(sampler));

  const before = good.ok;
  const sockets: Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  let connected = 0;
  let errors = 0;
  const closed: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < burst; i++) {
    const s = net.connect(target.port, '127.0.0.1');
    sockets.push(s);
    closed.push(new Promise((r) => s.once('close', () => r())));
    s.on('error', () => void errors++);
    s.resume(); // read (and drop) whatever the target sends, so its FIN is seen
    s.once('connect', () => {
      connected++;
      switch (i % 4) {
        case 0: // idle: holds a handshake slot until the deadline, if it got one
          break;
        case 1: // closes at once
          s.destroy();
          break;
        case 2: // garbage
          s.write(Buffer.alloc(64, i & 0xff));
          break;
        default: // a (low-order) ephemeral key, then nothing
          s.write(Buffer.alloc(32));
      }
    });
  }
  // every flood socket ends up closed: by itself, by the target at accept (over the cap), or at the handshake deadline
  await within(Promise.all(closed), 20_000, 'all flood sockets closed').catch((err) => {
    const open = sockets.map((s, i) => [i % 4, s.connecting, s.destroyed, s.readyState, s.localPort] as const).filter(([, , d]) => !d);
    t.comment(
      `open: ${JSON.stringify(open.slice(0, 20))} (${open.length}); accepted ${accepted}, connected ${connected}, hs ${target.sw.handshakingCount}`,
    );
    throw err;
  });
  const floodMs = performance.now() - started;
  clearInterval(sampler);
  t.comment(
    `${burst} attempts: ${connected} connected, ${accepted} accepted by the server, ${errors} socket errors, all closed after ${floodMs.toFixed(0)} ms`,
  );
  t.ok(maxHandshaking <= MAX_HANDSHAKING, `handshakingCount never exceeded maxHandshaking (max ${maxHandshaking} of ${MAX_HANDSHAKING})`);
  t.ok(maxHandshaking > 0, 'the flood did reach the handshake');
  t.ok(good.ok > before, `the existing peer kept exchanging messages during the flood (${good.ok - before} round trips)`);
  t.equal(good.failures, 0, 'no round trip failed');
  // each round trip had 3 s (GoodPeer's timeout) and none failed; the worst is a measurement, not a bound
  t.comment(`worst round trip during the flood ${good.maxLatencyMs.toFixed(0)} ms (median ${good.medianMs.toFixed(1)} ms)`);
  t.equal(target.sw.handshakingCount, 0, 'no handshake left open');
  // server-side sockets are destroyed by now; their 'close' events may still be a tick away
  const goodSocket = connInternals(target.sw.peers.get(good.sw.nodeKey.id)!).socket;
  const tracked = [...(target.sw as unknown as { transport: { transport: { sockets: Set<Socket> } } }).transport.transport.sockets];
  t.ok(
    tracked.every((s) => s === goodSocket || s.destroyed),
    `every flood socket was destroyed by the target (${tracked.length} tracked)`,
  );
  await within(Promise.all(serverClosed), 3000, 'server-side flood sockets closed');
  t.equal(
    (target.sw as unknown as { transport: { transport: { sockets: Set<Socket> } } }).transport.transport.sockets.size,
    1,
    'the transport tracks only the good peer’s socket again',
  );
  t.equal(target.sw.peers.size, 1, 'only the good peer is connected');

  // and the node still accepts a newcomer
  const newcomer = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: NETWORK }, config: { listenAddress: '127.0.0.1:0' } });
  newcomer.addReactor(new EchoReactor());
  await newcomer.start();
  t.teardown(() => newcomer.stop());
  const seen = peerAdded(target.sw, newcomer.nodeKey.id);
  await within(newcomer.dialPeerWithAddress(target.sw.listenAddr), 3000, 'newcomer connects');
  await within(seen, 3000, 'the target adds the newcomer');
  t.pass('a new peer connects after the flood');
});
