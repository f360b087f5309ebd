/**
 * SecretConnection over real loopback TCP sockets: handshake, round trips
 * (fast-check), coalescing and backpressure, hostile peers speaking the
 * protocol by hand, nonce exhaustion.
 */
import t from 'tap';
import fc from 'fast-check';
import { once } from 'node:events';
import net from 'node:net';
import {
  AUTH_MESSAGE_SIZE,
  LOW_ORDER_POINTS,
  deriveSessionKeys,
  encodeAuthMessage,
  ephemeralKeyPair,
  isLowOrderPoint,
  verifyAuthMessage,
  x25519SharedSecret,
  type SessionKeys,
} from '../../lib/conn/handshake.js';
import { FRAME_OVERHEAD, FRAME_TAG_SIZE, FrameOpener, FrameSealer, MAX_NONCE_COUNTER } from '../../lib/conn/frame.js';
import { SecretConnection, type SecretConnectionOptions, type SecretConnectionTestOptions } from '../../lib/conn/secret-connection.js';
import { SwitchboardError } from '../../lib/errors.js';
import { NodeKey } from '../../lib/node-key.js';
import { xorByte } from '../helpers/bytes.js';

// ---------------------------------------------------------------------------
// Fixtures

/** tap's test object type (the last `t.test` overload takes just the callback). */
type TT = Parameters<Parameters<typeof t.test>[0]>[0];

const opened = new Set<{ destroy(): unknown }>();
const servers = new Set<net.Server>();
t.teardown(() => {
  for (const c of opened) c.destroy();
  for (const s of servers) s.close();
});

function track<T extends { destroy(): unknown }>(x: T): T {
  opened.add(x);
  return x;
}

type Outcome = { ok: true; sc: SecretConnection; sock: net.Socket } | { ok: false; err: SwitchboardError; sock: net.Socket; ms: number };

/** A listening server that runs SecretConnection.make on every connection and queues the outcomes. */
class Server {
  readonly key = NodeKey.generate();
  opts: SecretConnectionTestOptions = { handshakeTimeoutMs: 10_000 };
  port = 0;
  private readonly server = net.createServer();
  private readonly ready: Outcome[] = [];
  private readonly waiting: Array<(o: Outcome) => void> = [];

  async listen(): Promise<this> {
    servers.add(this.server);
    this.server.on('connection', (sock) => {
      track(sock);
      const start = Date.now();
      SecretConnection.make(sock, this.key, { ...this.opts }).then(
        (sc) => this.deliver({ ok: true, sc: track(sc), sock }),
        (err) => this.deliver({ ok: false, err, sock, ms: Date.now() - start }),
      );
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  private deliver(o: Outcome): void {
    const w = this.waiting.shift();
    if (w) w(o);
    else this.ready.push(o);
  }

  /** The outcome of the next server-side handshake. */
  next(): Promise<Outcome> {
    const o = this.ready.shift();
    if (o) return Promise.resolve(o);
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

async function connect(port: number): Promise<net.Socket> {
  const sock = track(net.connect(port, '127.0.0.1'));
  await once(sock, 'connect');
  return sock;
}

/** A loopback pair of SecretConnections (fresh server per pair). */
async function pair(
  clientOpts: SecretConnectionTestOptions = {},
  serverOpts: SecretConnectionTestOptions = {},
): Promise<{ a: SecretConnection; b: SecretConnection; aKey: NodeKey; bKey: NodeKey; aSock: net.Socket; bSock: net.Socket }> {
  const server = await new Server().listen();
  server.opts = serverOpts;
  const aKey = NodeKey.generate();
  const aSock = await connect(server.port);
  const [a, o] = await Promise.all([SecretConnection.make(aSock, aKey, clientOpts), server.next()]);
  if (!o.ok) throw o.err;
  track(a);
  return { a, b: o.sc, aKey, bKey: server.key, aSock, bSock: o.sock };
}

/** Exact reads from a raw socket, for peers that speak the protocol by hand. */
class RawReader {
  private buf = Buffer.alloc(0);
  private waiter: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  ended = false;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.serve();
    });
    sock.on('close', () => {
      this.ended = true;
      this.waiter?.reject(new Error('closed'));
      this.waiter = undefined;
    });
  }
  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.ended && this.buf.length < n) return reject(new Error('closed'));
      this.waiter = { n, resolve, reject };
      this.serve();
    });
  }
  private serve(): void {
    const w = this.waiter;
    if (!w || this.buf.length < w.n) return;
    this.waiter = undefined;
    const out = this.buf.subarray(0, w.n);
    this.buf = this.buf.subarray(w.n);
    w.resolve(out);
  }
}

/** A hand-rolled client that completes the key exchange and reads (and checks) the server's auth frame. */
async function evilKeys(
  port: number,
): Promise<{ sock: net.Socket; reader: RawReader; keys: SessionKeys; sealer: FrameSealer; opener: FrameOpener; serverPub: Uint8Array }> {
  const sock = await connect(port);
  const reader = new RawReader(sock);
  const eph = ephemeralKeyPair();
  sock.write(eph.publicKey);
  const rem = await reader.read(32);
  const keys = deriveSessionKeys(x25519SharedSecret(eph, rem), eph.publicKey, rem);
  const sealer = new FrameSealer(keys.sendKey);
  const opener = new FrameOpener(keys.recvKey);
  const hdr = await reader.read(4);
  const body = await reader.read(AUTH_MESSAGE_SIZE + FRAME_TAG_SIZE);
  const serverPub = verifyAuthMessage(opener.open(hdr, body), keys.challenge);
  return { sock, reader, keys, sealer, opener, serverPub };
}

/** evilKeys + a valid auth frame: a fully authenticated hand-rolled client. */
async function evilSession(server: Server): Promise<Awaited<ReturnType<typeof evilKeys>> & { sc: SecretConnection; key: NodeKey }> {
  const key = NodeKey.generate();
  const e = await evilKeys(server.port);
  e.sock.write(e.sealer.seal(encodeAuthMessage(key, e.keys.challenge)));
  const o = await server.next();
  if (!o.ok) throw o.err;
  return { ...e, sc: o.sc, key };
}

async function expectRejected(t: TT, server: Server, code: string, what: string): Promise<Outcome & { ok: false }> {
  const o = await server.next();
  t.equal(o.ok, false, `${what}: server handshake rejected`);
  if (o.ok) throw new Error('handshake unexpectedly succeeded');
  t.type(o.err, SwitchboardError, `${what}: typed error`);
  t.equal(o.err.code, code, `${what}: ${code} (${o.err.message})`);
  if (!o.sock.destroyed) await once(o.sock, 'close');
  t.ok(o.sock.destroyed, `${what}: server destroyed the socket`);
  return o;
}

async function expectConnError(t: TT, sc: SecretConnection, code: string, what: string): Promise<SwitchboardError> {
  const [err] = (await once(sc, 'error')) as [SwitchboardError];
  t.type(err, SwitchboardError, `${what}: typed error`);
  t.equal(err.code, code, `${what}: ${code} (${err.message})`);
  if (!sc.destroyed) await once(sc, 'close');
  t.ok(sc.destroyed, `${what}: connection destroyed`);
  return err;
}

/** A good client still completes a handshake with `server` and exchanges bytes. */
async function goodClientWorks(t: TT, server: Server): Promise<void> {
  const key = NodeKey.generate();
  const sock = await connect(server.port);
  const [c, o] = await Promise.all([SecretConnection.make(sock, key), server.next()]);
  track(c);
  t.ok(o.ok, 'server still completes a handshake with a good client');
  if (!o.ok) return;
  t.equal(o.sc.remoteId, key.id);
  t.equal(c.remoteId, server.key.id);
  const got = once(o.sc, 'data');
  c.write('ping');
  t.equal(String((await got)[0]), 'ping');
  c.destroy();
  o.sc.destroy();
}

function collect(sc: SecretConnection, want: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    if (want === 0) return resolve(Buffer.alloc(0));
    const onData = (d: Buffer): void => {
      parts.push(d);
      n += d.length;
      if (n >= want) {
        sc.off('data', onData);
        sc.off('error', reject);
        resolve(Buffer.concat(parts));
      }
    };
    sc.on('data', onData);
    sc.once('error', reject);
  });
}

/** Deterministic pseudo-random bytes (xorshift32) — fast-check picks lengths and seeds. */
function bytes(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = seed | 0 || 0x9e3779b9;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

// ---------------------------------------------------------------------------
// Handshake and data

t.test('handshake over real sockets: each side authenticates the other', async (t) => {
  const { a, b, aKey, bKey } = await pair();
  t.equal(a.remoteId, bKey.id);
  t.equal(b.remoteId, aKey.id);
  t.same(Buffer.from(a.remotePubKey()), Buffer.from(bKey.pubKey));
  t.same(Buffer.from(b.remotePubKey()), Buffer.from(aKey.pubKey));
  a.remotePubKey().fill(0);
  t.same(Buffer.from(a.remotePubKey()), Buffer.from(bKey.pubKey), 'remotePubKey returns a copy');

  const toB = collect(b, 5);
  const toA = collect(a, 5);
  a.write('hello');
  b.write(Buffer.from('world'));
  t.equal((await toB).toString(), 'hello');
  t.equal((await toA).toString(), 'world');

  // clean shutdown in both directions
  const bEnded = once(b, 'end');
  const aEnded = once(a, 'end');
  a.end();
  await bEnded;
  b.end();
  await aEnded;
  await Promise.all([a.closed ? undefined : once(a, 'close'), b.closed ? undefined : once(b, 'close')]);
  t.ok(a.destroyed && b.destroyed, 'both auto-destroyed after a clean end each way');
});

t.test('property: random messages in both directions arrive intact', async (t) => {
  const frameSizes = [257, 4096, 65536];
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...frameSizes).chain((F) => {
        const len = fc.oneof(fc.integer({ min: 0, max: 5 * F }), fc.constantFrom(0, 1, F - 1, F, F + 1, 2 * F, 5 * F));
        const msg = fc.record({ len, seed: fc.integer(), sameTick: fc.boolean() });
        return fc.record({ F: fc.constant(F), ab: fc.array(msg, { maxLength: 6 }), ba: fc.array(msg, { maxLength: 6 }) });
      }),
      async ({ F, ab, ba }) => {
        const { a, b } = await pair({ maxFramePayload: F }, { maxFramePayload: F });
        try {
          const abMsgs = ab.map((m) => ({ ...m, data: bytes(m.len, m.seed) }));
          const baMsgs = ba.map((m) => ({ ...m, data: bytes(m.len, m.seed) }));
          const abWant = Buffer.concat(abMsgs.map((m) => m.data));
          const baWant = Buffer.concat(baMsgs.map((m) => m.data));
          const gotB = collect(b, abWant.length);
          const gotA = collect(a, baWant.length);
          const send = async (sc: SecretConnection, msgs: typeof abMsgs): Promise<void> => {
            for (const m of msgs) {
              if (!m.sameTick) await new Promise((r) => setImmediate(r));
              if (!sc.write(m.data)) await once(sc, 'drain');
            }
          };
          await Promise.all([send(a, abMsgs), send(b, baMsgs)]);
          const [rb, ra] = await Promise.all([gotB, gotA]);
          return rb.equals(abWant) && ra.equals(baWant);
        } finally {
          a.destroy();
          b.destroy();
        }
      },
    ),
    { numRuns: 25 },
  );
  t.pass('25 runs');
});

t.test('writes in one tick become as few frames as possible, in one transport write', async (t) => {
  const { a, b, aSock } = await pair();
  // count what reaches the socket's own write path: one _writev call is one gathered transport write
  const writes: number[] = [];
  const sock = aSock as unknown as {
    _write: (c: Buffer, e: string, cb: () => void) => void;
    _writev: (cs: { chunk: Buffer }[], cb: () => void) => void;
  };
  const origWrite = sock._write.bind(aSock);
  const origWritev = sock._writev.bind(aSock);
  sock._write = (c, e, cb) => (writes.push(c.length), origWrite(c, e, cb));
  sock._writev = (cs, cb) => (writes.push(cs.reduce((n, x) => n + x.chunk.length, 0)), origWritev(cs, cb));

  // 64 × 1 KiB in one tick → one 64 KiB frame in one write.
  let got = collect(b, 64 * 1024);
  for (let i = 0; i < 64; i++) a.write(bytes(1024, i + 1));
  const first = await got;
  t.same(writes, [64 * 1024 + FRAME_OVERHEAD], 'one transport write holding one full frame');
  t.ok(first.equals(Buffer.concat(Array.from({ length: 64 }, (_, i) => bytes(1024, i + 1)))));

  // 200 KiB in one write → ⌈200/64⌉ = 4 frames, one transport write.
  writes.length = 0;
  const big = bytes(200 * 1024, 7);
  got = collect(b, big.length);
  a.write(big);
  t.ok((await got).equals(big));
  t.same(writes, [big.length + 4 * FRAME_OVERHEAD], 'one transport write holding 4 frames');

  // Writes in separate ticks are separate frames.
  writes.length = 0;
  got = collect(b, 2);
  a.write('x');
  await new Promise((r) => setImmediate(r));
  a.write('y');
  t.equal((await got).toString(), 'xy');
  t.same(writes, [1 + FRAME_OVERHEAD, 1 + FRAME_OVERHEAD]);
});

t.test('backpressure: an unread connection pauses its transport, then delivers everything', async (t) => {
  const { a, b, bSock } = await pair();
  const total = 32 * 1024 * 1024;
  const chunk = bytes(256 * 1024, 3);
  const paused = once(bSock, 'pause');
  let sent = 0;
  const sending = (async () => {
    while (sent < total) {
      sent += chunk.length;
      if (!a.write(chunk)) await once(a, 'drain');
    }
  })();
  await paused;
  t.ok(bSock.isPaused(), 'receiver paused its socket');
  t.ok(b.readableLength <= b.readableHighWaterMark + 2 * 65536, `receiver buffers a bounded amount (${b.readableLength} B)`);
  t.ok(sent < total, `sender is held back (${sent} of ${total} B written so far)`);
  let received = 0;
  let ok = true;
  const done = new Promise<void>((resolve) => {
    b.on('data', (d: Buffer) => {
      for (let i = 0; i < d.length; i += 4099) if (d[i] !== chunk[(received + i) % chunk.length]) ok = false;
      received += d.length;
      if (received >= total) resolve();
    });
  });
  await sending;
  await done;
  t.equal(received, total);
  t.ok(ok, 'content intact');
});

t.test('data pipelined right behind the auth frame is delivered', async (t) => {
  const server = await new Server().listen();
  const key = NodeKey.generate();
  const e = await evilKeys(server.port);
  // auth frame and two data frames in a single TCP write
  e.sock.write(
    Buffer.concat([
      e.sealer.seal(encodeAuthMessage(key, e.keys.challenge)),
      e.sealer.seal(Buffer.from('early ')),
      e.sealer.seal(Buffer.from('bird')),
    ]),
  );
  const o = await server.next();
  t.ok(o.ok);
  if (!o.ok) return;
  t.equal(o.sc.remoteId, key.id);
  t.equal((await collect(o.sc, 10)).toString(), 'early bird');
  // and the other direction works for the hand-rolled client
  o.sc.write('reply');
  const hdr = await e.reader.read(4);
  const body = await e.reader.read(hdr.readUInt32BE(0) + FRAME_TAG_SIZE);
  t.equal(e.opener.open(hdr, body).toString(), 'reply');
});

t.test('remote end between frames is a clean end; mid-frame is ERR_CONNECTION_CLOSED', async (t) => {
  const server = await new Server().listen();
  {
    const e = await evilSession(server);
    e.sock.write(e.sealer.seal(Buffer.from('bye')));
    e.sock.end();
    t.equal((await collect(e.sc, 3)).toString(), 'bye');
    await once(e.sc, 'end');
    t.pass('clean end');
  }
  {
    const e = await evilSession(server);
    const f = e.sealer.seal(Buffer.from('truncated frame'));
    e.sock.end(f.subarray(0, f.length - 3));
    e.sc.resume();
    await expectConnError(t, e.sc, 'ERR_CONNECTION_CLOSED', 'truncated');
  }
  await goodClientWorks(t, server);
});

// ---------------------------------------------------------------------------
// Hostile peers during the handshake

t.test('evil: never sends its ephemeral key → ERR_HANDSHAKE_TIMEOUT', async (t) => {
  const server = await new Server().listen();
  server.opts = { handshakeTimeoutMs: 300 };
  const sock = await connect(server.port);
  const reader = new RawReader(sock);
  t.equal((await reader.read(32)).length, 32, 'server sent its ephemeral key');
  const o = await expectRejected(t, server, 'ERR_HANDSHAKE_TIMEOUT', 'silent peer');
  t.ok(o.ms >= 250 && o.ms < 5000, `gave up after ${o.ms} ms`);
  server.opts = {};
  await goodClientWorks(t, server);
});

t.test('evil: low-order ephemeral keys → ERR_AUTH', async (t) => {
  const server = await new Server().listen();
  const points = [...LOW_ORDER_POINTS.map((p) => Buffer.from(p))];
  const topBit = Buffer.from(LOW_ORDER_POINTS[2]!);
  topBit[31]! |= 0x80;
  points.push(topBit);
  for (const [i, p] of points.entries()) {
    t.ok(isLowOrderPoint(p));
    const sock = await connect(server.port);
    sock.on('error', () => {});
    sock.write(p);
    await expectRejected(t, server, 'ERR_AUTH', `low-order point ${i}`);
  }
  t.notOk(isLowOrderPoint(ephemeralKeyPair().publicKey), 'a real key is not low order');
  t.ok(isLowOrderPoint(new Uint8Array(31)), 'a short key is unusable');
  t.throws(() => x25519SharedSecret(ephemeralKeyPair(), LOW_ORDER_POINTS[0]!), { code: 'ERR_AUTH' });
  await goodClientWorks(t, server);
});

t.test('evil: reflects our own ephemeral key → ERR_AUTH', async (t) => {
  const server = await new Server().listen();
  const sock = await connect(server.port);
  sock.on('error', () => {});
  const reader = new RawReader(sock);
  sock.write(await reader.read(32));
  await expectRejected(t, server, 'ERR_AUTH', 'reflected key');
  await goodClientWorks(t, server);
});

t.test('evil: garbage', async (t) => {
  const server = await new Server().listen();
  {
    // valid-looking key, then an auth frame of random bytes
    const sock = await connect(server.port);
    sock.on('error', () => {});
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(AUTH_MESSAGE_SIZE);
    sock.write(Buffer.concat([ephemeralKeyPair().publicKey, hdr, bytes(AUTH_MESSAGE_SIZE + FRAME_TAG_SIZE, 5)]));
    await expectRejected(t, server, 'ERR_AUTH', 'random auth frame');
  }
  {
    // an auth frame length that is not 96: refused from the 4 bytes alone
    const sock = await connect(server.port);
    sock.on('error', () => {});
    sock.write(Buffer.concat([ephemeralKeyPair().publicKey, Buffer.from('deadbeef', 'hex')]));
    await expectRejected(t, server, 'ERR_HANDSHAKE', 'bad auth frame length');
  }
  {
    // a few bytes then hang up
    const sock = await connect(server.port);
    sock.on('error', () => {});
    sock.end(bytes(20, 9));
    await expectRejected(t, server, 'ERR_HANDSHAKE', 'short garbage then end');
  }
  await goodClientWorks(t, server);
});

t.test('evil: never sends its auth signature → ERR_HANDSHAKE_TIMEOUT', async (t) => {
  const server = await new Server().listen();
  server.opts = { handshakeTimeoutMs: 300 };
  const e = await evilKeys(server.port); // key exchange done, server's auth received and valid
  e.sock.on('error', () => {});
  const o = await expectRejected(t, server, 'ERR_HANDSHAKE_TIMEOUT', 'no auth frame');
  t.ok(o.ms < 5000);
  server.opts = {};
  await goodClientWorks(t, server);
});

t.test('evil: wrong signatures → ERR_AUTH', async (t) => {
  const server = await new Server().listen();
  {
    // claims key X, signs with key Y
    const e = await evilKeys(server.port);
    e.sock.on('error', () => {});
    const x = NodeKey.generate();
    const y = NodeKey.generate();
    e.sock.write(e.sealer.seal(Buffer.concat([x.pubKey, y.sign(e.keys.challenge)])));
    await expectRejected(t, server, 'ERR_AUTH', 'signed with the wrong key');
  }
  {
    // right key, wrong message signed
    const e = await evilKeys(server.port);
    e.sock.on('error', () => {});
    const x = NodeKey.generate();
    e.sock.write(e.sealer.seal(encodeAuthMessage(x, bytes(32, 11))));
    await expectRejected(t, server, 'ERR_AUTH', 'signed the wrong challenge');
  }
  {
    // valid auth message sealed under the wrong key (not the shared secret's)
    const e = await evilKeys(server.port);
    e.sock.on('error', () => {});
    const x = NodeKey.generate();
    e.sock.write(new FrameSealer(e.keys.recvKey).seal(encodeAuthMessage(x, e.keys.challenge)));
    await expectRejected(t, server, 'ERR_AUTH', 'auth frame under the wrong key');
  }
  await goodClientWorks(t, server);
});

// ---------------------------------------------------------------------------
// Hostile peers after the handshake

t.test('evil: tampered frames → ERR_BAD_FRAME', async (t) => {
  const server = await new Server().listen();
  for (const [what, flip] of [
    ['ciphertext bit', (f: Buffer) => xorByte(f, 10, 0x01)],
    ['tag bit', (f: Buffer) => xorByte(f, f.length - 1, 0x80)],
    ['length bit (100 → 96)', (f: Buffer) => xorByte(f, 3, 0x04)],
  ] as const) {
    const e = await evilSession(server);
    e.sock.on('error', () => {});
    const good = e.sealer.seal(Buffer.from('fine'));
    const bad = e.sealer.seal(bytes(100, 2));
    flip(bad);
    let delivered = '';
    e.sc.on('data', (d: Buffer) => (delivered += d.toString()));
    e.sock.write(Buffer.concat([good, bad]));
    await expectConnError(t, e.sc, 'ERR_BAD_FRAME', what);
    t.equal(delivered, 'fine', `${what}: frames before the bad one were delivered, nothing after`);
  }
  await goodClientWorks(t, server);
});

t.test('evil: replayed and reordered frames → ERR_BAD_FRAME', async (t) => {
  const server = await new Server().listen();
  {
    const e = await evilSession(server);
    e.sock.on('error', () => {});
    const f1 = e.sealer.seal(Buffer.from('one'));
    let delivered = '';
    e.sc.on('data', (d: Buffer) => (delivered += d.toString()));
    e.sock.write(Buffer.concat([f1, f1]));
    await expectConnError(t, e.sc, 'ERR_BAD_FRAME', 'replay');
    t.equal(delivered, 'one', 'the original was delivered once');
  }
  {
    const e = await evilSession(server);
    e.sock.on('error', () => {});
    const f1 = e.sealer.seal(Buffer.from('one'));
    const f2 = e.sealer.seal(Buffer.from('two'));
    let delivered = '';
    e.sc.on('data', (d: Buffer) => (delivered += d.toString()));
    e.sock.write(Buffer.concat([f2, f1]));
    await expectConnError(t, e.sc, 'ERR_BAD_FRAME', 'reorder');
    t.equal(delivered, '', 'nothing delivered');
  }
  {
    // the auth frame replayed as a data frame
    const e = await evilSession(server);
    e.sock.on('error', () => {});
    const replayAuth = new FrameSealer(e.keys.sendKey).seal(encodeAuthMessage(e.key, e.keys.challenge));
    e.sock.write(replayAuth);
    e.sc.resume();
    await expectConnError(t, e.sc, 'ERR_BAD_FRAME', 'auth frame replayed');
  }
  await goodClientWorks(t, server);
});

t.test('evil: bad length prefixes are refused from the 4 bytes alone', async (t) => {
  const server = await new Server().listen();
  for (const [len, code] of [
    [0xffffffff, 'ERR_MESSAGE_TOO_LARGE'],
    [65537, 'ERR_MESSAGE_TOO_LARGE'],
    [0, 'ERR_BAD_FRAME'],
  ] as const) {
    const e = await evilSession(server);
    e.sock.on('error', () => {});
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(len);
    e.sock.write(hdr); // only the prefix: the error cannot wait for (or allocate) a body
    e.sc.resume();
    await expectConnError(t, e.sc, code, `length ${len}`);
  }
  await goodClientWorks(t, server);
});

// ---------------------------------------------------------------------------
// Nonces

t.test('nonce exhaustion is refused, never wrapped', async (t) => {
  // Auth frames use 2^64-3; data frames may use 2^64-2 and 2^64-1; the next write must fail.
  const start = MAX_NONCE_COUNTER - 2n;
  const { a, b } = await pair({ initialNonceCounter: start }, { initialNonceCounter: start });
  let got = collect(b, 3);
  a.write('one');
  t.equal((await got).toString(), 'one');
  got = collect(b, 3);
  a.write('two');
  t.equal((await got).toString(), 'two', 'counter 2^64-1 is usable');
  let bGotMore = false;
  b.on('data', () => (bGotMore = true));
  b.on('error', () => {});
  const errP = once(a, 'error');
  a.write('three');
  const [err] = (await errP) as [SwitchboardError];
  t.equal(err.code, 'ERR_NONCE_EXHAUSTED');
  if (!b.closed) await once(b, 'close');
  t.notOk(bGotMore, 'nothing was sent with a wrapped nonce');

  // unit level
  const key = bytes(32, 1);
  const s = new FrameSealer(key, 16, MAX_NONCE_COUNTER - 1n);
  t.throws(() => s.seal(bytes(40, 1)), { code: 'ERR_NONCE_EXHAUSTED' }, '3 frames do not fit in 2 counters');
  t.equal(s.nextCounter, MAX_NONCE_COUNTER - 1n, 'nothing sealed');
  const two = s.seal(bytes(32, 1));
  t.equal(two.length, 32 + 2 * FRAME_OVERHEAD);
  t.equal(s.framesLeft, 0n);
  t.throws(() => s.seal(bytes(1, 1)), { code: 'ERR_NONCE_EXHAUSTED' });
  const o = new FrameOpener(key, 16, MAX_NONCE_COUNTER - 1n);
  const pieces: Buffer[] = [];
  o.feed(two, (p) => pieces.push(p));
  t.ok(Buffer.concat(pieces).equals(bytes(32, 1)));
  const late = new FrameSealer(key, 16, 0n).seal(bytes(1, 1));
  t.throws(() => o.feed(late, () => {}), { code: 'ERR_NONCE_EXHAUSTED' });
});

t.test('frames: nonce layout, byte-at-a-time parsing, bad arguments', async (t) => {
  const key = bytes(32, 9);
  const s = new FrameSealer(key, 8);
  const sealed = s.seal(bytes(20, 4)); // 3 frames: 8, 8, 4
  t.equal(sealed.length, 20 + 3 * FRAME_OVERHEAD);
  t.equal(sealed.readUInt32BE(0), 8);
  const o = new FrameOpener(key, 8);
  const pieces: Buffer[] = [];
  for (let i = 0; i < sealed.length; i++) o.feed(sealed.subarray(i, i + 1), (p) => pieces.push(p));
  t.ok(Buffer.concat(pieces).equals(bytes(20, 4)), 'reassembled from 1-byte chunks');
  t.notOk(o.midFrame);
  t.equal(o.nextCounter, 3n);
  t.throws(() => new FrameSealer(bytes(31, 1)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new FrameSealer(key, 0), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new FrameOpener(key, 8, -1n), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => s.seal(new Uint8Array(0)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => ephemeralKeyPair(bytes(31, 1)), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => verifyAuthMessage(bytes(95, 1), bytes(32, 1)), { code: 'ERR_AUTH' });
  const o2 = new FrameOpener(key, 8);
  t.throws(() => o2.open(sealed.subarray(0, 4), sealed.subarray(4, 10)), { code: 'ERR_BAD_FRAME' });
});

t.test('make(): bad options and dead transports reject and destroy the transport', async (t) => {
  const server = await new Server().listen();
  const bad: SecretConnectionOptions[] = [{ maxFramePayload: 0 }, { maxFramePayload: 1.5 }, { handshakeTimeoutMs: -1 }];
  for (const opts of bad) {
    const sock = await connect(server.port);
    await t.rejects(SecretConnection.make(sock, NodeKey.generate(), opts), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(opts));
    t.ok(sock.destroyed);
    const o = await server.next();
    t.notOk(o.ok, 'server side sees the hang-up');
  }
  const sock = await connect(server.port);
  sock.destroy();
  await t.rejects(SecretConnection.make(sock, NodeKey.generate()), { code: 'ERR_HANDSHAKE' }, 'already destroyed');
  await server.next();
  // remote hangs up mid-handshake (after reading our ephemeral key)
  const rude = net.createServer((s) => {
    track(s);
    s.once('data', () => s.end());
  });
  servers.add(rude);
  rude.listen(0, '127.0.0.1');
  await once(rude, 'listening');
  const s2 = await connect((rude.address() as net.AddressInfo).port);
  await t.rejects(SecretConnection.make(s2, NodeKey.generate()), { code: 'ERR_HANDSHAKE' }, 'remote hung up');
  t.ok(s2.destroyed);
  await goodClientWorks(t, server);
});

t.test('transport failures after the handshake surface as typed errors', async (t) => {
  const { a, b, aSock } = await pair();
  b.resume();
  const errP = once(b, 'error');
  const aErr = once(a, 'error');
  aSock.resetAndDestroy();
  const [err] = (await errP) as [SwitchboardError];
  t.ok(err.code === 'ERR_SOCKET' || err.code === 'ERR_CONNECTION_CLOSED', `remote reset: ${err.code}`);
  const [err2] = (await aErr) as [SwitchboardError];
  t.equal(err2.code, 'ERR_CONNECTION_CLOSED', 'local transport destroyed underneath');
  t.ok(b.destroyed);
  // writing to a destroyed connection fails cleanly
  const w = await new Promise<Error | null | undefined>((resolve) => b.write('x', resolve));
  t.ok(w instanceof Error);
});
