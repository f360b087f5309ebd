/**
 * Bad input, decoder by decoder: property tests (fast-check) and a small
 * deterministic slice of the mutation fuzzer that `npm run fuzz` runs at
 * scale (scripts/fuzz/). Every refusal must be a SwitchboardError with a
 * stable code, every decoder must give the same answer whatever the chunking,
 * decoded values must re-encode, and oversize length prefixes must be refused
 * before anything is allocated for them.
 */
import t from 'tap';
import fc from 'fast-check';
import { encode } from '@msgpack/msgpack';
import { PacketDecoder, encodePacket, MSG_HEADER_SIZE, writeMsgHeader, type Packet } from '../../lib/conn/packet.js';
import { FrameOpener, FrameSealer } from '../../lib/conn/frame.js';
import { SwitchboardError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { NodeInfo } from '../../lib/node-info.js';
import { decodePexMessage, encodePexAddrs, MAX_PEX_ADDRS } from '../../reactors/pex/messages.js';
import { decodeGossip, MAX_GOSSIP_MESSAGE_SIZE } from '../../reactors/examples/gossip/reactor.js';
import { Fuzzer } from '../../scripts/fuzz/runner.js';
import { allTargets, handshakeTranscript, isTypedRefusal, replayHandshake, type FuzzTarget } from '../../scripts/fuzz/targets.js';
import { Rng } from '../../scripts/fuzz/rng.js';
import { xorByte } from '../helpers/bytes.js';

const targets = new Map(allTargets().map((x) => [x.name, x]));
const target = (name: string): FuzzTarget => targets.get(name)!;

/** Run a target on `input`; returns 'accepted' or the refusal code; rethrows anything else (a crash). */
async function outcome(tg: FuzzTarget, input: Uint8Array, seed: number): Promise<string> {
  try {
    await tg.run(Buffer.from(input), new Rng(seed));
    return 'accepted';
  } catch (err) {
    if (isTypedRefusal(err)) return err.code;
    throw err;
  }
}

/** Split points → chunks. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const pts = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of pts) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const packetArb: fc.Arbitrary<Packet> = fc.oneof(
  fc.constant<Packet>({ type: 'ping' }),
  fc.constant<Packet>({ type: 'pong' }),
  fc
    .record({ channelId: fc.integer({ min: 0, max: 255 }), eof: fc.boolean(), data: fc.uint8Array({ maxLength: 300 }) })
    .map((m): Packet => ({ type: 'msg', ...m, data: Buffer.from(m.data) })),
);

t.test('packet decoder', async (t) => {
  t.test('arbitrary bytes, arbitrary chunking: typed refusal or the same packets as unchunked', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.integer(), async (bytes, seed) => {
        await outcome(target('packet'), bytes, seed);
      }),
      { numRuns: 1500 },
    );
    t.pass('property holds');
  });

  t.test('any packet sequence round-trips through any chunking', async (t) => {
    fc.assert(
      fc.property(fc.array(packetArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 10 }), (packets, cuts) => {
        const wire = Buffer.concat(packets.map(encodePacket));
        const got: Packet[] = [];
        const dec = new PacketDecoder(
          {
            onControl: (ty) => void got.push({ type: ty === 1 ? 'ping' : 'pong' }),
            onMsg: (channelId, eof, data) => (got.push({ type: 'msg', channelId, eof, data: Buffer.from(data) }), true),
          },
          16384,
        );
        for (const c of split(wire, cuts)) dec.push(c);
        return dec.bufferedBytes === 0 && JSON.stringify(got) === JSON.stringify(packets);
      }),
      { numRuns: 500 },
    );
    t.pass('property holds');
  });

  t.test('an oversize length prefix is refused from the 7 header bytes alone, nothing allocated', async (t) => {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 2000; i++) {
      const dec = new PacketDecoder({ onControl() {}, onMsg: () => true }, 16384);
      const head = Buffer.alloc(MSG_HEADER_SIZE);
      writeMsgHeader(head, 0, 0x00, false, 0xffffffff - i);
      try {
        dec.push(head);
        t.fail('accepted');
      } catch (err) {
        if (!(err instanceof SwitchboardError) || err.code !== 'ERR_MALFORMED_PACKET') throw err;
      }
    }
    t.ok(process.memoryUsage().arrayBuffers - before < 8 << 20, 'no buffer allocated for the claimed lengths');
  });
});

t.test('frame decoder (SecretConnection FrameOpener)', async (t) => {
  const key = Buffer.alloc(32, 7);

  t.test('sealed frames open back through any chunking', async (t) => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (msgs, cuts) => {
          const sealer = new FrameSealer(key, 1024);
          const wire = Buffer.concat(msgs.map((m) => sealer.seal(m)));
          const opener = new FrameOpener(key, 1024);
          const got: Buffer[] = [];
          for (const c of split(wire, cuts)) opener.feed(c, (p) => void got.push(Buffer.from(p)));
          return !opener.midFrame && Buffer.concat(got).equals(Buffer.concat(msgs.map((m) => Buffer.from(m))));
        },
      ),
      { numRuns: 300 },
    );
    t.pass('property holds');
  });

  t.test('a modified byte never yields modified plaintext: only a typed refusal, or a wait for more bytes', async (t) => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 500 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (msgs, at, x) => {
          const sealer = new FrameSealer(key);
          const wire = Buffer.concat(msgs.map((m) => sealer.seal(m)));
          const plain = Buffer.concat(msgs.map((m) => Buffer.from(m)));
          const i = at % wire.length;
          xorByte(wire, i, x);
          const opener = new FrameOpener(key);
          const got: Buffer[] = [];
          let code: string | undefined;
          try {
            opener.feed(wire, (p) => void got.push(Buffer.from(p)));
          } catch (err) {
            if (!isTypedRefusal(err)) throw err;
            code = err.code;
          }
          const out = Buffer.concat(got);
          const isPrefix = out.equals(plain.subarray(0, out.length)) && out.length < plain.length;
          return isPrefix && (code === 'ERR_BAD_FRAME' || code === 'ERR_MESSAGE_TOO_LARGE' || (code === undefined && opener.midFrame));
        },
      ),
      { numRuns: 500 },
    );
    t.pass('property holds');
  });

  t.test('arbitrary bytes: typed refusal or consistent results across chunkings', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 1024 }), fc.integer(), async (bytes, seed) => {
        await outcome(target('frame'), bytes, seed);
      }),
      { numRuns: 1000 },
    );
    t.pass('property holds');
  });

  t.test('an oversize frame length prefix is refused from its 4 bytes, nothing allocated', async (t) => {
    const before = process.memoryUsage().arrayBuffers;
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      const opener = new FrameOpener(key);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(0xffffffff - i);
      try {
        opener.feed(head, () => t.fail('plaintext'));
      } catch (err) {
        if (err instanceof SwitchboardError && err.code === 'ERR_MESSAGE_TOO_LARGE') refused++;
        else throw err;
      }
    }
    t.equal(refused, 1000, 'every claimed length over 64 KiB refused with ERR_MESSAGE_TOO_LARGE');
    t.ok(process.memoryUsage().arrayBuffers - before < 8 << 20, 'no buffer allocated for the claimed lengths');
  });
});

t.test('handshake (SecretConnection.make against mutated transcripts)', async (t) => {
  const { transcript, localKey, opts } = handshakeTranscript();
  await replayHandshake([transcript], localKey, opts);
  t.pass('the unmodified transcript of PROTOCOL.md §2.5 completes the handshake, NodeInfo and packets');

  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 32 + 116 - 1 }), fc.integer({ min: 1, max: 255 }), async (at, x) => {
      const bad = Buffer.from(transcript);
      xorByte(bad, at, x);
      let code: string | undefined;
      try {
        await replayHandshake([bad], localKey, opts);
      } catch (err) {
        if (!isTypedRefusal(err)) throw err;
        code = err.code;
      }
      return code === 'ERR_AUTH' || code === 'ERR_HANDSHAKE';
    }),
    { numRuns: 150 },
  );
  t.pass('any byte changed in the ephemeral key or the auth frame fails with ERR_AUTH or ERR_HANDSHAKE');

  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.integer(), async (bytes, seed) => {
      await outcome(target('handshake'), bytes, seed);
    }),
    { numRuns: 150 },
  );
  t.pass('arbitrary bytes as the remote handshake: typed refusals only');
});

/** Any MessagePack-encoded value, or any bytes (≤ 600). */
const anyEncodedOrBytes = fc.oneof(
  fc.anything().map((v) => encode(v)),
  fc.uint8Array({ maxLength: 600 }),
);
const hexId = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString('hex'));

t.test('NodeInfo.decode', async (t) => {
  t.test('valid NodeInfos round-trip', async (t) => {
    fc.assert(
      fc.property(
        hexId,
        fc.ipV4(),
        fc.integer({ min: 1, max: 65535 }),
        fc.stringMatching(/^[a-z0-9-]{1,64}$/),
        fc.uniqueArray(fc.integer({ min: 0, max: 255 }), { maxLength: 256 }),
        fc.string({ minLength: 1, maxLength: 128 }).filter((s) => !/\p{Cc}/u.test(s)),
        (id, host, port, network, channels, moniker) => {
          const info = NodeInfo.create({ id, listenAddr: `${host}:${port}`, network, channels: Uint8Array.from(channels), moniker });
          const back = NodeInfo.decode(info.encode());
          return back.id === id && back.moniker === moniker && Buffer.from(back.channels).equals(Buffer.from(channels));
        },
      ),
      { numRuns: 300 },
    );
    t.pass('property holds');
  });

  t.test('anything else: ERR_INVALID_NODE_INFO, never another error', async (t) => {
    await fc.assert(
      fc.asyncProperty(anyEncodedOrBytes, fc.integer(), async (bytes, seed) => {
        const code = await outcome(target('nodeinfo'), bytes, seed);
        return code === 'accepted' || code === 'ERR_INVALID_NODE_INFO';
      }),
      { numRuns: 1500 },
    );
    t.pass('property holds');
  });
});

t.test('PEX messages', async (t) => {
  const addrArb = fc.record({ id: hexId, host: fc.oneof(fc.ipV4(), fc.ipV6()), port: fc.integer({ min: 1, max: 65535 }) });
  t.test('valid PexAddrs round-trip', async (t) => {
    fc.assert(
      fc.property(fc.array(addrArb, { maxLength: MAX_PEX_ADDRS }), (list) => {
        const addrs = list.map((a) => new NetAddress(a.id, a.host, a.port));
        const back = decodePexMessage(encodePexAddrs(addrs));
        return back.type === 'addrs' && back.addrs.map(String).join() === addrs.map(String).join();
      }),
      { numRuns: 200 },
    );
    t.pass('property holds');
  });

  t.test('anything else: ERR_MALFORMED_PACKET, never another error', async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything().map((v) => encode(v)),
          fc
            .record({ t: fc.constant('addrs'), addrs: fc.array(fc.oneof(fc.anything(), addrArb), { maxLength: 300 }) })
            .map((v) => encode(v)),
          fc.uint8Array({ maxLength: 600 }),
        ),
        fc.integer(),
        async (bytes, seed) => {
          const code = await outcome(target('pex'), bytes, seed);
          return code === 'accepted' || code === 'ERR_MALFORMED_PACKET';
        },
      ),
      { numRuns: 1500 },
    );
    t.pass('property holds');
  });
});

t.test('gossip messages', async (t) => {
  t.test('valid messages round-trip', async (t) => {
    fc.assert(
      fc.property(
        hexId,
        fc.nat(),
        fc.string({ maxLength: 128 }),
        fc.string({ maxLength: 1024 }),
        fc.integer({ min: 0, max: 64 }),
        (origin, seq, moniker, text, hops) => {
          const m = { id: `${origin}:${seq}`, origin, moniker, text, hops };
          const bytes = encode(m);
          if (bytes.length > MAX_GOSSIP_MESSAGE_SIZE) return true;
          return JSON.stringify(decodeGossip(bytes)) === JSON.stringify(m);
        },
      ),
      { numRuns: 300 },
    );
    t.pass('property holds');
  });

  t.test('anything else: ERR_MALFORMED_PACKET, never another error', async (t) => {
    await fc.assert(
      fc.asyncProperty(anyEncodedOrBytes, fc.integer(), async (bytes, seed) => {
        const code = await outcome(target('gossip'), bytes, seed);
        return code === 'accepted' || code === 'ERR_MALFORMED_PACKET';
      }),
      { numRuns: 1500 },
    );
    t.pass('property holds');
  });
});

t.test('MessagePack length fields claiming gigabytes are refused without allocating', async (t) => {
  const claims = [
    Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xf0]), // str32 of 4 GB
    Buffer.from([0xc6, 0x7f, 0xff, 0xff, 0xff]), // bin32 of 2 GB
    Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // array32 of 4 G entries
    Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), // map32 of 4 G entries
    Buffer.from([0x81, 0xa1, 0x74, 0xdb, 0xff, 0xff, 0xff, 0xff]), // { t: <str32 of 4 GB> }
  ];
  const before = process.memoryUsage().arrayBuffers;
  for (const c of claims) {
    for (const [name, decode, code] of [
      ['NodeInfo', (b: Uint8Array) => NodeInfo.decode(b), 'ERR_INVALID_NODE_INFO'],
      ['PEX', decodePexMessage, 'ERR_MALFORMED_PACKET'],
      ['gossip', decodeGossip, 'ERR_MALFORMED_PACKET'],
    ] as const) {
      t.throws(() => decode(c), { code }, `${name} refuses ${c.toString('hex')}`);
    }
  }
  t.ok(process.memoryUsage().arrayBuffers - before < 8 << 20, 'nothing of the claimed size was allocated');
});

t.test('mutation fuzzer slice: 12,000 deterministic cases over every target, no crash', async (t) => {
  const f = new Fuzzer(allTargets(), 0x5b0a4d, 0);
  const { stats } = await f.runRange(0, 12_000);
  for (const c of stats.crashList) t.comment(`CRASH ${c.id} [${c.target}] ${c.error}\n${c.input}`);
  for (const c of stats.harnessList) t.comment(`HARNESS ERROR ${c.id} [${c.target}] ${c.error}`);
  t.equal(stats.crashes, 0, 'no crash');
  t.equal(stats.harnessErrors, 0, 'no error of the fuzzer itself');
  t.equal(stats.cases, 12_000);
  for (const name of targets.keys()) t.ok((stats.perTarget[name]?.cases ?? 0) > 0, `${name} was exercised`);
});
