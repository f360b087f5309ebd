/**
 * Gossip: the demo reactor of `switchboard testnet`. Floods short text
 * messages to every node exactly once per node: each message carries a
 * unique id, a node relays a message it has not seen to every peer except the
 * one it came from, and a node that connects late is sent the recent history
 * (anti-entropy), so every node ends up with every message whatever the
 * order in which nodes connect.
 *
 * A node never delivers a message whose origin is itself: after a restart
 * its peers' history holds its own earlier messages, which are not news to
 * it (they are remembered, not shown, not relayed); and history sent to a
 * peer leaves out the messages that peer wrote. Sequence numbers start at the
 * clock (ms since the epoch), so the ids of a restarted node do not repeat
 * the ids of its earlier run, which its peers would drop as already seen.
 *
 * Wire format on channel 0x20: a MessagePack map
 * `{ id: str, origin: str(40 hex), moniker: str, text: str, hops: uint }`,
 * every field validated on receipt (docs/PROTOCOL.md, "Example reactors").
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { decode, encode } from '@msgpack/msgpack';
import { BaseReactor, type Envelope } from '../../../lib/reactor.js';
import type { ChannelDescriptor } from '../../../lib/conn/channel.js';
import type { Peer } from '../../../lib/peer.js';
import { MalformedPacketError } from '../../../lib/errors.js';
import { isValidNodeId } from '../../../lib/node-key.js';

/** Channel id of the gossip reactor. */
export const GOSSIP_CHANNEL = 0x20;
/** Largest encoded gossip message accepted (bytes). */
export const MAX_GOSSIP_MESSAGE_SIZE = 4096;
/** Longest text (characters). */
export const MAX_TEXT_LENGTH = 1024;
/** Most hops a message may travel. */
export const MAX_HOPS = 64;

/** One gossiped message. */
export interface GossipMessage {
  /** Unique: `<origin id>:<sequence>`; the sequence is strictly increasing and at least the author's clock (ms since the epoch). */
  id: string;
  /** Node ID of the author. */
  origin: string;
  /** Author's moniker. */
  moniker: string;
  text: string;
  /** Relays so far (0 at the author's direct peers). */
  hops: number;
}

/**
 * Events: `message` for each message seen the first time, with the peer it
 * came from. Our own {@link GossipReactor.publish} emits it too, with
 * `from` undefined; a message of our own origin that comes back from a peer
 * (our earlier run's, in their history) is never emitted.
 */
export interface GossipEvents {
  message: [msg: GossipMessage, from: Peer | undefined];
}

/** Options of {@link GossipReactor}. */
export interface GossipOptions {
  /** Messages remembered for de-duplication and sent to late joiners. Default 1000. */
  historySize?: number;
}

/**
 * The gossip reactor. `publish(text)` floods a message; listen to
 * `on('message', …)` for messages as they first arrive.
 */
export class GossipReactor extends BaseReactor {
  /** Emits `message` (see {@link GossipEvents}). */
  readonly events = new EventEmitter<GossipEvents>();
  private readonly seen = new Map<string, GossipMessage>();
  private readonly historySize: number;
  private seq = 0;

  constructor(opts: GossipOptions = {}) {
    super('gossip');
    this.historySize = opts.historySize ?? 1000;
  }

  getChannels(): ChannelDescriptor[] {
    return [{ id: GOSSIP_CHANNEL, priority: 5, sendQueueCapacity: 256, recvMessageCapacity: MAX_GOSSIP_MESSAGE_SIZE, name: 'gossip' }];
  }

  /**
   * Author a message and flood it to every peer. Its sequence number is the
   * clock in ms, or one more than the last when that is not larger (ids stay
   * unique across restarts as long as the clock does not go back).
   * @throws MalformedPacketError (`ERR_MALFORMED_PACKET`) when `text` is longer than {@link MAX_TEXT_LENGTH}.
   */
  publish(text: string): GossipMessage {
    const sw = this.switch;
    this.seq = Math.max(this.seq + 1, Date.now());
    const msg: GossipMessage = { id: `${sw.nodeKey.id}:${this.seq}`, origin: sw.nodeKey.id, moniker: sw.nodeInfo.moniker, text, hops: 0 };
    validate(msg);
    this.remember(msg);
    this.events.emit('message', msg, undefined);
    this.relay(msg, undefined);
    return msg;
  }

  /** Messages seen so far, oldest first. */
  history(): GossipMessage[] {
    return [...this.seen.values()];
  }

  /** Send the recent history to a new peer, so late joiners catch up; never the peer's own messages back to it. */
  override addPeer(peer: Peer): void {
    for (const m of this.seen.values()) {
      if (m.origin === peer.id) continue;
      const hops = m.origin === this.switch.nodeKey.id ? 0 : m.hops + 1;
      // a message that has travelled MAX_HOPS goes no further (the receiver would refuse hops > MAX_HOPS as malformed)
      if (hops <= MAX_HOPS) void peer.send(GOSSIP_CHANNEL, encode({ ...m, hops }));
    }
  }

  /**
   * Decode, validate, de-duplicate, deliver and relay. A message of our own
   * origin is remembered but neither delivered nor relayed.
   * @throws MalformedPacketError for an invalid message (the Switch disconnects the sender).
   */
  override receive(e: Envelope): void {
    const msg = decodeGossip(e.message);
    if (this.seen.has(msg.id)) return;
    this.remember(msg);
    if (msg.origin === this.switch.nodeKey.id) return;
    this.events.emit('message', msg, e.src);
    if (msg.hops < MAX_HOPS) this.relay({ ...msg, hops: msg.hops + 1 }, e.src);
  }

  private relay(msg: GossipMessage, except: Peer | undefined): void {
    const bytes = encode(msg);
    for (const p of this.switch.peers.list()) if (p !== except && p.id !== msg.origin) void p.send(GOSSIP_CHANNEL, bytes);
  }

  private remember(msg: GossipMessage): void {
    this.seen.set(msg.id, msg);
    if (this.seen.size > this.historySize) this.seen.delete(this.seen.keys().next().value!);
  }
}

/**
 * Decode and validate one gossip message.
 * @throws MalformedPacketError (`ERR_MALFORMED_PACKET`) naming the bad field.
 */
export function decodeGossip(bytes: Uint8Array): GossipMessage {
  if (bytes.length > MAX_GOSSIP_MESSAGE_SIZE)
    throw new MalformedPacketError(`gossip message of ${bytes.length} bytes exceeds ${MAX_GOSSIP_MESSAGE_SIZE}`);
  let raw: unknown;
  try {
    raw = decode(bytes, { maxStrLength: MAX_GOSSIP_MESSAGE_SIZE, maxBinLength: 0, maxArrayLength: 0, maxMapLength: 8, maxExtLength: 0 });
  } catch (err) {
    throw new MalformedPacketError(`gossip message is not valid MessagePack: ${(err as Error).message}`, { cause: err });
  }
  const r = raw as Partial<GossipMessage> | null;
  if (typeof r !== 'object' || r === null) throw new MalformedPacketError('gossip message must be a map');
  const msg = { id: r.id, origin: r.origin, moniker: r.moniker, text: r.text, hops: r.hops } as GossipMessage;
  validate(msg);
  return msg;
}

function validate(m: GossipMessage): void {
  const bad = (why: string) => {
    throw new MalformedPacketError(`invalid gossip message: ${why}`);
  };
  if (!isValidNodeId(m.origin)) bad('origin must be a node ID');
  if (typeof m.id !== 'string' || !m.id.startsWith(`${m.origin}:`) || m.id.length > 64) bad('id must be <origin>:<seq>');
  if (typeof m.moniker !== 'string' || m.moniker.length > 128) bad('moniker must be a string of ≤ 128 characters');
  if (typeof m.text !== 'string' || m.text.length > MAX_TEXT_LENGTH) bad(`text must be a string of ≤ ${MAX_TEXT_LENGTH} characters`);
  if (!Number.isInteger(m.hops) || m.hops < 0 || m.hops > MAX_HOPS) bad(`hops must be 0..${MAX_HOPS}`);
}
