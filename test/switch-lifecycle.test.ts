// The Switch's life cycle as its user drives it: reactors only before start, start once, stop
// idempotent (reactors stopped once), nodeInfo only once listening, the logger, listen errors on
// a Unix socket, and persistent peers dialed at once (at start, or when added while running).
import t from 'tap';
import { once } from 'node:events';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { pino } from 'pino';
import { ListenError, NotStartedError, RejectedError } from '../lib/errors.js';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { peerAdded } from '../lib/testing.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import type { Transport } from '../lib/transport.js';
import { UnixTransport } from '../lib/transport-unix.js';
import { LogRecorder, memSwitch } from './helpers/mem-switch.js';
import { RecordingReactor } from './helpers/switches.js';
import { sleep } from './helpers/time.js';
import { deferred } from './helpers/net.js';

const WAIT = { timeoutMs: 5000 };

/** A RecordingReactor that counts its start and stop calls. */
class Counted extends RecordingReactor {
  starts = 0;
  stops = 0;
  override start(): void {
    this.starts++;
  }
  override stop(): void {
    this.stops++;
  }
}

t.test('reactors are added before start; a Switch starts once and stops once', async (t) => {
  const net = new MemoryNetwork();
  const { sw } = await memSwitch(t, net, { noStart: true });
  const counted = sw.addReactor(new Counted([{ id: 0x21 }], 'counted'));
  t.equal(sw.reactor('counted'), counted);
  t.equal(sw.isRunning, false);
  t.equal(sw.handshakingCount, 0, 'no handshake before start');
  await sw.start();
  t.equal(sw.isRunning, true);
  const late = new Counted([{ id: 0x22 }], 'late');
  t.throws(() => sw.addReactor(late), { code: 'ERR_INVALID_ARGUMENT', message: 'reactors must be added before start()' });
  t.equal(sw.reactor('late'), undefined);
  await t.rejects(sw.start(), { code: 'ERR_INVALID_ARGUMENT', message: 'a Switch can be started once' });
  t.equal(counted.starts, 1, 'reactors started once');
  await sw.stop();
  t.equal(sw.isRunning, false);
  await sw.stop();
  t.equal(counted.stops, 1, 'a second stop() does nothing: reactors stopped once');
  t.throws(() => sw.addReactor(late), { code: 'ERR_INVALID_ARGUMENT', message: 'reactors must be added before start()' });
  await t.rejects(sw.start(), { code: 'ERR_INVALID_ARGUMENT', message: 'a Switch can be started once' });
  t.equal(sw.isRunning, false);
});

t.test('a Switch stopped before it started can neither take reactors nor start', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate() });
  const r = new Counted([{ id: 0x21 }], 'counted');
  sw.addReactor(r);
  await sw.stop();
  t.equal(r.stops, 1);
  t.throws(() => sw.addReactor(new Counted([{ id: 0x22 }], 'late')), { code: 'ERR_INVALID_ARGUMENT' });
  await t.rejects(sw.start(), { code: 'ERR_INVALID_ARGUMENT', message: 'a Switch can be started once' });
  t.equal(r.starts, 0);
  t.equal(sw.isRunning, false);
});

t.test('nodeInfo before start: NotStartedError with what to do', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate() });
  const err = (() => {
    try {
      return sw.nodeInfo;
    } catch (e) {
      return e;
    }
  })();
  t.type(err, NotStartedError);
  t.match(err, { code: 'ERR_NOT_STARTED', message: 'the Switch has no NodeInfo before start() has listened' });
});

t.test('the logger: the one passed, else a silent one', async (t) => {
  const mine = pino({ level: 'warn' });
  t.equal(new Switch({ nodeKey: NodeKey.generate(), logger: mine }).logger, mine);
  t.equal(new Switch({ nodeKey: NodeKey.generate() }).logger.level, 'silent');
});

t.test('a Unix socket that cannot be listened on: ListenError naming the socket', async (t) => {
  const path = join(tmpdir(), `sb-no-such-dir-${process.pid}`, 'node.sock');
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: `unix://${path}` }, transport: new UnixTransport() });
  t.teardown(() => sw.stop());
  const err = (await sw.start().catch((e: unknown) => e)) as ListenError;
  t.type(err, ListenError);
  t.equal(err.host, `unix://${path}`);
  t.match(err.message, `cannot listen on unix://${path}: `);
  t.equal(sw.isRunning, false);
});

t.test('persistent peers are dialed at once: at start, and when added while running', async (t) => {
  const net = new MemoryNetwork();
  const b = await memSwitch(t, net);
  const c = await memSwitch(t, net);
  // a redial would wait a minute: only the immediate first dial can connect within the test
  const a = await memSwitch(t, net, { config: { persistentPeers: [b.sw.listenAddr.toString()], reconnectIntervalMs: 60_000 } });
  t.equal((await peerAdded(a.sw, b.sw.nodeKey.id, WAIT)).isPersistent(), true, 'the configured one, at start');
  a.sw.addPersistentPeers([c.sw.listenAddr]);
  t.equal((await peerAdded(a.sw, c.sw.nodeKey.id, WAIT)).isOutbound(), true, 'one added while running, at once');
});

t.test('a persistent peer added again with another address is not dialed there', async (t) => {
  const net = new MemoryNetwork();
  const b = await memSwitch(t, net);
  const log = new LogRecorder();
  const a = await memSwitch(t, net, { logger: log.logger, config: { reconnectAttempts: 0, reconnectBackoffAttempts: 0 } });
  const bKey = b.sw.nodeKey;
  const wrong = `${bKey.id}@10.99.0.1:26656`; // nothing listens there
  a.sw.addPersistentPeers([wrong]);
  await log.next('giving up on persistent peer'); // dialed once, then given up (no redials)
  const dials: string[] = [];
  a.sw.on('peer:dial-failed', (addr) => dials.push(addr));
  const added: string[] = [];
  a.sw.on('peer:add', (p) => added.push(p.id));
  a.sw.addPersistentPeers([b.sw.listenAddr]); // the same ID: already persistent, nothing dialed
  await sleep(50); // a dial would start within a timer turn (its delay is 0) and connect at once over memory
  t.same([dials, added], [[], []]);
});

t.test("stop() aborts a persistent peer's dial in progress (through the transport's abort signal)", async (t) => {
  // a transport whose dials hang until aborted, recording the signal they were given
  const signals: (AbortSignal | undefined)[] = [];
  const dialed = deferred();
  const inner = new MemoryNetwork().transport('10.5.0.1');
  const transport: Transport = {
    protocol: 'memory',
    listen: (addr, onAccept) => inner.listen(addr, onAccept),
    close: () => inner.close(),
    dial: (addr, signal) => {
      signals.push(signal);
      dialed.resolve();
      return new Promise((_, reject) =>
        signal?.addEventListener('abort', () => reject(new RejectedError('ERR_DIAL', `dial ${addr} aborted`)), { once: true }),
      );
    },
  };
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    config: { listenAddress: '10.5.0.1:26656', persistentPeers: [`${NodeKey.generate().id}@10.5.0.2:26656`] },
    transport,
  });
  t.teardown(() => sw.stop());
  const dialing = once(sw, 'peer:dial-failed');
  await sw.start();
  await dialed.promise; // the first dial, after a 0 ms timer
  t.equal(signals.length, 1, 'the persistent peer is being dialed');
  t.equal(signals[0]?.aborted, false);
  await sw.stop();
  t.equal(signals[0]?.aborted, true, 'stop() aborted it');
  t.match((await dialing)[1], { code: 'ERR_DIAL', message: /aborted/ });
});
