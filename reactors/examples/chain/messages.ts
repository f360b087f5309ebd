/**
 * Wire messages of the toy chain, one MessagePack value per message, on
 * three channels:
 *
 * | channel | priority | carries | role in a libp2p / websocket chain node |
 * | --- | --- | --- | --- |
 * | 0x50 `TX_CHANNEL` | 1 | one {@link Tx} map | `/transaction/1.0.0`: gossip of new transactions |
 * | 0x51 `BLOCK_CHANNEL` | 10 | one {@link Block} map | `/mine/1.0.0`: announcement of a newly mined block |
 * | 0x52 `SYNC_CHANNEL` | 5 | a {@link SyncMessage} | `/messages/1.0.0` and the whole-chain broadcast: status and block ranges on request |
 *
 * Sync messages (a map with a `type`):
 * - `{ type: "status", height, hash }` — our tip, sent when a peer connects.
 * - `{ type: "getBlocks", from, count }` — ask for blocks `from … from+count-1`
 *   (`count` ≤ {@link MAX_SYNC_BATCH}).
 * - `{ type: "blocks", from, height, blocks }` — the answer: consecutive
 *   blocks starting at `from` (possibly fewer than asked, none when the
 *   sender has no such block) and the sender's tip `height`.
 *
 * Every field is validated with zod on receipt; anything invalid is a
 * `MalformedPacketError` and the Switch disconnects the sender.
 *
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { MalformedPacketError } from '../../../lib/errors.js';
import { BlockSchema, MAX_BLOCK_SIZE, MAX_HEIGHT, MAX_TXS_PER_BLOCK, parseBlock, parseTx, wireBlock, type Block, type Tx } from './block.js';

/** Channel of transaction gossip. */
export const TX_CHANNEL = 0x50;
/** Channel of mined-block announcements (the highest priority). */
export const BLOCK_CHANNEL = 0x51;
/** Channel of chain sync (status, getBlocks, blocks). */
export const SYNC_CHANNEL = 0x52;
/** Most blocks in one `blocks` answer. */
export const MAX_SYNC_BATCH = 32;
/** Largest encoded transaction message (bytes). */
export const MAX_TX_MESSAGE_SIZE = 256;
/** Largest encoded sync message (bytes). */
export const MAX_SYNC_MESSAGE_SIZE = MAX_SYNC_BATCH * MAX_BLOCK_SIZE + 256;

const height = z.number().int().min(0).max(MAX_HEIGHT);

/** Schema of the sync channel's messages. */
export const SyncMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('status'), height, hash: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.strictObject({ type: z.literal('getBlocks'), from: height.min(1), count: z.number().int().min(1).max(MAX_SYNC_BATCH) }),
  z
    .strictObject({ type: z.literal('blocks'), from: height.min(1), height, blocks: z.array(BlockSchema).max(MAX_SYNC_BATCH) })
    .refine((m) => m.blocks.every((b, i) => b.height === m.from + i), 'blocks must be consecutive from `from`'),
]);

/** A sync-channel message (see the module doc). */
export type SyncMessage = z.infer<typeof SyncMessageSchema>;

/** Decoder limits: strings are at most a 64-hex hash, arrays at most a block's transactions or a batch. */
const DECODE_LIMITS = { maxStrLength: 64, maxBinLength: 0, maxArrayLength: Math.max(MAX_TXS_PER_BLOCK, MAX_SYNC_BATCH), maxMapLength: 8, maxExtLength: 0 };

function decodeWith(bytes: Uint8Array, max: number, what: string): unknown {
  if (bytes.length > max) throw new MalformedPacketError(`${what} message of ${bytes.length} bytes exceeds ${max}`);
  try {
    return decode(bytes, DECODE_LIMITS);
  } catch (err) {
    throw new MalformedPacketError(`${what} message is not valid MessagePack: ${(err as Error).message}`, { cause: err });
  }
}

/** Encode a transaction for {@link TX_CHANNEL}. */
export function encodeTx(tx: Tx): Uint8Array {
  return encode({ from: tx.from, to: tx.to, amount: tx.amount, nonce: tx.nonce });
}

/** Decode and validate a {@link TX_CHANNEL} message. @throws MalformedPacketError. */
export function decodeTx(bytes: Uint8Array): Tx {
  return parseTx(decodeWith(bytes, MAX_TX_MESSAGE_SIZE, 'transaction'));
}

/** Encode a block for {@link BLOCK_CHANNEL}. */
export function encodeBlock(b: Block): Uint8Array {
  return encode(wireBlock(b));
}

/** Decode and validate the fields of a {@link BLOCK_CHANNEL} message (chain rules are checked by the reactor). @throws MalformedPacketError. */
export function decodeBlock(bytes: Uint8Array): Block {
  return parseBlock(decodeWith(bytes, MAX_BLOCK_SIZE, 'block'));
}

/** Encode a {@link SYNC_CHANNEL} message. */
export function encodeSync(m: SyncMessage): Uint8Array {
  return encode(m.type === 'blocks' ? { ...m, blocks: m.blocks.map(wireBlock) } : m);
}

/** Decode and validate a {@link SYNC_CHANNEL} message. @throws MalformedPacketError. */
export function decodeSync(bytes: Uint8Array): SyncMessage {
  const r = SyncMessageSchema.safeParse(decodeWith(bytes, MAX_SYNC_MESSAGE_SIZE, 'sync'));
  if (!r.success) throw new MalformedPacketError(`invalid sync message: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`);
  return r.data;
}
