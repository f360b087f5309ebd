// Flipping bits of a byte in place, for tests that tamper with frames and transcripts. The index
// is checked: a test that miscounts gets a RangeError, not a silent no-op on `undefined`.

/** XORs `buf[i]` with `mask` (0..255) in place. @throws RangeError when `i` is outside `buf`. */
export function xorByte(buf: Uint8Array, i: number, mask: number): void {
  const b = buf[i];
  if (b === undefined) throw new RangeError(`byte ${i} is outside a buffer of ${buf.length}`);
  buf[i] = b ^ mask;
}
