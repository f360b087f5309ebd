/**
 * Mutations for the fuzzer: byte-level (bit flips, interesting values,
 * inserts, deletes, duplications, truncation, splices) plus length-field
 * attacks (u32 big-endian lengths set to boundary values) and MessagePack
 * type markers (which carry their own length fields), stacked 1..4 deep.
 *
 * @module
 */
import type { Rng } from './rng.js';

/** Bytes that tend to hit edge cases: zero, sign bits, all ones, packet types, MessagePack markers. */
const INTERESTING_BYTES = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x7f, 0x80, 0x81, 0xfe, 0xff,
  // MessagePack: nil, false, true, bin8/16/32, ext8/16/32, float32/64, uint64, int64, str8/16/32, array16/32, map16/32, fixmap, fixarray, fixstr
  0xc0,
  0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcf, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x8f, 0x9f, 0xbf, 0xa0,
];

/** u32 values that probe length checks. */
const INTERESTING_U32 = [
  0,
  1,
  2,
  7,
  16,
  96,
  0x7f,
  0x80,
  0xff,
  0x100,
  1023,
  1024,
  1025,
  4096,
  10240,
  10241,
  16383,
  16384,
  16385,
  32064,
  32065,
  65535,
  65536,
  65537,
  1 << 20,
  (1 << 20) + 1,
  22020096,
  22020097,
  0x7fffffff,
  0x80000000,
  0xfffffff0,
  0xffffffff,
];

/** Most bytes a mutated input may have (keeps every case cheap; lengths *claimed* inside may be anything). */
export const MAX_MUTANT_SIZE = 256 * 1024;

type Mutation = (b: Buffer, rng: Rng, corpus: readonly Uint8Array[]) => Buffer;

const mutations: Mutation[] = [
  // flip one bit
  (b, rng) => {
    if (b.length === 0) return b;
    const i = rng.int(b.length);
    b.writeUInt8(b.readUInt8(i) ^ (1 << rng.int(8)), i); // i < b.length
    return b;
  },
  // set a byte to an interesting value
  (b, rng) => {
    if (b.length === 0) return Buffer.from([rng.pick(INTERESTING_BYTES)]);
    b[rng.int(b.length)] = rng.pick(INTERESTING_BYTES);
    return b;
  },
  // set a byte to a random value
  (b, rng) => {
    if (b.length === 0) return rng.bytes(1);
    b[rng.int(b.length)] = rng.u32() & 0xff;
    return b;
  },
  // overwrite a u32 BE (a length prefix, most likely) with a boundary value, sometimes ±1
  (b, rng) => {
    if (b.length < 4) return b;
    const off = rng.chance(0.3) ? 0 : rng.int(b.length - 3);
    let v = rng.pick(INTERESTING_U32);
    if (rng.chance(0.2)) v = (v + (rng.chance(0.5) ? 1 : -1)) >>> 0;
    b.writeUInt32BE(v >>> 0, off);
    return b;
  },
  // overwrite a u16 BE with a boundary value (MessagePack 16-bit lengths)
  (b, rng) => {
    if (b.length < 2) return b;
    b.writeUInt16BE(rng.pick([0, 1, 0xff, 0x100, 0x7fff, 0x8000, 0xffff]), rng.int(b.length - 1));
    return b;
  },
  // insert random bytes
  (b, rng) => {
    const at = rng.int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)]);
  },
  // insert interesting bytes
  (b, rng) => {
    const at = rng.int(b.length + 1);
    const n = rng.range(1, 4);
    const ins = Buffer.from(Array.from({ length: n }, () => rng.pick(INTERESTING_BYTES)));
    return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
  },
  // delete a range
  (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.int(b.length);
    const n = rng.range(1, Math.min(32, b.length - at));
    return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
  },
  // duplicate a range (sometimes many times: long inputs, repeated packets)
  (b, rng) => {
    if (b.length === 0) return b;
    const at = rng.int(b.length);
    const n = rng.range(1, Math.min(64, b.length - at));
    const reps = rng.chance(0.1) ? rng.range(2, 512) : 1;
    const piece = b.subarray(at, at + n);
    return Buffer.concat([b.subarray(0, at + n), ...Array.from({ length: reps }, () => piece), b.subarray(at + n)]);
  },
  // truncate
  (b, rng) => (b.length === 0 ? b : b.subarray(0, rng.int(b.length))),
  // splice with another corpus entry
  (b, rng, corpus) => {
    const o = rng.pick(corpus);
    const cut = rng.int(b.length + 1);
    const from = rng.int(o.length + 1);
    return Buffer.concat([b.subarray(0, cut), Buffer.from(o.buffer, o.byteOffset, o.byteLength).subarray(from)]);
  },
  // append another corpus entry (several packets/frames in a row)
  (b, _rng, corpus) => Buffer.concat([b, Buffer.from(_rng.pick(corpus))]),
  // swap two bytes
  (b, rng) => {
    if (b.length < 2) return b;
    const i = rng.int(b.length);
    const j = rng.int(b.length);
    [b[i], b[j]] = [b[j]!, b[i]!];
    return b;
  },
];

/**
 * A mutant of a corpus entry (or, 3 % of the time, random bytes): 1..4
 * stacked mutations, capped at {@link MAX_MUTANT_SIZE}. Never modifies the corpus.
 */
export function mutate(corpus: readonly Uint8Array[], rng: Rng): Buffer {
  if (corpus.length === 0 || rng.chance(0.03)) return rng.bytes(rng.int(rng.chance(0.5) ? 16 : 512));
  let b: Buffer = Buffer.from(rng.pick(corpus)); // a copy
  const n = rng.chance(0.5) ? 1 : rng.range(2, 4);
  for (let i = 0; i < n; i++) {
    b = rng.pick(mutations)(b, rng, corpus);
    if (b.length > MAX_MUTANT_SIZE) b = b.subarray(0, MAX_MUTANT_SIZE);
  }
  return b;
}

/** Split `b` into 1..8 chunks at random points (stream decoders must not care). */
export function chunks(b: Buffer, rng: Rng): Buffer[] {
  if (b.length <= 1 || rng.chance(0.3)) return [b];
  const n = rng.range(2, 8);
  const cuts = Array.from({ length: n - 1 }, () => rng.int(b.length + 1)).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(b.subarray(prev, c));
    prev = c;
  }
  out.push(b.subarray(prev));
  return out;
}
