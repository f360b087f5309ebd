// Reads the `<!-- vector: NAME -->` hex blocks of docs/PROTOCOL.md.
import { readFileSync } from 'node:fs';

export function protocolVectors(): Map<string, Buffer> {
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const out = new Map<string, Buffer>();
  const re = /<!-- vector: ([\w-]+) -->\s*```hex\n([\s\S]*?)```/g;
  for (const [, name, hex] of doc.matchAll(re))
    if (name !== undefined && hex !== undefined) out.set(name, Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
  return out;
}
