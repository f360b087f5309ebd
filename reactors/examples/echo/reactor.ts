/**
 * Echo: the smallest useful reactor. A peer that sends `"foo"` is answered
 * with `"bar"`; every valid message is reported on `events`.
 *
 * Wire format on channel 0x40: one MessagePack string of at most
 * {@link MAX_ECHO_TEXT_LENGTH} characters. Anything else is a
 * `MalformedPacketError` (`ERR_MALFORMED_PACKET`), and the Switch
 * disconnects the sender.
 *
 * Run it: `switchboard example echo` (see docs/writing-a-reactor.md).
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { decode, encode } from '@msgpack/msgpack';
import type { ChannelDescriptor } from '../../../lib/conn/channel.js';
import { MalformedPacketError } from '../../../lib/errors.js';
import type { Peer } from '../../../lib/peer.js';
import { BaseReactor, type Envelope } from '../../../lib/reactor.js';

/** Channel id of the echo reactor. */
export const ECHO_CHANNEL = 0x40;
/** Longest text (characters). */
export const MAX_ECHO_TEXT_LENGTH = 256;
/** Largest encoded message (bytes): a str32 header plus up to 4 UTF-8 bytes per character. */
export const MAX_ECHO_MESSAGE_SIZE = 5 + 4 * MAX_ECHO_TEXT_LENGTH;

/** The echo reactor: answers `"foo"` with `"bar"`; emits `message` for every valid message. */
export class EchoReactor extends BaseReactor {
  readonly events = new EventEmitter<{ message: [text: string, from: Peer] }>();
  constructor() {
    super('echo');
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: ECHO_CHANNEL, priority: 1, sendQueueCapacity: 16, recvMessageCapacity: MAX_ECHO_MESSAGE_SIZE, name: 'echo' }];
  }
  override receive({ channelId, src, message }: Envelope): void {
    const text = decodeEcho(message);
    this.events.emit('message', text, src);
    if (text === 'foo') src.trySend(channelId, encodeEcho('bar'));
  }
}

/** Encode one echo message. @throws MalformedPacketError when `text` is longer than {@link MAX_ECHO_TEXT_LENGTH}. */
export function encodeEcho(text: string): Uint8Array {
  if (text.length > MAX_ECHO_TEXT_LENGTH) throw new MalformedPacketError(`echo text longer than ${MAX_ECHO_TEXT_LENGTH} characters`);
  return encode(text);
}

/** Decode and validate one echo message. @throws MalformedPacketError (`ERR_MALFORMED_PACKET`). */
export function decodeEcho(bytes: Uint8Array): string {
  if (bytes.length > MAX_ECHO_MESSAGE_SIZE)
    throw new MalformedPacketError(`echo message of ${bytes.length} bytes exceeds ${MAX_ECHO_MESSAGE_SIZE}`);
  let v: unknown;
  try {
    v = decode(bytes, { maxStrLength: MAX_ECHO_MESSAGE_SIZE, maxBinLength: 0, maxArrayLength: 0, maxMapLength: 0, maxExtLength: 0 });
  } catch (err) {
    throw new MalformedPacketError(`echo message is not valid MessagePack: ${(err as Error).message}`, { cause: err });
  }
  if (typeof v !== 'string' || v.length > MAX_ECHO_TEXT_LENGTH)
    throw new MalformedPacketError(`echo message must be a string of ≤ ${MAX_ECHO_TEXT_LENGTH} characters`);
  return v;
}
