// The SecretConnection frame codec (lib/conn/frame.ts) as docs/PROTOCOL.md §2.3
// gives it: the bytes of a frame checked against node:crypto directly, the
// bounds of its arguments, sealing of gathered chunks, and an opener that
// releases a frame's plaintext only after its tag verified.
import t from 'tap';
import { createDecipheriv } from 'node:crypto';
import {
  checkCounter,
  checkMaxPayload,
  FRAME_OVERHEAD,
  FrameOpener,
  FrameSealer,
  MAX_FRAME_PAYLOAD_LIMIT,
  MAX_NONCE_COUNTER,
} from '../../lib/conn/frame.js';

const key = Buffer.alloc(32, 7);
const data = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

/** Open one frame at `off` of `wire` with node:crypto, nonce = 4 zero bytes ‖ u64 LE `counter`, AAD = the length prefix. */
function openByHand(wire: Buffer, off: number, counter: bigint): { plain: Buffer; end: number } {
  const len = wire.readUInt32BE(off);
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(wire.subarray(off, off + 4), { plaintextLength: len });
  const plain = d.update(wire.subarray(off + 4, off + 4 + len));
  d.setAuthTag(wire.subarray(off + 4 + len, off + 4 + len + 16));
  d.final();
  return { plain, end: off + 4 + len + 16 };
}

t.test(
  'a frame is u32 BE length ‖ ChaCha20-Poly1305 ciphertext ‖ tag, the nonce a u64 LE counter, the length the associated data',
  async (t) => {
    const s = new FrameSealer(key, 8, 5n);
    const wire = s.seal(data(20));
    t.equal(wire.length, 20 + 3 * FRAME_OVERHEAD, '⌈20 / 8⌉ = 3 frames');
    let off = 0;
    const plains: Buffer[] = [];
    for (const [i, len] of [8, 8, 4].entries()) {
      t.equal(wire.readUInt32BE(off), len);
      const f = openByHand(wire, off, 5n + BigInt(i));
      plains.push(f.plain);
      off = f.end;
    }
    t.ok(Buffer.concat(plains).equals(data(20)));
    t.equal(s.nextCounter, 8n);
    t.equal(s.framesLeft, MAX_NONCE_COUNTER + 1n - 8n);
  },
);

t.test('the key is copied: changing the caller’s buffer later changes nothing', async (t) => {
  const k = Buffer.from(key);
  const s = new FrameSealer(k);
  k.fill(0);
  const wire = s.seal(data(10));
  t.ok(openByHand(wire, 0, 0n).plain.equals(data(10)));
});

t.test('argument bounds: key 32 bytes, maxFramePayload 1..16 MiB, initial counter 0..2^64', async (t) => {
  for (const n of [0, 31, 33]) {
    t.throws(() => new FrameSealer(Buffer.alloc(n)), { code: 'ERR_INVALID_ARGUMENT', message: `frame key must be 32 bytes, got ${n}` });
  }
  for (const max of [0, -1, 1.5, MAX_FRAME_PAYLOAD_LIMIT + 1, NaN]) {
    t.throws(() => checkMaxPayload(max), {
      code: 'ERR_INVALID_ARGUMENT',
      message: `maxFramePayload must be an integer in [1, ${MAX_FRAME_PAYLOAD_LIMIT}], got ${max}`,
    });
  }
  t.equal(checkMaxPayload(1), 1);
  t.equal(checkMaxPayload(MAX_FRAME_PAYLOAD_LIMIT), MAX_FRAME_PAYLOAD_LIMIT);
  t.equal(new FrameSealer(key).maxFramePayload, 65536, 'default 64 KiB');
  for (const c of [-1n, MAX_NONCE_COUNTER + 2n, 0 as unknown as bigint]) {
    t.throws(() => checkCounter(c), {
      code: 'ERR_INVALID_ARGUMENT',
      message: `nonce counter must be a bigint in [0, 2^64], got ${String(c)}`,
    });
  }
  t.equal(checkCounter(0n), 0n);
  t.equal(checkCounter(MAX_NONCE_COUNTER + 1n), MAX_NONCE_COUNTER + 1n, '2^64: an exhausted direction');
  t.equal(new FrameSealer(key, 8, MAX_NONCE_COUNTER + 1n).framesLeft, 0n);
});

t.test('sealChunks: frames cut across chunk boundaries (empty chunks skipped) carry exactly the concatenation', async (t) => {
  const all = data(50, 3);
  const chunks = [
    all.subarray(0, 3),
    Buffer.alloc(0),
    all.subarray(3, 4),
    all.subarray(4, 20),
    Buffer.alloc(0),
    Buffer.alloc(0),
    all.subarray(20, 50),
  ];
  const gathered = Buffer.concat(new FrameSealer(key, 16).sealChunks(chunks, 50));
  const whole = new FrameSealer(key, 16).seal(all);
  t.ok(gathered.equals(whole), 'the same bytes as sealing the concatenation');
  const one = Buffer.concat(new FrameSealer(key, 64).sealChunks([Buffer.alloc(0), all.subarray(0, 10), all.subarray(10)], 50));
  t.equal(one.readUInt32BE(0), 50, 'several chunks in one frame');
  t.ok(openByHand(one, 0, 0n).plain.equals(all));
  const exact = new FrameSealer(key, 25);
  t.equal(exact.seal(all).length, 50 + 2 * FRAME_OVERHEAD, 'a multiple of the bound: no empty frame');
  t.equal(exact.nextCounter, 2n);
});

t.test('sealing stops before the counter would pass 2^64 − 1: as many frames as are left, not one more', async (t) => {
  const s = new FrameSealer(key, 4, MAX_NONCE_COUNTER - 1n);
  t.throws(() => s.seal(data(9)), { code: 'ERR_NONCE_EXHAUSTED' });
  t.equal(s.nextCounter, MAX_NONCE_COUNTER - 1n, 'nothing sealed');
  t.equal(s.seal(data(8)).length, 8 + 2 * FRAME_OVERHEAD, 'the last two counters');
  t.throws(() => s.seal(data(1)), {
    code: 'ERR_NONCE_EXHAUSTED',
    message: 'nonce counter exhausted (2^64 frames); the connection must be re-established',
  });
  t.throws(() => s.seal(new Uint8Array(0)), { code: 'ERR_INVALID_ARGUMENT', message: 'cannot seal an empty frame' });
  const o = new FrameOpener(key, 4, MAX_NONCE_COUNTER + 1n);
  const f = new FrameSealer(key, 4).seal(data(1));
  t.throws(() => o.open(f.subarray(0, 4), f.subarray(4)), { code: 'ERR_NONCE_EXHAUSTED' });
});

t.test('checkLength: 0 is a bad frame, the bound itself is fine, one more is too large', async (t) => {
  const o = new FrameOpener(key, 100);
  t.throws(() => o.checkLength(0), { code: 'ERR_BAD_FRAME' });
  t.doesNotThrow(() => o.checkLength(1));
  t.doesNotThrow(() => o.checkLength(100));
  t.throws(() => o.checkLength(101), { code: 'ERR_MESSAGE_TOO_LARGE', message: 'frame length 101 exceeds the bound 100' });
  const s = new FrameSealer(key, 100);
  const wire = s.seal(data(100));
  t.equal(wire.readUInt32BE(0), 100, 'a frame of exactly the bound');
  t.ok(o.open(wire.subarray(0, 4), wire.subarray(4)).equals(data(100)));
});

t.test('open(): whole frames only, in counter order; a bad tag names the frame', async (t) => {
  const s = new FrameSealer(key, 16);
  const f0 = s.seal(data(10, 1));
  const f1 = s.seal(data(10, 2));
  const o = new FrameOpener(key, 16);
  t.throws(() => o.open(f0.subarray(0, 3), f0.subarray(3)), { code: 'ERR_BAD_FRAME', message: 'frame header must be 4 bytes' });
  t.throws(() => o.open(f0.subarray(0, 4), f0.subarray(4, -1)), { code: 'ERR_BAD_FRAME', message: 'frame body must be 26 bytes, got 25' });
  t.throws(() => o.open(f0.subarray(0, 4), Buffer.concat([f0.subarray(4), Buffer.alloc(1)])), { code: 'ERR_BAD_FRAME' });
  t.throws(() => o.open(f1.subarray(0, 4), f1.subarray(4)), { code: 'ERR_BAD_FRAME', message: 'frame 0 failed authentication' });
  const o2 = new FrameOpener(key, 16);
  t.ok(o2.open(f0.subarray(0, 4), f0.subarray(4)).equals(data(10, 1)));
  t.equal(o2.nextCounter, 1n);
  t.ok(o2.open(f1.subarray(0, 4), f1.subarray(4)).equals(data(10, 2)));
  const o3 = new FrameOpener(key, 16);
  o3.feed(f0.subarray(0, 2), () => {});
  t.ok(o3.midFrame, 'two bytes of a header');
  t.throws(() => o3.open(f0.subarray(0, 4), f0.subarray(4)), { code: 'ERR_BAD_FRAME', message: 'open() while a frame is partially fed' });
});

t.test('feed(): a frame’s plaintext is released only after its tag verified', async (t) => {
  const wire = Buffer.concat([new FrameSealer(key, 1000).seal(data(600)), new FrameSealer(key, 1000, 1n).seal(data(5, 9))]);
  const o = new FrameOpener(key, 1000);
  const pieces: Buffer[] = [];
  const first = 4 + 600 + 16;
  o.feed(wire.subarray(0, 2), (p) => pieces.push(p));
  o.feed(wire.subarray(2, 300), (p) => pieces.push(p));
  t.ok(o.midFrame, 'in the body');
  o.feed(wire.subarray(300, first - 1), (p) => pieces.push(p));
  t.equal(pieces.length, 0, 'nothing before the last tag byte');
  t.ok(o.midFrame);
  o.feed(wire.subarray(first - 1), (p) => pieces.push(p));
  t.notOk(o.midFrame);
  t.ok(Buffer.concat(pieces).equals(Buffer.concat([data(600), data(5, 9)])), 'both frames, in order');
  t.equal(o.nextCounter, 2n);

  const tampered = Buffer.from(wire.subarray(0, first));
  tampered[first - 1]! ^= 1;
  const got: Buffer[] = [];
  const err = t.throws(() => new FrameOpener(key, 1000).feed(tampered, (p) => got.push(p)), {
    code: 'ERR_BAD_FRAME',
    message: 'frame 0 failed authentication',
  }) as Error;
  t.ok(err.cause instanceof Error, 'the cipher’s own error is the cause');
  t.equal(got.length, 0, 'a frame with a bad tag releases nothing');
});

t.test('feed(): a chunk that ends a frame and starts the next header carries on with the next frame', async (t) => {
  const s = new FrameSealer(key, 1000);
  const f0 = s.seal(data(30, 1));
  const f1 = s.seal(data(40, 2));
  const wire = Buffer.concat([f0, f1]);
  for (const cutAt of [f0.length + 1, f0.length + 2, f0.length + 3]) {
    const o = new FrameOpener(key, 1000);
    const pieces: Buffer[] = [];
    o.feed(wire.subarray(0, cutAt), (p) => pieces.push(p));
    t.ok(o.midFrame, `${cutAt - f0.length} bytes of the next header`);
    o.feed(wire.subarray(cutAt), (p) => pieces.push(p));
    t.ok(Buffer.concat(pieces).equals(Buffer.concat([data(30, 1), data(40, 2)])), `cut ${cutAt - f0.length} bytes into the second header`);
  }
});

t.test('feed(): a too-large length is refused from its 4 bytes, before the body arrives', async (t) => {
  const o = new FrameOpener(key, 100);
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32BE(101);
  o.feed(hdr.subarray(0, 3), () => {});
  t.throws(() => o.feed(hdr.subarray(3), () => {}), { code: 'ERR_MESSAGE_TOO_LARGE' });
  const z = new FrameOpener(key, 100);
  t.throws(() => z.feed(Buffer.alloc(4), () => {}), { code: 'ERR_BAD_FRAME', message: 'frame length 0' });
});
