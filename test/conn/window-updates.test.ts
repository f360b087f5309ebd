// The flow-control credit an MConnection owes its peer (lib/conn/window-updates.ts): per channel,
// summed until written, oldest first, never more window updates than fit.
import t from 'tap';
import type { Channel } from '../../lib/conn/channel.js';
import { decodePacket, WINDOW_UPDATE_SIZE } from '../../lib/conn/packet.js';
import { WindowUpdates } from '../../lib/conn/window-updates.js';

const chan = (id: number) => ({ desc: { id }, grantPending: 0 }) as unknown as Channel;

function decodeAll(buf: Buffer) {
  const out: unknown[] = [];
  for (let off = 0; off < buf.length; off += WINDOW_UPDATE_SIZE) out.push(decodePacket(buf.subarray(off, off + WINDOW_UPDATE_SIZE)));
  return out;
}

t.test('credit is summed per channel and written oldest channel first, then forgotten', async (t) => {
  const w = new WindowUpdates();
  const a = chan(1);
  const b = chan(2);
  w.add(a, 0);
  w.add(b, -5);
  t.equal(w.length, 0, 'no credit (0 or less) queues nothing');
  t.equal(a.grantPending, 0);
  w.add(b, 100);
  w.add(a, 10);
  w.add(b, 20);
  t.equal(w.length, 2, 'one entry per channel');
  t.equal(b.grantPending, 120);
  const buf = Buffer.alloc(64);
  const end = w.writeTo(buf, 3, buf.length);
  t.equal(end, 3 + 2 * WINDOW_UPDATE_SIZE);
  t.same(decodeAll(buf.subarray(3, end)), [
    { type: 'window', channelId: 2, increment: 120 },
    { type: 'window', channelId: 1, increment: 10 },
  ]);
  t.equal(w.length, 0);
  t.equal(a.grantPending, 0, 'granted credit is no longer owed');
  t.equal(b.grantPending, 0);
  t.equal(w.writeTo(buf, 7, buf.length), 7, 'nothing owed: nothing written');
});

t.test('writeTo writes only the updates that fit before end; the rest wait, with their amounts', async (t) => {
  const w = new WindowUpdates();
  const chs = [chan(1), chan(2), chan(3)];
  chs.forEach((c, i) => w.add(c, 1000 * (i + 1)));
  const buf = Buffer.alloc(64);
  t.equal(w.writeTo(buf, 0, WINDOW_UPDATE_SIZE - 1), 0, 'room for less than one: none');
  t.equal(w.length, 3);
  const end = w.writeTo(buf, 0, 2 * WINDOW_UPDATE_SIZE + WINDOW_UPDATE_SIZE - 1);
  t.equal(end, 2 * WINDOW_UPDATE_SIZE, 'room for two and a bit: two');
  t.same(decodeAll(buf.subarray(0, end)), [
    { type: 'window', channelId: 1, increment: 1000 },
    { type: 'window', channelId: 2, increment: 2000 },
  ]);
  t.equal(w.length, 1);
  t.equal(chs[2]!.grantPending, 3000, 'the one left keeps its amount');
  w.add(chs[0]!, 5);
  t.same(
    decodeAll(w.take()),
    [
      { type: 'window', channelId: 3, increment: 3000 },
      { type: 'window', channelId: 1, increment: 5 },
    ],
    'take(): every pending update, in order, in a buffer of its own',
  );
  t.equal(w.length, 0);
  t.equal(w.take().length, 0, 'nothing pending: an empty buffer');
});
