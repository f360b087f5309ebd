// RequestReactor across processes: a Switch here, another in a child process
// (test/helpers/request-peer.ts), over encrypted TCP on 127.0.0.1.
import t from 'tap';
import { NodeKey } from '../lib/node-key.js';
import { RequestReactor, type RequestReactorOptions } from '../lib/request-reactor.js';
import { Switch } from '../lib/switch.js';
import type { Peer } from '../lib/peer.js';
import { encodeResponse } from '../lib/request-wire.js';
import { peerRemoved } from './helpers/switches.js';
import {
  OTHER_CHANNEL,
  OtherReactor,
  REQ_CHANNEL,
  scriptedHandler,
  startRequestPeer,
  type PeerConfig,
  type RequestPeerProcess,
} from './helpers/request-peer.js';
import type { Teardown } from './helpers/teardown.js';
import { sleep } from './helpers/time.js';

type Ev = Record<string, unknown>;

/** A Switch here with a RequestReactor (scripted handler), connected to a fresh child. */
async function pair(
  t: Teardown,
  opts: { here?: Omit<RequestReactorOptions, 'channelId' | 'handler'>; child?: PeerConfig; other?: boolean } = {},
): Promise<{ sw: Switch; rr: RequestReactor; peer: Peer; child: RequestPeerProcess; events: Ev[] }> {
  const events: Ev[] = [];
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'req-test', moniker: 'here' },
    config: { listenAddress: '127.0.0.1:0' },
  });
  const rr = sw.addReactor(new RequestReactor({ channelId: REQ_CHANNEL, handler: scriptedHandler((e) => events.push(e)), ...opts.here }));
  if (opts.other) sw.addReactor(new OtherReactor((e) => events.push(e)));
  await sw.start();
  t.teardown(() => sw.stop());
  const child = await startRequestPeer(t, opts.child ?? {});
  const peer = await sw.dialPeerWithAddress(child.addr);
  await child.waitFor((e) => e.ev === 'peer');
  return { sw, rr, peer, child, events };
}

const rejects = (p: Promise<unknown>): Promise<{ code?: string } & Record<string, unknown>> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: { code?: string } & Record<string, unknown>) => err,
  );

t.test('requests are answered, both ways; a remote handler error keeps the peer; a response over the limit is refused', async (t) => {
  const { sw, rr, peer, child } = await pair(t, { here: { maxResponseBytes: 1000 }, child: { reactor: { maxResponseBytes: 1000 } } });
  t.equal(Buffer.from(await rr.request(peer, Buffer.from('echo:hello'))).toString(), 'hello');
  const many = await Promise.all(Array.from({ length: 10 }, (_, i) => rr.request(peer, Buffer.from(`echo:${i}`))));
  t.same(
    many.map((b) => Buffer.from(b).toString()),
    Array.from({ length: 10 }, (_, i) => String(i)),
    'concurrent requests are correlated',
  );
  child.send({ cmd: 'request', tag: 'back', body: 'echo:from child' });
  t.match(await child.waitFor((e) => e.tag === 'back'), { ok: true, text: 'from child' }, 'the child asks us');

  const remote = await rejects(rr.request(peer, Buffer.from('fail:E_NOT_FOUND:no such block')));
  t.match(remote, { code: 'ERR_REMOTE_ERROR', remoteCode: 'E_NOT_FOUND', remoteMessage: 'no such block' });
  t.match(await rejects(rr.request(peer, Buffer.from('big:5000'))), { code: 'ERR_RESPONSE_TOO_LARGE' });
  t.equal(Buffer.from(await rr.request(peer, Buffer.from('big:1000'))).length, 1000, 'exactly the limit passes');
  t.match(
    await rejects(rr.request(peer, Buffer.alloc(2 << 20))),
    { code: 'ERR_MESSAGE_TOO_LARGE' },
    'a request over maxRequestBytes is refused locally',
  );
  t.equal(sw.peers.get(peer.id), peer, 'still connected after the errors');
  t.same(rr.inFlight(peer), { outgoing: 0, incoming: 0 });
});

t.test('a request that times out, and an aborted one: the remote handler is aborted through its signal', async (t) => {
  const { sw, rr, peer, child } = await pair(t, { here: { stallLimit: 0 } });
  const started = Date.now();
  t.match(await rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 300 })), { code: 'ERR_REQUEST_TIMEOUT' });
  t.ok(Date.now() - started >= 290, 'not before its timeout');
  t.match(await child.waitFor((e) => e.ev === 'aborted'), { body: 'stall' }, 'the remote handler was aborted');

  const ac = new AbortController();
  const p = rejects(rr.request(peer, Buffer.from('stall'), { signal: ac.signal, timeoutMs: 60_000 }));
  await child.waitFor((e) => e.ev === 'handling' && child.count((x) => x.ev === 'handling') === 2);
  ac.abort();
  t.match(await p, { code: 'ERR_REQUEST_ABORTED' });
  t.match(
    await child.waitFor((e) => e.ev === 'aborted' && child.count((x) => x.ev === 'aborted') === 2),
    { code: 'ERR_REQUEST_ABORTED' },
    'the cancel reached the handler',
  );
  // the slots come back once the remote has answered the cancelled requests
  for (let i = 0; i < 200 && rr.inFlight(peer).outgoing > 0; i++) await sleep(10);
  t.same(rr.inFlight(peer), { outgoing: 0, incoming: 0 });
  t.equal(sw.peers.get(peer.id), peer, 'timeouts with stallLimit 0 never disconnect');
  t.equal(Buffer.from(await rr.request(peer, Buffer.from('echo:still here'))).toString(), 'still here');
});

t.test('a handler past its deadline is aborted and answered with ERR_REQUEST_TIMEOUT', async (t) => {
  // the child's reactor allows handlers 200 ms; we wait longer than that
  const { rr, peer, child } = await pair(t, { child: { reactor: { timeoutMs: 200 } } });
  const err = await rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 30_000 }));
  t.match(
    err,
    { code: 'ERR_REQUEST_TIMEOUT', message: /remote: handler ran past its deadline of 200 ms/ },
    "the responder's deadline is a timeout to the requester too",
  );
  t.match(await child.waitFor((e) => e.ev === 'aborted'), { code: 'ERR_REQUEST_TIMEOUT' });
});

t.test('a peer removed with requests pending: all reject at once, no timer left', async (t) => {
  const { sw, rr, peer, child } = await pair(t);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const pending = Array.from({ length: 5 }, () => rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 60_000 })));
  await child.waitFor(() => child.count((x) => x.ev === 'handling') === 5);
  t.ok(timers() >= before + 5, 'one timer per request');
  const settled: string[] = [];
  for (const p of pending) void p.then((e) => settled.push(e.code!));
  const removed = peerRemoved(sw, peer.id);
  child.child.kill('SIGKILL');
  await removed;
  await new Promise((r) => setImmediate(r));
  t.same(settled, Array(5).fill('ERR_PEER_REMOVED'), 'every pending request rejected by the time the removal is seen');
  t.ok(timers() <= before, `no request timer left (${timers()} ≤ ${before})`);
  t.same(rr.inFlight(peer), { outgoing: 0, incoming: 0 });
  t.match(await rejects(rr.request(peer, Buffer.from('echo:x'))), { code: 'ERR_PEER_REMOVED' }, 'a request to a gone peer');
});

t.test('the in-flight limit, both directions', async (t) => {
  // here: 2 at a time; the child allows itself 8
  const { sw, rr, peer, child } = await pair(t, {
    here: { maxInFlightPerPeer: 2, stallLimit: 0 },
    child: { reactor: { maxInFlightPerPeer: 8 } },
  });
  const a = rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 60_000 }));
  const b = rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 60_000 }));
  t.match(await rejects(rr.request(peer, Buffer.from('echo:x'))), { code: 'ERR_TOO_MANY_REQUESTS' }, 'local limit');
  t.same(rr.inFlight(peer).outgoing, 2);
  // the child sends 3 stalling requests at once: one more than we allow
  const violation = peerRemoved(sw, peer.id);
  for (const tag of ['1', '2', '3']) child.send({ cmd: 'request', tag, body: 'stall', timeoutMs: 60_000 });
  t.match(await violation, { code: 'ERR_PROTOCOL_VIOLATION' }, 'the remote exceeded our limit: disconnected');
  t.match(await a, { code: 'ERR_PEER_REMOVED' });
  t.match(await b, { code: 'ERR_PEER_REMOVED' });
  t.match(await child.waitFor((e) => e.tag === '3'), { ok: false, code: 'ERR_PEER_REMOVED' });
});

t.test('a stalling peer is dropped after stallLimit timeouts in a row; an answer resets the count', async (t) => {
  const { sw, rr, peer } = await pair(t, { here: { stallLimit: 2 } });
  t.match(await rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 200 })), { code: 'ERR_REQUEST_TIMEOUT' });
  t.equal(Buffer.from(await rr.request(peer, Buffer.from('echo:alive'))).toString(), 'alive', 'an answer in time resets the count');
  t.match(await rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 200 })), { code: 'ERR_REQUEST_TIMEOUT' });
  t.equal(sw.peers.get(peer.id), peer, 'one timeout in a row is tolerated');
  const removed = peerRemoved(sw, peer.id);
  t.match(await rejects(rr.request(peer, Buffer.from('stall'), { timeoutMs: 200 })), { code: 'ERR_REQUEST_TIMEOUT' });
  t.match(await removed, { code: 'ERR_STALL_TIMEOUT' });
});

/** A Switch with a RequestReactor here, connected to a child that writes raw bytes on the request channel. */
async function rawPair(t: Parameters<typeof startRequestPeer>[0]) {
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'req-test' }, config: { listenAddress: '127.0.0.1:0' } });
  sw.addReactor(new RequestReactor({ channelId: REQ_CHANNEL }));
  await sw.start();
  t.teardown(() => sw.stop());
  const child = await startRequestPeer(t, { mode: 'raw' });
  const peer = await sw.dialPeerWithAddress(child.addr);
  await child.waitFor((e) => e.ev === 'peer');
  return { sw, child, peer };
}

t.test('an answer to a request never sent is a protocol violation', async (t) => {
  const { sw, child, peer } = await rawPair(t);
  const removed = peerRemoved(sw, peer.id);
  child.send({ cmd: 'raw', hex: Buffer.from(encodeResponse(77, Buffer.from('unasked'))).toString('hex') });
  t.match(await removed, { code: 'ERR_PROTOCOL_VIOLATION', message: /never sent/ });
});

t.test('a malformed header disconnects with ERR_MALFORMED_PACKET', async (t) => {
  const { sw, child, peer } = await rawPair(t);
  const removed = peerRemoved(sw, peer.id);
  child.send({ cmd: 'raw', hex: '09000000' });
  t.match(await removed, { code: 'ERR_MALFORMED_PACKET' });
});

t.test('channel versions: [1,2] and [1] agree on 1', async (t) => {
  const { rr, peer, child } = await pair(t, { here: { versions: [1, 2] }, child: { versions: [1] } });
  t.equal(peer.channelVersion(REQ_CHANNEL), 1);
  t.match(await child.waitFor((e) => e.ev === 'peer'), { version: 1 }, 'the other side agrees');
  t.equal(Buffer.from(await rr.request(peer, Buffer.from('version'))).toString(), '1', 'the handler sees the agreed version');
});

t.test('channel versions: [2] and [3] leave the channel inactive, the peer stays through another channel', async (t) => {
  const { sw, rr, peer, child, events } = await pair(t, { here: { versions: [2] }, child: { versions: [3], other: true }, other: true });
  t.equal(peer.channelVersion(REQ_CHANNEL), undefined);
  t.equal(peer.channelVersion(OTHER_CHANNEL), 1);
  t.match(await child.waitFor((e) => e.ev === 'peer'), { version: null });
  t.match(await rejects(rr.request(peer, Buffer.from('echo:x'))), { code: 'ERR_CHANNEL_INACTIVE' });
  t.match(await rejects(peer.send(REQ_CHANNEL, Buffer.from('x'))), { code: 'ERR_CHANNEL_INACTIVE' });
  t.equal(peer.trySend(REQ_CHANNEL, Buffer.from('x')), false);
  t.equal(peer.canSend(REQ_CHANNEL), false);
  t.same(await Promise.all(sw.broadcast(REQ_CHANNEL, Buffer.from('x'))), [false], 'broadcast skips the inactive peer');
  t.ok(await peer.send(OTHER_CHANNEL, Buffer.from('over the other channel')));
  await child.waitFor((e) => e.ev === 'other');
  child.send({ cmd: 'other', text: 'and back' });
  for (let i = 0; i < 500 && !events.some((e) => e.ev === 'other'); i++) await sleep(10);
  t.match(
    events.find((e) => e.ev === 'other'),
    { text: 'and back' },
  );
  t.equal(sw.peers.get(peer.id), peer, 'connected');
});

t.test('no channel with a common version: the handshake refuses the peer', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'req-test' }, config: { listenAddress: '127.0.0.1:0' } });
  sw.addReactor(new RequestReactor({ channelId: REQ_CHANNEL, versions: [2] }));
  await sw.start();
  t.teardown(() => sw.stop());
  const child = await startRequestPeer(t, { versions: [3] });
  t.match(await rejects(sw.dialPeerWithAddress(child.addr)), { code: 'ERR_INCOMPATIBLE_PEER', message: /no common channel version/ });
  t.equal(sw.peers.size, 0);
});

t.test('options are validated', async (t) => {
  t.throws(() => new RequestReactor({ channelId: 1, timeoutMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new RequestReactor({ channelId: 1, maxInFlightPerPeer: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new RequestReactor({ channelId: 1, stallLimit: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
  const { rr, peer } = await pair(t);
  t.match(await rejects(rr.request(peer, Buffer.from('echo:x'), { timeoutMs: -5 })), { code: 'ERR_INVALID_ARGUMENT' });
  const ac = new AbortController();
  ac.abort();
  t.match(await rejects(rr.request(peer, Buffer.from('echo:x'), { signal: ac.signal })), { code: 'ERR_REQUEST_ABORTED' });
});

t.test('a fire-and-forget send on an inactive channel does not crash the process', async (t) => {
  const { peer } = await pair(t, { here: { versions: [2] }, child: { versions: [3], other: true }, other: true });
  let unhandled = 0;
  const on = () => unhandled++;
  process.on('unhandledRejection', on);
  t.teardown(() => process.off('unhandledRejection', on));
  void peer.send(REQ_CHANNEL, Buffer.from('x'));
  // unhandled rejections are reported once the microtask queue drains: two turns of the loop are past that
  for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
  t.equal(unhandled, 0);
  t.match(await rejects(peer.send(REQ_CHANNEL, Buffer.from('x'))), { code: 'ERR_CHANNEL_INACTIVE' }, 'awaiting it still rejects');
});
