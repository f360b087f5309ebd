/**
 * mulberry32: a small, fast seeded PRNG with a 32-bit state (Tommy
 * Ettinger, public domain, 2017; as used by many simulators and in the
 * `bryc/code` PRNG collection). Not cryptographic: for reproducible
 * simulations only.
 *
 * @module
 */

/**
 * A function returning uniform floats in [0, 1), the same sequence for the
 * same `seed` (any integer; taken modulo 2^32).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
