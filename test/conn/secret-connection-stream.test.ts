/**
 * SecretConnection as a stream, over an in-memory transport the test controls
 * exactly: the test plays the remote by hand (its half of the key exchange,
 * its frames), decides when the transport's writes complete, and ends,
 * closes, fails or pauses the transport as a remote or its owner would.
 * Coalescing, backpressure both ways, and end/close/error in every order.
 */
import t from 'tap';
import { once } from 'node:events';
import { Duplex, type DuplexOptions } from 'node:stream';
import { FRAME_OVERHEAD, FRAME_TAG_SIZE, FrameOpener, FrameSealer } from '../../lib/conn/frame.js';
import {
  AUTH_MESSAGE_SIZE,
  deriveSessionKeys,
  encodeAuthMessage,
  ephemeralKeyPair,
  verifyAuthMessage,
  x25519SharedSecret,
} from '../../lib/conn/handshake.js';
import { SecretConnection } from '../../lib/conn/secret-connection.js';
import { SwitchboardError } from '../../lib/errors.js';
import { NodeKey } from '../../lib/node-key.js';
import { xorByte } from '../helpers/bytes.js';
import { within } from '../helpers/time.js';

/** tap's test object type (the last `t.test` overload takes just the callback). */
type TT = Parameters<Parameters<typeof t.test>[0]>[0];
type Cb = (err?: Error | null) => void;

/** Bound on every wait for an in-memory event (expected within a few ticks). */
const WAIT_MS = 5000;

/**
 * An in-memory transport. Each write the connection makes to it is recorded
 * (a gathered write is one entry) and announced with `'wrote'`; what the
 * remote sends, the test pushes. With `hold`, write callbacks wait for
 * `release()`: the transport neither drains nor finishes.
 */
class Wire extends Duplex {
  readonly writes: Buffer[] = [];
  hold = false;
  private held: Cb[] = [];
  constructor(opts: DuplexOptions = {}) {
    super(opts);
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: Cb): void {
    this.record([chunk], cb);
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: Cb): void {
    this.record(
      chunks.map((c) => c.chunk),
      cb,
    );
  }
  private record(bufs: Buffer[], cb: Cb): void {
    this.writes.push(Buffer.concat(bufs));
    if (this.hold) this.held.push(cb);
    else cb();
    this.emit('wrote');
  }
  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const cb of held) cb();
  }
}

/** The remote, by hand: reads what the connection wrote to the wire, seals what it pushes. */
class Remote {
  readonly key = NodeKey.generate();
  sealer: FrameSealer | undefined;
  opener: FrameOpener | undefined;
  private pos = 0;
  constructor(readonly wire: Wire) {}

  /** Exactly the next `n` bytes the connection wrote, once written. */
  async take(n: number): Promise<Buffer> {
    for (let i = 0; i < 1000; i++) {
      const all = Buffer.concat(this.wire.writes);
      if (all.length - this.pos >= n) {
        this.pos += n;
        return all.subarray(this.pos - n, this.pos);
      }
      await within(once(this.wire, 'wrote'), WAIT_MS, `${n} bytes from the connection`);
    }
    throw new Error('too many writes');
  }

  /** The plaintext of the next frame the connection sent. */
  async frame(): Promise<Buffer> {
    const hdr = await this.take(4);
    const body = await this.take(hdr.readUInt32BE(0) + FRAME_TAG_SIZE);
    return this.opener!.open(hdr, body);
  }

  /** Frames of `plaintext`, sealed for the connection. */
  seal(plaintext: Uint8Array): Buffer {
    return this.sealer!.seal(plaintext);
  }
}

interface SessionOpts {
  /** maxFramePayload of both sides (default 65536). */
  F?: number;
  /** Options of the wire (a Duplex). */
  wire?: DuplexOptions;
  /** Bytes the remote sends in the same chunk right behind its auth frame. */
  behind?: (r: Remote) => Buffer;
  /** Run synchronously right after the remote's auth frame is pushed (before make resolves). */
  then?: (wire: Wire) => void;
}

/** A SecretConnection over a Wire, the remote's half of the handshake done by hand. */
async function session(t: TT, opts: SessionOpts = {}): Promise<{ sc: SecretConnection; wire: Wire; remote: Remote; key: NodeKey }> {
  const F = opts.F ?? 65536;
  const wire = new Wire(opts.wire);
  const remote = new Remote(wire);
  const key = NodeKey.generate();
  const made = SecretConnection.make(wire, key, { maxFramePayload: F, handshakeTimeoutMs: WAIT_MS });
  t.teardown(() => {
    wire.destroy();
    return made.then(
      (sc) => sc.destroy(),
      () => {},
    );
  });
  const eph = ephemeralKeyPair();
  const scEph = await remote.take(32);
  wire.push(Buffer.from(eph.publicKey));
  const keys = deriveSessionKeys(x25519SharedSecret(eph, scEph), eph.publicKey, scEph);
  remote.sealer = new FrameSealer(keys.sendKey, F);
  remote.opener = new FrameOpener(keys.recvKey, F);
  const hdr = await remote.take(4);
  const body = await remote.take(AUTH_MESSAGE_SIZE + FRAME_TAG_SIZE);
  t.same(Buffer.from(verifyAuthMessage(remote.opener.open(hdr, body), keys.challenge)), Buffer.from(key.pubKey), 'auth frame');
  const auth = remote.seal(encodeAuthMessage(remote.key, keys.challenge));
  wire.push(Buffer.concat([auth, opts.behind?.(remote) ?? Buffer.alloc(0)]));
  opts.then?.(wire);
  const sc = await made;
  return { sc, wire, remote, key };
}

/** Deterministic bytes. */
function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return b;
}

/** Resolves with the error a write's callback gets (undefined or null for success). */
function written(sc: SecretConnection, chunk: string | Buffer): Promise<Error | null | undefined> {
  return new Promise((resolve) => sc.write(chunk, resolve));
}

/** Reads `want` bytes of plaintext from `sc`. */
function collect(sc: SecretConnection, want: number): Promise<Buffer> {
  const got = new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    const onData = (d: Buffer): void => {
      parts.push(d);
      n += d.length;
      if (n >= want) {
        sc.off('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    sc.on('data', onData);
    sc.once('error', reject);
  });
  return within(got, WAIT_MS, `${want} bytes of plaintext`);
}

/** The next 'error' of `sc`, as a SwitchboardError. */
async function nextError(sc: SecretConnection): Promise<SwitchboardError> {
  const [err] = (await within(once(sc, 'error'), WAIT_MS, 'an error')) as [SwitchboardError];
  return err;
}

/** One turn of the event loop (every nextTick and microtask before it has run). */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------------------
// Construction

t.test('new SecretConnection() without make()’s token is refused before it touches the transport', async (t) => {
  const wire = new Wire();
  t.teardown(() => wire.destroy());
  const k = pattern(32, 1);
  const Ctor = SecretConnection as unknown as new (...args: unknown[]) => SecretConnection;
  const args = [wire, NodeKey.generate().pubKey, new FrameSealer(k), new FrameOpener(k), Buffer.alloc(0), false];
  t.throws(() => new Ctor(Symbol('SecretConnection'), ...args), { name: 'TypeError', message: /^use SecretConnection\.make\(\)$/ });
  t.throws(() => new Ctor(undefined, ...args), TypeError);
  for (const ev of ['data', 'end', 'close', 'error', 'drain']) t.equal(wire.listenerCount(ev), 0, `no '${ev}' listener`);
});

// ---------------------------------------------------------------------------
// Writing

t.test('writes in one tick are one frame in one transport write; a later tick coalesces again', async (t) => {
  const { sc, wire, remote } = await session(t);
  let mark = wire.writes.length;
  sc.write('a');
  process.nextTick(() => sc.write('b')); // queued behind this tick's flush
  sc.write(Buffer.from('c'));
  t.equal(String(await remote.frame()), 'ac', "this tick's writes: one frame");
  t.equal(String(await remote.frame()), 'b', 'the nextTick write: the next flush');
  t.same(
    wire.writes.slice(mark).map((w) => w.length),
    [2 + FRAME_OVERHEAD, 1 + FRAME_OVERHEAD],
    'one transport write per flush',
  );

  await turn();
  mark = wire.writes.length;
  sc.write('d');
  sc.write('e');
  sc.write('f');
  t.equal(String(await remote.frame()), 'def', 'a later tick: one frame again');
  t.same(
    wire.writes.slice(mark).map((w) => w.length),
    [3 + FRAME_OVERHEAD],
  );
});

t.test('string chunks are encoded (utf8, or the encoding given); a zero-length write calls back and sends nothing', async (t) => {
  const { sc, wire, remote } = await session(t);
  sc.write('héllo ');
  const cb = new Promise<Error | null | undefined>((resolve) => sc.write('00ff', 'hex', resolve));
  t.notOk(await cb, 'write(chunk, encoding, cb): success');
  t.same(await remote.frame(), Buffer.concat([Buffer.from('héllo ', 'utf8'), Buffer.from([0, 0xff])]));
  const mark = wire.writes.length;
  t.notOk(await written(sc, Buffer.alloc(0)), 'empty Buffer: success');
  t.notOk(await written(sc, ''), 'empty string: success');
  t.equal(sc.errored, null, 'the connection is fine');
  t.equal(wire.writes.length, mark, 'nothing reached the transport');
  t.notOk(await written(sc, 'next'));
  t.equal(String(await remote.frame()), 'next', 'the next frame is the next write');
});

for (const F of [65536, 1024]) {
  const hwm = Math.max(F, 16 * 1024);
  t.test(`maxFramePayload ${F}: write() returns false at ${hwm} B buffered; the callback waits for the transport's 'drain'`, async (t) => {
    const { sc, wire, remote } = await session(t, { F, wire: { writableHighWaterMark: 1 } });
    t.equal(sc.writableHighWaterMark, hwm);
    wire.hold = true;
    let first = false;
    t.ok(
      sc.write(pattern(hwm - 1, 1), () => (first = true)),
      'one byte below the mark: true',
    );
    t.notOk(sc.write(pattern(1, 2)), 'at the mark: false');
    await within(once(wire, 'wrote'), WAIT_MS, 'flush');
    await turn();
    t.notOk(first, 'the transport has not drained: the callback waits');
    const drained = once(sc, 'drain');
    wire.release();
    await within(drained, WAIT_MS, "the connection's drain");
    t.ok(first, "called back on the transport's drain");
    const got: Buffer[] = [];
    for (let n = 0; n < hwm;) {
      const f = await remote.frame();
      t.ok(f.length <= F);
      got.push(f);
      n += f.length;
    }
    t.same(Buffer.concat(got), Buffer.concat([pattern(hwm - 1, 1), pattern(1, 2)]), 'all of it, in order');
  });
}

t.test('destroy() fails a write still waiting for the transport to drain', async (t) => {
  for (const reason of [undefined, new Error('going away')]) {
    const { sc, wire } = await session(t, { wire: { writableHighWaterMark: 1 } });
    wire.hold = true;
    sc.on('error', () => {});
    const w = written(sc, 'stuck');
    await within(once(wire, 'wrote'), WAIT_MS, 'flush');
    sc.destroy(reason);
    const err = (await within(w, WAIT_MS, 'the write callback')) as SwitchboardError;
    if (reason) {
      t.equal(err, reason, 'destroy(err): the write fails with err');
    } else {
      t.equal(err?.code, 'ERR_CONNECTION_CLOSED');
      t.match(err?.message, /destroyed/);
    }
    t.ok(wire.destroyed, 'transport destroyed');
  }
});

t.test("the transport's writable side ended underneath: an empty write succeeds, one with bytes fails ERR_CONNECTION_CLOSED", async (t) => {
  const { sc, wire } = await session(t);
  wire.end(); // e.g. a socket without allowHalfOpen, after the remote's FIN
  await within(once(wire, 'finish'), WAIT_MS, 'finish');
  t.notOk(await written(sc, ''), 'nothing to send: success');
  const errP = nextError(sc);
  const err = (await written(sc, 'x')) as SwitchboardError;
  t.equal(err?.code, 'ERR_CONNECTION_CLOSED');
  t.match(err?.message, /connection closed/);
  t.equal((await errP).code, 'ERR_CONNECTION_CLOSED', "and the connection's error");
});

// ---------------------------------------------------------------------------
// Reading and flow control

for (const F of [65536, 1024]) {
  const limit = 2 * Math.max(F, 16 * 1024);
  t.test(`maxFramePayload ${F}: ${limit} B of unread plaintext pause the transport; reading resumes it`, async (t) => {
    const { sc, wire, remote } = await session(t, { F });
    t.equal(sc.readableHighWaterMark, limit);
    const sent: Buffer[] = [];
    const frames = limit / F + 3;
    for (let i = 0; i < frames; i++) {
      sent.push(pattern(F, i));
      wire.push(remote.seal(sent[i]!));
      t.equal(wire.isPaused(), (i + 1) * F >= limit, `${(i + 1) * F} B sent: transport ${wire.isPaused() ? 'paused' : 'flowing'}`);
    }
    t.equal(sc.readableLength, limit, 'the connection holds exactly its high-water mark');
    const all = await collect(sc, frames * F);
    t.same(all, Buffer.concat(sent), 'everything, in order');
    t.notOk(wire.isPaused(), 'transport resumed');
  });
}

t.test('a transport the handshake left paused stays paused until the connection is read', async (t) => {
  const F = 1024; // the handshake holds at most F + 4096 bytes before pausing
  const early = Array.from({ length: 40 }, (_, i) => pattern(F, i)); // 40 KiB: above the readable mark (32 KiB)
  const { sc, wire, remote } = await session(t, { F, behind: (r) => Buffer.concat(early.map((p) => r.seal(p))) });
  t.ok(wire.isPaused(), 'still paused');
  t.equal(sc.readableLength, 40 * F, 'the early frames are decrypted and buffered');
  const late = Array.from({ length: 5 }, (_, i) => pattern(F, 100 + i));
  for (const p of late) wire.push(remote.seal(p));
  await turn();
  t.equal(sc.readableLength, 40 * F, 'nothing more is taken from the transport');
  t.ok(wire.isPaused());
  t.same(await collect(sc, 45 * F), Buffer.concat([...early, ...late]), 'reading: everything, in order');
  t.notOk(wire.isPaused(), 'transport resumed');
});

t.test(
  'a transport its owner paused as the handshake completed is resumed; a later pause by its owner is not undone by reading',
  async (t) => {
    const { sc, wire, remote } = await session(t, { then: (w) => w.pause() });
    t.notOk(wire.isPaused(), 'make() resumed it: the connection owns the flow');
    wire.push(remote.seal(Buffer.from('one')));
    t.equal(String(await collect(sc, 3)), 'one');

    // the owner pauses the transport from a 'data' handler (say, to throttle)
    let n = 0;
    sc.on('data', (d: Buffer) => {
      n += d.length;
      wire.pause();
    });
    wire.push(remote.seal(Buffer.from('two')));
    t.equal(n, 3);
    await turn(); // the connection asks for more (_read)
    t.ok(wire.isPaused(), 'still paused: the connection resumes only what it paused');
    wire.push(remote.seal(Buffer.from('three')));
    await turn();
    t.equal(n, 3, 'nothing more arrives while paused');
    const more = collect(sc, 5);
    wire.resume();
    t.equal(String(await more), 'three');
  },
);

t.test('frames pipelined behind the auth frame are decrypted; a tampered one fails the new connection with ERR_BAD_FRAME', async (t) => {
  {
    const { sc } = await session(t, { behind: (r) => Buffer.concat([r.seal(Buffer.from('early ')), r.seal(Buffer.from('bird'))]) });
    t.equal(String(await collect(sc, 10)), 'early bird');
  }
  {
    const { sc, wire } = await session(t, {
      behind: (r) => {
        const f = r.seal(Buffer.from('tampered'));
        xorByte(f, 6, 1);
        return f;
      },
    });
    const errP = nextError(sc);
    t.equal((sc.errored as SwitchboardError | null)?.code, 'ERR_BAD_FRAME', 'failed by the time make() resolves');
    t.ok(wire.destroyed, 'transport destroyed');
    if (sc.errored) t.equal((await errP).code, 'ERR_BAD_FRAME', "'error' event");
  }
});

// ---------------------------------------------------------------------------
// End, close and errors

t.test('the remote ending mid-frame is ERR_CONNECTION_CLOSED', async (t) => {
  const { sc, wire, remote } = await session(t);
  const f = remote.seal(Buffer.from('cut short'));
  const errP = nextError(sc);
  wire.push(f.subarray(0, f.length - 1));
  wire.push(null);
  const err = await errP;
  t.equal(err.code, 'ERR_CONNECTION_CLOSED');
  t.match(err.message, /middle of a frame/);
  t.ok(wire.destroyed);
});

t.test('the transport closing without an end is ERR_CONNECTION_CLOSED, also when it closes as make() resolves', async (t) => {
  {
    const { sc, wire } = await session(t);
    const errP = nextError(sc);
    wire.destroy();
    const err = await errP;
    t.equal(err.code, 'ERR_CONNECTION_CLOSED');
    t.match(err.message, /connection closed/);
  }
  {
    const { sc } = await session(t, { then: (w) => w.destroy() });
    const errP = nextError(sc);
    t.ok(sc.destroyed, 'already destroyed when make() resolves');
    t.equal((sc.errored as SwitchboardError | null)?.code, 'ERR_CONNECTION_CLOSED');
    if (sc.errored) t.equal((await errP).code, 'ERR_CONNECTION_CLOSED');
  }
});

t.test("a transport error is ERR_SOCKET, with the transport's error as the cause", async (t) => {
  const { sc, wire } = await session(t);
  const errP = nextError(sc);
  const boom = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  wire.destroy(boom);
  const err = await errP;
  t.type(err, SwitchboardError);
  t.equal(err.code, 'ERR_SOCKET');
  t.equal(err.cause, boom);
  t.match(err.message, /transport error: read ECONNRESET/);
  t.ok(sc.destroyed);
});

t.test('a write waiting for drain when the transport closes after a clean end fails with ERR_CONNECTION_CLOSED', async (t) => {
  const { sc, wire } = await session(t, { wire: { writableHighWaterMark: 1 } });
  wire.hold = true;
  const w = written(sc, 'stuck');
  await within(once(wire, 'wrote'), WAIT_MS, 'flush');
  const ended = once(sc, 'end');
  sc.resume();
  wire.push(null);
  await within(ended, WAIT_MS, 'end');
  const errP = nextError(sc);
  wire.destroy();
  const err = (await within(w, WAIT_MS, 'the write callback')) as SwitchboardError;
  t.equal(err?.code, 'ERR_CONNECTION_CLOSED');
  t.match(err?.message, /connection closed/);
  t.equal((await errP).code, 'ERR_CONNECTION_CLOSED');
});

t.test("end() over a half-open transport finishes on the transport's 'finish', without waiting for it to close", async (t) => {
  {
    const { sc, wire, remote } = await session(t);
    sc.write('last');
    sc.end();
    await within(once(sc, 'finish'), WAIT_MS, "the connection's finish");
    t.ok(wire.writableFinished, 'transport writable side finished');
    t.notOk(wire.destroyed, 'transport still open (half-open)');
    t.equal(String(await remote.frame()), 'last');
    // the remote ends; the transport (both sides done) then closes: a clean close, no error
    const closed = once(wire, 'close');
    wire.push(null);
    await within(closed, WAIT_MS, 'close');
    t.equal(sc.errored, null, 'no error');
    const scClosed = once(sc, 'close');
    sc.resume();
    await within(scClosed, WAIT_MS, "the connection's close");
    t.equal(sc.errored, null, 'closed without an error');
  }
  {
    // the transport's writable side already finished (by its owner): end() has nothing to wait for
    const { sc, wire } = await session(t);
    wire.end();
    await within(once(wire, 'finish'), WAIT_MS, 'finish');
    const mark = wire.writes.length;
    sc.end();
    await within(once(sc, 'finish'), WAIT_MS, "the connection's finish");
    t.equal(wire.writes.length, mark, 'nothing written');
  }
});

t.test('end() fails with ERR_CONNECTION_CLOSED when the transport closes before its writable side finished', async (t) => {
  const { sc, wire } = await session(t);
  const ended = once(sc, 'end');
  sc.resume();
  wire.push(null); // a clean end from the remote: the transport's close is no error by itself
  await within(ended, WAIT_MS, 'end');
  wire.hold = true; // the transport never completes the next write, so it cannot finish
  t.notOk(await written(sc, 'x'), 'handed to the transport');
  const errP = nextError(sc);
  sc.end();
  await turn();
  t.ok(wire.writableEnded, 'end() ended the transport');
  const closed = once(wire, 'close');
  wire.destroy();
  await within(closed, WAIT_MS, 'close');
  const err = (sc.errored as SwitchboardError | null) ?? (await errP);
  t.equal(err.code, 'ERR_CONNECTION_CLOSED');
  t.match(err.message, /before end/);
  t.notOk(sc.writableFinished, 'no finish');
});

t.test(
  'the remote ends, then the transport closes: buffered plaintext is still read, then the connection closes without error',
  async (t) => {
    const { sc, wire, remote } = await session(t);
    wire.push(remote.seal(Buffer.from('buffered')));
    const remoteEnd = once(wire, 'end');
    wire.push(null);
    await within(remoteEnd, WAIT_MS, 'end');
    const closed = once(wire, 'close');
    wire.destroy();
    await within(closed, WAIT_MS, 'close');
    t.notOk(sc.destroyed, 'open until what is buffered has been read');
    t.ok(sc.writableEnded, 'nothing more can be written: writable side ended');
    const scClosed = once(sc, 'close');
    t.equal(String(await collect(sc, 8)), 'buffered');
    await within(scClosed, WAIT_MS, "the connection's close");
    t.equal(sc.errored, null);
  },
);
