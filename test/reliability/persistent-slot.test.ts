/**
 * Found by the churn soak: while a persistent peer is away, PEX (or any
 * other dial) must not take every outbound slot, or the persistent peer's
 * redial is refused with ERR_TOO_MANY_PEERS for as long as those peers stay.
 * Each persistent peer being redialed keeps one outbound slot.
 */
import t from 'tap';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { NodeKey } from '../../lib/node-key.js';
import { freePort } from '../helpers/net.js';
import { peerAdded, peerRemoved, startSwitch } from '../helpers/switches.js';

t.test('a persistent peer that went away gets its outbound slot back when it returns', async (t) => {
  const port = await freePort();
  const pKey = NodeKey.generate();
  const p = await startSwitch(t, { key: pKey, config: { listenAddress: `127.0.0.1:${port}` } });
  const a = await startSwitch(t, { config: { maxNumOutboundPeers: 2, reconnectIntervalMs: 100, dialTimeoutMs: 500 } });
  a.sw.addPersistentPeers([p.sw.listenAddr]);
  await peerAdded(a.sw, pKey.id);

  const gone = peerRemoved(a.sw, pKey.id);
  await p.sw.stop();
  await gone;
  t.equal(a.sw.numOutboundPeersAndDials(), 1, 'the away persistent peer keeps one outbound slot');

  // meanwhile others try to take every outbound slot
  const others = await Promise.all([startSwitch(t), startSwitch(t), startSwitch(t)]);
  const dials = await Promise.allSettled(others.map((o) => a.sw.dialPeerWithAddress(o.sw.listenAddr)));
  const ok = dials.filter((d) => d.status === 'fulfilled').length;
  t.equal(ok, 1, 'only one of the other dials got a slot');
  t.ok(
    dials.every((d) => d.status === 'fulfilled' || (d.reason as { code?: string }).code === 'ERR_TOO_MANY_PEERS'),
    'the rest were refused with ERR_TOO_MANY_PEERS',
  );

  await startSwitch(t, { key: pKey, config: { listenAddress: `127.0.0.1:${port}` } }); // P again, on its old port
  const back = await peerAdded(a.sw, pKey.id);
  t.ok(back.isOutbound(), 'the persistent peer was redialed into its kept slot');
  t.equal(a.sw.peers.numOutbound(), 2, 'and the outbound limit still holds');
});

t.test('a persistent peer connected inbound holds an outbound slot, so its redial is not refused when it drops', async (t) => {
  const port = await freePort();
  const pKey = NodeKey.generate();
  // Until P's real node listens on its advertised port, that port hangs up on every connection: A's
  // redials of P fail however fast or slow they come, so P's own dial reaches A first whatever the load.
  const refuser = createServer((s) => s.destroy());
  refuser.listen(port, '127.0.0.1');
  await once(refuser, 'listening');
  t.teardown(() => refuser.close());
  const a = await startSwitch(t, {
    config: { maxNumOutboundPeers: 2, reconnectIntervalMs: 100, dialTimeoutMs: 500, persistentPeers: [`${pKey.id}@127.0.0.1:${port}`] },
  });
  // P listens elsewhere but advertises the persistent address
  const p = await startSwitch(t, { key: pKey, config: { externalAddress: `127.0.0.1:${port}` } });
  const inbound = peerAdded(a.sw, pKey.id);
  await p.sw.dialPeerWithAddress(a.sw.listenAddr);
  t.notOk((await inbound).isOutbound(), 'P is connected inbound');
  t.equal(a.sw.numOutboundPeersAndDials(), 1, 'and holds one of the two outbound slots');

  const others = await Promise.all([startSwitch(t), startSwitch(t)]);
  const dials = await Promise.allSettled(others.map((o) => a.sw.dialPeerWithAddress(o.sw.listenAddr)));
  t.equal(dials.filter((d) => d.status === 'fulfilled').length, 1, 'only one other dial got a slot');

  const gone = peerRemoved(a.sw, pKey.id);
  await p.sw.stop();
  await gone;
  await new Promise((r) => refuser.close(r));
  await startSwitch(t, { key: pKey, config: { listenAddress: `127.0.0.1:${port}` } }); // P again, on its old port
  const back = await peerAdded(a.sw, pKey.id);
  t.ok(back.isOutbound(), 'A redialed P when it came back');
  t.equal(a.sw.peers.numOutbound(), 2, 'within the outbound limit');
});
