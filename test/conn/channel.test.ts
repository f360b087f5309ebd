import t from 'tap';
import fc from 'fast-check';
import { Channel, MIN_FRAGMENT, MIN_TUNING_RTT_MS } from '../../lib/conn/channel.js';
import { decodePacket, MSG_HEADER_SIZE, INITIAL_WINDOW } from '../../lib/conn/packet.js';

/** Take the next (1-byte) message the way the scheduler does: cut it into one packet. */
function take(ch: Channel): number | undefined {
  if (!ch.ready()) return undefined;
  const buf = Buffer.alloc(64);
  const end = ch.writePacketTo(buf, 0, buf.length, 16384, true);
  const p = decodePacket(buf.subarray(0, end));
  return p.type === 'msg' && p.eof ? p.data[0] : -1;
}

t.test('the send queue keeps FIFO order while its ring grows and wraps, and holds at most its capacity', async () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.array(fc.boolean(), { maxLength: 200 }), (capacity, ops) => {
      const ch = new Channel({ id: 1, sendQueueCapacity: capacity });
      const model: number[] = [];
      let n = 0;
      for (const enqueue of ops) {
        if (enqueue) {
          const ok = ch.tryEnqueue(Uint8Array.of(n & 0xff));
          if (ok !== model.length < capacity) return false;
          if (ok) model.push(n & 0xff);
          n++;
        } else if (take(ch) !== model.shift()) return false;
        if (ch.queueSize !== model.length || ch.canEnqueue() !== model.length < capacity) return false;
      }
      while (model.length) if (take(ch) !== model.shift()) return false;
      return take(ch) === undefined;
    }),
    { numRuns: 500 },
  );
});

t.test('a fragmented message is reassembled once, exactly, and bounded by recvMessageCapacity', async (t) => {
  const ch = new Channel({ id: 1, recvMessageCapacity: 10 });
  t.equal(ch.receive(false, Buffer.from('abc')), null);
  t.equal(ch.receive(false, Buffer.from('def')), null);
  t.equal(ch.receive(true, Buffer.from('gh'))!.toString(), 'abcdefgh');
  const single = Buffer.from('xyz');
  t.equal(ch.receive(true, single), single, 'a single-packet message is the received view itself');
  ch.receive(false, Buffer.alloc(6));
  t.throws(() => ch.receive(true, Buffer.alloc(5)), { code: 'ERR_MESSAGE_TOO_LARGE' });
});

t.test('writePacketTo cuts a message into packets within the credit and the room, and releases its bytes at the end', async (t) => {
  const budget = { held: 0, max: 1 << 20, share: 1 << 20 };
  const ch = new Channel({ id: 7, sendQueueCapacity: 4 }, 8, budget);
  const msg = Buffer.alloc(40_000, 0xab);
  t.ok(ch.tryEnqueue(msg));
  t.equal(budget.held, 40_000, 'queued bytes count against the budget');
  const buf = Buffer.alloc(70_000);
  t.ok(ch.ready());
  let off = ch.writePacketTo(buf, 0, buf.length, 16384, true);
  t.equal(off, MSG_HEADER_SIZE + 16384, 'at most maxPayload per packet');
  t.equal(ch.sendCredit, INITIAL_WINDOW - off, 'the packet (header + data) is charged to the credit');
  // a tail too small for MIN_FRAGMENT is left for the next batch
  t.equal(ch.writePacketTo(buf, off, MSG_HEADER_SIZE + MIN_FRAGMENT - 1, 16384, false), off, 'no tiny tail fragment');
  off = ch.writePacketTo(buf, off, buf.length - off, 16384, false);
  off = ch.writePacketTo(buf, off, buf.length - off, 16384, false);
  t.equal(ch.hasPending, false, 'the whole message is cut');
  t.equal(budget.held, 0, 'its bytes are released');
  t.equal(ch.bytesSent, 40_000);
  const packets = [];
  for (let p = 0; p < off;) {
    const len = buf.readUInt32BE(p + 3);
    packets.push(decodePacket(buf.subarray(p, p + MSG_HEADER_SIZE + len)));
    p += MSG_HEADER_SIZE + len;
  }
  t.same(
    packets.map((p) => p.type === 'msg' && [p.channelId, p.eof, p.data.length]),
    [
      [7, false, 16384],
      [7, false, 16384],
      [7, true, 40_000 - 32768],
    ],
  );
});

t.test('without credit a channel is not ready; a grant makes it ready again', async (t) => {
  const ch = new Channel({ id: 1, sendQueueCapacity: 4 });
  ch.sendCredit = MSG_HEADER_SIZE + MIN_FRAGMENT - 1;
  t.ok(ch.tryEnqueue(Buffer.alloc(5000)));
  t.notOk(ch.ready(), 'credit for less than MIN_FRAGMENT of a longer message: wait for more');
  ch.sendCredit += 1;
  t.ok(ch.ready());
  const buf = Buffer.alloc(8000);
  t.equal(ch.writePacketTo(buf, 0, buf.length, 16384, true), MSG_HEADER_SIZE + MIN_FRAGMENT, 'cut to the credit');
  t.equal(ch.sendCredit, 0);
  t.notOk(ch.ready());
  t.ok(new Channel({ id: 2 }).tryEnqueue(Buffer.alloc(10)), 'a short message needs only its own size in credit');
});

t.test('blocked senders wait for the send budget too, in order, and are admitted when it frees', async (t) => {
  const budget = { held: 0, max: 100, share: 100 };
  const ch = new Channel({ id: 1, sendQueueCapacity: 10 }, 8, budget);
  t.ok(ch.tryEnqueue(Buffer.alloc(80)));
  t.notOk(ch.tryEnqueue(Buffer.alloc(30)), 'over the budget');
  const order: number[] = [];
  const a = ch.enqueueWait(Buffer.alloc(30, 1), 0, undefined).then((ok) => ok && order.push(1));
  const b = ch.enqueueWait(Buffer.alloc(10, 2), 0, undefined).then((ok) => ok && order.push(2));
  t.notOk(ch.tryEnqueue(Buffer.alloc(1)), 'no jumping ahead of blocked senders');
  ch.admitWaiters();
  t.equal(ch.waitingSenders, 2, 'still no room');
  t.ok(ch.ready());
  ch.writePacketTo(Buffer.alloc(200), 0, 200, 16384, true);
  t.equal(budget.held, 0);
  ch.admitWaiters();
  await Promise.all([a, b]);
  t.same(order, [1, 2]);
  t.equal(budget.held, 40);
});

t.test('release returns credit per quarter window and grows the window only while the reader keeps up', async (t) => {
  const ch = new Channel({ id: 1 });
  t.equal(ch.openWindow(1 << 20, 0), (1 << 20) - INITIAL_WINDOW);
  t.equal(ch.recvWindow, 1 << 20);
  const q = (1 << 20) / 4;
  const plenty = () => 16 << 20;
  t.equal(ch.release(q - 1, 1, 10, 16 << 20, plenty), 0, 'under a quarter: nothing yet');
  t.equal(ch.release(1, 1, 10, 16 << 20, plenty), q, 'a quarter: returned');
  // fast consumption (3 quarters within 2 ms, RTT 10 ms): the window doubles
  ch.release(q, 1.5, 10, 16 << 20, plenty);
  t.equal(ch.release(q, 2, 10, 16 << 20, plenty), q + (1 << 20), 'the window doubled: the grant carries the growth');
  t.equal(ch.recvWindow, 2 << 20);
  // slow consumption (RTT 1 ms, half a window per 50 ms): no growth
  let grant = 0;
  for (let i = 0; i < 4; i++) grant += ch.release(1 << 19, 100 + i * 50, 1, 16 << 20, plenty);
  t.equal(grant, 2 << 20, 'only what was consumed');
  t.equal(ch.recvWindow, 2 << 20);
  // a burst drained in no time on a sub-millisecond round trip (loopback): no growth either
  for (let i = 0; i < 4; i++) grant += ch.release(1 << 19, 400, MIN_TUNING_RTT_MS / 10, 16 << 20, plenty);
  t.equal(ch.recvWindow, 2 << 20, 'below MIN_TUNING_RTT_MS the window stays');
  // bounded by the room the connection gives
  const c2 = new Channel({ id: 2 });
  c2.openWindow(1 << 20, 0);
  for (let i = 0; i < 8; i++) c2.release(q, 0, 10, 16 << 20, () => 100 - (c2.recvWindow - (1 << 20))); // as the MConnection: its budget left
  t.equal(c2.recvWindow, (1 << 20) + 100, 'growth capped by growRoom');
  t.throws(
    () => {
      const c3 = new Channel({ id: 3 });
      c3.chargeRecv(INITIAL_WINDOW + 1);
    },
    { code: 'ERR_FLOW_CONTROL' },
  );
});

t.test('a channel whose queue fills the send budget does not lock the other channels out: each keeps its share', async (t) => {
  const budget = { held: 0, max: 100, share: 50 };
  const stuck = new Channel({ id: 1, sendQueueCapacity: 100 }, 8, budget);
  const other = new Channel({ id: 2, sendQueueCapacity: 100 }, 8, budget);
  let n = 0;
  while (stuck.tryEnqueue(Buffer.alloc(10))) n++;
  t.equal(n, 10, 'the stuck channel fills the whole budget');
  t.ok(other.tryEnqueue(Buffer.alloc(30)), 'another channel still queues within its share');
  t.ok(other.tryEnqueue(Buffer.alloc(20)));
  t.notOk(other.tryEnqueue(Buffer.alloc(1)), 'but not past it while the budget is full');
  t.notOk(stuck.tryEnqueue(Buffer.alloc(1)), 'and the stuck channel is over its share and the budget');
  t.equal(budget.held, 150, 'the total stays under 2 × max');
});
