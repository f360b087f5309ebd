// TCPTransport on its own (no Switch): listen, accept, dial, the dial's failures (refused, timed
// out, aborted, wrong protocol, after close), close() and the tracking of sockets. Loopback
// 127.0.0.1 and port 0 only. A dial that must not connect uses a subclass whose connectSocket
// returns a socket that is never connected: deterministic, unlike a black-hole address.
import t from 'tap';
import { getEventListeners, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { RejectedError } from '../lib/errors.js';
import { NetAddress } from '../lib/net-address.js';
import { TCPTransport, type TCPTransportOptions } from '../lib/transport-tcp.js';
import type { RawConnection } from '../lib/transport.js';
import { freePort, socketPair } from './helpers/net.js';
import { sleep } from './helpers/time.js';
import type { Teardown } from './helpers/teardown.js';

const LOOPBACK_ANY = new NetAddress('', '127.0.0.1', 0);
/** A port nothing dials for real: the stalled transport below never connects its sockets. */
const NOWHERE = new NetAddress('', '127.0.0.1', 26656);

/** The transport's private state, read by these tests (not API). */
interface Internals {
  server: Server | undefined;
  sockets: Set<Socket>;
}
function internals(tr: TCPTransport): Internals {
  return tr as unknown as Internals;
}

/**
 * Whether node set TCP_NODELAY (Nagle off) on `socket`. net.Socket has no public getter; node keeps
 * what it applied to the handle under the `kSetNoDelay` symbol (Node 20). Throws when that is gone,
 * so a Node upgrade shows up here rather than as a silently passing check.
 */
function noDelay(socket: Socket): boolean {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kSetNoDelay');
  if (sym === undefined) throw new Error('net.Socket has no kSetNoDelay symbol in this Node: update noDelay()');
  return (socket as unknown as Record<symbol, unknown>)[sym] === true;
}

/** A TCPTransport that records the sockets its dials open, each with a promise of its 'close' event. */
class RecordingTCPTransport extends TCPTransport {
  readonly opened: Socket[] = [];
  readonly closes: Promise<void>[] = [];
  protected override connectSocket(addr: NetAddress): Socket {
    return this.record(super.connectSocket(addr));
  }
  protected record(s: Socket): Socket {
    this.opened.push(s);
    this.closes.push(closeEvent(s));
    return s;
  }
}

/** A TCPTransport whose dials never connect: connectSocket returns a socket nobody connects. */
class StalledTCPTransport extends RecordingTCPTransport {
  protected override connectSocket(_addr: NetAddress): Socket {
    return this.record(new Socket());
  }
}

/** `tr`, closed at teardown. */
function closing<T extends TCPTransport>(t: Teardown, tr: T): T {
  t.teardown(() => tr.close());
  return tr;
}

/** Accepted connections, in order: `onAccept` for listen, `next()` to await the next one. */
function acceptQueue(): { onAccept: (c: RawConnection) => void; next: () => Promise<RawConnection>; count: () => number } {
  const queued: RawConnection[] = [];
  const waiting: ((c: RawConnection) => void)[] = [];
  let count = 0;
  return {
    onAccept: (c) => {
      count++;
      const w = waiting.shift();
      if (w) w(c);
      else queued.push(c);
    },
    next: () => {
      const c = queued.shift();
      return c ? Promise.resolve(c) : new Promise((resolve) => waiting.push(resolve));
    },
    count: () => count,
  };
}

/** A TCPTransport listening on 127.0.0.1 (a free port), closed at teardown. */
async function listening(t: Teardown, tr: TCPTransport = new TCPTransport()) {
  closing(t, tr);
  const q = acceptQueue();
  const bound = await tr.listen(LOOPBACK_ANY, q.onAccept);
  return { tr, bound, ...q };
}

/** A plain client socket connected to `port`, destroyed at teardown. */
async function client(t: Teardown, port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  t.teardown(() => s.destroy());
  await once(s, 'connect');
  return s;
}

/** Reads exactly until `n` bytes arrived on `s` (then pauses it). */
function readBytes(s: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got < n) return;
      s.off('data', onData);
      s.off('close', onClose);
      s.pause();
      resolve(Buffer.concat(chunks));
    };
    const onClose = () => reject(new Error(`closed after ${got} of ${n} bytes`));
    s.on('data', onData);
    s.once('close', onClose);
    s.resume();
  });
}

/**
 * Resolves on `s`'s 'close' event: call it before what closes `s` (`s.closed` turns true a tick
 * before the event, and before the transport's own 'close' listener has untracked the socket).
 */
function closeEvent(s: Socket): Promise<void> {
  return new Promise((resolve) => s.once('close', () => resolve()));
}

/** The error `p` rejects with; throws when it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a rejection, got a resolution');
}

t.test('defaults: protocol tcp, dialTimeoutMs 3000 unless set', async (t) => {
  t.equal(new TCPTransport().protocol, 'tcp');
  t.equal(new TCPTransport().dialTimeoutMs, 3000);
  t.equal(new TCPTransport({ dialTimeoutMs: 50 }).dialTimeoutMs, 50);
  const opts: TCPTransportOptions = {};
  t.equal(new TCPTransport(opts).dialTimeoutMs, 3000);
});

t.test('listen on 127.0.0.1 port 0: the bound address; an accepted socket has Nagle off, its remote endpoint and bytesRead', async (t) => {
  const { tr, bound, next } = await listening(t);
  const server = internals(tr).server!;
  const port = (server.address() as { port: number }).port;
  t.ok(port > 0);
  t.equal(bound.toString(), `127.0.0.1:${port}`);
  t.equal(bound.id, '');
  t.equal(bound.host, '127.0.0.1');
  t.equal(bound.port, port);
  t.equal(bound.protocol, 'tcp');
  const c = await client(t, port);
  const acc = await next();
  const sock = acc.conn as Socket;
  t.equal(noDelay(sock), true, 'the accepted socket has Nagle off');
  t.same(acc.remote, { host: '127.0.0.1', port: c.localPort }, 'remote: the dialer’s address and port');
  t.equal(internals(tr).sockets.size, 1, 'the accepted socket is tracked');
  t.equal(acc.bytesRead(), 0);
  c.write('hello');
  t.equal((await readBytes(sock, 5)).toString(), 'hello');
  t.equal(acc.bytesRead(), 5, 'bytesRead counts the bytes received');
  c.write('!!');
  await readBytes(sock, 2);
  t.equal(acc.bytesRead(), 7);
  t.doesNotThrow(() => sock.emit('error', new Error('read ECONNRESET')), 'an error on an accepted socket does not crash the process');
});

t.test('dial: a connected socket with Nagle off, its remote endpoint, bytesRead; only a no-op error listener is left on it', async (t) => {
  const { bound, next } = await listening(t);
  const tr = closing(t, new RecordingTCPTransport());
  const raw = await tr.dial(new NetAddress('', '127.0.0.1', bound.port));
  const sock = raw.conn as Socket;
  t.equal(sock, tr.opened[0], 'the connection is the socket connectSocket opened');
  t.equal(noDelay(sock), true, 'the dialed socket has Nagle off');
  t.same(raw.remote, { host: '127.0.0.1', port: bound.port });
  t.equal(internals(tr).sockets.size, 1, 'the dialed socket is tracked');
  const acc = await next();
  t.same(acc.remote, { host: '127.0.0.1', port: sock.localPort });
  t.equal(raw.bytesRead(), 0);
  acc.conn.write('abc');
  t.equal((await readBytes(sock, 3)).toString(), 'abc');
  t.equal(raw.bytesRead(), 3);
  t.equal(sock.listenerCount('connect'), 0, 'no connect listener left');
  t.equal(sock.listenerCount('error'), 1, 'one error listener: the no-op one, not the dial’s');
  t.equal(sock.listenerCount('close'), 2, 'two close listeners: the tracking one and this test’s, not the dial’s');
  t.doesNotThrow(() => sock.emit('error', new Error('read ECONNRESET')), 'a later error on the socket does not crash the process');
  t.equal(sock.destroyed, false, 'a later error does not fail the (settled) dial and destroy the socket');
  sock.write('x');
  t.equal((await readBytes(acc.conn, 1)).toString(), 'x', 'the socket still carries bytes');
});

t.test(
  'after a connect, the dial timer and the abort listener are gone: the socket outlives dialTimeoutMs and a later abort',
  async (t) => {
    const { bound, next } = await listening(t);
    const tr = closing(t, new TCPTransport({ dialTimeoutMs: 50 }));
    const ac = new AbortController();
    const raw = await tr.dial(new NetAddress('', '127.0.0.1', bound.port), ac.signal);
    const acc = await next();
    const sock = raw.conn as Socket;
    t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'the abort listener is removed on connect');
    ac.abort();
    t.equal(sock.destroyed, false, 'an abort after the connect does not destroy the socket');
    // the one negative check with a sleep: 10× the dial timeout. Timers fire in order of expiry, so
    // the dial's 50 ms timer, had it not been cleared, would have fired before this one.
    await sleep(500);
    t.equal(sock.destroyed, false, 'the socket is not destroyed when dialTimeoutMs has passed');
    t.equal(internals(tr).sockets.size, 1);
    sock.write('ping');
    t.equal((await readBytes(acc.conn, 4)).toString(), 'ping');
  },
);

t.test('a dial of a closed port is ERR_DIAL "failed:" with the ECONNREFUSED system error as cause; the socket is untracked', async (t) => {
  const port = await freePort();
  const tr = closing(t, new RecordingTCPTransport());
  const err = await rejection(tr.dial(new NetAddress('', '127.0.0.1', port)));
  t.type(err, RejectedError);
  t.equal(err.code, 'ERR_DIAL');
  t.equal(err.message, `dial 127.0.0.1:${port} failed: connect ECONNREFUSED 127.0.0.1:${port}`);
  t.match(err.cause, { code: 'ECONNREFUSED', syscall: 'connect', address: '127.0.0.1', port });
  const sock = tr.opened[0]!;
  t.equal(sock.destroyed, true);
  await tr.closes[0];
  t.equal(internals(tr).sockets.size, 0, 'the failed socket is no longer tracked');
  t.equal(sock.listenerCount('connect'), 0, 'the dial’s connect listener is removed');
  t.equal(sock.listenerCount('error'), 0, 'the dial’s error listener is removed');
});

t.test('a dial that does not connect within dialTimeoutMs is ERR_DIAL_TIMEOUT; its socket is destroyed and untracked', async (t) => {
  const tr = closing(t, new StalledTCPTransport({ dialTimeoutMs: 50 }));
  const ac = new AbortController();
  const dialing = tr.dial(NOWHERE, ac.signal);
  t.equal(internals(tr).sockets.size, 1, 'the connecting socket is tracked');
  const err = await rejection(dialing);
  t.type(err, RejectedError);
  t.equal(err.code, 'ERR_DIAL_TIMEOUT');
  t.equal(err.message, 'dial 127.0.0.1:26656 timed out after 50 ms');
  const sock = tr.opened[0]!;
  t.equal(sock.destroyed, true, 'the timed-out socket is destroyed');
  await tr.closes[0];
  t.equal(internals(tr).sockets.size, 0, 'and untracked');
  t.equal(sock.listenerCount('connect'), 0);
  t.equal(sock.listenerCount('error'), 0);
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'the abort listener is removed on timeout');
});

t.test('an aborted dial is ERR_DIAL "aborted": a signal aborted before the dial, and one aborted during the connect', async (t) => {
  // a dialTimeoutMs far off: an abort that is missed shows as ERR_DIAL_TIMEOUT, not a hang
  const tr = closing(t, new StalledTCPTransport({ dialTimeoutMs: 2000 }));
  const pre = AbortSignal.abort();
  const err1 = await rejection(tr.dial(NOWHERE, pre));
  t.type(err1, RejectedError);
  t.equal(err1.code, 'ERR_DIAL');
  t.equal(err1.message, 'dial 127.0.0.1:26656 aborted');
  t.equal(tr.opened.length, 0, 'a dial aborted beforehand opens no socket');
  t.equal(internals(tr).sockets.size, 0);

  const ac = new AbortController();
  const dialing = tr.dial(NOWHERE, ac.signal);
  const s2 = tr.opened[0]!;
  t.equal(internals(tr).sockets.size, 1, 'the connecting socket is tracked');
  t.equal(getEventListeners(ac.signal, 'abort').length, 1, 'the dial listens for the abort');
  ac.abort();
  const err2 = await rejection(dialing);
  t.type(err2, RejectedError);
  t.equal(err2.code, 'ERR_DIAL');
  t.equal(err2.message, 'dial 127.0.0.1:26656 aborted');
  t.equal(s2.destroyed, true, 'the socket of a dial aborted while connecting is destroyed');
  await tr.closes[0];
  t.equal(internals(tr).sockets.size, 0, 'and untracked');
  t.equal(s2.listenerCount('connect'), 0);
  t.equal(s2.listenerCount('error'), 0);
  t.equal(getEventListeners(ac.signal, 'abort').length, 0);
});

t.test(
  'a unix address is ERR_DIAL "cannot dial … over the tcp transport"; after close, dial and listen are ERR_SWITCH_STOPPED',
  async (t) => {
    const tr = closing(t, new RecordingTCPTransport());
    const unix = new NetAddress('', '/tmp/sb-tcp-test-none.sock', 0, 'unix');
    const err = await rejection(tr.dial(unix));
    t.type(err, RejectedError);
    t.equal(err.code, 'ERR_DIAL');
    t.equal(err.message, 'cannot dial unix:///tmp/sb-tcp-test-none.sock over the tcp transport');
    t.equal(tr.opened.length, 0, 'no socket was opened');

    await tr.close(); // a transport that never listened closes
    await tr.close(); // idempotent
    const dialErr = await rejection(tr.dial(new NetAddress('', '127.0.0.1', 26656)));
    t.type(dialErr, RejectedError);
    t.equal(dialErr.code, 'ERR_SWITCH_STOPPED');
    t.equal(dialErr.message, 'transport closed');
    t.equal(tr.opened.length, 0, 'a dial after close opens no socket');
    const listenErr = await rejection(tr.listen(LOOPBACK_ANY, () => t.fail('accepted after close')));
    t.type(listenErr, RejectedError);
    t.equal(listenErr.code, 'ERR_SWITCH_STOPPED');
    t.equal(listenErr.message, 'transport closed');
    t.equal(internals(tr).server, undefined, 'a listen after close creates no server');
  },
);

t.test('a listen on a port in use rejects with the EADDRINUSE system error', async (t) => {
  const { bound } = await listening(t);
  const tr = closing(t, new TCPTransport());
  const err = await rejection(tr.listen(new NetAddress('', '127.0.0.1', bound.port), () => t.fail('accepted')));
  t.notOk(err instanceof RejectedError, 'the system error as is');
  t.match(err, { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port: bound.port });
  t.equal(internals(tr).server!.listening, false);
  await tr.close();
});

t.test('after listen, a server error (EMFILE on accept…) neither crashes nor stops the listener', async (t) => {
  const { tr, bound, next } = await listening(t);
  const server = internals(tr).server!;
  t.equal(server.listenerCount('error'), 1, 'one error listener: the keep-serving one, not the listen’s reject');
  t.doesNotThrow(() => server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' })));
  t.equal(server.listening, true);
  const c = await client(t, bound.port);
  const acc = await next();
  t.equal(acc.remote.port, c.localPort, 'a connection after the error is accepted');
});

t.test('listen rejects when the bound address is not a host and port: a pipe path, or none', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-tcp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'pipe.sock');
  class PipeListener extends TCPTransport {
    protected override listenOptions(_addr: NetAddress): { path: string } {
      return { path };
    }
  }
  const pipe = closing(t, new PipeListener());
  const err1 = await rejection(pipe.listen(LOOPBACK_ANY, () => t.fail('accepted')));
  t.notOk(err1 instanceof RejectedError);
  t.equal(err1.message, 'unexpected server address', 'server.address() is a string');

  class NoAddress extends TCPTransport {
    protected override boundAddress(_server: Server, requested: NetAddress): NetAddress {
      return super.boundAddress({ address: () => null } as unknown as Server, requested);
    }
  }
  const none = closing(t, new NoAddress());
  const err2 = await rejection(none.listen(LOOPBACK_ANY, () => t.fail('accepted')));
  t.equal(err2.message, 'unexpected server address', 'server.address() is null');
  t.equal(internals(pipe).server!.listening, false, 'a rejected listen leaves nothing listening');
  t.equal(internals(none).server!.listening, false);
});

t.test('a connection that arrives after close() is destroyed, neither tracked nor passed on', async (t) => {
  const { tr, count } = await listening(t);
  const server = internals(tr).server!;
  await tr.close();
  // the listening socket is closed, so the late connection is handed to the server by hand, as
  // one accepted in the same turn as close() would be
  const [, late] = await socketPair(t);
  server.emit('connection', late);
  t.equal(late.destroyed, true, 'the late connection is destroyed');
  t.equal(count(), 0, 'onAccept was not called');
  t.equal(internals(tr).sockets.size, 0, 'it is not tracked');
  t.doesNotThrow(() => late.emit('error', new Error('read ECONNRESET')), 'an error on it does not crash the process');
});

t.test('an accepted socket without a peer name (reset before it was accepted) has the remote endpoint "" / 0', async (t) => {
  const { tr, next } = await listening(t);
  const reset = new Socket();
  t.teardown(() => reset.destroy());
  internals(tr).server!.emit('connection', reset);
  const acc = await next();
  t.equal(acc.conn, reset);
  t.same(acc.remote, { host: '', port: 0 });
  t.equal(acc.bytesRead(), 0);
  t.equal(internals(tr).sockets.size, 1);
});

t.test('close() destroys every socket it dialed and accepted, and resolves once the port accepts no more', async (t) => {
  const { tr, bound, next } = await listening(t);
  const dialed = (await tr.dial(new NetAddress('', '127.0.0.1', bound.port))).conn as Socket;
  const acceptedOwn = (await next()).conn as Socket;
  const outside = await client(t, bound.port);
  const acceptedOutside = (await next()).conn as Socket;
  t.equal(internals(tr).sockets.size, 3, 'the dialed socket and both accepted ones are tracked');
  const outsideClosed = new Promise((resolve) => outside.once('close', resolve));
  const ownCloses = [dialed, acceptedOwn, acceptedOutside].map(closeEvent);
  await tr.close();
  for (const [name, s] of [
    ['dialed', dialed],
    ['accepted of the own dial', acceptedOwn],
    ['accepted of an outside dial', acceptedOutside],
  ] as const) {
    t.equal(s.destroyed, true, `the ${name} socket is destroyed`);
  }
  await Promise.all(ownCloses);
  await outsideClosed;
  t.pass('the outside dialer saw its connection close');
  t.equal(internals(tr).sockets.size, 0, 'closed sockets are untracked');
  t.equal(internals(tr).server!.listening, false, 'the server no longer listens when close() resolves');
  const probe = connect({ host: '127.0.0.1', port: bound.port });
  t.teardown(() => probe.destroy());
  const [err] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'a new connect to the port is refused');
});

t.test('a tracked socket that closes is untracked, dialed or accepted', async (t) => {
  const { tr, bound, next } = await listening(t);
  const outside = await client(t, bound.port);
  const accepted = (await next()).conn as Socket;
  t.equal(internals(tr).sockets.size, 1);
  const acceptedClosed = closeEvent(accepted);
  outside.destroy();
  await acceptedClosed;
  t.equal(internals(tr).sockets.size, 0, 'the accepted socket is untracked once it closed');

  const other = await listening(t);
  const dialed = (await tr.dial(new NetAddress('', '127.0.0.1', other.bound.port))).conn as Socket;
  t.equal(internals(tr).sockets.size, 1);
  const dialedClosed = closeEvent(dialed);
  (await other.next()).conn.destroy();
  await dialedClosed;
  t.equal(internals(tr).sockets.size, 0, 'the dialed socket is untracked once it closed');
  await tr.close();
  t.equal(dialed.destroyed, true);
});

t.test('close() during a connect rejects the dial at once with ERR_SWITCH_STOPPED, not at its timeout', async (t) => {
  // a timeout far beyond the test's own: a dial that waits for it fails the test by timing out
  const tr = closing(t, new StalledTCPTransport({ dialTimeoutMs: 600_000 }));
  const dialing = tr.dial(NOWHERE);
  await tr.close();
  const err = await rejection(dialing);
  t.type(err, RejectedError);
  t.equal(err.code, 'ERR_SWITCH_STOPPED');
  t.equal(err.message, 'transport closed');
});

t.test('a connecting socket destroyed by someone else rejects the dial with ERR_DIAL "closed while connecting"', async (t) => {
  const tr = closing(t, new StalledTCPTransport({ dialTimeoutMs: 600_000 }));
  const dialing = tr.dial(NOWHERE);
  tr.opened[0]!.destroy();
  const err = await rejection(dialing);
  t.equal(err.code, 'ERR_DIAL');
  t.equal(err.message, 'dial 127.0.0.1:26656 closed while connecting');
});
