// Switch.banPeer as an operator uses it: by IP (only the peers of that IP go), by node ID and by
// address (the AddrBook is told, with the address the ban covers), with a duration that must be
// a finite number of ms; and markPeerAsGood, which tells the AddrBook. Over the in-memory
// transport, where each node has its own IP.
import t from 'tap';
import { once } from 'node:events';
import type { SwitchboardError } from '../lib/errors.js';
import { NetAddress } from '../lib/net-address.js';
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import type { SwitchAddrBook } from '../lib/reactor.js';
import { Switch } from '../lib/switch.js';
import { peerRemoved } from '../lib/testing.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { memSwitch } from './helpers/mem-switch.js';
import { steppedDateNow } from './helpers/time.js';

const WAIT = { timeoutMs: 5000 };

/** An AddrBook that records what the Switch tells it. */
function recordingBook(): SwitchAddrBook & { good: string[]; bad: [string, number][] } {
  const good: string[] = [];
  const bad: [string, number][] = [];
  return { good, bad, markGood: (id) => good.push(id), markBad: (addr, ms) => bad.push([addr.toString(), ms]) };
}

t.test('a ban by IP disconnects the peers of that IP only, with ERR_BANNED for its duration, and refuses that IP', async (t) => {
  const net = new MemoryNetwork();
  const s = await memSwitch(t, net);
  const [b, c] = [await memSwitch(t, net, { host: '10.9.1.2' }), await memSwitch(t, net, { host: '10.9.1.3' })];
  await s.sw.dialPeerWithAddress(b.sw.listenAddr);
  await s.sw.dialPeerWithAddress(c.sw.listenAddr);
  const errors: [Peer, SwitchboardError][] = [];
  s.sw.on('peer:error', (p, e) => errors.push([p, e]));
  const removed = peerRemoved(s.sw, b.sw.nodeKey.id, WAIT);
  const removedAtB = peerRemoved(b.sw, s.sw.nodeKey.id, WAIT);
  s.sw.banPeer('10.9.1.2', 60_000);
  t.match(await removed, { code: 'ERR_BANNED', message: 'banned for 60000 ms' });
  t.same(
    errors.map(([p, e]) => [p.id, e.code]),
    [[b.sw.nodeKey.id, 'ERR_BANNED']],
    'peer:error for the banned peer only',
  );
  t.same(
    s.sw.peers.list().map((p) => p.id),
    [c.sw.nodeKey.id],
    'the peer of another IP stays',
  );
  t.equal(s.sw.isBanned('10.9.1.2'), true);
  await removedAtB;
  const refused = once(s.sw, 'peer:dial-failed') as Promise<[string, SwitchboardError]>;
  await b.sw.dialPeerWithAddress(s.sw.listenAddr).catch(() => {});
  t.equal((await refused)[1].code, 'ERR_BANNED', 'its connections are refused');
});

t.test('the AddrBook is told of bans, with the address of the banned peer, and of good peers', async (t) => {
  const net = new MemoryNetwork();
  const book = recordingBook();
  const s = await memSwitch(t, net, { noStart: true });
  s.sw.setAddrBook(book);
  await s.sw.start();
  const b = await memSwitch(t, net);
  const peer = await s.sw.dialPeerWithAddress(b.sw.listenAddr);
  s.sw.markPeerAsGood(peer);
  t.same(book.good, [b.sw.nodeKey.id]);
  s.sw.banPeer(b.sw.nodeKey.id, 5000); // by ID, connected: the book gets its address
  const away = new NetAddress(NodeKey.generate().id, '10.9.2.7', 26656);
  s.sw.banPeer(away, 7000); // by address, not connected
  s.sw.banPeer(NodeKey.generate().id, 9000); // by ID, not connected: no address to tell
  t.same(book.bad, [
    [b.sw.listenAddr.toString(), 5000],
    [away.toString(), 7000],
  ]);
  t.equal(s.sw.peers.size, 0);
});

t.test('markPeerAsGood without an AddrBook does nothing', async (t) => {
  const net = new MemoryNetwork();
  const s = await memSwitch(t, net);
  const b = await memSwitch(t, net);
  const peer = await s.sw.dialPeerWithAddress(b.sw.listenAddr);
  t.doesNotThrow(() => s.sw.markPeerAsGood(peer));
});

t.test('a ban duration must be a finite number of ms above 0', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate() });
  const id = NodeKey.generate().id;
  for (const d of [0, -1, Infinity, NaN])
    t.throws(() => sw.banPeer(id, d), { code: 'ERR_INVALID_ARGUMENT', message: `ban duration must be > 0 ms, got ${d}` });
  t.equal(sw.isBanned(id), false);
  // bans read Date.now: hold it still, or a loaded machine lets the 1 ms pass before the check
  const step = steppedDateNow(t, Date.now());
  sw.banPeer(id, 1);
  t.equal(sw.isBanned(id), true, 'banned for 1 ms');
  step(1);
  t.equal(sw.isBanned(id), false, 'and no longer 1 ms later');
});
