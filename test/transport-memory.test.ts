import t from 'tap';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { memoryLink } from '../lib/memory-link.js';
import { mulberry32 } from '../lib/mulberry32.js';
import { peerAdded, peerRemoved } from './helpers/switches.js';
import { memSwitch } from './helpers/mem-switch.js';

t.test('two Switches over the memory transport (SecretConnection) exchange messages; addresses are the virtual hosts', async (t) => {
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net, { host: '10.1.0.1' });
  const b = await memSwitch(t, net, { host: '10.1.0.2' });
  t.equal(b.sw.listenAddr.toString(), `${b.sw.nodeKey.id}@10.1.0.2:26656`);
  const added = peerAdded(b.sw, a.sw.nodeKey.id);
  const pb = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const pa = await added;
  t.equal(pa.remoteAddr.toString(), a.sw.listenAddr.toString(), 'inbound peer: dialer host + advertised port');
  for (let i = 0; i < 20; i++) t.equal(await pb.send(0x20, Buffer.from(`m${i}`)), true);
  await b.reactor.receivedCount(20);
  t.same(
    b.reactor.received.map((r) => r.msg.toString()),
    Array.from({ length: 20 }, (_, i) => `m${i}`),
  );
  t.ok(net.stats.bytes > 0 && net.stats.connections === 1);
});

t.test('one-way latency is applied to every message (plaintext)', async (t) => {
  const net = new MemoryNetwork({ link: { latencyMs: 40 } });
  const a = await memSwitch(t, net, { config: { plaintext: true } });
  const b = await memSwitch(t, net, { config: { plaintext: true } });
  const pb = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  await peerAdded(b.sw, a.sw.nodeKey.id);
  for (let i = 1; i <= 5; i++) {
    const sent = performance.now();
    await pb.send(0x20, Buffer.from('x'));
    await b.reactor.receivedCount(i);
    t.ok(performance.now() - sent >= 40, `message ${i} took ≥ 40 ms`);
  }
});

t.test('bandwidth: a write of n bytes is delivered no sooner than n / bandwidth; jitter keeps the order', async (t) => {
  const ctx = (bandwidth: number, jitterMs: number) => ({
    now: () => performance.now(),
    random: mulberry32(7),
    profile: () => ({ latencyMs: 5, jitterMs, bandwidth }),
    sendBufferBytes: 1 << 20,
  });
  const [x, y] = memoryLink(ctx(100_000, 0), ctx(100_000, 0));
  t.teardown(() => (x.destroy(), y.destroy()));
  const start = performance.now();
  x.write(Buffer.alloc(10_000));
  let got = 0;
  await new Promise<void>((resolve) => y.on('data', (d: Buffer) => (got += d.length) >= 10_000 && resolve()));
  t.ok(performance.now() - start >= 100 + 5, '10 000 B at 100 000 B/s + 5 ms latency takes ≥ 105 ms');
  const [p, q] = memoryLink(ctx(0, 20), ctx(0, 20));
  t.teardown(() => (p.destroy(), q.destroy()));
  const seen: number[] = [];
  const all = new Promise<void>((resolve) => q.on('data', (d: Buffer) => (seen.push(...d), seen.length === 100 && resolve())));
  for (let i = 0; i < 100; i++) p.write(Buffer.from([i]));
  await all;
  t.same(
    seen,
    Array.from({ length: 100 }, (_, i) => i),
    'in order despite ±20 ms jitter',
  );
});

t.test('mulberry32: the same seed gives the same sequence, another seed another', async (t) => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const sa = Array.from({ length: 8 }, a);
  t.same(Array.from({ length: 8 }, b), sa);
  t.notSame(Array.from({ length: 8 }, c), sa);
  t.ok(sa.every((v) => v >= 0 && v < 1));
});

t.test(
  'a partition resets the connections across it and refuses dials; after heal the Switch reconnects its persistent peer',
  async (t) => {
    const net = new MemoryNetwork({ link: { latencyMs: 2 } });
    const b = await memSwitch(t, net, { host: '10.2.0.2' });
    const a = await memSwitch(t, net, {
      host: '10.2.0.1',
      config: { persistentPeers: [b.sw.listenAddr.toString()], reconnectIntervalMs: 20, plaintext: false },
    });
    await peerAdded(a.sw, b.sw.nodeKey.id);
    const removed = peerRemoved(a.sw, b.sw.nodeKey.id);
    net.partition(['10.2.0.1'], ['10.2.0.2']);
    const reason = await removed;
    t.ok(reason, 'the peer was removed when the partition cut the link');
    await t.rejects(a.sw.dialPeerWithAddress(b.sw.listenAddr), { code: 'ERR_DIAL', message: /partitioned/ });
    t.equal(a.sw.peers.size, 0, 'no delivery across the partition');
    const back = peerAdded(a.sw, b.sw.nodeKey.id);
    net.heal();
    const p = await back;
    t.equal(await p.send(0x20, Buffer.from('after heal')), true);
    await b.reactor.receivedCount(1);
    t.equal(b.reactor.received.at(-1)!.msg.toString(), 'after heal');
  },
);

t.test('bad input: non-IP hosts, a taken host, negative latency, listening on another host', async (t) => {
  const net = new MemoryNetwork();
  t.throws(() => net.transport('node-a'), { code: 'ERR_INVALID_ARGUMENT' });
  net.transport('10.9.0.1');
  t.throws(() => net.transport('10.9.0.1'), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new MemoryNetwork({ link: { latencyMs: -1 } }), { code: 'ERR_INVALID_ARGUMENT' });
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '10.9.0.99:1' }, transport: net.transport('10.9.0.2') });
  t.teardown(() => sw.stop());
  await t.rejects(sw.start(), { code: 'ERR_LISTEN' });
});

t.test('on a bandwidth-limited link under bulk, a high-priority channel is not queued behind the bulk backlog', async (t) => {
  const net = new MemoryNetwork({ link: { latencyMs: 5, bandwidth: 1_000_000 } });
  const channels = [
    { id: 0x30, priority: 1, sendQueueCapacity: 100, recvMessageCapacity: 1 << 20 },
    { id: 0x31, priority: 10, sendQueueCapacity: 10 },
  ];
  const a = await memSwitch(t, net, { channels, config: { plaintext: true } });
  const b = await memSwitch(t, net, { channels, config: { plaintext: true } });
  const pb = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  await peerAdded(b.sw, a.sw.nodeKey.id);
  let queued = 0;
  for (let i = 0; i < 100; i++) if (pb.trySend(0x30, Buffer.alloc(32 * 1024, 1))) queued++;
  t.ok(queued * 32 * 1024 >= 2_000_000, `≥ 2 s of bulk at 1 MB/s queued (${queued} × 32 KiB)`);
  await b.reactor.receivedCount(1); // bulk is flowing
  const sent = performance.now();
  t.equal(pb.trySend(0x31, Buffer.from('urgent')), true);
  for (let i = 0; i < 10_000 && !b.reactor.received.some((r) => r.ch === 0x31); i++) await new Promise((r) => setTimeout(r, 5));
  const took = performance.now() - sent;
  const bulkBefore = b.reactor.received.findIndex((r) => r.ch === 0x31);
  t.ok(bulkBefore >= 0, 'the urgent message arrived');
  t.ok(bulkBefore < queued, `it overtook queued bulk (${queued - bulkBefore} bulk messages still behind it)`);
  t.ok(
    took < 1000,
    `it took ${Math.round(took)} ms, well under the ${Math.round((queued * 32 * 1024) / 1000)} ms of bulk ahead of it (expected ≈ 100 ms; bound 10×)`,
  );
});
