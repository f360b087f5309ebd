/**
 * Seed material for the fuzzer, taken from docs/PROTOCOL.md: every
 * `<!-- vector: NAME -->` block (hex, with or without the `hex` fence tag) and
 * the deterministic SecretConnection fixture (ephemeral secrets and Ed25519
 * seeds of sides A and B, §2.5), so the handshake can be replayed byte for
 * byte against a fixed local ephemeral key.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

const PROTOCOL_MD = new URL('../../docs/PROTOCOL.md', import.meta.url);

/** Every test vector of docs/PROTOCOL.md, by name. */
export function protocolVectors(): Map<string, Buffer> {
  const doc = readFileSync(PROTOCOL_MD, 'utf8');
  const out = new Map<string, Buffer>();
  const re = /<!-- vector: ([\w-]+) -->\s*```(?:hex)?\n([\s\S]*?)```/g;
  for (const m of doc.matchAll(re)) out.set(m[1]!, Buffer.from(m[2]!.replace(/\s+/g, ''), 'hex'));
  return out;
}

/** The SecretConnection fixture of PROTOCOL.md: ephemeral secrets and Ed25519 seeds of A and B. */
export interface HandshakeFixture {
  aEphSecret: Buffer;
  bEphSecret: Buffer;
  aSeed: Buffer;
  bSeed: Buffer;
}

/** Reads the fixture table (`A ephemeral secret  <hex>` …) of PROTOCOL.md. */
export function handshakeFixture(): HandshakeFixture {
  const doc = readFileSync(PROTOCOL_MD, 'utf8');
  const get = (label: string): Buffer => {
    const m = new RegExp(`^${label}\\s+([0-9a-f]{64})\\s*$`, 'm').exec(doc);
    if (!m) throw new Error(`docs/PROTOCOL.md has no "${label}" line`);
    return Buffer.from(m[1]!, 'hex');
  };
  return {
    aEphSecret: get('A ephemeral secret'),
    bEphSecret: get('B ephemeral secret'),
    aSeed: get('A Ed25519 seed'),
    bSeed: get('B Ed25519 seed'),
  };
}
