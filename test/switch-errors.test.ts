// What a Switch tells its user when something goes wrong: listen failures
// (ERR_LISTEN) and why each peer was removed (the reason of peer:remove,
// peer:error and Reactor.removePeer is always a SwitchboardError with a code).
import t from 'tap';
import { once } from 'node:events';
import { ListenError, PeerError, PeerStoppedError, SwitchboardError } from '../lib/errors.js';
import { NodeKey } from '../lib/node-key.js';
import { Switch } from '../lib/switch.js';
import { MultiplexTransport } from '../lib/transport-multiplex.js';
import type { Peer } from '../lib/peer.js';
import { connect, peerRemoved, RecordingReactor, startSwitch } from './helpers/switches.js';

t.test('start() on a port in use rejects with ERR_LISTEN naming the address, the cause and the fix', async (t) => {
  const a = await startSwitch(t);
  const port = a.sw.listenAddr.port;
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: `127.0.0.1:${port}` } });
  sw.addReactor(new RecordingReactor());
  t.teardown(() => sw.stop());
  const err = (await sw.start().catch((e: unknown) => e)) as ListenError;
  t.type(err, ListenError);
  t.equal(err.code, 'ERR_LISTEN');
  t.equal(
    err.message,
    `cannot listen on 127.0.0.1:${port}: the address is in use (another node running? pick another listen port, or port 0 for any free one)`,
  );
  t.equal((err.cause as NodeJS.ErrnoException).code, 'EADDRINUSE', 'the system error is the cause');
  t.same([err.host, err.port], ['127.0.0.1', port]);
  t.equal(sw.isRunning, false);
});

t.test('an address of no local interface is ERR_LISTEN with its own explanation', async (t) => {
  // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never assigned to this host
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '192.0.2.1:0' } });
  t.teardown(() => sw.stop());
  const err = (await sw.start().catch((e: unknown) => e)) as ListenError;
  t.equal(err.code, 'ERR_LISTEN');
  t.match(err.message, /^cannot listen on 192\.0\.2\.1:0: no interface of this host has that address/);
});

t.test(
  'stopPeerForError with a plain Error: ERR_PEER_ERROR (original as cause) locally, ERR_CONNECTION_CLOSED at the remote',
  async (t) => {
    const a = await startSwitch(t);
    const b = await startSwitch(t);
    await connect(a.sw, b.sw);
    const removedAtA = peerRemoved(a.sw, b.sw.nodeKey.id);
    const erroredAtA = once(a.sw, 'peer:error') as Promise<[Peer, SwitchboardError]>;
    const removedAtB = peerRemoved(b.sw, a.sw.nodeKey.id);
    const original = new Error('block 7 does not verify');
    a.sw.stopPeerForError(a.sw.peers.get(b.sw.nodeKey.id)!, original);
    const reason = await removedAtA;
    t.type(reason, PeerError);
    t.equal(reason.code, 'ERR_PEER_ERROR');
    t.equal(reason.message, 'stopped for an error: block 7 does not verify');
    t.equal(reason.cause, original, 'the original error is the cause');
    t.equal((await erroredAtA)[1], reason, 'peer:error gets the same error');
    t.same(a.reactor.removeReasons, [reason], 'the reactor gets it too');
    t.equal((await removedAtB).code, 'ERR_CONNECTION_CLOSED', 'a remote close');
    t.equal(b.reactor.removeReasons[0]?.code, 'ERR_CONNECTION_CLOSED');
  },
);

t.test('a SwitchboardError given to stopPeerForError is passed on as it is', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const removed = peerRemoved(a.sw, b.sw.nodeKey.id);
  const err = new SwitchboardError('ERR_MALFORMED_PACKET', 'bad block');
  a.sw.stopPeerForError(a.sw.peers.get(b.sw.nodeKey.id)!, err);
  t.equal(await removed, err);
});

t.test('stopPeerGracefully: ERR_PEER_STOPPED with reason graceful', async (t) => {
  const a = await startSwitch(t);
  const b = await startSwitch(t);
  await connect(a.sw, b.sw);
  const removed = peerRemoved(a.sw, b.sw.nodeKey.id);
  const removedAtB = peerRemoved(b.sw, a.sw.nodeKey.id);
  await a.sw.stopPeerGracefully(a.sw.peers.get(b.sw.nodeKey.id)!);
  const reason = (await removed) as PeerStoppedError;
  t.type(reason, PeerStoppedError);
  t.same(
    [reason.code, reason.reason, reason.message],
    ['ERR_PEER_STOPPED', 'graceful', 'stopped gracefully: queued messages written, then closed'],
  );
  t.equal(a.reactor.removeReasons[0], reason);
  t.equal((await removedAtB).code, 'ERR_CONNECTION_CLOSED');
});

t.test('Switch.stop: every peer is removed with ERR_PEER_STOPPED, reason switch-stop', async (t) => {
  const a = await startSwitch(t);
  const [b, c] = [await startSwitch(t), await startSwitch(t)];
  await connect(a.sw, b.sw);
  await connect(c.sw, a.sw);
  const reasons: SwitchboardError[] = [];
  a.sw.on('peer:remove', (_p, r) => reasons.push(r));
  await a.sw.stop();
  t.equal(reasons.length, 2);
  for (const r of [...reasons, ...a.reactor.removeReasons])
    t.match(r, { code: 'ERR_PEER_STOPPED', reason: 'switch-stop', message: 'stopped: the Switch is stopping' });
});

t.test('a duplicate connection that wins the tie-break replaces the old one: ERR_PEER_STOPPED, reason replaced', async (t) => {
  const [k1, k2] = [NodeKey.generate(), NodeKey.generate()];
  const [low, high] = k1.id < k2.id ? [k1, k2] : [k2, k1];
  const a = await startSwitch(t, { key: high });
  const b = await startSwitch(t, { key: low });
  await connect(a.sw, b.sw); // dialed by the higher ID
  const old = a.sw.peers.get(low.id)!;
  const removed = peerRemoved(a.sw, low.id);
  // a second connection from b's identity, dialed by b: the lower ID's connection wins
  const raw = new MultiplexTransport(
    { nodeKey: low, nodeInfo: () => b.sw.nodeInfo },
    () => {},
    () => {},
  );
  t.teardown(() => raw.close());
  const replacement = new Promise<Peer>((resolve) => a.sw.on('peer:add', (p) => p.id === low.id && resolve(p)));
  const up = await raw.dial(a.sw.listenAddr);
  t.teardown(() => up.conn.destroy());
  const reason = (await removed) as PeerStoppedError;
  t.match(reason, { code: 'ERR_PEER_STOPPED', reason: 'replaced', message: 'replaced by a simultaneous connection to the same node' });
  const now = await replacement;
  t.not(now, old);
  t.equal(now.isOutbound(), false, 'the new (inbound) connection is the peer now');
});
