/**
 * Chat: a chat room over the network by de-duplicated flooding. A line a
 * user types is sent to every peer; a node that sees a message for the first
 * time shows it and relays it to every peer except the one it came from and
 * its author; a message seen before is dropped. A `ttl` bounds how far a
 * message travels even if a node has forgotten it.
 *
 * Wire format on channel 0x41: a MessagePack map, validated with zod:
 *
 * | field | type | rule |
 * | --- | --- | --- |
 * | `id` | str | 32 lowercase hex (128 random bits chosen by the author) |
 * | `origin` | str | the author's node ID (40 hex) |
 * | `nick` | str | 1..32 characters, no control characters |
 * | `text` | str | 1..{@link MAX_CHAT_TEXT_LENGTH} characters, no control characters |
 * | `ts` | uint | author's clock, ms since the epoch |
 * | `ttl` | uint | 0..{@link MAX_CHAT_TTL}; relays decrement it, 0 is not relayed |
 *
 * Control characters are refused because receivers print text to a
 * terminal (no escape-sequence injection). Anything invalid is a
 * `MalformedPacketError` (`ERR_MALFORMED_PACKET`) and the sender is
 * disconnected.
 *
 * Run it: `switchboard example chat --nick alice`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import type { ChannelDescriptor } from '../../../lib/conn/channel.js';
import { MalformedPacketError } from '../../../lib/errors.js';
import type { Peer } from '../../../lib/peer.js';
import { BaseReactor, type Envelope } from '../../../lib/reactor.js';

/** Channel id of the chat reactor. */
export const CHAT_CHANNEL = 0x41;
/** Longest message text (characters). */
export const MAX_CHAT_TEXT_LENGTH = 1000;
/** Longest nick (characters). */
export const MAX_NICK_LENGTH = 32;
/** Largest `ttl`, and the `ttl` of a new message. */
export const MAX_CHAT_TTL = 16;
/** Largest encoded chat message (bytes). */
export const MAX_CHAT_MESSAGE_SIZE = 8192;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'must not contain control characters');

/** The zod schema of a chat message on the wire (unknown fields are refused). */
export const ChatMessageSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex'),
  origin: z.string().regex(/^[0-9a-f]{40}$/, 'must be a node ID'),
  nick: printable(MAX_NICK_LENGTH),
  text: printable(MAX_CHAT_TEXT_LENGTH),
  ts: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ttl: z.number().int().min(0).max(MAX_CHAT_TTL),
});

/** One chat message (see the module doc for each field). */
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

/** Events of a {@link ChatReactor}. */
export interface ChatEvents {
  /** A message seen for the first time (not our own), with the peer it came from. */
  message: [msg: ChatMessage, from: Peer];
}

/** Options of {@link ChatReactor}. */
export interface ChatOptions {
  /** Our nick; default the Switch's moniker. */
  nick?: string;
  /** Message ids remembered for de-duplication. Default 10000. */
  seenCapacity?: number;
}

/**
 * The chat reactor. `say(text)` floods a message; `events.on('message', …)`
 * gets each message of others once.
 */
export class ChatReactor extends BaseReactor {
  /** Emits `message` (see {@link ChatEvents}). */
  readonly events = new EventEmitter<ChatEvents>();
  private readonly seen = new Set<string>();
  private readonly seenCapacity: number;
  private readonly nick: string | undefined;

  constructor(opts: ChatOptions = {}) {
    super('chat');
    this.nick = opts.nick;
    this.seenCapacity = opts.seenCapacity ?? 10_000;
  }

  getChannels(): ChannelDescriptor[] {
    return [{ id: CHAT_CHANNEL, priority: 5, sendQueueCapacity: 128, recvMessageCapacity: MAX_CHAT_MESSAGE_SIZE, name: 'chat' }];
  }

  /**
   * Author a message and send it to every peer.
   * @throws MalformedPacketError (`ERR_MALFORMED_PACKET`) for an empty or too long text, or control characters.
   */
  say(text: string): ChatMessage {
    const sw = this.switch;
    const msg = parseChatMessage({
      id: randomBytes(16).toString('hex'),
      origin: sw.nodeKey.id,
      nick: this.nick ?? sw.nodeInfo.moniker,
      text,
      ts: Date.now(),
      ttl: MAX_CHAT_TTL,
    });
    this.remember(msg.id);
    this.relay(msg, undefined);
    return msg;
  }

  /** Decode, validate, de-duplicate, deliver and relay. @throws MalformedPacketError for an invalid message. */
  override receive(e: Envelope): void {
    const msg = decodeChatMessage(e.message);
    if (this.seen.has(msg.id) || msg.origin === this.switch.nodeKey.id) return;
    this.remember(msg.id);
    this.events.emit('message', msg, e.src);
    if (msg.ttl > 0) this.relay({ ...msg, ttl: msg.ttl - 1 }, e.src);
  }

  /** Best effort: a peer whose queue is full misses the message (chat is not a log). */
  private relay(msg: ChatMessage, except: Peer | undefined): void {
    const bytes = encode(msg);
    for (const p of this.switch.peers.list()) if (p !== except && p.id !== msg.origin) p.trySend(CHAT_CHANNEL, bytes);
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > this.seenCapacity) this.seen.delete(this.seen.values().next().value!);
  }
}

/** Validate a chat message object. @throws MalformedPacketError naming each bad field. */
export function parseChatMessage(v: unknown): ChatMessage {
  const r = ChatMessageSchema.safeParse(v);
  if (!r.success)
    throw new MalformedPacketError(
      `invalid chat message: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/** Decode and validate one chat message from the wire. @throws MalformedPacketError (`ERR_MALFORMED_PACKET`). */
export function decodeChatMessage(bytes: Uint8Array): ChatMessage {
  if (bytes.length > MAX_CHAT_MESSAGE_SIZE)
    throw new MalformedPacketError(`chat message of ${bytes.length} bytes exceeds ${MAX_CHAT_MESSAGE_SIZE}`);
  let raw: unknown;
  try {
    raw = decode(bytes, { maxStrLength: MAX_CHAT_MESSAGE_SIZE, maxBinLength: 0, maxArrayLength: 0, maxMapLength: 8, maxExtLength: 0 });
  } catch (err) {
    throw new MalformedPacketError(`chat message is not valid MessagePack: ${(err as Error).message}`, { cause: err });
  }
  return parseChatMessage(raw);
}
