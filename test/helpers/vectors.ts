// Reads the `<!-- vector: NAME -->` hex blocks of docs/PROTOCOL.md.
import { readFileSync } from 'node:fs';

export function protocolVectors(): Map<string, Buffer> {
  const doc = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const out = new Map<string, Buffer>();
  const re = /<!-- vector: ([\w-]+) -->\s*```hex\n([\s\S]*?)```/g;
  for (const m of doc.matchAll(re)) out.set(m[1], Buffer.from(m[2].replace(/\s+/g, ''), 'hex'));
  return out;
}
