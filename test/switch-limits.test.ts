// The Switch's duplicate-IP rule: with allowDuplicateIp false, a second
// inbound peer from an IP that already has one is refused (CometBFT's default).
import t from 'tap';
import type { SwitchboardError } from '../lib/errors.js';
import { peerAdded as waitAdded } from '../lib/testing.js';
import { peerAdded, startSwitch } from './helpers/switches.js';

t.test('allowDuplicateIp false: a second peer from 127.0.0.1 is refused with ERR_DUPLICATE_IP; with true it is accepted', async (t) => {
  const s = await startSwitch(t, { config: { allowDuplicateIp: false } });
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  const aIn = peerAdded(s.sw, a.sw.nodeKey.id);
  await a.sw.dialPeerWithAddress(s.sw.listenAddr);
  await aIn;
  // the Switch's verdict on the second connection: refused (with its error) or added
  const verdict = new Promise<string | undefined>((resolve) => {
    s.sw.on('peer:dial-failed', (_addr, err: SwitchboardError) => resolve(err.code));
    const ac = new AbortController(); // b is expected never to be added: end that wait with the test
    t.teardown(() => ac.abort());
    waitAdded(s.sw, b.sw.nodeKey.id, { timeoutMs: 60_000, signal: ac.signal }).then(
      () => resolve('added'),
      () => {},
    );
  });
  await t.rejects(b.sw.dialPeerWithAddress(s.sw.listenAddr), 'the second dial from 127.0.0.1 fails');
  t.equal(await verdict, 'ERR_DUPLICATE_IP', 'the Switch refused it as a duplicate IP');
  t.equal(s.sw.peers.has(b.sw.nodeKey.id), false);
  t.equal(s.sw.peers.size, 1, 'the first peer stays');

  const open = await startSwitch(t, { config: { allowDuplicateIp: true } });
  for (const x of [a, b]) {
    const seen = peerAdded(open.sw, x.sw.nodeKey.id);
    await x.sw.dialPeerWithAddress(open.sw.listenAddr);
    await seen;
  }
  t.equal(open.sw.peers.size, 2, 'allowDuplicateIp true (the default) accepts both');
});
