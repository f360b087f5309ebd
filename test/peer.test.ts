// Peer and PeerSet in-process: a Peer over each end of a loopback socket pair, as the Switch builds
// them after the handshake (the Switch's own tests cover how it uses them).
import t, { type Test } from 'tap';
import { Peer, PeerSet, type PeerInit } from '../lib/peer.js';
import { NodeInfo } from '../lib/node-info.js';
import { NetAddress } from '../lib/net-address.js';
import { deferred, socketPair } from './helpers/net.js';

const ID_A = 'a'.repeat(40);
const ID_B = 'b'.repeat(40);
const channels = [
  { id: 1, sendQueueCapacity: 10 },
  { id: 2, sendQueueCapacity: 10 },
  { id: 5, sendQueueCapacity: 10 },
];

/** A NodeInfo with channels 1, 2 and 5; channel 5 speaks versions 2 and 4 (none in common with the tests' version maps). */
function info(id: string, listenAddr = '127.0.0.1:26656'): NodeInfo {
  return NodeInfo.create({
    id,
    listenAddr,
    network: 'net',
    channels: Uint8Array.from([1, 2, 5]),
    channelVersions: [[1], [1, 3], [2, 4]],
    moniker: 'm',
  });
}

/** The init of a Peer that is not started (its MConnection never touches the stream). */
function init(over: Partial<PeerInit> = {}): PeerInit {
  return {
    conn: undefined as never,
    nodeInfo: info(ID_B),
    outbound: false,
    persistent: false,
    remoteHost: '10.0.0.7',
    channels,
    channelVersions: new Map([[1, 1]]),
    onReceive: () => {},
    onError: () => {},
    ...over,
  };
}

async function connected(t: Test) {
  const [sa, sb] = await socketPair(t);
  const got: { ch: number; msg: string }[] = [];
  const received = deferred<void>();
  const versions = new Map([
    [1, 1],
    [2, 3],
    [5, 0],
  ]);
  const a = new Peer({ ...init(), conn: sa, nodeInfo: info(ID_B), outbound: true, channelVersions: versions });
  const b = new Peer({
    ...init(),
    conn: sb,
    nodeInfo: info(ID_A),
    channelVersions: versions,
    onReceive: (ch, msg) => {
      got.push({ ch, msg: Buffer.from(msg).toString() });
      received.resolve();
    },
  });
  t.teardown(() => {
    a.stop();
    b.stop();
  });
  a.start();
  b.start();
  return { a, b, got, received: received.promise };
}

t.test('remoteAddr: the dialed address, else the advertised port at the IP the connection came from', async (t) => {
  const dialed = new NetAddress(ID_B, '192.0.2.1', 1234);
  t.equal(new Peer(init({ dialedAddr: dialed })).remoteAddr, dialed, 'outbound: the address dialed');
  t.equal(new Peer(init()).remoteAddr.toString(), `${ID_B}@10.0.0.7:26656`, 'inbound: the connection IP with the advertised port');
  t.equal(new Peer(init({ remoteHost: '' })).remoteAddr.toString(), `${ID_B}@127.0.0.1:26656`, 'no connection IP: the advertised host');
  const unix = new Peer(init({ nodeInfo: info(ID_B, 'unix:///tmp/b.sock') }));
  t.equal(unix.remoteAddr.protocol, 'unix', 'a Unix socket address is kept as advertised');
  t.equal(unix.remoteAddr.toString(), `${ID_B}@unix:///tmp/b.sock`);
  const p = new Peer(init());
  t.equal(p.id, ID_B, 'id is the NodeInfo id');
  t.equal(p.remoteIp, '10.0.0.7');
});

t.test('direction, persistence, per-peer data and toString', async (t) => {
  const out = new Peer(init({ outbound: true, persistent: true, dialedAddr: new NetAddress(ID_B, '192.0.2.1', 1234) }));
  const inb = new Peer(init());
  t.equal(out.isOutbound(), true);
  t.equal(out.isPersistent(), true);
  t.equal(inb.isOutbound(), false);
  t.equal(inb.isPersistent(), false);
  t.equal(out.toString(), `Peer{${ID_B}@192.0.2.1:1234 out}`);
  t.equal(inb.toString(), `Peer{${ID_B}@10.0.0.7:26656 in}`);
  t.equal(inb.get('k'), undefined, 'nothing stored yet');
  inb.set('k', { n: 1 });
  t.same(inb.get('k'), { n: 1 });
  t.equal(out.get('k'), undefined, 'data is per peer');
});

t.test('channelVersion: the common version, undefined for a channel without one', async (t) => {
  const p = new Peer(
    init({
      channelVersions: new Map([
        [1, 1],
        [2, 7],
        [5, 0],
      ]),
    }),
  );
  t.equal(p.channelVersion(1), 1);
  t.equal(p.channelVersion(2), 7);
  t.equal(p.channelVersion(5), undefined, 'no common version');
  t.equal(p.channelVersion(9), undefined, 'not matched at all');
});

t.test('send, trySend and canSend deliver on a channel with a common version and refuse the others', async (t) => {
  const { a, got, received } = await connected(t);
  t.equal(a.canSend(1), true, 'an active channel with room');
  t.equal(a.canSend(5), false, 'an inactive channel');
  t.equal(a.trySend(5, Buffer.from('x')), false, 'trySend on an inactive channel');
  t.equal(await a.send(9, Buffer.from('x')), false, 'send on a channel the peer does not have');
  const inactive = a.send(5, Buffer.from('x'));
  await t.rejects(inactive, {
    code: 'ERR_CHANNEL_INACTIVE',
    channelId: 5,
    message: `channel 0x05 is inactive for ${ID_B}: no common version (peer has [2, 4])`,
  });
  t.equal(a.trySend(1, Buffer.from('one')), true, 'trySend on an active channel');
  await received;
  t.equal(await a.send(2, Buffer.from('two')), true, 'send on an active channel');
  await a.flushStop();
  t.equal(a.isStopped, true, 'flushStop stops the peer');
  t.same(got.slice(0, 1), [{ ch: 1, msg: 'one' }]);
});

t.test('a fire-and-forget send on an inactive channel is not an unhandled rejection', async (t) => {
  const { a } = await connected(t);
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  void a.send(5, Buffer.from('x'));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  t.same(unhandled, []);
});

t.test('the MConnection state shows through: stopped, last message, status', async (t) => {
  const { a, b, received } = await connected(t);
  t.equal(a.isStopped, false);
  const before = b.lastMessageAt;
  a.trySend(1, Buffer.from('hi'));
  await received;
  t.ok(b.lastMessageAt > before, 'a message moves lastMessageAt');
  t.ok(Array.isArray(a.status().channels), 'status() lists the channels');
  t.equal(a.status().channels.length, 3);
  t.equal(a.mostSendWaiters, 0);
  t.equal(a.sendStalledMs, 0);
  t.ok(b.recentRecvRate >= 0);
  a.stop();
  t.equal(a.isStopped, true);
});

t.test('PeerSet counts each peer once, by direction, and removes only the peer it holds', async (t) => {
  const set = new PeerSet();
  const out = new Peer(init({ outbound: true }));
  const inb = new Peer(init({ nodeInfo: info(ID_A) }));
  t.equal(set.add(out), true);
  t.equal(set.add(new Peer(init({ outbound: true }))), false, 'a second peer with the same ID is refused');
  t.equal(set.add(inb), true);
  t.equal(set.size, 2);
  t.equal(set.numOutbound(), 1);
  t.equal(set.numInbound(), 1);
  t.equal(set.has(ID_B), true);
  t.equal(set.get(ID_B), out);
  t.same(
    set.list().map((p) => p.id),
    [ID_B, ID_A],
  );
  t.equal(set.remove(new Peer(init({ outbound: true }))), false, 'another Peer object with the same ID is not removed');
  t.equal(set.size, 2);
  t.equal(set.remove(out), true);
  t.equal(set.remove(out), false, 'removed once');
  t.equal(set.numOutbound(), 0);
  t.equal(set.numInbound(), 1);
  t.equal(set.has(ID_B), false);
  t.equal(set.get(ID_B), undefined);
  t.equal(set.remove(inb), true);
  t.equal(set.size, 0);
  t.equal(set.numInbound(), 0);
});
