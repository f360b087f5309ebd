import t from 'tap';
import fc from 'fast-check';
import { Channel } from '../../lib/conn/channel.js';

/** Take the next message the way the scheduler does. */
function take(ch: Channel): number | undefined {
  if (!ch.nextToSend()) return undefined;
  const m = ch.sending!;
  ch.sending = null;
  return m[0];
}

t.test('the send queue keeps FIFO order while its ring grows and wraps, and holds at most its capacity', async (t) => {
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
