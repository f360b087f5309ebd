/**
 * Persistence of the toy chain: the blocks above genesis as one MessagePack
 * array in a file, replaced atomically (write-file-atomic) so a crash leaves
 * the old or the new chain, never half of one. Loading does not trust the
 * file: the ChainReactor validates every block as if it came from the wire
 * and keeps the valid prefix.
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import writeFileAtomic from 'write-file-atomic';
import { InvalidArgumentError } from '../../../lib/errors.js';
import { MAX_TXS_PER_BLOCK, wireBlock, type Block } from './block.js';

/** Largest chain file read (bytes). */
export const MAX_CHAIN_FILE_SIZE = 256 * 1024 * 1024;

/**
 * Read a chain file: the raw block objects, to be validated by
 * `new ChainReactor({ blocks })`. A missing file is an empty chain.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a file that is too large or not a MessagePack array.
 */
export function loadChain(path: string): unknown[] {
  if (!existsSync(path)) return [];
  const raw = readFileSync(path);
  if (raw.length > MAX_CHAIN_FILE_SIZE) throw new InvalidArgumentError(`chain file ${path} is larger than ${MAX_CHAIN_FILE_SIZE} bytes`);
  let v: unknown;
  try {
    v = decode(raw, {
      maxStrLength: 64,
      maxBinLength: 0,
      maxArrayLength: Math.max(MAX_TXS_PER_BLOCK, Math.ceil(raw.length / 8)),
      maxMapLength: 8,
      maxExtLength: 0,
    });
  } catch (err) {
    throw new InvalidArgumentError(`chain file ${path} is not valid MessagePack: ${(err as Error).message}`, 'ERR_INVALID_ARGUMENT', {
      cause: err,
    });
  }
  if (!Array.isArray(v)) throw new InvalidArgumentError(`chain file ${path} must hold an array of blocks`);
  return v;
}

/** Write the blocks above genesis to `path`, atomically (creates the directory). */
export function saveChain(path: string, blocks: readonly Block[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic.sync(path, Buffer.from(encode(blocks.map(wireBlock))), { mode: 0o644 });
}
