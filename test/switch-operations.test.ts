// The Switch as operators need it: limits, races, filters, bans, lifecycle, metrics.
import t from 'tap';
import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { P2PMetrics } from '../lib/metrics.js';
import { BaseReactor, type Envelope } from '../lib/reactor.js';
import type { Peer } from '../lib/peer.js';
import type { SwitchboardError } from '../lib/errors.js';
import { connect, peerAdded, peerRemoved, startSwitch } from './helpers/switches.js';
import { deferred } from './helpers/net.js';

/** Resolves once `n` inbound outcomes (peer added or refused) happened at `sw`. */
function inboundOutcomes(sw: Switch, n: number) {
  const added: Peer[] = [];
  const refused: SwitchboardError[] = [];
  const done = deferred();
  const check = () => added.length + refused.length >= n && done.resolve();
  sw.on('peer:add', (p) => !p.isOutbound() && (added.push(p), check()));
  sw.on('peer:dial-failed', (_a, e) => (refused.push(e), check()));
  return { added, refused, done: done.promise };
}

t.test('max inbound 5: five accepted, the sixth refused, two unconditional beyond the limit', async (t) => {
  const hub = await startSwitch(t, { config: { maxNumInboundPeers: 5 } });
  const outcome = inboundOutcomes(hub.sw, 6);
  const clients = await Promise.all(Array.from({ length: 5 }, () => startSwitch(t)));
  const sixth = await startSwitch(t);
  for (const c of clients) await connect(c.sw, hub.sw);
  await sixth.sw.dialPeerWithAddress(hub.sw.listenAddr).catch(() => {});
  await outcome.done;
  t.equal(outcome.added.length, 5);
  t.same(
    outcome.refused.map((e) => e.code),
    ['ERR_TOO_MANY_PEERS'],
  );
  const vips = await Promise.all([startSwitch(t), startSwitch(t)]);
  hub.sw.addUnconditionalPeerIds(vips.map((v) => v.sw.nodeKey.id));
  for (const v of vips) await connect(v.sw, hub.sw);
  t.equal(hub.sw.peers.size, 7, '5 + 2 unconditional');
});

t.test('twenty concurrent connections of the same peer end with exactly one', async (t) => {
  const hub = await startSwitch(t);
  const key = NodeKey.generate();
  const outcome = inboundOutcomes(hub.sw, 20);
  const twins = await Promise.all(Array.from({ length: 20 }, () => startSwitch(t, { key })));
  await Promise.allSettled(twins.map((tw) => tw.sw.dialPeerWithAddress(hub.sw.listenAddr)));
  await outcome.done;
  t.equal(outcome.added.length, 1, 'one accepted');
  t.ok(
    outcome.refused.every((e) => e.code === 'ERR_DUPLICATE_PEER'),
    'the others refused as duplicates',
  );
  t.equal(hub.sw.peers.size, 1);
});

t.test('two nodes dialing each other at once end with one connection, 50 times out of 50', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  const lowIsA = a.sw.nodeKey.id < b.sw.nodeKey.id;
  /** Resolves when `sw` has finished with the other's connection: added it, or refused it. */
  const inboundDone = (sw: Switch, dialed: string) =>
    new Promise<void>((resolve) => {
      const onAdd = (p: Peer) => !p.isOutbound() && finish();
      const onFail = (addr: string) => addr !== dialed && finish();
      const finish = () => {
        sw.off('peer:add', onAdd).off('peer:dial-failed', onFail);
        resolve();
      };
      sw.on('peer:add', onAdd).on('peer:dial-failed', onFail);
    });
  let ok = 0;
  for (let i = 0; i < 50; i++) {
    const aAddr = a.sw.listenAddr.toString();
    const bAddr = b.sw.listenAddr.toString();
    const both = Promise.all([inboundDone(a.sw, bAddr), inboundDone(b.sw, aAddr)]);
    await Promise.allSettled([a.sw.dialPeerWithAddress(bAddr), b.sw.dialPeerWithAddress(aAddr)]);
    await both;
    const pa = a.sw.peers.get(b.sw.nodeKey.id);
    const pb = b.sw.peers.get(a.sw.nodeKey.id);
    // one connection, and it is the one dialed by the lower ID, on both sides
    if (pa && pb && a.sw.peers.size === 1 && b.sw.peers.size === 1 && pa.isOutbound() === lowIsA && pb.isOutbound() === !lowIsA) ok++;
    if (!pa || !pb) continue;
    const gone = Promise.all([peerRemoved(a.sw, b.sw.nodeKey.id), peerRemoved(b.sw, a.sw.nodeKey.id)]);
    a.sw.stopPeerForError(pa, new Error('next round'));
    await gone;
  }
  t.equal(ok, 50);
});

t.test('a filter that rejects and one that times out each refuse with their own error', async (t) => {
  const sw1 = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'test' },
    config: { listenAddress: '127.0.0.1:0' },
    connFilters: [
      ({ host }) => {
        if (host === '127.0.0.1') throw new Error('no loopback please');
      },
    ],
  });
  const sw2 = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'test' },
    config: { listenAddress: '127.0.0.1:0', filterTimeoutMs: 100 },
    peerFilters: [() => new Promise(() => {})],
  });
  for (const sw of [sw1, sw2]) {
    sw.addReactor(
      new (class extends BaseReactor {
        getChannels() {
          return [{ id: 0x20 }];
        }
      })('r'),
    );
    await sw.start();
    t.teardown(() => sw.stop());
  }
  const client = await startSwitch(t);
  const r1 = once(sw1, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await client.sw.dialPeerWithAddress(sw1.listenAddr).catch(() => {});
  const [, e1] = await r1;
  t.equal(e1.code, 'ERR_FILTER');
  t.match(e1.message, /no loopback please/);
  const r2 = once(sw2, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await client.sw.dialPeerWithAddress(sw2.listenAddr).catch(() => {});
  const [, e2] = await r2;
  t.equal(e2.code, 'ERR_FILTER_TIMEOUT');
  t.equal(sw1.peers.size + sw2.peers.size, 0);
  // peer filters also apply to our own dials
  await t.rejects(sw2.dialPeerWithAddress(client.sw.listenAddr), { code: 'ERR_FILTER_TIMEOUT' });
});

t.test('a banned peer is disconnected and refused until the ban ends', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const removed = peerRemoved(a.sw, b.sw.nodeKey.id);
  const removedAtB = peerRemoved(b.sw, a.sw.nodeKey.id);
  // bans run on Date.now: the test moves that clock instead of waiting out the ban
  const realNow = Date.now;
  let offset = 0;
  Date.now = () => realNow() + offset;
  t.teardown(() => void (Date.now = realNow));
  a.sw.banPeer(b.sw.nodeKey.id, 60_000);
  t.match(await removed, { code: 'ERR_BANNED' });
  await removedAtB;
  await t.rejects(a.sw.dialPeerWithAddress(b.sw.listenAddr), { code: 'ERR_BANNED' }, 'dial refused');
  const refused = once(a.sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await b.sw.dialPeerWithAddress(a.sw.listenAddr).catch(() => {});
  t.equal((await refused)[1].code, 'ERR_BANNED', 'inbound refused');
  offset = 59_000;
  t.equal(a.sw.isBanned(b.sw.nodeKey.id), true, 'still banned 1 s before the end');
  offset = 60_001;
  t.equal(a.sw.isBanned(b.sw.nodeKey.id), false, 'not banned once the 60 s have passed');
  await connect(a.sw, b.sw);
  t.equal(a.sw.peers.size, 1, 'accepted again after the ban');
  t.throws(() => a.sw.banPeer('not-an-address', 10), { code: 'ERR_INVALID_ADDRESS' });
  t.throws(() => a.sw.banPeer(b.sw.nodeKey.id, 0), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('a stalled handshake does not delay a good peer; past the handshake cap a newcomer evicts the oldest stalled one', async (t) => {
  const a = await startSwitch(t, { config: { handshakeTimeoutMs: 60_000, maxHandshaking: 2 } });
  const raw: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = tcpConnect(a.sw.listenAddr.port, '127.0.0.1');
    t.teardown(() => s.destroy());
    s.resume(); // read, so the node's close is seen
    await once(s, 'connect');
    raw.push(s);
  }
  // wait until both stalled connections are in the handshake
  while (a.sw.handshakingCount < 2) await new Promise((r) => setImmediate(r));
  const third = tcpConnect(a.sw.listenAddr.port, '127.0.0.1');
  t.teardown(() => third.destroy());
  const [oldest] = raw;
  if (!oldest) return t.fail('no stalled connection');
  await once(oldest, 'close');
  t.pass('a connection beyond maxHandshaking evicts the oldest stalled one');
  t.equal(a.sw.handshakingCount, 2, 'the cap still holds');
  // both slots are held by stalled connections, yet a good peer's handshake completes
  const b = await startSwitch(t);
  await connect(b.sw, a.sw);
  t.equal(a.sw.handshakingCount, 1, 'one stalled handshake is still pending');
  t.equal(a.sw.peers.size, 1);
});

t.test('the outbound limit holds with persistent peers and manual dials racing', async (t) => {
  const a = await startSwitch(t, { config: { maxNumOutboundPeers: 2, reconnectIntervalMs: 50 } });
  const others = await Promise.all(Array.from({ length: 6 }, () => startSwitch(t)));
  let maxSeen = 0;
  a.sw.on('peer:add', () => (maxSeen = Math.max(maxSeen, a.sw.peers.numOutbound())));
  a.sw.addPersistentPeers(others.slice(0, 3).map((o) => o.sw.listenAddr));
  const manual = await Promise.allSettled(others.slice(3).map((o) => a.sw.dialPeerWithAddress(o.sw.listenAddr)));
  const refused = manual.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code);
  t.ok(
    refused.every((c) => c === 'ERR_TOO_MANY_PEERS'),
    `refusals: ${refused.join(',')}`,
  );
  while (a.sw.peers.numOutbound() < 2) await once(a.sw, 'peer:add');
  t.equal(a.sw.peers.numOutbound(), 2);
  t.ok(maxSeen <= 2, `never more than 2 outbound (saw ${maxSeen})`);
});

t.test('a reactor message filter refuses raw bytes; the sender is disconnected with ERR_MESSAGE_REJECTED', async (t) => {
  class Picky extends BaseReactor {
    getChannels() {
      return [{ id: 0x20 }];
    }
    filterMessage(e: Envelope): boolean {
      return e.message.length <= 10;
    }
  }
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0' } });
  sw.addReactor(new Picky('picky'));
  await sw.start();
  t.teardown(() => sw.stop());
  const b = await startSwitch(t);
  await connect(b.sw, sw);
  const errored = once(sw, 'peer:error') as Promise<[Peer, SwitchboardError]>;
  await b.sw.peers.get(sw.nodeKey.id)!.send(0x20, Buffer.alloc(11));
  t.equal((await errored)[1].code, 'ERR_MESSAGE_REJECTED');
});

t.test('a peer that reconnects while being removed gets initPeer only after removePeer finished', async (t) => {
  const log: string[] = [];
  const release = deferred();
  class Slow extends BaseReactor {
    getChannels() {
      return [{ id: 0x20 }];
    }
    override initPeer() {
      log.push('init');
    }
    override async removePeer() {
      log.push('remove-start');
      await release.promise;
      log.push('remove-done');
    }
  }
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0' } });
  sw.addReactor(new Slow('slow'));
  await sw.start();
  t.teardown(async () => {
    release.resolve();
    await sw.stop();
  });
  const b = await startSwitch(t);
  await connect(b.sw, sw);
  const bGone = peerRemoved(b.sw, sw.nodeKey.id);
  sw.stopPeerForError(sw.peers.get(b.sw.nodeKey.id)!, new Error('go away'));
  await bGone;
  // b reconnects at once; sw must hold it until removePeer has finished
  const dial = b.sw.dialPeerWithAddress(sw.listenAddr);
  while (sw.handshakingCount > 0 || log.length < 1) await new Promise((r) => setImmediate(r));
  t.same(log, ['init', 'remove-start']);
  release.resolve();
  await dial;
  await peerAdded(sw, b.sw.nodeKey.id);
  t.same(log, ['init', 'remove-start', 'remove-done', 'init']);
});

t.test('metrics count peers by direction, bytes by channel, and dials by outcome', async (t) => {
  const metrics = new P2PMetrics();
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0' }, metrics });
  sw.addReactor(
    new (class extends BaseReactor {
      getChannels() {
        return [{ id: 0x20 }];
      }
    })('r'),
  );
  await sw.start();
  t.teardown(() => sw.stop());
  const b = await startSwitch(t);
  const peer = await sw.dialPeerWithAddress(b.sw.listenAddr);
  await peer.send(0x20, Buffer.alloc(1000));
  await b.reactor.receivedCount(1);
  await t.rejects(sw.dialPeerWithAddress(sw.listenAddr));
  const text = await metrics.registry.metrics();
  t.match(text, /switchboard_p2p_peers\{direction="outbound"\} 1/);
  t.match(text, /switchboard_p2p_peer_send_bytes_total\{channel="0x20"\} 1000/);
  t.match(text, /switchboard_p2p_dials_total\{outcome="ok"\} 1/);
  t.match(text, /switchboard_p2p_dials_total\{outcome="ERR_SELF_CONNECTION"\} 1/);
});

t.test('the redial schedule (CometBFT’s reconnectToPeer): 20 equal waits, then 10 that triple, each plus up to 3 s jitter', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate() });
  const d = sw.reconnectSchedule(() => 0);
  t.equal(d.length, 30, '20 linear + 10 exponential attempts, then give up');
  t.same(d.slice(0, 20), Array(20).fill(5000), 'linear phase: every wait is reconnectIntervalMs');
  // the exponential phase restarts from its own base, which may be below the interval: d[20] < d[19] is by design
  t.equal(d[20], 3000, 'the exponential phase starts at reconnectBackoffBaseMs');
  for (let i = 21; i < 30; i++) t.equal(d[i], 3 * d[i - 1]!, `exponential attempt ${i - 20} waits 3× the previous one`);
  const jittered = sw.reconnectSchedule(() => 1);
  jittered.forEach((x, i) => {
    if (x - d[i]! !== 3000) t.fail(`attempt ${i}: jitter ${x - d[i]!} ms, want at most 3000 (here exactly: random() = 1)`);
  });
  t.equal(jittered[0], 8000, 'up to 3 s jitter');
  const small = new Switch({ nodeKey: NodeKey.generate(), config: { reconnectIntervalMs: 50 } }).reconnectSchedule(() => 1);
  t.equal(small[0], 100, 'jitter is at most the interval when that is under 3 s');
});

t.test('an invalid config is refused with every bad field named', async (t) => {
  t.throws(() => new Switch({ nodeKey: NodeKey.generate(), config: { maxNumInboundPeers: -1, bogus: true } as never }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /maxNumInboundPeers.*bogus/,
  });
  t.throws(() => new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: 'nope' } }), { code: 'ERR_INVALID_ADDRESS' });
});
