/**
 * Issue #14, row 4: a peer that goes quiet after the handshake, stops in the
 * middle of a packet or of a message, or answers only with pongs, must not
 * keep its peer slot: `ERR_IDLE_TIMEOUT` after `idleTimeoutMs` of silence,
 * `ERR_RECV_STALL` for a packet or message left incomplete, and with every
 * inbound slot taken a newcomer replaces the inbound peer that has sent no
 * message for longest (`ERR_PEER_EVICTED`) — never a persistent one.
 */
import t from 'tap';
import { encodePacket } from '../../lib/conn/packet.js';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { ECHO_CHANNEL, EchoReactor } from '../helpers/echo-reactor.js';
import { RawPeer, msgHeader } from '../helpers/raw-peer.js';
import { NETWORK, startTarget } from '../helpers/target.js';
import { sleep, within } from '../helpers/time.js';
import type { Teardown } from '../helpers/teardown.js';

async function newcomer(t: Teardown): Promise<Switch> {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK, moniker: 'newcomer' },
    config: { listenAddress: '127.0.0.1:0' },
  });
  sw.addReactor(new EchoReactor());
  await sw.start();
  t.teardown(() => sw.stop());
  return sw;
}

t.test('a peer that goes quiet after the handshake is dropped with ERR_IDLE_TIMEOUT', async (t) => {
  const target = await startTarget(t, { mconn: { pingIntervalMs: 300, idleTimeoutMs: 600 } });
  const raw = await RawPeer.connect(t, target.port);
  await raw.join(); // and then nothing, not even pongs
  const r = await target.log.forRaw(raw, 5000);
  t.equal(r.code, 'ERR_IDLE_TIMEOUT', 'disconnected with ERR_IDLE_TIMEOUT (the pong timeout is 45 s)');
});

t.test('a peer that stops in the middle of a packet is dropped with ERR_RECV_STALL', async (t) => {
  const target = await startTarget(t, { mconn: { packetTimeoutMs: 500 } });
  const raw = await RawPeer.connect(t, target.port);
  await raw.join();
  raw.sendPlain(Buffer.concat([msgHeader(ECHO_CHANNEL, 0x01, 100), Buffer.alloc(10, 1)])); // 10 of 100 bytes, then nothing
  const r = await target.log.forRaw(raw, 5000);
  t.equal(r.code, 'ERR_RECV_STALL', 'disconnected with ERR_RECV_STALL');
});

t.test('a message whose last packet never comes is dropped with ERR_RECV_STALL, even with keepalive answered', async (t) => {
  const target = await startTarget(t, { mconn: { messageTimeoutMs: 800, pingIntervalMs: 100 } });
  const raw = await RawPeer.connect(t, target.port);
  raw.autoPong = true;
  await raw.join();
  raw.sendPlain(encodePacket({ type: 'msg', channelId: ECHO_CHANNEL, eof: false, data: Buffer.alloc(100, 1) }));
  const r = await target.log.forRaw(raw, 5000);
  t.equal(r.code, 'ERR_RECV_STALL', 'disconnected with ERR_RECV_STALL');
  t.ok(
    raw.packets.some((p) => p.type === 'ping'),
    'it was answering pings all along',
  );
});

t.test('peers answering only pongs do not hold the inbound slots: a newcomer replaces the idlest', async (t) => {
  const target = await startTarget(t, { maxNumInboundPeers: 2, inboundEvictIdleMs: 300, mconn: { pingIntervalMs: 100 } });
  const squatters: RawPeer[] = [];
  for (let i = 0; i < 2; i++) {
    const raw = await RawPeer.connect(t, target.port);
    raw.autoPong = true;
    await raw.join();
    squatters.push(raw);
  }
  for (let i = 0; i < 200 && target.sw.peers.size < 2; i++) await sleep(10);
  t.equal(target.sw.peers.size, 2, 'the squatters hold every inbound slot');
  await sleep(400); // longer than inboundEvictIdleMs, answering pings meanwhile
  const sw = await newcomer(t);
  await within(sw.dialPeerWithAddress(target.sw.listenAddr), 5000, 'the newcomer connects');
  const r = await target.log.wait((x) => x.code === 'ERR_PEER_EVICTED', 3000, 'eviction');
  t.equal(r.who, squatters[0]!.key.id, 'the squatter idle for longest was replaced');
  t.ok(target.sw.peers.has(sw.nodeKey.id), 'the newcomer is a peer');
  t.equal(target.sw.peers.size, 2, 'the inbound limit still holds');
});

t.test('a persistent inbound peer is never replaced', async (t) => {
  const target = await startTarget(t, { maxNumInboundPeers: 1, inboundEvictIdleMs: 100, reconnectIntervalMs: 60_000 });
  const raw = await RawPeer.connect(t, target.port);
  raw.autoPong = true;
  target.sw.addPersistentPeers([`${raw.key.id}@127.0.0.1:1`]);
  await raw.join();
  for (let i = 0; i < 200 && !target.sw.peers.has(raw.key.id); i++) await sleep(10);
  await sleep(200);
  const sw = await newcomer(t);
  await sw.dialPeerWithAddress(target.sw.listenAddr).catch(() => {}); // its own side may see the handshake succeed
  const r = await target.log.wait((x) => x.kind === 'inbound' && x.who.startsWith(sw.nodeKey.id), 3000, 'refusal of the newcomer');
  t.equal(r.code, 'ERR_TOO_MANY_PEERS', 'with ERR_TOO_MANY_PEERS');
  t.ok(target.sw.peers.has(raw.key.id), 'the persistent peer stays');
});
