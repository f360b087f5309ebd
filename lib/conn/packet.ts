/**
 * MConnection packets: the wire layout and a streaming decoder.
 *
 * Ping, pong and msg as CometBFT's `PacketPing`, `PacketPong`, `PacketMsg`,
 * but in a fixed binary layout rather than protobuf, plus a window update
 * that grants the peer more flow-control credit on one channel, with the
 * semantics of HTTP/2's stream-level WINDOW_UPDATE (RFC 9113 §6.9) — see
 * docs/PROTOCOL.md §4. Every byte layout of a packet is written here and
 * only here:
 *
 * ```
 * ping:   u8 0x01
 * pong:   u8 0x02
 * msg:    u8 0x03 | u8 channelId | u8 flags (bit 0 = eof, others 0) | u32 BE length | bytes[length]
 * window: u8 0x04 | u8 channelId | u32 BE increment (1..2^31-1)
 * ```
 *
 * @module
 */
import { MalformedPacketError } from '../errors.js';

/** Packet type byte of a ping. */
export const PACKET_PING = 0x01;
/** Packet type byte of a pong. */
export const PACKET_PONG = 0x02;
/** Packet type byte of a msg packet. */
export const PACKET_MSG = 0x03;
/** Packet type byte of a window update. */
export const PACKET_WINDOW_UPDATE = 0x04;
/** Bytes of a msg packet before its data: type, channel, flags, u32 length. */
export const MSG_HEADER_SIZE = 7;
/** Bytes of a window update packet: type, channel, u32 increment. */
export const WINDOW_UPDATE_SIZE = 6;
/** Largest flow-control window and window increment (RFC 9113's 2^31−1). */
export const MAX_WINDOW = 0x7fffffff;
/**
 * Flow-control credit each side starts with on every channel, in bytes of
 * msg packets (header included), before the peer's first window update for
 * that channel (as RFC 9113's initial stream window of 65,535).
 */
export const INITIAL_WINDOW = 65536;
/** Upper bound on `maxPacketMsgPayloadSize` any connection accepts (1 MiB). */
export const MAX_PACKET_PAYLOAD_LIMIT = 1 << 20;

/** A decoded packet. `data` of a msg packet is a view into the received bytes (not a copy). */
export type Packet =
  | {
      /** A keepalive ping. */
      type: 'ping';
    }
  | {
      /** The answer to a ping. */
      type: 'pong';
    }
  | {
      /** More flow-control credit on one channel for the receiver of this packet. */
      type: 'window';
      /** The channel whose window grows, 0..255. */
      channelId: number;
      /** Bytes of credit granted, 1..2^31−1. */
      increment: number;
    }
  | {
      /** A message fragment. */
      type: 'msg';
      /** Channel id, 0..255. */
      channelId: number;
      /** Last fragment of its message. */
      eof: boolean;
      /** Fragment bytes. */
      data: Uint8Array;
    };

/**
 * Write a msg packet header at `off` of `buf` (7 bytes).
 * @returns the offset after the header.
 */
export function writeMsgHeader(buf: Buffer, off: number, channelId: number, eof: boolean, length: number): number {
  buf[off] = PACKET_MSG;
  buf[off + 1] = channelId;
  buf[off + 2] = eof ? 1 : 0;
  buf.writeUInt32BE(length, off + 3);
  return off + MSG_HEADER_SIZE;
}

/**
 * Write a ping (1 byte) at `off` of `buf`.
 * @returns the offset after it.
 */
export function writePing(buf: Buffer, off: number): number {
  buf[off] = PACKET_PING;
  return off + 1;
}

/**
 * Write a pong (1 byte) at `off` of `buf`.
 * @returns the offset after it.
 */
export function writePong(buf: Buffer, off: number): number {
  buf[off] = PACKET_PONG;
  return off + 1;
}

/**
 * Write a window update (6 bytes) granting `increment` bytes (1..2^31−1) of
 * credit on `channelId` at `off` of `buf`.
 * @returns the offset after it.
 */
export function writeWindowUpdate(buf: Buffer, off: number, channelId: number, increment: number): number {
  buf[off] = PACKET_WINDOW_UPDATE;
  buf[off + 1] = channelId;
  buf.writeUInt32BE(increment, off + 2);
  return off + WINDOW_UPDATE_SIZE;
}

/**
 * Encode one packet into a new Buffer (for tests, vectors and control
 * packets; the MConnection writes msg packets straight into its batch buffer).
 */
export function encodePacket(p: Packet): Buffer {
  if (p.type === 'ping') {
    const b = Buffer.allocUnsafe(1);
    writePing(b, 0);
    return b;
  }
  if (p.type === 'pong') {
    const b = Buffer.allocUnsafe(1);
    writePong(b, 0);
    return b;
  }
  if (p.type === 'window') {
    const w = Buffer.allocUnsafe(WINDOW_UPDATE_SIZE);
    writeWindowUpdate(w, 0, p.channelId, p.increment);
    return w;
  }
  const out = Buffer.allocUnsafe(MSG_HEADER_SIZE + p.data.length);
  writeMsgHeader(out, 0, p.channelId, p.eof, p.data.length);
  out.set(p.data, MSG_HEADER_SIZE);
  return out;
}

/**
 * Receives decoded packets from a {@link PacketDecoder}, in stream order. A
 * handler that throws stops the decoder (it must not be used again).
 */
export interface PacketHandler {
  /** A ping (`type` 0x01) or pong (`type` 0x02) arrived. */
  onControl(type: typeof PACKET_PING | typeof PACKET_PONG): void;
  /** A window update for `channelId` arrived (increment already checked to be 1..2^31−1). Ignored when absent. */
  onWindowUpdate?(channelId: number, increment: number): void;
  /** A msg packet arrived; `data` is a view, valid as long as the caller keeps it. */
  onMsg(channelId: number, eof: boolean, data: Buffer): void;
}

/**
 * Streaming packet decoder: feed it the byte chunks of a stream in order,
 * it calls the handler once per complete packet. Data of a packet that lies
 * within one chunk is passed as a view (no copy); a packet split across
 * chunks is assembled once into a buffer of exactly its size. Every length is
 * checked against `maxPayload` before anything is allocated.
 *
 * Errors: throws {@link MalformedPacketError} (`ERR_MALFORMED_PACKET`) for an
 * unknown type byte, flags other than 0/1, or a length over `maxPayload`;
 * after a throw (its own or the handler's) the decoder must not be used again.
 */
export class PacketDecoder {
  /** Header bytes of a packet whose header was split across chunks. */
  private readonly head = Buffer.allocUnsafe(MSG_HEADER_SIZE);
  private headLen = 0;
  /** Packet being assembled across chunks (header + data), and how much is filled. */
  private partial: Buffer | null = null;
  private partialLen = 0;

  /**
   * @param handler receives packets.
   * @param maxPayload largest msg packet data accepted (bytes), 1..1 MiB.
   */
  constructor(
    private readonly handler: PacketHandler,
    private readonly maxPayload: number,
  ) {}

  /** Bytes of an incomplete packet held until the next chunk (0 between packets). */
  get bufferedBytes(): number {
    return this.headLen + this.partialLen;
  }

  /** Feed the next chunk. @throws MalformedPacketError on a protocol violation. */
  push(chunk: Buffer): void {
    const h = this.handler;
    const len = chunk.length;
    let p = 0;
    if (this.headLen > 0) p = this.fillHead(chunk);
    if (this.partial !== null) p = this.fillPartial(this.partial, chunk, p);
    while (p < len) {
      const avail = len - p;
      const type = chunk[p] ?? 0; // p < len (an indexed read: readUInt8's checks cost a third of the decoder's speed)
      if (type === PACKET_MSG) {
        if (avail < MSG_HEADER_SIZE) return this.keepHead(chunk, p);
        const size = this.checkHeader(chunk, p);
        const end = p + MSG_HEADER_SIZE + size;
        if (end > len) {
          this.partial = Buffer.allocUnsafe(MSG_HEADER_SIZE + size);
          this.partialLen = chunk.copy(this.partial, 0, p);
          return;
        }
        h.onMsg(chunk[p + 1] ?? 0, chunk[p + 2] === 1, chunk.subarray(p + MSG_HEADER_SIZE, end)); // the header is in the chunk
        p = end;
      } else if (type === PACKET_PING || type === PACKET_PONG) {
        p++;
        h.onControl(type);
      } else if (type === PACKET_WINDOW_UPDATE) {
        if (avail < WINDOW_UPDATE_SIZE) return this.keepHead(chunk, p);
        h.onWindowUpdate?.(chunk[p + 1] ?? 0, checkIncrement(chunk, p));
        p += WINDOW_UPDATE_SIZE;
      } else {
        throw new MalformedPacketError(`unknown packet type 0x${type.toString(16).padStart(2, '0')}`);
      }
    }
  }

  /** Keep the start of a header split across chunks. */
  private keepHead(chunk: Buffer, p: number): void {
    this.headLen = chunk.copy(this.head, 0, p);
  }

  /** Completes a split header from the start of `chunk`; returns how many bytes of it it took. */
  private fillHead(chunk: Buffer): number {
    const size = this.head[0] === PACKET_WINDOW_UPDATE ? WINDOW_UPDATE_SIZE : MSG_HEADER_SIZE;
    const n = Math.min(size - this.headLen, chunk.length);
    chunk.copy(this.head, this.headLen, 0, n);
    this.headLen += n;
    if (this.headLen < size) return n;
    this.headLen = 0;
    if (size === WINDOW_UPDATE_SIZE) {
      this.handler.onWindowUpdate?.(this.head[1] ?? 0, checkIncrement(this.head, 0));
      return n;
    }
    const len = this.checkHeader(this.head, 0);
    this.partial = Buffer.allocUnsafe(MSG_HEADER_SIZE + len);
    this.head.copy(this.partial, 0);
    this.partialLen = MSG_HEADER_SIZE;
    return n;
  }

  /** Fills the split packet from `chunk` at `p`; delivers it when complete. Returns the offset after what it took. */
  private fillPartial(partial: Buffer, chunk: Buffer, p: number): number {
    const n = Math.min(partial.length - this.partialLen, chunk.length - p);
    chunk.copy(partial, this.partialLen, p, p + n);
    this.partialLen += n;
    if (this.partialLen < partial.length) return p + n;
    this.partial = null;
    this.partialLen = 0;
    this.handler.onMsg(partial[1] ?? 0, partial[2] === 1, partial.subarray(MSG_HEADER_SIZE));
    return p + n;
  }

  /** Validates a msg header at `off`; returns its data length. */
  private checkHeader(buf: Buffer, off: number): number {
    const flags = buf[off + 2] ?? 0; // the caller checked that the header is in buf
    if (flags > 1) throw new MalformedPacketError(`invalid msg flags 0x${flags.toString(16)}`);
    const len = buf.readUInt32BE(off + 3);
    if (len > this.maxPayload)
      throw new MalformedPacketError(`msg packet of ${len} bytes exceeds maxPacketMsgPayloadSize ${this.maxPayload}`);
    return len;
  }
}

/** The increment of a window update at `off`, checked to be 1..2^31−1. */
function checkIncrement(buf: Buffer, off: number): number {
  const inc = buf.readUInt32BE(off + 2);
  if (inc === 0 || inc > MAX_WINDOW) throw new MalformedPacketError(`window update increment ${inc} outside 1..${MAX_WINDOW}`);
  return inc;
}

/**
 * Decode exactly one packet from `buf` (which must contain nothing else).
 * @throws MalformedPacketError for empty, truncated, trailing or invalid input.
 */
export function decodePacket(buf: Uint8Array, maxPayload = MAX_PACKET_PAYLOAD_LIMIT): Packet {
  let out: Packet | undefined;
  let count = 0;
  const dec = new PacketDecoder(
    {
      onControl(type) {
        count++;
        out = { type: type === PACKET_PING ? 'ping' : 'pong' };
      },
      onWindowUpdate(channelId, increment) {
        count++;
        out = { type: 'window', channelId, increment };
      },
      onMsg(channelId, eof, data) {
        count++;
        out = { type: 'msg', channelId, eof, data };
      },
    },
    maxPayload,
  );
  dec.push(Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  if (count === 0 || dec.bufferedBytes > 0)
    throw new MalformedPacketError(count === 0 ? 'truncated packet' : 'trailing bytes after packet');
  if (count > 1) throw new MalformedPacketError('more than one packet');
  return out!;
}
