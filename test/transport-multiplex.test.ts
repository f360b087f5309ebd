// MultiplexTransport on its own: inbound admission (per routable IP, per second, the handshake
// table and its eviction, the first-key deadline), the upgrade's deadline and identity checks on a
// dial, the NodeInfo length bound, close(), and readExactly. Inbound admission is driven through a
// scripted Transport whose connections report the bytes they have "read" (no sockets, no crypto
// needed to decide admission); dials run over the in-memory network with real SecretConnections.
import t from 'tap';
import { EventEmitter, once } from 'node:events';
import { Duplex, PassThrough } from 'node:stream';
import { SecretConnection } from '../lib/conn/secret-connection.js';
import { RejectedError, type SwitchboardError } from '../lib/errors.js';
import { NetAddress } from '../lib/net-address.js';
import { MAX_NODE_INFO_SIZE, NodeInfo } from '../lib/node-info.js';
import { NodeKey } from '../lib/node-key.js';
import { MemoryNetwork } from '../lib/transport-memory.js';
import { MultiplexTransport, readExactly, type MultiplexTransportOptions, type UpgradedConn } from '../lib/transport-multiplex.js';
import { TCPTransport } from '../lib/transport-tcp.js';
import type { AcceptHandler, RawConnection, Transport } from '../lib/transport.js';
import type { Teardown } from './helpers/teardown.js';
import { steppedDateNow } from './helpers/time.js';

/** A connection that swallows what is written to it and never sends anything. */
function silentConn(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
  });
}

/** A Transport whose inbound connections the test opens by hand, each with a settable byte count. */
class ScriptedTransport implements Transport {
  readonly protocol = 'scripted';
  private onAccept: AcceptHandler | undefined;
  private readonly conns: Duplex[] = [];

  async listen(addr: NetAddress, onAccept: AcceptHandler): Promise<NetAddress> {
    this.onAccept = onAccept;
    return addr;
  }

  async dial(): Promise<RawConnection> {
    throw new Error('not dialed in these tests');
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
  }

  /** An inbound connection from `host:port` that reports `bytes` read until `setRead` changes it. */
  inbound(host: string, port: number, bytes = 0): { conn: Duplex; setRead(n: number): void } {
    const conn = silentConn();
    this.conns.push(conn);
    let read = bytes;
    this.onAccept!({ conn, remote: { host, port }, bytesRead: () => read });
    return { conn, setRead: (n) => void (read = n) };
  }
}

interface Node {
  mt: MultiplexTransport;
  key: NodeKey;
  inbound: UpgradedConn[];
  refusals: [SwitchboardError, string][];
  /** The next inbound failure reported: [error, remote]. */
  nextRefusal(): Promise<[SwitchboardError, string]>;
  /** The next inbound connection upgraded. */
  nextInbound(): Promise<[UpgradedConn]>;
}

/** A MultiplexTransport over `transport`, closed at teardown. `infoId` overrides the NodeInfo's id. */
function node(t: Teardown, transport: Transport, opts: Partial<MultiplexTransportOptions> = {}, infoId?: string): Node {
  const key = NodeKey.generate();
  const info = NodeInfo.create({
    id: infoId ?? key.id,
    listenAddr: '10.9.0.1:26656',
    network: 'test',
    channels: Uint8Array.from([0x20]),
    moniker: 'mt',
  });
  const events = new EventEmitter();
  const inbound: UpgradedConn[] = [];
  const refusals: [SwitchboardError, string][] = [];
  const mt = new MultiplexTransport(
    { transport, nodeKey: key, nodeInfo: () => info, ...opts },
    (c) => {
      inbound.push(c);
      t.teardown(() => c.conn.destroy());
      events.emit('inbound', c);
    },
    (err, remote) => {
      refusals.push([err, remote]);
      events.emit('refused', err, remote);
    },
  );
  t.teardown(() => mt.close());
  return {
    mt,
    key,
    inbound,
    refusals,
    nextRefusal: () => once(events, 'refused') as Promise<[SwitchboardError, string]>,
    nextInbound: () => once(events, 'inbound') as Promise<[UpgradedConn]>,
  };
}

/** [code, message, remote] of a refusal, for exact comparison. */
function described([err, remote]: [SwitchboardError, string]): [string, string, string] {
  return [err.code, err.message, remote];
}

const ANY = new NetAddress('', '0.0.0.0', 0);
/** The filter of a node whose inbound connections should stay in the handshake table (no upgrade starts). */
const HOLD = { filterConn: () => new Promise<void>(() => {}) };

t.test('per routable IP: at most maxHandshakingPerIp in the handshake; loopback, private and non-IP remotes are exempt', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { ...HOLD, maxHandshakingPerIp: 2 });
  await n.mt.listen(ANY);
  const a = tr.inbound('8.8.8.8', 1);
  tr.inbound('8.8.8.8', 2);
  t.equal(n.mt.handshakingCount, 2);
  t.same(n.refusals, []);
  const third = tr.inbound('8.8.8.8', 3);
  t.same(n.refusals.map(described), [['ERR_CONN_LIMIT', '8.8.8.8 already has 2 connections in the handshake', '8.8.8.8:3']]);
  t.ok(n.refusals[0]![0] instanceof RejectedError);
  t.ok(third.conn.destroyed, 'the refused connection is closed');
  t.notOk(a.conn.destroyed, 'the admitted ones are not');
  tr.inbound('8.8.4.4', 4);
  t.equal(n.mt.handshakingCount, 3, 'another routable IP has its own limit');
  for (const host of ['127.0.0.1', '::1', '10.1.2.3', '192.168.7.7', 'fd00::1', '', 'not-an-ip'])
    for (let port = 1; port <= 3; port++) tr.inbound(host, port);
  t.equal(n.mt.handshakingCount, 3 + 7 * 3, 'no limit for non-routable remotes');
  t.equal(n.refusals.length, 1);
});

t.test('a connection that leaves the handshake frees its IP slot', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { maxHandshakingPerIp: 1, handshakeTimeoutMs: 30_000 });
  await n.mt.listen(ANY);
  const a = tr.inbound('8.8.8.8', 1);
  const failed = n.nextRefusal();
  a.conn.destroy();
  t.match((await failed)[0], { code: 'ERR_HANDSHAKE' });
  t.equal(n.mt.handshakingCount, 0);
  tr.inbound('8.8.8.8', 2);
  t.equal(n.mt.handshakingCount, 1);
  t.equal(n.refusals.length, 1, 'the second connection is admitted');
});

t.test('per routable IP: at most maxInboundConnRatePerIp new connections in each one-second window', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { ...HOLD, maxInboundConnRatePerIp: 3, maxHandshakingPerIp: 100 });
  await n.mt.listen(ANY);
  const step = steppedDateNow(t);
  for (let port = 1; port <= 4; port++) tr.inbound('8.8.8.8', port);
  tr.inbound('8.8.4.4', 5);
  step(999);
  tr.inbound('8.8.8.8', 6);
  step(1);
  for (let port = 7; port <= 10; port++) tr.inbound('8.8.8.8', port);
  for (let port = 11; port <= 20; port++) tr.inbound('127.0.0.1', port);
  const rate = 'ERR_CONN_RATE,8.8.8.8 opened more than 3 connections in a second';
  t.same(
    n.refusals.map((r) => described(r).join()),
    [`${rate},8.8.8.8:4`, `${rate},8.8.8.8:6`, `${rate},8.8.8.8:10`],
    'the 4th in a window, again 999 ms later, and the 4th of the next window',
  );
  t.equal(n.mt.handshakingCount, 3 + 1 + 3 + 10);
});

t.test('the per-IP rate table sweeps stale windows when it reaches 4096 entries, and keeps live ones', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { ...HOLD, maxInboundConnRatePerIp: 3, maxHandshaking: 10_000 });
  await n.mt.listen(ANY);
  const rates = (n.mt as unknown as { rates: Map<string, unknown> }).rates;
  const step = steppedDateNow(t);
  const sizes: number[] = [];
  for (let i = 0; i < 4095; i++) tr.inbound(`1.0.${i >> 8}.${i & 255}`, 1);
  sizes.push(rates.size);
  step(1000); // every window so far is now stale
  for (let port = 1; port <= 3; port++) tr.inbound('8.8.8.8', port);
  sizes.push(rates.size); // 4095 + 1: no sweep before the table is full
  tr.inbound('8.8.4.4', 1); // a new IP at 4096 entries: the stale ones go
  sizes.push(rates.size);
  tr.inbound('8.8.8.8', 4); // its live window survived the sweep
  t.same(sizes, [4095, 4096, 2]);
  t.same(n.refusals.map(described), [['ERR_CONN_RATE', '8.8.8.8 opened more than 3 connections in a second', '8.8.8.8:4']]);
});

t.test('a full handshake table evicts the connection with the fewest bytes received, the oldest among equals', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { maxHandshaking: 2 });
  await n.mt.listen(ANY);
  const a = tr.inbound('127.0.0.1', 1);
  const b = tr.inbound('127.0.0.1', 2);
  let evicted = n.nextRefusal();
  const c = tr.inbound('127.0.0.1', 3);
  t.ok(a.conn.destroyed, 'the oldest of two silent connections is evicted');
  t.notOk(b.conn.destroyed);
  t.same(described(await evicted), [
    'ERR_HANDSHAKE_EVICTED',
    '127.0.0.1:1 was evicted from the handshake table by a newer connection',
    '127.0.0.1:1',
  ]);
  t.equal(n.mt.handshakingCount, 2);
  b.setRead(10);
  evicted = n.nextRefusal();
  tr.inbound('127.0.0.1', 4);
  t.ok(c.conn.destroyed, 'the one with least progress goes, though newer than b');
  t.notOk(b.conn.destroyed);
  t.equal((await evicted)[1], '127.0.0.1:3');
  t.equal(n.mt.handshakingCount, 2);
});

t.test('with maxHandshaking 0 every inbound connection is refused with ERR_TOO_MANY_HANDSHAKES', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { maxHandshaking: 0 });
  await n.mt.listen(ANY);
  const a = tr.inbound('127.0.0.1', 1);
  t.same(n.refusals.map(described), [['ERR_TOO_MANY_HANDSHAKES', '0 connections already in the handshake', '127.0.0.1:1']]);
  t.ok(a.conn.destroyed);
});

t.test('an inbound connection must send its first 32 bytes within handshakeKeyTimeoutMs', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, { handshakeKeyTimeoutMs: 50, handshakeTimeoutMs: 500 });
  await n.mt.listen(ANY);
  const short = tr.inbound('127.0.0.1', 1, 31);
  const keyed = tr.inbound('127.0.0.1', 2, 32);
  tr.inbound('', 0, 0);
  tr.inbound('', 0, 32);
  const got = new Map<string, string[]>();
  for (let i = 0; i < 4; i++) {
    const [err, remote] = await n.nextRefusal();
    t.equal(err.code, 'ERR_HANDSHAKE_TIMEOUT', err.message);
    got.set(err.message, [remote]);
  }
  t.ok(short.conn.destroyed);
  t.ok(keyed.conn.destroyed, 'closed at the handshake deadline');
  t.same(
    [...got.keys()].sort(),
    [
      '127.0.0.1:1 sent no ephemeral key within 50 ms',
      'handshake with 127.0.0.1:2 timed out after 500 ms',
      'handshake with a scripted peer timed out after 500 ms',
      'scripted connection sent no ephemeral key within 50 ms',
    ],
    '31 bytes is too few, 32 is enough; a remote without a host is named by its transport',
  );
  t.equal(n.mt.handshakingCount, 0);
});

t.test('after close(): inbound connections are closed unreported and dials are refused', async (t) => {
  const tr = new ScriptedTransport();
  const n = node(t, tr, HOLD);
  await n.mt.listen(ANY);
  const before = tr.inbound('127.0.0.1', 1);
  t.doesNotThrow(() => before.conn.emit('error', new Error('reset while filtering')), 'a reset before the handshake does not crash');
  await n.mt.close();
  const late = tr.inbound('127.0.0.1', 2);
  t.ok(late.conn.destroyed);
  t.same(n.refusals, []);
  await t.rejects(n.mt.dial(new NetAddress('', '127.0.0.1', 1)), { code: 'ERR_SWITCH_STOPPED', message: 'transport closed' });
});

t.test('the default transport is TCP with the given dial timeout', async (t) => {
  const key = NodeKey.generate();
  const info = NodeInfo.create({
    id: key.id,
    listenAddr: '10.9.0.1:26656',
    network: 'test',
    channels: Uint8Array.from([0x20]),
    moniker: 'mt',
  });
  const mt = new MultiplexTransport(
    { nodeKey: key, nodeInfo: () => info, dialTimeoutMs: 1234 },
    () => {},
    () => {},
  );
  t.teardown(() => mt.close());
  t.ok(mt.transport instanceof TCPTransport);
  t.equal((mt.transport as TCPTransport).dialTimeoutMs, 1234);
});

/** A server and a client on a fresh memory network; `server` options apply to the server only. */
async function memPair(
  t: Teardown,
  opts: { plaintext?: boolean; serverInfoId?: string } = {},
): Promise<{ server: Node; client: Node; addr: NetAddress }> {
  const mem = new MemoryNetwork();
  const server = node(t, mem.transport('10.9.0.1'), { plaintext: opts.plaintext }, opts.serverInfoId);
  const client = node(t, mem.transport('10.9.0.2'), { plaintext: opts.plaintext });
  const bound = await server.mt.listen(new NetAddress('', '10.9.0.1', 0));
  return { server, client, addr: new NetAddress(server.key.id, bound.host, bound.port) };
}

t.test('an encrypted dial authenticates the remote and both sides get its NodeInfo and endpoint', async (t) => {
  const { server, client, addr } = await memPair(t);
  const accepted = server.nextInbound();
  const up = await client.mt.dial(addr);
  t.ok(up.conn instanceof SecretConnection);
  t.match(up, { outbound: true, remoteHost: '10.9.0.1', remotePort: addr.port });
  t.equal(up.nodeInfo.id, server.key.id);
  const [there] = await accepted;
  t.ok(there.conn instanceof SecretConnection);
  t.match(there, { outbound: false, remoteHost: '10.9.0.2' });
  t.equal(there.nodeInfo.id, client.key.id);
});

t.test('a dial rejects a remote that authenticates as another ID, or whose NodeInfo claims another ID', async (t) => {
  const wrong = NodeKey.generate().id;
  const a = await memPair(t);
  await t.rejects(a.client.mt.dial(new NetAddress(wrong, a.addr.host, a.addr.port)), {
    code: 'ERR_AUTH',
    message: `dialed ${wrong} but the remote authenticated as ${a.server.key.id}`,
  });
  const b = await memPair(t, { serverInfoId: wrong });
  await t.rejects(b.client.mt.dial(new NetAddress('', b.addr.host, b.addr.port)), {
    code: 'ERR_AUTH',
    message: `NodeInfo claims id ${wrong} but the remote authenticated as ${b.server.key.id}`,
  });
});

t.test('plaintext: the upgraded stream is the raw connection, and the dialed ID is checked against the NodeInfo', async (t) => {
  const a = await memPair(t, { plaintext: true });
  const up = await a.client.mt.dial(a.addr);
  t.notOk(up.conn instanceof SecretConnection);
  t.equal(up.nodeInfo.id, a.server.key.id);
  const wrong = NodeKey.generate().id;
  await t.rejects(a.client.mt.dial(new NetAddress(wrong, a.addr.host, a.addr.port)), {
    code: 'ERR_PEER_ID_MISMATCH',
    message: `dialed ${wrong} but the remote is ${a.server.key.id}`,
  });
});

/** A memory listener at 10.9.0.5 that answers each connection with `reply` (nothing when empty) and then stays silent. */
async function rawListener(t: Teardown, mem: MemoryNetwork, reply: Buffer): Promise<NetAddress> {
  const tr = mem.transport('10.9.0.5');
  t.teardown(() => tr.close());
  const bound = await tr.listen(new NetAddress('', '10.9.0.5', 0), (raw) => {
    raw.conn.on('error', () => {});
    raw.conn.resume();
    if (reply.length > 0) raw.conn.write(reply);
  });
  return new NetAddress('', bound.host, bound.port);
}

t.test('a failure that is not a switchboard error (our NodeInfo source throws) rejects as ERR_HANDSHAKE with its cause', async (t) => {
  const mem = new MemoryNetwork();
  const addr = await rawListener(t, mem, Buffer.alloc(0));
  const boom = new Error('no NodeInfo yet');
  const client = node(t, mem.transport('10.9.0.2'), {
    plaintext: true,
    nodeInfo: () => {
      throw boom;
    },
  });
  const err = (await client.mt.dial(addr).catch((e: unknown) => e)) as SwitchboardError;
  t.match(err, { code: 'ERR_HANDSHAKE', message: 'handshake failed: no NodeInfo yet' });
  t.equal(err.cause, boom);
});

t.test('a dial to a silent remote fails at handshakeTimeoutMs with ERR_HANDSHAKE_TIMEOUT', async (t) => {
  const mem = new MemoryNetwork();
  const addr = await rawListener(t, mem, Buffer.alloc(0));
  const client = node(t, mem.transport('10.9.0.2'), { handshakeTimeoutMs: 100 });
  await t.rejects(client.mt.dial(addr), {
    code: 'ERR_HANDSHAKE_TIMEOUT',
    message: `handshake with 10.9.0.5:${addr.port} timed out after 100 ms`,
  });
});

t.test('a NodeInfo length over MAX_NODE_INFO_SIZE is refused before its body is read; exactly the maximum is read', async (t) => {
  const len = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const over = new MemoryNetwork();
  const client = node(t, over.transport('10.9.0.2'), { plaintext: true });
  await t.rejects(client.mt.dial(await rawListener(t, over, len(MAX_NODE_INFO_SIZE + 1))), {
    code: 'ERR_INVALID_NODE_INFO',
    message: `NodeInfo length ${MAX_NODE_INFO_SIZE + 1} exceeds ${MAX_NODE_INFO_SIZE} bytes`,
  });
  const exact = new MemoryNetwork();
  const client2 = node(t, exact.transport('10.9.0.2'), { plaintext: true });
  const body = Buffer.alloc(MAX_NODE_INFO_SIZE, 0xc1); // 0xc1 is never valid MessagePack
  await t.rejects(client2.mt.dial(await rawListener(t, exact, Buffer.concat([len(MAX_NODE_INFO_SIZE), body]))), {
    code: 'ERR_INVALID_NODE_INFO',
    message: /^NodeInfo is not valid MessagePack/,
  });
});

t.test('readExactly', async (t) => {
  t.test('0 bytes resolve at once, on a stream that never sends', async (t) => {
    t.same(await readExactly(new PassThrough(), 0), Buffer.alloc(0));
  });
  t.test('reads exactly n bytes and leaves the rest for the next reader', async (t) => {
    const s = new PassThrough();
    s.write(Buffer.from([1, 2, 3, 4, 5, 6]));
    t.same([...(await readExactly(s, 4))], [1, 2, 3, 4]);
    t.same([...(await readExactly(s, 2))], [5, 6]);
  });
  t.test('listens for readable, end, close and error only while it waits', async (t) => {
    const s = new PassThrough();
    const events = ['readable', 'end', 'close', 'error'] as const;
    const base = events.map((e) => s.listenerCount(e));
    const p = readExactly(s, 2);
    t.same(
      events.map((e) => s.listenerCount(e)),
      base.map((n) => n + 1),
    );
    s.write(Buffer.from([7, 8]));
    t.same([...(await p)], [7, 8]);
    t.same(
      events.map((e) => s.listenerCount(e)),
      base,
    );
  });
  t.test('a stream that ends short, or closes, rejects with ERR_HANDSHAKE', async (t) => {
    const short = new PassThrough();
    short.end(Buffer.from([1, 2, 3]));
    await t.rejects(readExactly(short, 5), { code: 'ERR_HANDSHAKE', message: 'connection closed during handshake' });
    const closed = new PassThrough();
    const p = readExactly(closed, 1);
    closed.destroy();
    await t.rejects(p, { code: 'ERR_HANDSHAKE', message: 'connection closed during handshake' });
  });
  t.test('a stream error rejects wrapped with its cause; a switchboard error as it is', async (t) => {
    const s = new PassThrough();
    const p = readExactly(s, 1);
    const boom = new Error('boom');
    s.destroy(boom);
    const err = await p.catch((e: unknown) => e);
    t.match(err, { code: 'ERR_HANDSHAKE', message: 'connection failed during handshake: boom' });
    t.equal((err as Error).cause, boom);
    const s2 = new PassThrough();
    const p2 = readExactly(s2, 1);
    const mine = new RejectedError('ERR_DIAL', 'mine');
    s2.destroy(mine);
    t.equal(await p2.catch((e: unknown) => e), mine);
  });
});
