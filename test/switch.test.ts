import t from 'tap';
import { once } from 'node:events';
import { NodeKey } from '../lib/node-key.js';
import { NetAddress } from '../lib/net-address.js';
import { Switch } from '../lib/switch.js';
import { BaseReactor } from '../lib/reactor.js';
import type { SwitchboardError } from '../lib/errors.js';
import { connect, peerAdded, peerRemoved, RecordingReactor, startSwitch } from './helpers/switches.js';

t.test('two switches: reactors receive on their channels, in order, after addPeer', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const pa = b.sw.peers.get(a.sw.nodeKey.id)!;
  t.equal(pa.isOutbound(), false);
  t.equal(a.sw.peers.get(b.sw.nodeKey.id)!.isOutbound(), true);
  for (let i = 0; i < 10; i++) t.equal(await a.sw.peers.get(b.sw.nodeKey.id)!.send(0x20, Buffer.from(`m${i}`)), true);
  await b.reactor.receivedCount(10);
  t.same(
    b.reactor.received.map((r) => r.msg.toString()),
    Array.from({ length: 10 }, (_, i) => `m${i}`),
  );
  const aid = a.sw.nodeKey.id;
  t.same(b.reactor.calls.slice(0, 3), [`init:${aid}`, `add:${aid}`, `receive:${aid}`], 'initPeer → addPeer → receive');
});

t.test('three switches: broadcast reaches every peer', async (t) => {
  const [a, b, c] = await Promise.all([startSwitch(t), startSwitch(t), startSwitch(t)]);
  await connect(a.sw, b.sw);
  await connect(a.sw, c.sw);
  await connect(b.sw, c.sw);
  const results = await Promise.all(a.sw.broadcast(0x20, Buffer.from('hello all')));
  t.same(results, [true, true]);
  await Promise.all([b.reactor.receivedCount(1), c.reactor.receivedCount(1)]);
  t.equal(b.reactor.received[0]?.msg.toString(), 'hello all');
  t.equal(c.reactor.received[0]?.from, a.sw.nodeKey.id);
});

t.test('a duplicate channel id throws ERR_CHANNEL_TAKEN', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '127.0.0.1:0' } });
  sw.addReactor(new RecordingReactor([{ id: 5 }], 'one'));
  t.throws(() => sw.addReactor(new RecordingReactor([{ id: 6 }, { id: 5 }], 'two')), { code: 'ERR_CHANNEL_TAKEN' });
  t.throws(() => sw.addReactor(new RecordingReactor([{ id: 7 }], 'one')), { code: 'ERR_INVALID_ARGUMENT' });
});

t.test('self-dial is rejected', async (t) => {
  const a = await startSwitch(t);
  await t.rejects(a.sw.dialPeerWithAddress(a.sw.listenAddr), { code: 'ERR_SELF_CONNECTION' });
  t.equal(a.sw.peers.size, 0);
});

t.test('a second connection to a connected peer is rejected', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const failedAtA = once(a.sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await t.rejects(a.sw.dialPeerWithAddress(b.sw.listenAddr), { code: 'ERR_DUPLICATE_PEER' });
  const [addrA, errA] = await failedAtA;
  t.equal(addrA, b.sw.listenAddr.toString(), 'A reports the refused dial with the address it dialed');
  t.equal(errA.code, 'ERR_DUPLICATE_PEER');
  // b dialing a while connected: refused by b before dialing
  const failedAtB = once(b.sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await t.rejects(b.sw.dialPeerWithAddress(a.sw.listenAddr), { code: 'ERR_DUPLICATE_PEER' });
  const [addrB, errB] = await failedAtB;
  t.equal(addrB, a.sw.listenAddr.toString(), 'B reports its refused dial too');
  t.equal(errB.code, 'ERR_DUPLICATE_PEER');
  t.equal(a.sw.peers.size, 1);
  t.equal(b.sw.peers.size, 1);
});

t.test('a remote with another ID than dialed is rejected before any reactor sees it', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  const wrong = new NetAddress(NodeKey.generate().id, b.sw.listenAddr.host, b.sw.listenAddr.port);
  await t.rejects(a.sw.dialPeerWithAddress(wrong), { code: 'ERR_AUTH' });
  t.same(a.reactor.calls, []);
  t.equal(a.sw.peers.size, 0);
});

t.test('peers on another network are refused as incompatible', async (t) => {
  const a = await startSwitch(t, { network: 'one' });
  const b = await startSwitch(t, { network: 'two' });
  await t.rejects(a.sw.dialPeerWithAddress(b.sw.listenAddr), { code: 'ERR_INCOMPATIBLE_PEER' });
});

t.test('stopping a peer calls removePeer on every reactor, once', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const removedAtB = peerRemoved(b.sw, a.sw.nodeKey.id);
  const peer = a.sw.peers.get(b.sw.nodeKey.id)!;
  a.sw.stopPeerForError(peer, new Error('test'));
  a.sw.stopPeerForError(peer, new Error('again'));
  await removedAtB;
  t.equal(a.reactor.calls.filter((c) => c.startsWith('remove:')).length, 1, 'removePeer once at a');
  t.equal(b.reactor.calls.filter((c) => c.startsWith('remove:')).length, 1, 'removePeer once at b');
  t.equal(a.sw.peers.size, 0);
  t.equal(b.sw.peers.size, 0);
});

t.test('stopPeerGracefully delivers what was queued first', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const peer = a.sw.peers.get(b.sw.nodeKey.id)!;
  for (let i = 0; i < 50; i++) peer.trySend(0x20, Buffer.from(`q${i}`));
  await a.sw.stopPeerGracefully(peer);
  await b.reactor.receivedCount(50);
  t.equal(b.reactor.received.at(-1)!.msg.toString(), 'q49');
});

t.test('the outbound limit holds', async (t) => {
  const a = await startSwitch(t, { config: { maxNumOutboundPeers: 1 } });
  const b = await startSwitch(t);
  const c = await startSwitch(t);
  await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  await t.rejects(a.sw.dialPeerWithAddress(c.sw.listenAddr), { code: 'ERR_TOO_MANY_PEERS' });
  a.sw.addUnconditionalPeerIds([c.sw.nodeKey.id]);
  await a.sw.dialPeerWithAddress(c.sw.listenAddr);
  t.equal(a.sw.peers.size, 2, 'unconditional peers bypass the limit');
});

t.test('the inbound limit holds', async (t) => {
  const a = await startSwitch(t, { config: { maxNumInboundPeers: 1 } });
  const b = await startSwitch(t);
  const c = await startSwitch(t);
  await connect(b.sw, a.sw);
  const refused = once(a.sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  const removed = peerRemoved(c.sw, a.sw.nodeKey.id);
  await c.sw.dialPeerWithAddress(a.sw.listenAddr).catch(() => {});
  const [, err] = await refused;
  t.equal(err.code, 'ERR_TOO_MANY_PEERS');
  await removed;
  t.equal(a.sw.peers.size, 1);
});

t.test('a persistent peer is redialed after it drops', async (t) => {
  const key = NodeKey.generate();
  const b1 = await startSwitch(t, { key });
  const port = b1.sw.listenAddr.port;
  const a = await startSwitch(t, { config: { reconnectIntervalMs: 20 } });
  a.sw.addPersistentPeers([b1.sw.listenAddr]);
  await peerAdded(a.sw, key.id);
  t.equal(a.sw.peers.get(key.id)!.isPersistent(), true);
  await b1.sw.stop();
  await peerRemoved(a.sw, key.id);
  // same identity, same port, new process-equivalent
  const b2 = await startSwitch(t, { key, config: { listenAddress: `127.0.0.1:${port}` } });
  await peerAdded(a.sw, key.id);
  await peerAdded(b2.sw, a.sw.nodeKey.id);
  t.equal(a.sw.peers.get(key.id)!.isOutbound(), true, 'a redialed b');
});

t.test('a reactor that throws in receive gets its peer disconnected with ERR_RECEIVE_FAILED', async (t) => {
  class Throwing extends BaseReactor {
    getChannels() {
      return [{ id: 0x20 }];
    }
    override receive(): void {
      throw new Error('cannot decode');
    }
  }
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0' } });
  sw.addReactor(new Throwing('throwing'));
  await sw.start();
  t.teardown(() => sw.stop());
  const b = await startSwitch(t);
  await connect(b.sw, sw);
  const errored = once(sw, 'peer:error') as Promise<[unknown, SwitchboardError]>;
  await b.sw.peers.get(sw.nodeKey.id)!.send(0x20, Buffer.from('x'));
  const [, err] = await errored;
  t.equal(err.code, 'ERR_RECEIVE_FAILED');
});
