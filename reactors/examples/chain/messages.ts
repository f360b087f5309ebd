/**
 * Wire messages of the toy chain, one MessagePack value per message, on
 * four channels:
 *
 * | channel | priority | versions | carries | role in a libp2p / websocket chain node |
 * | --- | --- | --- | --- | --- |
 * | 0x50 `TX_CHANNEL` | 1 | 1 | one {@link Tx} map | `/transaction/1.0.0`: gossip of new transactions |
 * | 0x51 `BLOCK_CHANNEL` | 10 | 1 | one {@link Block} map | `/mine/1.0.0`: announcement of a newly mined block |
 * | 0x52 `SYNC_CHANNEL` | 5 | 1 | a {@link SyncMessage} | `/messages/1.0.0`: our tip on connect |
 * | 0x53 `RANGE_CHANNEL` | 5 | 1, 2 | a `RequestReactor` channel: {@link RangeRequest} → {@link RangeResponse} | the whole-chain broadcast, replaced by block ranges on request |
 *
 * Sync messages: `{ type: "status", height, hash }` — our tip, sent when a
 * peer connects.
 *
 * Range requests (`RequestReactor` header, docs/PROTOCOL.md §7, then
 * MessagePack): `{ from, count }` asks for blocks `from … from+count-1`;
 * the response `{ from, height, blocks }` holds consecutive blocks from
 * `from` (possibly fewer than asked, none when the responder has no such
 * block) and the responder's tip `height`. The channel's versions differ
 * only in the batch bound: `count` ≤ {@link MAX_SYNC_BATCH} (32) in version 1,
 * ≤ {@link MAX_SYNC_BATCH_V2} (128) in version 2. A node of version 2
 * declares `[1, 2]`, so it syncs with a version-1 node in batches of 32.
 *
 * Every field is validated with zod on receipt; anything invalid is a
 * `MalformedPacketError`: the Switch disconnects the sender (a malformed
 * range request is answered with an error response instead).
 *
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { MalformedPacketError } from '../../../lib/errors.js';
import {
  BlockSchema,
  MAX_BLOCK_SIZE,
  MAX_HEIGHT,
  MAX_TXS_PER_BLOCK,
  parseBlock,
  parseTx,
  wireBlock,
  type Block,
  type Tx,
} from './block.js';

/** Channel of transaction gossip. */
export const TX_CHANNEL = 0x50;
/** Channel of mined-block announcements (the highest priority). */
export const BLOCK_CHANNEL = 0x51;
/** Channel of chain status (our tip, on connect). */
export const SYNC_CHANNEL = 0x52;
/** Channel of block-range requests (a `RequestReactor`). */
export const RANGE_CHANNEL = 0x53;
/** Most blocks in one range request of channel version 1. */
export const MAX_SYNC_BATCH = 32;
/** Most blocks in one range request of channel version 2. */
export const MAX_SYNC_BATCH_V2 = 128;
/** Versions of {@link RANGE_CHANNEL} this code speaks. */
export const RANGE_VERSIONS = [1, 2] as const;
/** Largest encoded transaction message (bytes). */
export const MAX_TX_MESSAGE_SIZE = 256;
/** Largest encoded sync (status) message (bytes). */
export const MAX_SYNC_MESSAGE_SIZE = 256;
/** Largest encoded range request (bytes). */
export const MAX_RANGE_REQUEST_SIZE = 64;
/** Largest encoded range response (bytes). */
export const MAX_RANGE_RESPONSE_SIZE = MAX_SYNC_BATCH_V2 * MAX_BLOCK_SIZE + 256;

/** Most blocks in one range request of channel `version`. */
export function maxSyncBatch(version: number): number {
  return version >= 2 ? MAX_SYNC_BATCH_V2 : MAX_SYNC_BATCH;
}

const height = z.number().int().min(0).max(MAX_HEIGHT);

/** Schema of the sync channel's messages. */
export const SyncMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('status'), height, hash: z.string().regex(/^[0-9a-f]{64}$/) }),
]);

/** A sync-channel message (see the module doc). */
export type SyncMessage = z.infer<typeof SyncMessageSchema>;

/** Schema of a range request of channel version `version`. */
const rangeRequestSchema = (version: number) =>
  z.strictObject({ from: height.min(1), count: z.number().int().min(1).max(maxSyncBatch(version)) });
/** Schema of a range response of channel version `version`. */
const rangeResponseSchema = (version: number) =>
  z
    .strictObject({ from: height.min(1), height, blocks: z.array(BlockSchema).max(maxSyncBatch(version)) })
    .refine((m) => m.blocks.every((b, i) => b.height === m.from + i), 'blocks must be consecutive from `from`');

/** A range request: blocks `from … from+count-1`. */
export type RangeRequest = z.infer<ReturnType<typeof rangeRequestSchema>>;
/** A range response: consecutive blocks from `from`, and the responder's tip height. */
export type RangeResponse = z.infer<ReturnType<typeof rangeResponseSchema>>;

/** Decoder limits: strings are at most a 64-hex hash, arrays at most a block's transactions or a batch. */
const DECODE_LIMITS = {
  maxStrLength: 64,
  maxBinLength: 0,
  maxArrayLength: Math.max(MAX_TXS_PER_BLOCK, MAX_SYNC_BATCH_V2),
  maxMapLength: 8,
  maxExtLength: 0,
};

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
  return encode(m);
}

/** Decode and validate a {@link SYNC_CHANNEL} message. @throws MalformedPacketError. */
export function decodeSync(bytes: Uint8Array): SyncMessage {
  const r = SyncMessageSchema.safeParse(decodeWith(bytes, MAX_SYNC_MESSAGE_SIZE, 'sync'));
  if (!r.success)
    throw new MalformedPacketError(
      `invalid sync message: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return r.data;
}

function parsed<T>(r: { success: true; data: T } | { success: false; error: z.ZodError }, what: string): T {
  if (!r.success)
    throw new MalformedPacketError(
      `invalid ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/** Encode a range request. */
export function encodeRangeRequest(m: RangeRequest): Uint8Array {
  return encode({ from: m.from, count: m.count });
}

/** Decode and validate a range request of channel `version`. @throws MalformedPacketError. */
export function decodeRangeRequest(bytes: Uint8Array, version: number): RangeRequest {
  return parsed(rangeRequestSchema(version).safeParse(decodeWith(bytes, MAX_RANGE_REQUEST_SIZE, 'range request')), 'range request');
}

/** Encode a range response. */
export function encodeRangeResponse(m: RangeResponse): Uint8Array {
  return encode({ from: m.from, height: m.height, blocks: m.blocks.map(wireBlock) });
}

/** Decode and validate a range response of channel `version`. @throws MalformedPacketError. */
export function decodeRangeResponse(bytes: Uint8Array, version: number): RangeResponse {
  return parsed(rangeResponseSchema(version).safeParse(decodeWith(bytes, MAX_RANGE_RESPONSE_SIZE, 'range response')), 'range response');
}
