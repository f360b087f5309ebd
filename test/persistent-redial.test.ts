// The persistent-peer redial loop itself (not just the array reconnectSchedule()
// returns): it waits the schedule's delays between attempts, gives up after the
// last one ("giving up on persistent peer"), and reconnects each time the remote
// restarts. Tiny intervals (50 ms) keep it fast; every timing check is a lower bound.
import t from 'tap';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { deferred } from './helpers/net.js';
import { peerAdded, peerRemoved, startSwitch } from './helpers/switches.js';
import { sleep } from './helpers/time.js';

const schedule = { reconnectIntervalMs: 50, reconnectAttempts: 2, reconnectBackoffBaseMs: 200, reconnectBackoffAttempts: 2 };

t.test('redials wait the schedule’s delays, then give up with "giving up on persistent peer"', { timeout: 20_000 }, async (t) => {
  // a remote that accepts TCP and hangs up at once: every redial fails its handshake
  const accepts: number[] = [];
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    accepts.push(performance.now());
    sockets.push(s);
    s.destroy();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;

  const gaveUp = deferred<{ addr: string }>();
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _e, cb) {
        const line = JSON.parse(chunk.toString()) as { msg: string; addr: string };
        if (line.msg === 'giving up on persistent peer') gaveUp.resolve(line);
        cb();
      },
    }),
  );
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'test' },
    config: { listenAddress: '127.0.0.1:0', ...schedule },
    logger,
  });
  await sw.start();
  t.teardown(() => sw.stop());
  const remote = `${NodeKey.generate().id}@127.0.0.1:${port}`;
  sw.addPersistentPeers([remote]);

  const line = await gaveUp.promise;
  t.equal(line.addr, remote, 'the warning names the address');
  // the first dial is immediate, then one per scheduled delay: 1 + 2 + 2
  t.equal(accepts.length, 5, 'one dial now and one per scheduled delay, no more');
  const gaps = accepts.slice(1).map((at, i) => at - accepts[i]!);
  const min = [50, 50, 200, 600]; // interval, interval, base, base·3 (jitter only adds)
  // each redial starts its delay after the previous accept (the failure comes after it): gap ≥ delay,
  // less the up to 1 ms a Node timer may fire early
  gaps.forEach((g, i) => t.ok(g >= min[i]! - 2, `wait ${i + 1} was ${g.toFixed(0)} ms, at least the scheduled ${min[i]} ms`));
  // nothing is pending after giving up: a last macrotask turn brings no dial
  await sleep(50);
  t.equal(accepts.length, 5, 'no dial after giving up');
});

t.test('a persistent peer is reconnected after each of several restarts of the remote', { timeout: 20_000 }, async (t) => {
  const a = await startSwitch(t, { config: { reconnectIntervalMs: 50, reconnectAttempts: 100 } });
  const bKey = NodeKey.generate();
  let b = await startSwitch(t, { key: bKey });
  const port = b.sw.listenAddr.port;
  a.sw.addPersistentPeers([b.sw.listenAddr]);
  await peerAdded(a.sw, bKey.id);
  for (let round = 1; round <= 3; round++) {
    const lost = peerRemoved(a.sw, bKey.id);
    await b.sw.stop();
    await lost;
    b = await startSwitch(t, { key: bKey, config: { listenAddress: `127.0.0.1:${port}` } });
    const [back, atB] = await Promise.all([peerAdded(a.sw, bKey.id), peerAdded(b.sw, a.sw.nodeKey.id)]);
    t.equal(back.isOutbound(), true, `restart ${round}: A redialed B`);
    t.equal(atB.isOutbound(), false, `restart ${round}: B has A as an inbound peer`);
  }
});
