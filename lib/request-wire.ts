/**
 * The wire header of {@link RequestReactor} messages (docs/PROTOCOL.md §7):
 * a kind byte and a 32-bit correlation id, then the kind's fields.
 *
 * ```
 * u8  kind     1 request | 2 response | 3 error | 4 cancel
 * u32 id       correlation id, chosen by the requester
 * request:  u32 timeoutMs (≥ 1), then the request bytes
 * response: the response bytes
 * error:    u8 codeLength (1..64), code (printable ASCII), then the message (UTF-8, ≤ 1024 bytes)
 * cancel:   nothing more
 * ```
 *
 * @module
 */
import { MalformedPacketError } from './errors.js';

/** Kind byte of a request. */
export const REQUEST_KIND_REQUEST = 0x01;
/** Kind byte of a response. */
export const REQUEST_KIND_RESPONSE = 0x02;
/** Kind byte of an error response. */
export const REQUEST_KIND_ERROR = 0x03;
/** Kind byte of a cancel (the requester gave up). */
export const REQUEST_KIND_CANCEL = 0x04;
/** Longest header (bytes): an error's kind, id, code length and a 64-byte code. */
export const REQUEST_HEADER_MAX = 1 + 4 + 1 + 64;
/** Longest error code (bytes). */
export const MAX_ERROR_CODE = 64;
/** Longest error message (bytes of UTF-8). */
export const MAX_ERROR_MESSAGE = 1024;

/** A decoded request (kind 0x01); `payload` is a view of the input. */
export interface WireRequest {
  /** `request`. */
  kind: 'request';
  /** Correlation id. */
  id: number;
  /** How long the requester waits (ms, ≥ 1). */
  timeoutMs: number;
  /** The request bytes. */
  payload: Uint8Array;
}

/** A decoded response (kind 0x02); `payload` is a view of the input. */
export interface WireResponse {
  /** `response`. */
  kind: 'response';
  /** Correlation id of the request answered. */
  id: number;
  /** The response bytes. */
  payload: Uint8Array;
}

/** A decoded error response (kind 0x03). */
export interface WireError {
  /** `error`. */
  kind: 'error';
  /** Correlation id of the request answered. */
  id: number;
  /** The remote's error code (1..64 printable ASCII). */
  code: string;
  /** The remote's error message (≤ 1024 bytes of UTF-8). */
  message: string;
}

/** A decoded cancel (kind 0x04). */
export interface WireCancel {
  /** `cancel`. */
  kind: 'cancel';
  /** Correlation id of the request given up. */
  id: number;
}

/** A decoded RequestReactor message. */
export type RequestMessage = WireRequest | WireResponse | WireError | WireCancel;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const CODE_RE = /^[\x21-\x7e]+$/;

/** Encode a request: header of 9 bytes, then `payload`. */
export function encodeRequest(id: number, timeoutMs: number, payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out[0] = REQUEST_KIND_REQUEST;
  out.writeUInt32BE(id, 1);
  out.writeUInt32BE(timeoutMs, 5);
  out.set(payload, 9);
  return out;
}

/** Encode a response: header of 5 bytes, then `payload`. */
export function encodeResponse(id: number, payload: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = REQUEST_KIND_RESPONSE;
  out.writeUInt32BE(id, 1);
  out.set(payload, 5);
  return out;
}

/**
 * Encode an error response. A code that is not 1..64 printable ASCII
 * characters becomes `ERR_HANDLER`; the message is cut to 1024 bytes of UTF-8
 * (at a character boundary).
 */
export function encodeError(id: number, code: string, message: string): Uint8Array {
  const c = typeof code === 'string' && code.length <= MAX_ERROR_CODE && CODE_RE.test(code) ? code : 'ERR_HANDLER';
  let m = Buffer.from(String(message));
  if (m.length > MAX_ERROR_MESSAGE) {
    let end = MAX_ERROR_MESSAGE;
    while (end > 0 && (m.readUInt8(end) & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence (end < m.length)
    m = m.subarray(0, end);
  }
  const out = Buffer.allocUnsafe(6 + c.length + m.length);
  out[0] = REQUEST_KIND_ERROR;
  out.writeUInt32BE(id, 1);
  out[5] = c.length;
  out.write(c, 6, 'latin1');
  out.set(m, 6 + c.length);
  return out;
}

/** Encode a cancel: 5 bytes. */
export function encodeCancel(id: number): Uint8Array {
  const out = Buffer.allocUnsafe(5);
  out[0] = REQUEST_KIND_CANCEL;
  out.writeUInt32BE(id, 1);
  return out;
}

/**
 * Decode one message.
 * @throws MalformedPacketError (`ERR_MALFORMED_PACKET`) for an unknown kind, a
 *   short header, a zero timeout, a cancel with trailing bytes, or an error
 *   whose code or message breaks the bounds above or is not valid text.
 */
export function decodeRequestMessage(b: Uint8Array): RequestMessage {
  if (b.length < 5) throw new MalformedPacketError(`request message of ${b.length} bytes is shorter than its 5-byte header`);
  const v = Buffer.from(b.buffer, b.byteOffset, b.length);
  const id = v.readUInt32BE(1);
  const kind = v.readUInt8(0);
  switch (kind) {
    case REQUEST_KIND_REQUEST: {
      if (v.length < 9) throw new MalformedPacketError('request without its timeout');
      const timeoutMs = v.readUInt32BE(5);
      if (timeoutMs === 0) throw new MalformedPacketError('request with a timeout of 0 ms');
      return { kind: 'request', id, timeoutMs, payload: v.subarray(9) };
    }
    case REQUEST_KIND_RESPONSE:
      return { kind: 'response', id, payload: v.subarray(5) };
    case REQUEST_KIND_ERROR: {
      const n = v.length > 5 ? v.readUInt8(5) : 0;
      if (n < 1 || n > MAX_ERROR_CODE || v.length < 6 + n) throw new MalformedPacketError(`error response with a code length of ${n}`);
      const code = v.toString('latin1', 6, 6 + n);
      if (!CODE_RE.test(code)) throw new MalformedPacketError('error code is not printable ASCII');
      const rest = v.subarray(6 + n);
      if (rest.length > MAX_ERROR_MESSAGE)
        throw new MalformedPacketError(`error message of ${rest.length} bytes exceeds ${MAX_ERROR_MESSAGE}`);
      let message: string;
      try {
        message = utf8.decode(rest);
      } catch (err) {
        throw new MalformedPacketError('error message is not UTF-8', { cause: err });
      }
      return { kind: 'error', id, code, message };
    }
    case REQUEST_KIND_CANCEL:
      if (v.length !== 5) throw new MalformedPacketError(`cancel of ${v.length} bytes (must be 5)`);
      return { kind: 'cancel', id };
    default:
      throw new MalformedPacketError(`unknown request message kind 0x${kind.toString(16)}`);
  }
}
