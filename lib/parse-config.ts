/**
 * Validating a config (a file, a section, a constructor's options) against
 * its zod schema, with every problem reported in one line at its full path
 * and a "did you mean" for a near-miss key. Each config group's schema lives
 * with its concept (`MConnConfigSchema` in lib/conn/mconn-config.ts,
 * `P2PConfigSchema` in lib/config.ts, PEX's in reactors/pex/); this is how
 * they are all checked.
 *
 * @module
 */
import { z } from 'zod';
import { InvalidArgumentError } from './errors.js';

/**
 * Validate `input` against a zod `schema` (a config file, a config section)
 * and return the parsed value. Every problem is reported at once, in one
 * line, each at its full dotted path from the root of `input` (`p2p.mconn.sendRate`,
 * `p2p.seeds[0]`); an unknown key gets a "did you mean" for the closest known
 * key at that path (case, `_` and `-` ignored, so CometBFT's
 * `max_num_inbound_peers` finds `maxNumInboundPeers`).
 * @param what the start of the message, e.g. `invalid config file /etc/sb.json`.
 * @param keyHint what to say of an unknown key instead of a suggestion (`''` for nothing special).
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) `<what>: <path>: <problem>; …`.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  keyHint?: (key: string, path: readonly PropertyKey[]) => string,
): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = r.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map(
          (k) =>
            `${formatPath([...i.path, k])}: unknown key${keyHint?.(k, i.path) || renamed(k) || suggestion(k, knownKeys(schema, i.path))}`,
        )
      : [`${formatPath(i.path) || '(top level)'}: ${i.message.replace(/^Invalid input: /, '')}`],
  );
  const more = problems.length > MAX_PROBLEMS_LISTED ? `; and ${problems.length - MAX_PROBLEMS_LISTED} more` : '';
  throw new InvalidArgumentError(`${what}: ${problems.slice(0, MAX_PROBLEMS_LISTED).join('; ')}${more}`);
}

/** Problems a config error lists at most (the rest are counted). */
const MAX_PROBLEMS_LISTED = 20;

/** `p2p.seeds[0]` from `['p2p', 'seeds', 0]`; a key that is not a plain name is quoted and shortened (`["a\\nb"]`), so the message stays one line of text. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((k, i) => {
      if (typeof k === 'number') return `[${k}]`;
      const name = String(k);
      if (/^[A-Za-z0-9_$-]{1,64}$/.test(name)) return i === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name)}]`;
    })
    .join('');
}

/** The keys of the object schema at `path` inside `schema` (through defaults, optionals and arrays). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s !== undefined;) {
    if (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable)
      s = s.unwrap() as z.ZodType;
    else if (i === path.length) break;
    else if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(path[i++])];
    else if (s instanceof z.ZodArray) {
      s = s.element as z.ZodType;
      i++;
    } else return [];
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

/** Keys that were renamed, old name → new name (said wherever the old one appears). */
const RENAMED_KEYS: Readonly<Record<string, string>> = { addrBookStrict: 'routabilityStrict' };

/** ` (now named x)` for a renamed key; else `''`. */
function renamed(key: string): string {
  return Object.hasOwn(RENAMED_KEYS, key) ? ` (now named ${RENAMED_KEYS[key]})` : '';
}

/** ` (did you mean x?)` for the known key nearest to `key`, if it is near enough; else `''`. */
function suggestion(key: string, known: readonly string[]): string {
  const norm = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  if (key.length > 64) return ''; // no known key is that long (and the distance costs length²)
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(norm(key), norm(k));
    if (d < bestD) [best, bestD] = [k, d];
  }
  // a typo, a missing letter, swapped letters: at most 2 edits, and at most a third of the key
  return best !== undefined && bestD <= Math.min(2, Math.floor(norm(key).length / 3)) ? ` (did you mean ${best}?)` : '';
}

/** Edits (insert, delete, substitute, swap two adjacent) from `a` to `b`: optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const w = b.length + 1;
  const d = new Array<number>((a.length + 1) * w).fill(0); // row i, column j at i * w + j
  const at = (i: number, j: number): number => d[i * w + j] ?? 0;
  for (let i = 0; i <= a.length; i++) d[i * w] = i;
  for (let j = 0; j <= b.length; j++) d[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      d[i * w + j] = v;
    }
  }
  return at(a.length, b.length);
}
