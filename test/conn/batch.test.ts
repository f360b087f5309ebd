// What one socket write of an MConnection carries (lib/conn/batch.ts): the control packets first, then channel packets up to
// the batch size, never a small tail fragment, at least one full packet whatever maxBatchBytes; and batches are disjoint
// views carved one after another from a shared slab.
import t from 'tap';
import { Channel, MIN_FRAGMENT } from '../../lib/conn/channel.js';
import { nextBatch } from '../../lib/conn/batch.js';
import { Keepalive } from '../../lib/conn/keepalive.js';
import { MAX_WINDOW, MSG_HEADER_SIZE, PACKET_PING, PacketDecoder } from '../../lib/conn/packet.js';
import { WindowUpdates } from '../../lib/conn/window-updates.js';
import { pattern } from '../helpers/net.js';

type Teardown = { teardown(fn: () => unknown): void };

const SLAB = 1 << 20;

/** A keepalive with nothing to write unless the test asks (`start()` for a ping, `onPing()` for a pong). */
function keepalive(t: Teardown): Keepalive {
  const k = new Keepalive(1_000_000, 1_000_000, { scheduleFlush() {}, fail() {}, readPaused: () => false, sampled() {} });
  t.teardown(() => k.stop());
  return k;
}

/** A channel the peer granted all the credit there is. */
function channel(id: number): Channel {
  const ch = new Channel({ id, sendQueueCapacity: 100 });
  ch.sendCredit = MAX_WINDOW;
  return ch;
}

/** The packets of a batch, in order: 'ping', 'pong', 'window <ch> <inc>' or 'msg <ch> <length>[ eof]' (and what is left of a partial one). */
function packets(buf: Buffer): string[] {
  const out: string[] = [];
  const dec = new PacketDecoder(
    {
      onControl: (type) => void out.push(type === PACKET_PING ? 'ping' : 'pong'),
      onWindowUpdate: (id, inc) => void out.push(`window ${id} ${inc}`),
      onMsg: (id, eof, data) => void out.push(`msg ${id} ${data.length}${eof ? ' eof' : ''}`),
    },
    1 << 20,
  );
  dec.push(buf);
  if (dec.bufferedBytes > 0) out.push(`${dec.bufferedBytes} bytes of a partial packet`);
  return out;
}

t.test('batches are consecutive, disjoint views of one slab, up to its last byte', async (t) => {
  const k = keepalive(t);
  const g = new WindowUpdates();
  const ch = channel(1);
  const batch = (msgLen: number, maxBatchBytes: number) => {
    t.equal(ch.tryEnqueue(pattern(msgLen, msgLen)), true);
    const b = nextBatch([ch], k, g, 2000, maxBatchBytes);
    if (b === null) throw new Error('no batch');
    return b;
  };
  const b1 = batch(100, SLAB); // a batch the size of a slab: the slab in use (if any) has no room for it
  const slabLen = b1.buffer.byteLength;
  const b2 = batch(200, 3000);
  t.equal(b2.buffer, b1.buffer, 'the next batch is carved from the same slab');
  t.equal(b2.byteOffset, b1.byteOffset + b1.length, 'right after the first');
  const rest = slabLen - (b2.byteOffset + b2.length);
  t.ok(rest > 3000 * 10, 'room left in the slab');
  const b3 = batch(300, rest); // a batch size of exactly the room left still fits it
  t.equal(b3.buffer, b1.buffer, 'exactly the room left: the same slab');
  t.equal(b3.byteOffset, b2.byteOffset + b2.length);
  t.same(packets(b1), ['msg 1 100 eof'], 'the first batch is intact');
  t.same(packets(b2), ['msg 1 200 eof']);
  t.same(packets(b3), ['msg 1 300 eof']);
  t.same(b1.subarray(MSG_HEADER_SIZE), pattern(100, 100));
  t.equal(nextBatch([ch], k, g, 2000, 3000), null, 'nothing pending: no batch');
});

t.test('a batch larger than a slab (maxBatchBytes 2 MiB) carries its 2 MiB', async (t) => {
  const ch = channel(1);
  const msg = pattern(2 * SLAB - 4 * MSG_HEADER_SIZE, 9);
  ch.tryEnqueue(msg);
  const b = nextBatch([ch], keepalive(t), new WindowUpdates(), SLAB / 2, 2 * SLAB);
  t.ok(b);
  t.equal(b!.length, 2 * SLAB, 'the whole message in four packets, 2 MiB with their headers');
  t.same(packets(b!), [`msg 1 ${SLAB / 2}`, `msg 1 ${SLAB / 2}`, `msg 1 ${SLAB / 2}`, `msg 1 ${SLAB / 2 - 4 * MSG_HEADER_SIZE} eof`]);
});

t.test('control packets come first, and a batch holds them plus one full packet whatever maxBatchBytes', async (t) => {
  const k = keepalive(t);
  k.start(); // a ping to send
  k.onPing(); // and a pong owed
  const g = new WindowUpdates();
  const ch = channel(3);
  g.add(ch, 4096);
  ch.tryEnqueue(pattern(2000, 3));
  ch.tryEnqueue(pattern(10, 4));
  const b = nextBatch([ch], k, g, 2000, 1);
  t.ok(b);
  t.same(packets(b!), ['pong', 'ping', 'window 3 4096', 'msg 3 2000 eof'], 'the first message whole, the second waits');
  t.equal(b!.length, 1 + 1 + 6 + MSG_HEADER_SIZE + 2000);
  const b2 = nextBatch([ch], k, g, 2000, 1);
  t.same(packets(b2!), ['msg 3 10 eof'], 'nothing owed any more: data only');
});

t.test('packets fill a batch up to maxBatchBytes; a tail too small for MIN_FRAGMENT is left for the next one', async (t) => {
  const k = keepalive(t);
  const g = new WindowUpdates();
  const ch = channel(1);
  const payload = 2000;
  const packet = MSG_HEADER_SIZE + payload;
  ch.tryEnqueue(pattern(10_000, 1));
  const small = 2 * packet + MSG_HEADER_SIZE + MIN_FRAGMENT - 1; // room for a fragment of MIN_FRAGMENT − 1 after two packets
  const b1 = nextBatch([ch], k, g, payload, small);
  t.same(packets(b1!), ['msg 1 2000', 'msg 1 2000'], 'the small tail is not cut');
  t.equal(b1!.length, 2 * packet);
  const exact = 2 * packet + MSG_HEADER_SIZE + MIN_FRAGMENT;
  const b2 = nextBatch([ch], k, g, payload, exact);
  t.same(packets(b2!), ['msg 1 2000', 'msg 1 2000', `msg 1 ${MIN_FRAGMENT}`], 'a tail of MIN_FRAGMENT is cut');
  t.equal(b2!.length, exact, 'the batch is full to its last byte');
  const b3 = nextBatch([ch], k, g, payload, 100_000);
  t.same(packets(b3!), [`msg 1 ${10_000 - 4 * payload - MIN_FRAGMENT} eof`], 'the rest');
});
