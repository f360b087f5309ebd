/**
 * Blocks and transactions of the toy chain: their wire schema (zod), their
 * hashes, proof of work, and the validation every block passes before a
 * node accepts it — from a peer, from a sync batch, from its own store, or
 * from its own miner.
 *
 * A block's hash is SHA-256 of an 89-byte header:
 *
 * ```
 * u64 height | 32 bytes prevHash | u64 timestamp (ms) | u8 difficulty | 32 bytes txRoot | u64 nonce
 * ```
 *
 * (big-endian). `txRoot` is SHA-256 of the concatenated 32-byte hashes of
 * the block's transactions in order, and a transaction's hash is SHA-256 of
 * the MessagePack array `[from, to, amount, nonce]`. Proof of work: the
 * block hash starts with at least `difficulty` zero bits. The difficulty
 * is a fixed network parameter (part of the genesis block), not adjusted.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { MalformedPacketError } from '../../../lib/errors.js';

/** Most transactions in one block. */
export const MAX_TXS_PER_BLOCK = 100;
/** Largest encoded block (bytes); a full block of the largest transactions is about 10 KiB. */
export const MAX_BLOCK_SIZE = 16 * 1024;
/** Largest difficulty (leading zero bits of a block hash). */
export const MAX_DIFFICULTY = 32;
/** Largest height. */
export const MAX_HEIGHT = 0xffff_ffff;
/** Largest transaction amount. */
export const MAX_AMOUNT = 1_000_000_000;
/** How far in the future (by our clock) a block's timestamp may be (ms). */
export const MAX_FUTURE_DRIFT_MS = 2 * 60_000;
/** The prevHash of the genesis block. */
export const ZERO_HASH = '0'.repeat(64);

const hash = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex');
const account = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1..32 of A-Z a-z 0-9 _ -');

/** Schema of a transaction (a toy: no signatures or balances; `nonce` makes equal transfers distinct). */
export const TxSchema = z.strictObject({
  from: account,
  to: account,
  amount: z.number().int().min(1).max(MAX_AMOUNT),
  nonce: z.number().int().min(0).max(0xffff_ffff),
});

/** A transaction: `amount` from account `from` to account `to`. */
export type Tx = z.infer<typeof TxSchema>;

/** Schema of a block on the wire (the hash is not sent: receivers compute it). */
export const BlockSchema = z.strictObject({
  height: z.number().int().min(0).max(MAX_HEIGHT),
  prevHash: hash,
  timestamp: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  difficulty: z.number().int().min(0).max(MAX_DIFFICULTY),
  txRoot: hash,
  nonce: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  txs: z.array(TxSchema).max(MAX_TXS_PER_BLOCK),
});

/** A block as sent on the wire. */
export type Block = z.infer<typeof BlockSchema>;

/** A validated block with its hash (what a chain holds). */
export interface ChainBlock extends Block {
  /** SHA-256 of the header, 64 hex. */
  readonly hash: string;
}

/**
 * A block failed validation (`ERR_MALFORMED_PACKET`): the Switch disconnects
 * the peer that sent it.
 */
export class InvalidBlockError extends MalformedPacketError {
  /** Height of the offending block (as it claimed). */
  readonly height: number;
  constructor(height: number, why: string) {
    super(`invalid block at height ${height}: ${why}`);
    this.height = height;
  }
}

/** Validate a transaction object. @throws MalformedPacketError naming each bad field. */
export function parseTx(v: unknown): Tx {
  return parse(TxSchema, v, 'transaction');
}

/** Validate a block object's fields (not its chain rules: see {@link validateBlock}). @throws MalformedPacketError. */
export function parseBlock(v: unknown): Block {
  return parse(BlockSchema, v, 'block');
}

function parse<T>(schema: z.ZodType<T>, v: unknown, what: string): T {
  const r = schema.safeParse(v);
  if (!r.success)
    throw new MalformedPacketError(
      `invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return r.data;
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

/** A transaction's hash (64 hex). */
export function txHash(tx: Tx): string {
  return sha256(encode([tx.from, tx.to, tx.amount, tx.nonce])).toString('hex');
}

/** The `txRoot` of a list of transactions (64 hex). */
export function txRoot(txs: readonly Tx[]): string {
  return sha256(Buffer.concat(txs.map((t) => Buffer.from(txHash(t), 'hex')))).toString('hex');
}

/** Length of the hashed header (bytes). */
export const HEADER_SIZE = 89;

/** The 89-byte header whose SHA-256 is the block hash. */
export function headerBytes(b: Omit<Block, 'txs'>): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  writeU64(h, 0, b.height);
  h.write(b.prevHash, 8, 'hex');
  writeU64(h, 40, b.timestamp);
  h.writeUInt8(b.difficulty, 48);
  h.write(b.txRoot, 49, 'hex');
  writeU64(h, 81, b.nonce);
  return h;
}

function writeU64(b: Buffer, off: number, n: number): void {
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000), off);
  b.writeUInt32BE(n >>> 0, off + 4);
}

/** A block's hash (64 hex). */
export function blockHash(b: Omit<Block, 'txs'>): string {
  return sha256(headerBytes(b)).toString('hex');
}

/** True when `hashHex` starts with at least `difficulty` zero bits. */
export function meetsDifficulty(hashHex: string, difficulty: number): boolean {
  const full = Math.floor(difficulty / 4);
  for (let i = 0; i < full; i++) if (hashHex.charCodeAt(i) !== 0x30) return false;
  const rest = difficulty % 4;
  const nibble = parseInt(hashHex.charAt(full), 16); // NaN past the end: not met
  return rest === 0 || (nibble >= 0 && nibble >> (4 - rest) === 0);
}

/** The genesis block of a chain with this difficulty: fixed, so nodes with the same difficulty share it. */
export function genesisBlock(difficulty: number): ChainBlock {
  const b: Block = { height: 0, prevHash: ZERO_HASH, timestamp: 0, difficulty, txRoot: txRoot([]), nonce: 0, txs: [] };
  return { ...b, hash: blockHash(b) };
}

/** What {@link validateBlock} needs to know about the chain the block extends. */
export interface ValidationContext {
  /** The network's difficulty. */
  difficulty: number;
  /** Our clock (ms). */
  now: number;
  /** True when a transaction with this hash is already in the chain below the block. */
  hasTx(hash: string): boolean;
}

/**
 * Check every rule of a block on top of `parent`: height, prevHash,
 * difficulty, timestamp (not before the parent's, not more than
 * {@link MAX_FUTURE_DRIFT_MS} ahead of ours), transactions (at most
 * {@link MAX_TXS_PER_BLOCK}, no duplicates, none already in the chain),
 * txRoot, encoded size, and proof of work. Returns the block with its hash.
 * @throws InvalidBlockError naming the broken rule.
 */
export function validateBlock(b: Block, parent: ChainBlock, ctx: ValidationContext): ChainBlock {
  const bad = (why: string): never => {
    throw new InvalidBlockError(b.height, why);
  };
  if (b.height !== parent.height + 1) bad(`height must be ${parent.height + 1}`);
  if (b.prevHash !== parent.hash) bad('prevHash is not the parent block');
  if (b.difficulty !== ctx.difficulty) bad(`difficulty ${b.difficulty} is not the network's ${ctx.difficulty}`);
  if (b.timestamp < parent.timestamp) bad('timestamp is before the parent block');
  if (b.timestamp > ctx.now + MAX_FUTURE_DRIFT_MS) bad('timestamp is too far in the future');
  if (b.txs.length > MAX_TXS_PER_BLOCK) bad(`more than ${MAX_TXS_PER_BLOCK} transactions`);
  const seen = new Set<string>();
  for (const tx of b.txs) {
    const h = txHash(tx);
    if (seen.has(h)) bad(`transaction ${h.slice(0, 16)} appears twice`);
    if (ctx.hasTx(h)) bad(`transaction ${h.slice(0, 16)} is already in the chain`);
    seen.add(h);
  }
  if (b.txRoot !== txRoot(b.txs)) bad('txRoot does not match the transactions');
  if (encode(b).length > MAX_BLOCK_SIZE) bad(`larger than ${MAX_BLOCK_SIZE} bytes`);
  const hash = blockHash(b);
  if (!meetsDifficulty(hash, b.difficulty)) bad(`hash ${hash.slice(0, 16)} does not meet difficulty ${b.difficulty}`);
  return { ...b, hash };
}

/** The wire fields of a block (drops `hash`). */
export function wireBlock(b: Block): Block {
  return {
    height: b.height,
    prevHash: b.prevHash,
    timestamp: b.timestamp,
    difficulty: b.difficulty,
    txRoot: b.txRoot,
    nonce: b.nonce,
    txs: b.txs,
  };
}

/**
 * Search nonces `start`, `start+1`, … for at most `tries` hashes; returns
 * the block with the first nonce that meets the difficulty, or undefined.
 * Synchronous: call it in slices to keep the event loop free.
 */
export function searchNonce(template: Omit<Block, 'nonce'>, start: number, tries: number): ChainBlock | undefined {
  const header = headerBytes({ ...template, nonce: 0 });
  for (let n = start; n < start + tries && n <= Number.MAX_SAFE_INTEGER; n++) {
    writeU64(header, 81, n);
    const h = sha256(header).toString('hex');
    if (meetsDifficulty(h, template.difficulty)) return { ...template, nonce: n, hash: h };
  }
  return undefined;
}
