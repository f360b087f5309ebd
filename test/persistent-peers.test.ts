// Persistent peers across real processes: killed with SIGKILL and restarted.
import t from 'tap';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { peerAdded, peerRemoved, startSwitch } from './helpers/switches.js';
import { freePort } from './helpers/net.js';
import { startNodeProcess } from './helpers/processes.js';

t.test('a persistent peer whose process is killed and restarted is reconnected; a non-persistent one is not', async (t) => {
  const home = t.testdir();
  const [pPort, qPort] = [await freePort(), await freePort()];
  const nodeArgs = (name: string, port: number) => [
    '--home',
    join(home, name),
    '--listen',
    `127.0.0.1:${port}`,
    '--network',
    'test',
    '--moniker',
    name,
  ];
  let p = await startNodeProcess(t, nodeArgs('persistent', pPort));
  let q = await startNodeProcess(t, nodeArgs('transient', qPort));
  const hub = await startSwitch(t, { config: { reconnectIntervalMs: 100 }, channels: [{ id: 0x20 }] });
  hub.sw.addPersistentPeers([p.addr]);
  await peerAdded(hub.sw, p.id);
  await hub.sw.dialPeerWithAddress(q.addr);

  const lost = Promise.all([peerRemoved(hub.sw, p.id), peerRemoved(hub.sw, q.id)]);
  p.child.kill('SIGKILL');
  q.child.kill('SIGKILL');
  await Promise.all([p.exited, q.exited]);
  await lost;

  p = await startNodeProcess(t, nodeArgs('persistent', pPort));
  q = await startNodeProcess(t, nodeArgs('transient', qPort));
  const back = await peerAdded(hub.sw, p.id);
  t.equal(back.isOutbound(), true, 'the hub redialed its persistent peer');
  // give the hub several more of its redial intervals: the transient peer stays away
  await sleep(500);
  t.equal(hub.sw.peers.has(q.id), false, 'a non-persistent peer is not redialed');
});
