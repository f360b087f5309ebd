// Edges of MConnection's flow control and send queues that a user relies on:
// a sender may use its receive window exactly, and canSend follows each
// channel's own capacity (not the default of 1, CometBFT's bug).
import t from 'tap';
import { MConnection } from '../../lib/conn/mconnection.js';
import type { SwitchboardError } from '../../lib/errors.js';
import { INITIAL_WINDOW, MSG_HEADER_SIZE, PACKET_PONG, PacketDecoder, encodePacket } from '../../lib/conn/packet.js';
import { deferred, pattern, socketPair } from '../helpers/net.js';

/** A message of `n` bytes whose first byte is `i` (mod 256). */
function numbered(n: number, i: number): Buffer {
  const m = Buffer.alloc(n);
  m[0] = i & 0xff;
  return m;
}

t.test('a sender that uses exactly its receive window is not disconnected', async (t) => {
  const [raw, sb] = await socketPair(t);
  const errors: SwitchboardError[] = [];
  const got = deferred<Buffer | SwitchboardError>();
  const b = new MConnection(
    sb,
    [{ id: 1 }],
    (_ch, msg) => got.resolve(Buffer.from(msg)),
    (e) => (errors.push(e), got.resolve(e)),
    {
      recvWindowBytes: INITIAL_WINDOW,
      maxPacketMsgPayloadSize: 1 << 20,
    },
  );
  b.start();
  t.teardown(() => b.stop());
  // one packet whose header and data together are the whole 64 KiB window
  const data = pattern(INITIAL_WINDOW - MSG_HEADER_SIZE, 7);
  raw.write(encodePacket({ type: 'msg', channelId: 1, eof: true, data }));
  const msg = await got.promise;
  t.ok(Buffer.isBuffer(msg) && msg.equals(data), 'the message that fills the window exactly is delivered', { got: msg });
  if (!Buffer.isBuffer(msg)) return;
  // a ping round trip proves the connection still runs after the full window was used
  const pong = deferred();
  const dec = new PacketDecoder({ onControl: (type) => type === PACKET_PONG && pong.resolve(), onMsg: () => {} }, 1 << 20);
  raw.on('data', (c: Buffer) => dec.push(c));
  raw.write(encodePacket({ type: 'ping' }));
  await pong.promise;
  t.same(errors, [], 'no flow-control error');
  t.equal(b.isStopped, false);
});

t.test('canSend follows the channel’s own sendQueueCapacity (3), not the default (1)', async (t) => {
  const [sa] = await socketPair(t);
  const a = new MConnection(
    sa,
    [{ id: 1, sendQueueCapacity: 3 }, { id: 2 }],
    () => {},
    () => {},
  );
  t.teardown(() => a.stop());
  // not started: nothing leaves the queues
  t.equal(a.canSend(1), true);
  t.equal(a.trySend(1, Buffer.from('one')), true);
  t.equal(a.canSend(1), true, 'room after 1 of 3');
  t.equal(a.trySend(1, Buffer.from('two')), true);
  t.equal(a.canSend(1), true, 'room after 2 of 3');
  t.equal(a.trySend(1, Buffer.from('three')), true);
  t.equal(a.canSend(1), false, 'full at 3 of 3');
  t.equal(a.trySend(1, Buffer.from('four')), false);
  t.equal(a.canSend(2), true, 'another channel has its own queue');
  t.equal(a.trySend(2, Buffer.from('x')), true);
  t.equal(a.canSend(2), false, 'the default capacity is 1');
});

t.test(
  'a paused channel costs the others nothing: they and keepalive flow, its sender stops after its window, nothing is lost',
  async (t) => {
    const [sa, sb] = await socketPair(t);
    const window = 256 * 1024;
    const release = deferred();
    const got1: number[] = [];
    const got2: number[] = [];
    const all2 = deferred();
    const all1 = deferred();
    const errors: SwitchboardError[] = [];
    const a = new MConnection(
      sa,
      [
        { id: 1, sendQueueCapacity: 1000 },
        { id: 2, sendQueueCapacity: 1000 },
      ],
      () => {},
      (e) => errors.push(e),
    );
    const b = new MConnection(
      sb,
      [{ id: 1 }, { id: 2 }],
      (ch, msg) => {
        if (ch === 2) {
          got2.push(msg[0]!);
          if (got2.length === 200) all2.resolve();
          return;
        }
        got1.push(msg[0]!);
        if (got1.length === 100) all1.resolve();
        if (got1.length === 1) return release.promise; // channel 1's reader pauses on its first message
      },
      (e) => errors.push(e),
      { recvWindowBytes: window, pingIntervalMs: 20 },
    );
    a.start();
    b.start();
    t.teardown(() => (a.stop(), b.stop()));
    for (let i = 0; i < 100; i++) t.ok(a.trySend(1, numbered(16 * 1024, i)), 'channel 1 queued');
    for (let i = 0; i < 200; i++) t.ok(await a.send(2, numbered(1000, i)), 'channel 2 queued');
    await all2.promise;
    t.same(
      got2,
      Array.from({ length: 200 }, (_, i) => i & 0xff),
      'every channel-2 message arrives, in order, while channel 1 is paused',
    );
    const sent1 = a.status().channels.find((c) => c.id === 1)!.bytesSent;
    t.ok(sent1 <= window + 16 * 1024, `channel 1's sender stopped after its window (${sent1} bytes sent of 1.6 MB queued)`);
    t.equal(a.status().channels.find((c) => c.id === 1)!.sendQueueSize > 50, true, 'the rest waits in the sender’s queue');
    // keepalive keeps going through the pause (pings every 20 ms): the next pong is read while channel 1 is paused
    const sample = await new Promise<number>((resolve) => (b.onRtt = resolve));
    t.ok(
      sample >= 0 && b.status().channels.find((c) => c.id === 1)!.paused,
      `a round trip measured during the pause (${sample.toFixed(2)} ms)`,
    );
    release.resolve();
    await all1.promise;
    t.same(
      got1,
      Array.from({ length: 100 }, (_, i) => i & 0xff),
      'after the pause channel 1 delivers everything, in order',
    );
    t.same(errors, []);
  },
);

t.test(
  'windows are per channel: a paused channel may be filled exactly, another still flows, and one byte beyond is ERR_FLOW_CONTROL',
  async (t) => {
    const [raw, sb] = await socketPair(t);
    const got: number[] = [];
    const first = deferred();
    const other = deferred();
    const err = deferred<SwitchboardError>();
    const b = new MConnection(
      sb,
      [{ id: 1 }, { id: 2 }],
      (ch) => {
        got.push(ch);
        if (ch === 2) return void other.resolve();
        first.resolve();
        return new Promise(() => {}); // channel 1's reader never resumes: no credit comes back on it
      },
      err.resolve,
      { recvWindowBytes: INITIAL_WINDOW, maxPacketMsgPayloadSize: 1 << 20 },
    );
    b.start();
    t.teardown(() => b.stop());
    raw.write(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.from([1]) }));
    await first.promise;
    // the rest of channel 1's window, exactly: held for the paused reader, no error
    raw.write(encodePacket({ type: 'msg', channelId: 1, eof: true, data: pattern(INITIAL_WINDOW - 2 * MSG_HEADER_SIZE - 1, 2) }));
    raw.write(encodePacket({ type: 'msg', channelId: 2, eof: true, data: pattern(INITIAL_WINDOW - MSG_HEADER_SIZE, 3) }));
    await other.promise;
    t.same(got, [1, 2], 'channel 2 delivers a whole window of its own while channel 1 is paused and full');
    raw.write(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.alloc(0) }));
    const e = await err.promise;
    t.equal(e.code, 'ERR_FLOW_CONTROL');
    t.match(e.message, /channel 0x01/);
  },
);

t.test(
  'a window update for a channel we do not have is ignored (the peer opens its own channels), a msg on it is ERR_UNKNOWN_CHANNEL',
  async (t) => {
    const [raw, sb] = await socketPair(t);
    const err = deferred<SwitchboardError>();
    const got = deferred<number>();
    const b = new MConnection(sb, [{ id: 1 }], (ch) => got.resolve(ch), err.resolve);
    b.start();
    t.teardown(() => b.stop());
    raw.write(encodePacket({ type: 'window', channelId: 9, increment: 100 }));
    raw.write(encodePacket({ type: 'msg', channelId: 1, eof: true, data: Buffer.from('x') }));
    t.equal(await got.promise, 1, 'the connection carries on');
    raw.write(encodePacket({ type: 'msg', channelId: 9, eof: true, data: Buffer.from('x') }));
    t.equal((await err.promise).code, 'ERR_UNKNOWN_CHANNEL');
  },
);

t.test('a send waits for room in the send buffer (maxSendBufferBytes) instead of failing, and the buffer stays bounded', async (t) => {
  const [sa, sb] = await socketPair(t);
  let received = 0;
  const all = deferred();
  const a = new MConnection(
    sa,
    [{ id: 1, sendQueueCapacity: 4096 }],
    () => {},
    () => {},
    { maxSendBufferBytes: 1 << 20 },
  );
  const b = new MConnection(
    sb,
    [{ id: 1 }],
    (_ch, m) => {
      received += m.length;
      if (received === 64 * 256 * 1024) all.resolve();
    },
    () => {},
  );
  a.start();
  b.start();
  t.teardown(() => (a.stop(), b.stop()));
  let most = 0;
  for (let i = 0; i < 64; i++) {
    const m = pattern(256 * 1024, i);
    if (!a.trySend(1, m)) t.ok(await a.send(1, m, { timeoutMs: 30_000 }), `message ${i} is accepted by a blocking send`);
    most = Math.max(most, a.sendBufferedBytes);
  }
  await all.promise;
  t.ok(most <= (1 << 20) + 256 * 1024, `at most the budget plus one message held (${most} bytes)`);
  t.equal(a.sendBufferedBytes, 0);
});

t.test('a resumed channel delivers what it held a bounded batch per event-loop turn, in order', async (t) => {
  const [sa, sb] = await socketPair(t);
  const release = deferred();
  const got: number[] = [];
  const all = deferred();
  let turn = 0;
  const perTurn = new Map<number, number>();
  const a = new MConnection(
    sa,
    [{ id: 1, sendQueueCapacity: 400 }],
    () => {},
    () => {},
  );
  const b = new MConnection(
    sb,
    [{ id: 1 }],
    (_ch, m) => {
      got.push((m[0]! << 8) | m[1]!);
      if (turn > 0) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1); // deliveries after the release, per turn
      if (got.length === 300) all.resolve();
      if (got.length === 1) return release.promise;
    },
    () => {},
  );
  a.start();
  b.start();
  t.teardown(() => (a.stop(), b.stop()));
  for (let i = 0; i < 300; i++) {
    const m = Buffer.alloc(16);
    m.writeUInt16BE(i, 0);
    t.ok(a.trySend(1, m));
  }
  // wait until the receiver holds the other 299 (they are in flight within its window)
  for (let i = 0; i < 1000 && b.status().channels[0]!.bytesRecv < 300 * 16; i++) await new Promise((r) => setTimeout(r, 5));
  const nextTurn = () => new Promise<void>((r) => setImmediate(() => (turn++, r())));
  turn = 1;
  release.resolve();
  for (let i = 0; i < 50 && got.length < 300; i++) await nextTurn();
  await all.promise;
  t.same(
    got,
    Array.from({ length: 300 }, (_, i) => i),
    'every held message, in order',
  );
  const counts = [...perTurn.values()];
  t.equal(
    counts.reduce((x, y) => x + y, 0),
    299,
    'the 299 held messages came after the release',
  );
  t.ok(counts.length >= 5 && Math.max(...counts) <= 64, `at most 64 per turn (${counts.join(', ')})`);
});
