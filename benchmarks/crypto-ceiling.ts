/**
 * The encryption ceiling of this machine: how fast one core seals and opens
 * ChaCha20-Poly1305 frames of SecretConnection's size (64 KiB) with
 * node:crypto, as SecretConnection does (one cipher object per frame). An
 * encrypted link cannot move payload faster than the slower of the two on
 * one core each (sender seals, receiver opens), whatever the framing above.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** Seal and open rates (MB/s, 10^6 bytes) of 64 KiB frames on one core. */
export interface CryptoCeiling {
  frameBytes: number;
  sealMBps: number;
  openMBps: number;
}

/** Measure for about `ms` milliseconds per direction. */
export function measureCryptoCeiling(ms = 300, frameBytes = 65536): CryptoCeiling {
  const key = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const aad = Buffer.alloc(4);
  const plain = randomBytes(frameBytes);
  const seal = (i: number) => {
    nonce.writeUInt32LE(i, 4);
    const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    c.setAAD(aad, { plaintextLength: frameBytes });
    const enc = c.update(plain);
    c.final();
    return [enc, c.getAuthTag()] as const;
  };
  const [enc, tag] = seal(0);
  const rate = (fn: (i: number) => void) => {
    for (let i = 0; i < 20; i++) fn(i); // warm-up
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < ms) fn(n++);
    return (n * frameBytes) / 1e6 / ((performance.now() - t0) / 1000);
  };
  const sealMBps = rate((i) => seal(i));
  const openMBps = rate(() => {
    nonce.writeUInt32LE(0, 4);
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAAD(aad, { plaintextLength: frameBytes });
    d.update(enc);
    d.setAuthTag(tag);
    d.final();
  });
  return { frameBytes, sealMBps, openMBps };
}
