// Removing peers: stopPeerForError reports a removal once (peer:remove, peer:error), redials a
// persistent peer but no other, and stopPeerGracefully of a Peer object that is no longer the
// connected one leaves the current connection alone. Over the in-memory transport.
import t from 'tap';
import type { SwitchboardError } from '../lib/errors.js';
import { peerAdded, peerRemoved } from '../lib/testing.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { memSwitch } from './helpers/mem-switch.js';
import { sleep } from './helpers/time.js';

const WAIT = { timeoutMs: 5000 };

t.test('stopPeerForError twice: one removal, one peer:error', async (t) => {
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net);
  const b = await memSwitch(t, net);
  const peer = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const events: string[] = [];
  a.sw.on('peer:remove', (_p, e: SwitchboardError) => events.push(`remove:${e.code}`));
  a.sw.on('peer:error', (_p, e: SwitchboardError) => events.push(`error:${e.code}`));
  a.sw.stopPeerForError(peer, new Error('first'));
  a.sw.stopPeerForError(peer, new Error('second'));
  t.same(events, ['remove:ERR_PEER_ERROR', 'error:ERR_PEER_ERROR']);
  t.same(a.reactor.calls.filter((c) => c.startsWith('remove:')).length, 1);
});

t.test('after an error a persistent peer is redialed, another peer is not', async (t) => {
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net, { config: { reconnectIntervalMs: 20 } });
  const b = await memSwitch(t, net);
  const p = await memSwitch(t, net);
  const peer = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  a.sw.addPersistentPeers([p.sw.listenAddr]);
  const pPeer = await peerAdded(a.sw, p.sw.nodeKey.id, WAIT);
  const connections = net.stats.connections;
  a.sw.stopPeerForError(peer, new Error('bad block'));
  await sleep(200); // ten times the redial interval (20 ms + up to 20 ms jitter): a redial would have connected
  t.equal(a.sw.peers.has(b.sw.nodeKey.id), false, 'b is not redialed');
  t.equal(net.stats.connections, connections, 'no connection opened');
  const back = new Promise<void>((resolve) => a.sw.on('peer:add', (x) => x.id === p.sw.nodeKey.id && resolve()));
  a.sw.stopPeerForError(pPeer, new Error('bad block'));
  await back;
  t.equal(a.sw.peers.get(p.sw.nodeKey.id)?.isOutbound(), true, 'the persistent peer is redialed');
});

t.test('stopPeerGracefully of a Peer that has since reconnected leaves the new connection alone', async (t) => {
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net);
  const b = await memSwitch(t, net);
  const old = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const gone = peerRemoved(b.sw, a.sw.nodeKey.id, WAIT);
  a.sw.stopPeerForError(old, new Error('reset'));
  await gone;
  const now = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  let removed = 0;
  a.sw.on('peer:remove', () => removed++);
  await a.sw.stopPeerGracefully(old);
  t.equal(removed, 0);
  t.equal(a.sw.peers.get(b.sw.nodeKey.id), now);
  t.equal(now.isStopped, false);
  t.equal(await now.send(0x20, Buffer.from('still here')), true);
  await b.reactor.receivedCount(1);
});
