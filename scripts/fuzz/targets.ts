/**
 * Fuzz targets: every decoder that reads bytes from a remote peer.
 *
 * A target's `run` gets one (mutated) input. It returns when the input is
 * accepted and throws when it is refused. A refusal must be a
 * `SwitchboardError` with a stable `code`; any other exception — or an
 * {@link InvariantError}, thrown when the decoder contradicts itself (a
 * different result for a different chunking, a decoded value that does not
 * re-encode, data beyond a bound) — is a crash.
 *
 * | target | what is fed | invariants checked |
 * | --- | --- | --- |
 * | `packet` | `PacketDecoder` (random chunking, random pauses) and `decodePacket` | chunking-independent; lengths ≤ maxPayload; `decodePacket` agrees |
 * | `frame` | SecretConnection's `FrameOpener.feed` and `open` | chunking-independent; plaintext only from authenticated frames |
 * | `handshake` | `SecretConnection.make` against a mutated remote transcript, then the NodeInfo read and packets, over an in-memory stream | errors typed; no hang |
 * | `mconnection` | a started `MConnection`'s receive path (reassembly, capacities, unknown channels) | messages ≤ recvMessageCapacity; one typed onError |
 * | `nodeinfo` | `NodeInfo.decode` | decoded info re-encodes and decodes to the same |
 * | `pex` | `decodePexMessage` | decoded message re-encodes and decodes to the same |
 * | `gossip` | `decodeGossip` | decoded message re-encodes and decodes to the same |
 *
 * @module
 */
import { encode } from '@msgpack/msgpack';
import { isDeepStrictEqual } from 'node:util';
import { Duplex } from 'node:stream';
import { MConnection } from '../../lib/conn/mconnection.js';
import { PacketDecoder, decodePacket, encodePacket, type Packet } from '../../lib/conn/packet.js';
import { FrameOpener, FrameSealer } from '../../lib/conn/frame.js';
import { SecretConnection, type SecretConnectionTestOptions } from '../../lib/conn/secret-connection.js';
import { deriveSessionKeys, encodeAuthMessage, ephemeralKeyPair, x25519SharedSecret } from '../../lib/conn/handshake.js';
import { NodeInfoError, SwitchboardError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { MAX_NODE_INFO_SIZE, NodeInfo } from '../../lib/node-info.js';
import { NodeKey } from '../../lib/node-key.js';
import { readExactly } from '../../lib/transport-multiplex.js';
import { decodePexMessage, encodePexAddrs, encodePexMessage, encodePexRequest } from '../../reactors/pex/messages.js';
import { decodeGossip, type GossipMessage } from '../../reactors/examples/gossip/reactor.js';
import { handshakeFixture, protocolVectors } from './corpus.js';
import { chunks } from './mutate.js';
import { Rng } from './rng.js';

/** The decoder contradicted itself: always a crash. */
export class InvariantError extends Error {
  override name = 'InvariantError';
}

/** One fuzz target. */
export interface FuzzTarget {
  readonly name: string;
  /** Relative share of the cases. */
  readonly weight: number;
  /** Seed inputs (valid or nearly valid), mutated by the fuzzer. */
  readonly corpus: Uint8Array[];
  /** Structure-aware generator, used for a share of the cases. */
  generate?(rng: Rng): Uint8Array;
  /** Accept (return) or refuse (throw a SwitchboardError) `input`. */
  run(input: Buffer, rng: Rng): void | Promise<void>;
}

/** A refusal the suite accepts: a SwitchboardError with an `ERR_*` code. */
export function isTypedRefusal(err: unknown): err is SwitchboardError {
  return err instanceof SwitchboardError && typeof err.code === 'string' && /^ERR_[A-Z_]+$/.test(err.code);
}

function invariant(cond: unknown, why: string): asserts cond {
  if (!cond) throw new InvariantError(why);
}

// ---------------------------------------------------------------------------
// Random MessagePack values (structure-aware generation)

const INTERESTING_STRINGS = [
  '',
  'a',
  'a'.repeat(40),
  '0'.repeat(40),
  'A'.repeat(40),
  '127.0.0.1',
  '::1',
  '1.2.3.4',
  '::ffff:1.2.3.4',
  'fe80::1%eth0',
  '1.2.3.4:26656',
  '[::1]:0',
  'localhost:1',
  ':1',
  'x'.repeat(65),
  'x'.repeat(129),
  'x'.repeat(1025),
  '\u0000',
  '\u202e',
  'req',
  'addrs',
  '__proto__',
  'constructor',
  'toString',
];
const INTERESTING_NUMBERS = [0, 1, -1, 255, 256, 65535, 65536, 0xffffffff, 2 ** 32, -(2 ** 31), 2 ** 53, 1.5, -0, NaN, Infinity];

/** A random MessagePack-encodable value. */
export function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 2 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.range(-40, 300);
    case 3:
      return rng.pick(INTERESTING_NUMBERS);
    case 4:
      return rng.chance(0.5) ? rng.bytes(rng.int(70)).toString('latin1') : rng.bytes(rng.int(40)).toString('hex');
    case 5:
      return new Uint8Array(rng.bytes(rng.int(rng.chance(0.9) ? 8 : 300)));
    case 6:
      return rng.pick(INTERESTING_STRINGS);
    case 7:
      return Array.from({ length: rng.int(rng.chance(0.95) ? 5 : 300) }, () => randomValue(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = rng.int(6);
      for (let i = 0; i < n; i++)
        setKey(o, rng.chance(0.5) ? rng.pick(INTERESTING_STRINGS) : rng.bytes(rng.int(6)).toString('hex'), randomValue(rng, depth + 1));
      return o;
    }
  }
}

/**
 * Set `o[key] = value` as an own data property, whatever the key: a plain
 * assignment of `__proto__` would replace the prototype (an array, say), and
 * a later key such as `toString` would then make the map throw when anything
 * stringifies it — a bug of the generator, not of the code under test (it
 * stopped the seed 574989332 run at worker 0, case 304,977).
 */
function setKey(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A map with the given keys (some dropped, some extra), each value valid-looking or random. */
function shaped(rng: Rng, template: Record<string, () => unknown>): Uint8Array {
  const o: Record<string, unknown> = {};
  for (const [k, valid] of Object.entries(template)) {
    if (rng.chance(0.05)) continue;
    setKey(o, k, rng.chance(0.8) ? valid() : randomValue(rng));
  }
  if (rng.chance(0.05)) setKey(o, rng.pick(INTERESTING_STRINGS), randomValue(rng));
  return encode(o);
}

function hexId(rng: Rng): string {
  return rng.bytes(20).toString('hex');
}

function randomIp(rng: Rng): string {
  if (rng.chance(0.7)) return `${rng.range(1, 223)}.${rng.int(256)}.${rng.int(256)}.${rng.range(1, 254)}`;
  return Array.from({ length: 8 }, () => rng.int(0x10000).toString(16)).join(':');
}

// ---------------------------------------------------------------------------
// packet

function decodeStream(parts: readonly Buffer[], maxPayload: number): { packets: Packet[]; code?: string; buffered: number } {
  const packets: Packet[] = [];
  const dec = new PacketDecoder(
    {
      onControl: (type) => void packets.push({ type: type === 1 ? 'ping' : 'pong' }),
      onWindowUpdate: (channelId, increment) => {
        invariant(increment >= 1 && increment <= 0x7fffffff, `window increment ${increment} out of range`);
        invariant(channelId >= 0 && channelId <= 255, 'channel id out of range');
        packets.push({ type: 'window', channelId, increment });
      },
      onMsg: (channelId, eof, data) => {
        invariant(data.length <= maxPayload, `msg data of ${data.length} bytes exceeds maxPayload ${maxPayload}`);
        invariant(channelId >= 0 && channelId <= 255, 'channel id out of range');
        packets.push({ type: 'msg', channelId, eof, data: Buffer.from(data) });
      },
    },
    maxPayload,
  );
  try {
    for (const p of parts) dec.push(p);
  } catch (err) {
    if (err instanceof InvariantError || !isTypedRefusal(err)) throw err;
    return { packets, code: err.code, buffered: -1 };
  }
  return { packets, buffered: dec.bufferedBytes };
}

const packetTarget = (): FuzzTarget => {
  const v = protocolVectors();
  const corpus = [...v.entries()].filter(([k]) => k.startsWith('packet-')).map(([, b]) => b);
  corpus.push(
    Buffer.concat([
      encodePacket({ type: 'ping' }),
      encodePacket({ type: 'msg', channelId: 0x20, eof: false, data: Buffer.alloc(300, 7) }),
      encodePacket({ type: 'pong' }),
    ]),
    Buffer.concat([
      encodePacket({ type: 'window', channelId: 0x20, increment: 983040 }),
      encodePacket({ type: 'msg', channelId: 0x20, eof: true, data: Buffer.alloc(9, 1) }),
    ]),
    encodePacket({ type: 'msg', channelId: 0, eof: true, data: Buffer.alloc(16384, 1) }),
  );
  return {
    name: 'packet',
    weight: 20,
    corpus,
    run(input, rng) {
      const maxPayload = rng.pick([16384, 1024, 7, 1 << 20]);
      const split = decodeStream(chunks(input, rng), maxPayload);
      const whole = decodeStream([input], maxPayload);
      invariant(split.code === whole.code, `chunking changed the outcome: ${split.code} vs ${whole.code}`);
      invariant(isDeepStrictEqual(split.packets, whole.packets), 'chunking changed the decoded packets');
      invariant(split.buffered === whole.buffered, 'chunking changed the buffered byte count');
      let single: Packet | undefined;
      let singleCode: string | undefined;
      try {
        single = decodePacket(input, maxPayload);
      } catch (err) {
        if (!isTypedRefusal(err)) throw err;
        singleCode = err.code;
      }
      const exactlyOne = whole.code === undefined && whole.packets.length === 1 && whole.buffered === 0;
      invariant(exactlyOne === (single !== undefined), 'decodePacket disagrees with PacketDecoder');
      if (single)
        invariant(
          isDeepStrictEqual(single.type === 'msg' ? { ...single, data: Buffer.from(single.data) } : single, whole.packets[0]),
          'decodePacket decoded differently',
        );
      if (whole.code) throw new SwitchboardError(whole.code as SwitchboardError['code'], 'refused');
      if (singleCode) throw new SwitchboardError(singleCode as SwitchboardError['code'], 'refused');
    },
  };
};

// ---------------------------------------------------------------------------
// frame

function openStream(key: Buffer, max: number, parts: readonly Buffer[]): { plain: Buffer; code?: string; mid: boolean } {
  const opener = new FrameOpener(key, max);
  const pieces: Buffer[] = [];
  try {
    for (const p of parts) opener.feed(p, (piece) => void pieces.push(Buffer.from(piece)));
  } catch (err) {
    if (!isTypedRefusal(err)) throw err;
    return { plain: Buffer.concat(pieces), code: err.code, mid: true };
  }
  return { plain: Buffer.concat(pieces), mid: opener.midFrame };
}

const frameTarget = (): FuzzTarget => {
  const v = protocolVectors();
  const okm = v.get('sc-okm')!;
  const key = okm.subarray(32, 64); // A's send key: sc-frame, sc-auth-frame-a and sc-frame-1 are sealed with it
  const corpus: Uint8Array[] = [
    v.get('sc-frame')!,
    v.get('sc-auth-frame-a')!,
    Buffer.concat([v.get('sc-auth-frame-a')!, v.get('sc-frame-1')!]),
  ];
  const sealer = () => new FrameSealer(key);
  corpus.push(Buffer.concat([sealer().seal(Buffer.from([1])), Buffer.alloc(0)]));
  {
    const s = sealer();
    corpus.push(Buffer.concat([s.seal(Buffer.from('a')), s.seal(Buffer.alloc(100, 2)), s.seal(Buffer.alloc(2000, 3))]));
  }
  corpus.push(sealer().seal(Buffer.alloc(70_000, 4))); // two frames: 65536 + 4464
  return {
    name: 'frame',
    weight: 15,
    corpus,
    run(input, rng) {
      const max = rng.chance(0.8) ? 65536 : 1024;
      const split = openStream(key, max, chunks(input, rng));
      const whole = openStream(key, max, [input]);
      invariant(split.code === whole.code, `chunking changed the outcome: ${split.code} vs ${whole.code}`);
      invariant(split.plain.equals(whole.plain), 'chunking changed the plaintext');
      invariant(split.mid === whole.mid, 'chunking changed the frame state');
      if (input.length >= 4) {
        const opener = new FrameOpener(key, max);
        let one: Buffer | undefined;
        try {
          one = opener.open(input.subarray(0, 4), input.subarray(4));
        } catch (err) {
          if (!isTypedRefusal(err)) throw err;
        }
        if (one) invariant(whole.code === undefined && !whole.mid && whole.plain.equals(one), 'open() accepted what feed() did not');
      }
      if (whole.code) throw new SwitchboardError(whole.code as SwitchboardError['code'], 'refused');
    },
  };
};

// ---------------------------------------------------------------------------
// handshake

/** The remote side's (B's) valid transcript against local side A of PROTOCOL.md §2.5, and what A needs to replay it. */
export function handshakeTranscript(): { transcript: Buffer; localKey: NodeKey; opts: SecretConnectionTestOptions } {
  const fx = handshakeFixture();
  const aKey = NodeKey.fromSeed(fx.aSeed);
  const bKey = NodeKey.fromSeed(fx.bSeed);
  const aEph = ephemeralKeyPair(fx.aEphSecret);
  const bEph = ephemeralKeyPair(fx.bEphSecret);
  const keys = deriveSessionKeys(x25519SharedSecret(bEph, aEph.publicKey), bEph.publicKey, aEph.publicKey);
  const sealer = new FrameSealer(keys.sendKey);
  const info = NodeInfo.create({
    id: bKey.id,
    listenAddr: '127.0.0.1:26656',
    network: 'fuzz',
    channels: Uint8Array.from([0x20]),
    moniker: 'bob',
  }).encode();
  const infoFrame = Buffer.allocUnsafe(4 + info.length);
  infoFrame.writeUInt32BE(info.length, 0);
  infoFrame.set(info, 4);
  const transcript = Buffer.concat([
    bEph.publicKey,
    sealer.seal(encodeAuthMessage(bKey, keys.challenge)),
    sealer.seal(infoFrame),
    sealer.seal(
      Buffer.concat([
        encodePacket({ type: 'ping' }),
        encodePacket({ type: 'msg', channelId: 0x20, eof: true, data: Buffer.from('hello') }),
      ]),
    ),
  ]);
  return { transcript, localKey: aKey, opts: { ephemeralSecretKey: fx.aEphSecret, handshakeTimeoutMs: 5000 } };
}

/** Upgrade an in-memory stream carrying `parts` (then EOF) as side A: handshake, NodeInfo, packets. */
export async function replayHandshake(parts: readonly Buffer[], localKey: NodeKey, opts: SecretConnectionTestOptions): Promise<void> {
  const conn = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  for (const p of parts) conn.push(p);
  // EOF in a later macrotask, as TCP delivers it (a separate read callback):
  // the handshake gets to consume the bytes before it sees the end.
  setImmediate(() => conn.push(null));
  const sc = await SecretConnection.make(conn, localKey, opts);
  try {
    const len = (await readExactly(sc, 4)).readUInt32BE(0);
    if (len > MAX_NODE_INFO_SIZE) throw new NodeInfoError(`NodeInfo length ${len}`, { invalid: true });
    NodeInfo.decode(await readExactly(sc, len));
    await new Promise<void>((resolve, reject) => {
      const dec = new PacketDecoder({ onControl() {}, onMsg: () => true }, 16384);
      sc.on('data', (d: Buffer) => {
        try {
          dec.push(d);
        } catch (err) {
          reject(err);
        }
      });
      sc.once('end', () => resolve());
      sc.once('error', reject);
      sc.once('close', () => resolve());
    });
  } finally {
    sc.destroy();
  }
}

const handshakeTarget = (): FuzzTarget => {
  const { transcript, localKey, opts } = handshakeTranscript();
  const v = protocolVectors();
  const corpus: Uint8Array[] = [
    transcript,
    transcript.subarray(0, 32),
    transcript.subarray(0, 32 + 116),
    Buffer.concat([v.get('sc-eph-pub-b')!, v.get('sc-auth-frame-a')!]),
  ];
  return {
    name: 'handshake',
    weight: 4,
    corpus,
    run: (input, rng) => replayHandshake(chunks(input, rng), localKey, opts),
  };
};

// ---------------------------------------------------------------------------
// mconnection (receive path)

const MCONN_CHANNELS = [
  { id: 0x20, recvMessageCapacity: 1024, recvBufferCapacity: 16 },
  { id: 0x00, recvMessageCapacity: 64 },
  { id: 0x01 },
];

const mconnTarget = (): FuzzTarget => {
  const corpus: Uint8Array[] = [
    Buffer.concat([
      encodePacket({ type: 'msg', channelId: 0x20, eof: false, data: Buffer.alloc(200, 1) }),
      encodePacket({ type: 'msg', channelId: 0x20, eof: true, data: Buffer.alloc(200, 2) }),
    ]),
    Buffer.concat([encodePacket({ type: 'msg', channelId: 0x00, eof: true, data: Buffer.alloc(64, 3) }), encodePacket({ type: 'ping' })]),
    Buffer.concat([
      encodePacket({ type: 'msg', channelId: 0x01, eof: false, data: Buffer.alloc(10, 3) }),
      encodePacket({ type: 'msg', channelId: 0x20, eof: true, data: Buffer.alloc(0) }),
      encodePacket({ type: 'msg', channelId: 0x01, eof: true, data: Buffer.alloc(5, 4) }),
    ]),
    Buffer.concat(Array.from({ length: 6 }, () => encodePacket({ type: 'msg', channelId: 0x20, eof: false, data: Buffer.alloc(200, 5) }))),
  ];
  return {
    name: 'mconnection',
    weight: 15,
    corpus,
    run(input, rng) {
      const conn = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
      let error: unknown;
      let errors = 0;
      const mc = new MConnection(
        conn,
        MCONN_CHANNELS,
        (ch, msg) => {
          const cap = MCONN_CHANNELS.find((c) => c.id === ch)?.recvMessageCapacity ?? 22020096;
          invariant(msg.length <= cap, `message of ${msg.length} bytes on channel ${ch} exceeds recvMessageCapacity ${cap}`);
        },
        (err) => {
          errors++;
          error = err;
        },
        { maxPacketMsgPayloadSize: 256 },
      );
      mc.start();
      const onData = (mc as unknown as { onData(b: Buffer): void }).onData;
      try {
        for (const c of chunks(input, rng)) {
          if (mc.isStopped) break;
          onData(c);
        }
      } finally {
        mc.stop();
      }
      invariant(errors <= 1, 'onError called more than once');
      if (error instanceof InvariantError || (error instanceof SwitchboardError && error.cause instanceof InvariantError)) {
        throw error instanceof InvariantError ? error : (error.cause as Error);
      }
      if (error !== undefined) throw error;
    },
  };
};

// ---------------------------------------------------------------------------
// nodeinfo, pex, gossip

const nodeInfoTarget = (): FuzzTarget => {
  const v = protocolVectors();
  const ref = NodeInfo.create({
    id: 'b'.repeat(40),
    listenAddr: '127.0.0.1:1',
    network: 'testnet',
    channels: Uint8Array.from([0x00, 0x20]),
    moniker: 'ref',
  });
  const corpus: Uint8Array[] = [
    v.get('nodeinfo-alice')!,
    NodeInfo.create({
      id: 'c'.repeat(40),
      listenAddr: '[2001:db8::1]:65535',
      network: 'n'.repeat(64),
      version: 'v'.repeat(64),
      channels: Uint8Array.from({ length: 256 }, (_, i) => i),
      moniker: 'm'.repeat(128),
      other: Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, 'v'.repeat(256)])),
      protocolVersion: { p2p: 1, block: 0xffffffff, app: 7 },
    }).encode(),
  ];
  return {
    name: 'nodeinfo',
    weight: 15,
    corpus,
    generate: (rng) =>
      shaped(rng, {
        protocolVersion: () => ({ p2p: rng.pick([1, 0, 2, -1, 2 ** 32]), block: rng.pick([0, 1, 2 ** 32 - 1]), app: rng.int(3) }),
        id: () => (rng.chance(0.8) ? hexId(rng) : rng.pick(INTERESTING_STRINGS)),
        listenAddr: () => (rng.chance(0.6) ? `${randomIp(rng)}:${rng.int(70000)}` : rng.pick(INTERESTING_STRINGS)),
        network: () => rng.pick(['testnet', '', 'x'.repeat(65), '\u00e9t\u00e9']),
        version: () => rng.pick(['', '0.1.0', 'v'.repeat(65)]),
        channels: () => new Uint8Array(rng.bytes(rng.pick([0, 1, 2, 256, 257]))),
        moniker: () => rng.pick(['alice', '', 'm'.repeat(129), 'a\u0007b', '\u{1f600}']),
        other: () => (rng.chance(0.5) ? {} : randomValue(rng)),
      }),
    run(input) {
      const info = NodeInfo.decode(input);
      const bytes = Buffer.from(info.encode());
      invariant(Buffer.from(NodeInfo.decode(bytes).encode()).equals(bytes), 'NodeInfo does not survive re-encoding');
      info.netAddress();
      try {
        ref.compatibleWith(info);
      } catch (err) {
        invariant(isTypedRefusal(err) && err.code === 'ERR_INCOMPATIBLE_PEER', `compatibleWith threw ${String(err)}`);
      }
    },
  };
};

const pexTarget = (): FuzzTarget => {
  const rng = new Rng(7);
  const addrs = (n: number) => Array.from({ length: n }, () => new NetAddress(hexId(rng), randomIp(rng), rng.range(1, 65535)));
  const corpus: Uint8Array[] = [
    encodePexRequest(),
    encodePexAddrs([]),
    encodePexAddrs(addrs(1)),
    encodePexAddrs(addrs(5)),
    encodePexAddrs(addrs(250)),
  ];
  return {
    name: 'pex',
    weight: 15,
    corpus,
    generate: (r) =>
      r.chance(0.2)
        ? shaped(r, { t: () => r.pick(['req', 'addrs', 'REQ', '']) })
        : shaped(r, {
            t: () => 'addrs',
            addrs: () =>
              Array.from({ length: r.chance(0.9) ? r.int(6) : r.pick([250, 251, 256]) }, () =>
                r.chance(0.9)
                  ? JSON.parse(
                      JSON.stringify(
                        Object.fromEntries(
                          Object.entries({ id: hexId(r), host: randomIp(r), port: r.pick([0, 1, 26656, 65535, 65536, -1, 1.5]) }).filter(
                            () => !r.chance(0.03),
                          ),
                        ),
                      ),
                    )
                  : randomValue(r),
              ),
          }),
    run(input) {
      const msg = decodePexMessage(input);
      const again = decodePexMessage(encodePexMessage(msg));
      invariant(
        isDeepStrictEqual(again.type === 'addrs' ? again.addrs.map(String) : [], msg.type === 'addrs' ? msg.addrs.map(String) : []) &&
          again.type === msg.type,
        'PEX message does not survive re-encoding',
      );
    },
  };
};

const gossipTarget = (): FuzzTarget => {
  const origin = 'd'.repeat(40);
  const msg = (m: Partial<GossipMessage>): Uint8Array =>
    encode({ id: `${origin}:1`, origin, moniker: 'dave', text: 'hello', hops: 0, ...m });
  const corpus: Uint8Array[] = [
    msg({}),
    msg({ text: 't'.repeat(1024), hops: 64, moniker: 'm'.repeat(128) }),
    msg({ id: `${origin}:${'9'.repeat(23)}`, text: '' }),
  ];
  return {
    name: 'gossip',
    weight: 15,
    corpus,
    generate: (rng) => {
      const o = hexId(rng);
      return shaped(rng, {
        id: () => `${rng.chance(0.9) ? o : hexId(rng)}:${rng.int(1000)}`,
        origin: () => o,
        moniker: () => rng.pick(['', 'x', 'm'.repeat(129)]),
        text: () => rng.pick(['', 'hi', 't'.repeat(1025)]),
        hops: () => rng.pick([0, 1, 64, 65, -1, 1.5, NaN]),
      });
    },
    run(input) {
      const bytes = Buffer.from(encode(decodeGossip(input)));
      invariant(Buffer.from(encode(decodeGossip(bytes))).equals(bytes), 'gossip message does not survive re-encoding');
    },
  };
};

/** All targets, in a fixed order (the order is part of case reproducibility). */
export function allTargets(): FuzzTarget[] {
  return [packetTarget(), frameTarget(), handshakeTarget(), mconnTarget(), nodeInfoTarget(), pexTarget(), gossipTarget()];
}
