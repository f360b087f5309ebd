// Edges of MConnection's flow control and send queues that a user relies on:
// a sender may use its receive window exactly, and canSend follows each
// channel's own capacity (not the default of 1, CometBFT's bug).
import t from 'tap';
import { MConnection } from '../../lib/conn/mconnection.js';
import type { SwitchboardError } from '../../lib/errors.js';
import { INITIAL_WINDOW, MSG_HEADER_SIZE, PACKET_PONG, PacketDecoder, encodePacket } from '../../lib/conn/packet.js';
import { deferred, pattern, socketPair } from '../helpers/net.js';

t.test('a sender that uses exactly its receive window is not disconnected', async (t) => {
  const [raw, sb] = await socketPair(t);
  const errors: SwitchboardError[] = [];
  const got = deferred<Buffer | SwitchboardError>();
  const b = new MConnection(sb, [{ id: 1 }], (_ch, msg) => got.resolve(Buffer.from(msg)), (e) => (errors.push(e), got.resolve(e)), {
    recvWindowBytes: INITIAL_WINDOW,
    maxPacketMsgPayloadSize: 1 << 20,
  });
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
  const dec = new PacketDecoder({ onControl: (type) => type === PACKET_PONG && pong.resolve(), onMsg: () => true }, 1 << 20);
  raw.on('data', (c: Buffer) => dec.push(c));
  raw.write(encodePacket({ type: 'ping' }));
  await pong.promise;
  t.same(errors, [], 'no flow-control error');
  t.equal(b.isStopped, false);
});

t.test('canSend follows the channel’s own sendQueueCapacity (3), not the default (1)', async (t) => {
  const [sa] = await socketPair(t);
  const a = new MConnection(sa, [{ id: 1, sendQueueCapacity: 3 }, { id: 2 }], () => {}, () => {});
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
