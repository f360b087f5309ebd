import t from 'tap';
import fc from 'fast-check';
import { decodePacket, encodePacket, PacketDecoder, type Packet } from '../../lib/conn/packet.js';

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.constant<Packet>({ type: 'ping' }),
  fc.constant<Packet>({ type: 'pong' }),
  fc.record({
    type: fc.constant('window' as const),
    channelId: fc.integer({ min: 0, max: 255 }),
    increment: fc.integer({ min: 1, max: 0x7fffffff }),
  }),
  fc.record({
    type: fc.constant('msg' as const),
    channelId: fc.integer({ min: 0, max: 255 }),
    eof: fc.boolean(),
    data: fc.uint8Array({ maxLength: 3000 }),
  }),
);

function norm(p: Packet) {
  return p.type === 'msg' ? { ...p, data: Buffer.from(p.data).toString('hex') } : p;
}

function decodeStream(chunks: Buffer[], max = 4096): Packet[] {
  const out: Packet[] = [];
  const dec: PacketDecoder = new PacketDecoder(
    {
      onControl: (type) => out.push({ type: type === 1 ? 'ping' : 'pong' }),
      onWindowUpdate: (channelId, increment) => out.push({ type: 'window', channelId, increment }),
      onMsg: (channelId, eof, data) => {
        out.push({ type: 'msg', channelId, eof, data: Buffer.from(data) });
      },
    },
    max,
  );
  for (const c of chunks) dec.push(c);
  return out;
}

t.test('packets round-trip, however the stream is split', async () => {
  fc.assert(
    fc.property(
      fc.array(packetArb, { maxLength: 20 }),
      fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 50 }),
      (packets, cuts) => {
        const stream = Buffer.concat(packets.map(encodePacket));
        const chunks: Buffer[] = [];
        let off = 0;
        for (let i = 0; off < stream.length; i++) {
          const n = cuts[i % cuts.length] ?? stream.length; // cuts is not empty
          chunks.push(stream.subarray(off, off + n));
          off += n;
        }
        const got = decodeStream(chunks, 4096);
        return JSON.stringify(got.map(norm)) === JSON.stringify(packets.map(norm));
      },
    ),
    { numRuns: 300 },
  );
});

t.test('garbage and truncated input give typed errors that say what is wrong, never a crash', async (t) => {
  const bad = (bytes: number[], message: string, what: string, max?: number) =>
    t.throws(() => decodePacket(Buffer.from(bytes), max), { code: 'ERR_MALFORMED_PACKET', message }, what);
  bad([0x00], 'unknown packet type 0x00', 'unknown type 0');
  bad([0x7f, 1, 2], 'unknown packet type 0x7f', 'unknown type');
  bad([], 'truncated packet', 'empty');
  bad([0x03, 0x01, 0x01, 0, 0], 'truncated packet', 'truncated header');
  bad([0x03, 0x01, 0x01, 0, 0, 0, 5, 1, 2], 'truncated packet', 'truncated data');
  bad([0x03, 0x01, 0x02, 0, 0, 0, 0], 'invalid msg flags 0x2', 'bad flags');
  bad([0x01, 0x01], 'more than one packet', 'two pings');
  bad([0x04, 0x01, 0, 0, 0, 1, 0x04, 0x02, 0, 0, 0, 1], 'more than one packet', 'two window updates');
  bad([0x03, 0x01, 0x01, 0, 0, 0, 0, 0x03, 0x01, 0x01, 0, 0, 0, 0], 'more than one packet', 'two msg packets');
  bad([0x01, 0x03, 0x01], 'trailing bytes after packet', 'a ping, then the start of a msg header');
  bad([0x01, 0x03, 0x01, 0x01, 0, 0, 0, 2, 9], 'trailing bytes after packet', 'a ping, then a msg packet cut in its data');
  bad([0x04, 0x01, 0, 0, 0, 0], 'window update increment 0 outside 1..2147483647', 'window increment 0');
  bad([0x04, 0x01, 0x80, 0, 0, 0], 'window update increment 2147483648 outside 1..2147483647', 'window increment over 2^31-1');
  bad([0x04, 0x01, 0, 0, 1], 'truncated packet', 'truncated window update');
  t.same(
    decodePacket(Buffer.from([0x04, 0x20, 0, 0, 1, 0])),
    { type: 'window', channelId: 0x20, increment: 256 },
    'a window update names its channel',
  );
  bad(
    [0x03, 0x01, 0x01, 0xff, 0xff, 0xff, 0xff],
    'msg packet of 4294967295 bytes exceeds maxPacketMsgPayloadSize 16384',
    'length over the bound',
    16384,
  );
});

t.test('every packet type decodes when it arrives one, two or three bytes at a time', async (t) => {
  const packets: Packet[] = [
    { type: 'msg', channelId: 7, eof: true, data: Buffer.from('hello') },
    { type: 'window', channelId: 9, increment: 70_000 },
    { type: 'ping' },
    { type: 'msg', channelId: 8, eof: false, data: Buffer.alloc(0) },
    { type: 'pong' },
  ];
  const stream = Buffer.concat(packets.map(encodePacket));
  for (const step of [1, 2, 3]) {
    const chunks: Buffer[] = [];
    for (let off = 0; off < stream.length; off += step) chunks.push(stream.subarray(off, off + step));
    t.same(decodeStream(chunks).map(norm), packets.map(norm), `${step}-byte chunks`);
  }
});

t.test('an oversize length is refused before any data arrives (nothing allocated for it)', async (t) => {
  const dec = new PacketDecoder({ onControl() {}, onMsg: () => {} }, 1024);
  t.throws(() => dec.push(Buffer.from([0x03, 0x01, 0x01, 0x7f, 0xff, 0xff, 0xff])), { code: 'ERR_MALFORMED_PACKET' });
  const dec2 = new PacketDecoder({ onControl() {}, onMsg: () => {} }, 1024);
  dec2.push(Buffer.from([0x03, 0x01, 0x01]));
  t.throws(() => dec2.push(Buffer.from([0x7f, 0xff, 0xff, 0xff])), { code: 'ERR_MALFORMED_PACKET' }, 'split header');
});

t.test('random bytes never crash the decoder', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decodeStream([Buffer.from(bytes)], 64);
      } catch (err) {
        return (err as { code?: string }).code === 'ERR_MALFORMED_PACKET';
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});
