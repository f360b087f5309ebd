// Switch.dialPeerWithAddress and dialPeersAsync as a user sees them: each refusal with its code
// and message (and a peer:dial-failed event), the outbound limit with the slots persistent peers
// hold, and the random order of dialPeersAsync. Over the in-memory transport: no sockets.
import t from 'tap';
import { once } from 'node:events';
import type { SwitchboardError } from '../lib/errors.js';
import { NetAddress } from '../lib/net-address.js';
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import { Switch } from '../lib/switch.js';
import { peerAdded } from '../lib/testing.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { RecordingReactor } from './helpers/switches.js';
import { LogRecorder, memSwitch } from './helpers/mem-switch.js';
import { deferred } from './helpers/net.js';

const WAIT = { timeoutMs: 5000 };

/** The `peer:dial-failed` events of `sw` from now on: [address, code, message]. */
function dialFailures(sw: Switch): [string, string, string][] {
  const seen: [string, string, string][] = [];
  sw.on('peer:dial-failed', (addr, err: SwitchboardError) => seen.push([addr, err.code, err.message]));
  return seen;
}

t.test('each refusal of a dial has its code and message, and is emitted as peer:dial-failed', async (t) => {
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net, { noStart: true, config: { maxNumOutboundPeers: 2 } });
  const b = await memSwitch(t, net);
  const c = await memSwitch(t, net);
  const d = await memSwitch(t, net);
  const failed = dialFailures(a.sw);
  await t.rejects(
    a.sw.dialPeerWithAddress(b.sw.listenAddr),
    { code: 'ERR_SWITCH_STOPPED', message: 'switch is not running' },
    'before start',
  );
  await a.sw.start();
  const self = a.sw.listenAddr;
  await t.rejects(a.sw.dialPeerWithAddress(self), { code: 'ERR_SELF_CONNECTION', message: `refusing to dial ourselves (${self})` });
  await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const connections = net.stats.connections;
  await t.rejects(a.sw.dialPeerWithAddress(b.sw.listenAddr), {
    code: 'ERR_DUPLICATE_PEER',
    message: `already connected to ${b.sw.nodeKey.id}`,
  });
  t.equal(net.stats.connections, connections, 'refused before dialing: no connection opened');
  // a second dial while the first is in progress (it is from the call on: the first await is the transport's dial)
  const first = a.sw.dialPeerWithAddress(c.sw.listenAddr);
  t.equal(a.sw.isDialing(c.sw.nodeKey.id), true);
  await t.rejects(a.sw.dialPeerWithAddress(c.sw.listenAddr), {
    code: 'ERR_DUPLICATE_PEER',
    message: `already dialing ${c.sw.nodeKey.id}`,
  });
  await first;
  t.equal(a.sw.isDialing(c.sw.nodeKey.id), false);
  await t.rejects(a.sw.dialPeerWithAddress(d.sw.listenAddr), { code: 'ERR_TOO_MANY_PEERS', message: 'outbound limit 2 reached' });
  await a.sw.stop();
  await t.rejects(
    a.sw.dialPeerWithAddress(d.sw.listenAddr),
    { code: 'ERR_SWITCH_STOPPED', message: 'switch is not running' },
    'after stop',
  );
  t.same(
    failed.map(([addr, code]) => [addr, code]),
    [
      [b.sw.listenAddr.toString(), 'ERR_SWITCH_STOPPED'],
      [self.toString(), 'ERR_SELF_CONNECTION'],
      [b.sw.listenAddr.toString(), 'ERR_DUPLICATE_PEER'],
      [c.sw.listenAddr.toString(), 'ERR_DUPLICATE_PEER'],
      [d.sw.listenAddr.toString(), 'ERR_TOO_MANY_PEERS'],
      [d.sw.listenAddr.toString(), 'ERR_SWITCH_STOPPED'],
    ],
  );
});

t.test('an Error thrown in a reactor while adding a dialed peer rejects the dial with ERR_DIAL, the Error as cause', async (t) => {
  class FailingInit extends RecordingReactor {
    override initPeer(): void {
      throw boom;
    }
  }
  const boom = new Error('init boom');
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net, { reactors: [new FailingInit([{ id: 0x21 }], 'failing')] });
  const b = await memSwitch(t, net, { channels: [{ id: 0x20 }, { id: 0x21 }] });
  const err = (await a.sw.dialPeerWithAddress(b.sw.listenAddr).catch((e: unknown) => e)) as SwitchboardError;
  t.match(err, { code: 'ERR_DIAL', message: 'Error: init boom' });
  t.equal(err.cause, boom);
  t.equal(a.sw.peers.size, 0);
});

t.test('a dial counts against the outbound limit while in progress, once, and an unconditional one not at all', async (t) => {
  const net = new MemoryNetwork();
  const gate = deferred();
  const counts: number[] = [];
  class Counting extends RecordingReactor {
    override addPeer(p: Peer): void {
      counts.push(this.switch.numOutboundPeersAndDials()); // the peer is added, its dial not yet over
      super.addPeer(p);
    }
  }
  const a = await memSwitch(t, net, { reactors: [new Counting([{ id: 0x21 }], 'counting')], peerFilters: [() => gate.promise] });
  const [b, c] = [await memSwitch(t, net), await memSwitch(t, net)];
  a.sw.addUnconditionalPeerIds([c.sw.nodeKey.id]);
  const toB = a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const toC = a.sw.dialPeerWithAddress(c.sw.listenAddr);
  t.same([a.sw.isDialing(b.sw.nodeKey.id), a.sw.isDialing(c.sw.nodeKey.id)], [true, true]);
  t.equal(a.sw.numOutboundPeersAndDials(), 1, 'the dial of b counts, the unconditional dial of c does not');
  gate.resolve();
  await Promise.all([toB, toC]);
  t.same(counts, [1, 1], 'in addPeer: b counted once (as a peer, not also as a dial); c not');
  t.equal(a.sw.numOutboundPeersAndDials(), 1);
});

t.test('the outbound slots of persistent peers: an away one holds its slot for its own redial only', async (t) => {
  const net = new MemoryNetwork();
  // p: persistent, not listening yet (its first dial fails, its redial waits a minute)
  const pHost = '10.7.0.9';
  const pKey = NodeKey.generate();
  const pAddr = new NetAddress(pKey.id, pHost, 26656);
  const a = await memSwitch(t, net, { noStart: true, config: { maxNumOutboundPeers: 1, reconnectIntervalMs: 60_000 } });
  const x = await memSwitch(t, net);
  a.sw.addPersistentPeers([pAddr]);
  const firstFail = once(a.sw, 'peer:dial-failed');
  await a.sw.start();
  await firstFail;
  t.equal(a.sw.numOutboundPeersAndDials(), 1, 'p, away, holds a slot');
  await t.rejects(a.sw.dialPeerWithAddress(x.sw.listenAddr), { code: 'ERR_TOO_MANY_PEERS' }, 'another peer may not take it');
  await memSwitch(t, net, { host: pHost, key: pKey });
  const p = await a.sw.dialPeerWithAddress(pAddr);
  t.equal(p.isOutbound(), true, "p's own dial uses the slot it held");
  t.equal(a.sw.numOutboundPeersAndDials(), 1);
});

t.test('a persistent peer connected inbound holds a slot that the dial of another persistent peer may not use', async (t) => {
  const net = new MemoryNetwork();
  const q = await memSwitch(t, net); // persistent at a, gone: given up at once (no redials)
  const qAddr = q.sw.listenAddr;
  await q.sw.stop();
  const log = new LogRecorder();
  const a = await memSwitch(t, net, {
    noStart: true,
    logger: log.logger,
    config: { maxNumOutboundPeers: 1, reconnectAttempts: 0, reconnectBackoffAttempts: 0 },
  });
  const p = await memSwitch(t, net);
  a.sw.addPersistentPeers([qAddr]);
  await a.sw.start();
  await log.next('giving up on persistent peer');
  t.equal(a.sw.numOutboundPeersAndDials(), 0, 'q, given up, holds no slot');
  const pIn = peerAdded(a.sw, p.sw.nodeKey.id, WAIT);
  await p.sw.dialPeerWithAddress(a.sw.listenAddr);
  await pIn;
  a.sw.addPersistentPeers([p.sw.listenAddr]); // p is persistent now, and connected inbound
  t.equal(a.sw.numOutboundPeersAndDials(), 1, 'p, persistent and inbound, holds a slot');
  await t.rejects(a.sw.dialPeerWithAddress(qAddr), { code: 'ERR_TOO_MANY_PEERS' }, "q's dial may not use p's slot");
});

t.test('dialPeersAsync dials in random order, skipping ourselves and connected peers', async (t) => {
  const net = new MemoryNetwork();
  const a = await memSwitch(t, net);
  const b = await memSwitch(t, net);
  await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  // three banned addresses: each dial is refused at once (synchronously), so the refusals show the order of the dials
  const x = Array.from({ length: 3 }, (_, i) => new NetAddress(NodeKey.generate().id, `10.8.0.${i + 1}`, 26656));
  for (const addr of x) a.sw.banPeer(addr.id, 60_000);
  const failed = dialFailures(a.sw);
  const keys = [0.5, 0.0, 0.9, 0.05, 0.1]; // the random sort keys, in the order of the addresses below
  const random = Math.random;
  Math.random = () => keys.shift() ?? 0.99;
  try {
    a.sw.dialPeersAsync([x[0]!, a.sw.listenAddr, x[1]!.toString(), b.sw.listenAddr, x[2]!]);
  } finally {
    Math.random = random;
  }
  t.same(
    failed.map(([addr, code]) => [addr, code]),
    [x[2], x[0], x[1]].map((addr) => [addr!.toString(), 'ERR_BANNED']),
    'dialed by ascending key: x2 (0.1), x0 (0.5), x1 (0.9); ourselves (0.0) and b (0.05) skipped',
  );
  const c = await memSwitch(t, net);
  const cAdded = peerAdded(a.sw, c.sw.nodeKey.id, WAIT);
  a.sw.dialPeersAsync([` ${c.sw.listenAddr} `]);
  t.equal((await cAdded).isOutbound(), true, 'a dial of dialPeersAsync adds the peer');
  t.throws(
    () => a.sw.dialPeersAsync([c.sw.listenAddr, 'not-an-address']),
    { code: 'ERR_INVALID_ADDRESS' },
    'a malformed address throws at once',
  );
});

t.test('peer ID lists: malformed IDs are refused by name; private IDs are known; addresses may carry spaces', async (t) => {
  const sw = new Switch({ nodeKey: NodeKey.generate() });
  for (const add of [(ids: string[]) => sw.addUnconditionalPeerIds(ids), (ids: string[]) => sw.addPrivatePeerIds(ids)])
    t.throws(() => add(['nope']), { code: 'ERR_INVALID_ADDRESS', message: 'invalid node ID "nope"' });
  const id = NodeKey.generate().id;
  t.equal(sw.isPrivatePeer(id), false);
  sw.addPrivatePeerIds([id]);
  t.equal(sw.isPrivatePeer(id), true);
  t.equal(sw.isUnconditionalPeer(id), false);
  sw.addPersistentPeers([`  ${id}@10.0.0.1:26656 \n`]);
  t.equal(sw.isPersistentPeer(id), true);
});
