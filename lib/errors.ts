/**
 * Typed errors. Every error switchboard raises for bad input, a broken or
 * hostile peer, or a failed dial is a {@link SwitchboardError} with a stable
 * string `code` that callers may switch on; the message is for humans and may
 * change between versions, the code does not.
 *
 * @module
 */

/**
 * Stable error codes. Grouped by layer:
 * - packet/connection: `ERR_MALFORMED_PACKET`, `ERR_UNKNOWN_CHANNEL`,
 *   `ERR_MESSAGE_TOO_LARGE`, `ERR_PONG_TIMEOUT`, `ERR_CONNECTION_CLOSED`, `ERR_SOCKET`,
 *   `ERR_RECEIVE_FAILED` (a receive handler threw or rejected),
 *   `ERR_FLOW_CONTROL` (the peer sent beyond its window, or overflowed ours)
 * - handshake/auth: `ERR_HANDSHAKE`, `ERR_HANDSHAKE_TIMEOUT`, `ERR_AUTH`,
 *   `ERR_BAD_FRAME`, `ERR_NONCE_EXHAUSTED`
 * - node info: `ERR_INCOMPATIBLE_PEER`, `ERR_INVALID_NODE_INFO`
 * - switch: `ERR_SELF_CONNECTION`, `ERR_DUPLICATE_PEER`, `ERR_PEER_ID_MISMATCH`,
 *   `ERR_TOO_MANY_PEERS`, `ERR_DIAL`, `ERR_DIAL_TIMEOUT`, `ERR_SWITCH_STOPPED`,
 *   `ERR_CHANNEL_TAKEN`, `ERR_REJECTED`, `ERR_FILTER`, `ERR_FILTER_TIMEOUT`,
 *   `ERR_DUPLICATE_IP`, `ERR_MESSAGE_REJECTED` (a reactor's message filter refused
 *   a message), `ERR_BANNED`
 * - input: `ERR_INVALID_ADDRESS`, `ERR_INVALID_ARGUMENT`, `ERR_INVALID_KEY_FILE`
 * - isolation (a peer that stalls or floods us): `ERR_SEND_STALL`, `ERR_IDLE_TIMEOUT`,
 *   `ERR_RECV_STALL`, `ERR_PING_FLOOD`, `ERR_UNSOLICITED_PONG`; inbound admission:
 *   `ERR_TOO_MANY_HANDSHAKES`, `ERR_HANDSHAKE_EVICTED`, `ERR_CONN_LIMIT`, `ERR_CONN_RATE`,
 *   `ERR_PEER_EVICTED`
 */
export type ErrorCode =
  | 'ERR_MALFORMED_PACKET'
  | 'ERR_UNKNOWN_CHANNEL'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_PONG_TIMEOUT'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_SOCKET'
  | 'ERR_RECEIVE_FAILED'
  | 'ERR_FLOW_CONTROL'
  | 'ERR_HANDSHAKE'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_AUTH'
  | 'ERR_BAD_FRAME'
  | 'ERR_NONCE_EXHAUSTED'
  | 'ERR_INCOMPATIBLE_PEER'
  | 'ERR_INVALID_NODE_INFO'
  | 'ERR_SELF_CONNECTION'
  | 'ERR_DUPLICATE_PEER'
  | 'ERR_PEER_ID_MISMATCH'
  | 'ERR_TOO_MANY_PEERS'
  | 'ERR_DIAL'
  | 'ERR_DIAL_TIMEOUT'
  | 'ERR_SWITCH_STOPPED'
  | 'ERR_CHANNEL_TAKEN'
  | 'ERR_REJECTED'
  | 'ERR_FILTER'
  | 'ERR_FILTER_TIMEOUT'
  | 'ERR_DUPLICATE_IP'
  | 'ERR_MESSAGE_REJECTED'
  | 'ERR_BANNED'
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_KEY_FILE'
  | 'ERR_SEND_STALL'
  | 'ERR_IDLE_TIMEOUT'
  | 'ERR_RECV_STALL'
  | 'ERR_PING_FLOOD'
  | 'ERR_UNSOLICITED_PONG'
  | 'ERR_TOO_MANY_HANDSHAKES'
  | 'ERR_HANDSHAKE_EVICTED'
  | 'ERR_CONN_LIMIT'
  | 'ERR_CONN_RATE'
  | 'ERR_PEER_EVICTED';

/**
 * Base class of every switchboard error. `code` is stable; `cause` carries an
 * underlying error (a socket error, a decoder error) where there is one.
 */
export class SwitchboardError extends Error {
  /** Stable machine-readable code, see {@link ErrorCode}. */
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The bytes a peer sent are not a valid packet/frame/message (`ERR_MALFORMED_PACKET`). */
export class MalformedPacketError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MALFORMED_PACKET', message, options);
  }
}

/** A packet named a channel id the connection does not have (`ERR_UNKNOWN_CHANNEL`). */
export class UnknownChannelError extends SwitchboardError {
  /** The offending channel id (0..255). */
  readonly channelId: number;
  constructor(channelId: number) {
    super('ERR_UNKNOWN_CHANNEL', `unknown channel 0x${channelId.toString(16).padStart(2, '0')}`);
    this.channelId = channelId;
  }
}

/** A message exceeded a size limit (`recvMessageCapacity`, or a frame bound) (`ERR_MESSAGE_TOO_LARGE`). */
export class MessageTooLargeError extends SwitchboardError {
  constructor(message: string) {
    super('ERR_MESSAGE_TOO_LARGE', message);
  }
}

/** No pong arrived within `pongTimeout` after a ping (`ERR_PONG_TIMEOUT`). */
export class PongTimeoutError extends SwitchboardError {
  constructor(timeoutMs: number) {
    super('ERR_PONG_TIMEOUT', `no pong within ${timeoutMs} ms`);
  }
}

/** The underlying stream closed or failed (`ERR_CONNECTION_CLOSED` or `ERR_SOCKET`). */
export class ConnectionClosedError extends SwitchboardError {
  constructor(message = 'connection closed by remote', options?: { cause?: unknown; code?: 'ERR_CONNECTION_CLOSED' | 'ERR_SOCKET' }) {
    super(options?.code ?? 'ERR_CONNECTION_CLOSED', message, options);
  }
}

/**
 * The peer broke flow control (`ERR_FLOW_CONTROL`): it sent more msg bytes
 * than the window we granted, or granted us a window over 2^31−1 (RFC 9113
 * §6.9.1's FLOW_CONTROL_ERROR).
 */
export class FlowControlError extends SwitchboardError {
  constructor(message: string) {
    super('ERR_FLOW_CONTROL', message);
  }
}

/** A receive handler (a Reactor's `receive`) threw or rejected for a message (`ERR_RECEIVE_FAILED`). */
export class ReceiveFailedError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RECEIVE_FAILED', message, options);
  }
}

/** A handshake step failed or timed out (`ERR_HANDSHAKE`, `ERR_HANDSHAKE_TIMEOUT`). */
export class HandshakeError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown; timeout?: boolean }) {
    super(options?.timeout ? 'ERR_HANDSHAKE_TIMEOUT' : 'ERR_HANDSHAKE', message, options);
  }
}

/** Authentication failed: bad signature, low-order key, or a remote key that does not match the dialed ID (`ERR_AUTH`). */
export class AuthError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_AUTH', message, options);
  }
}

/** Two NodeInfos are incompatible, or one is invalid (`ERR_INCOMPATIBLE_PEER`, `ERR_INVALID_NODE_INFO`). */
export class NodeInfoError extends SwitchboardError {
  constructor(message: string, options?: { cause?: unknown; invalid?: boolean }) {
    super(options?.invalid ? 'ERR_INVALID_NODE_INFO' : 'ERR_INCOMPATIBLE_PEER', message, options);
  }
}

/** Codes of {@link RejectedError}. */
export type RejectCode =
  | 'ERR_SELF_CONNECTION'
  | 'ERR_DUPLICATE_PEER'
  | 'ERR_DUPLICATE_IP'
  | 'ERR_PEER_ID_MISMATCH'
  | 'ERR_TOO_MANY_PEERS'
  | 'ERR_DIAL'
  | 'ERR_DIAL_TIMEOUT'
  | 'ERR_SWITCH_STOPPED'
  | 'ERR_REJECTED'
  | 'ERR_FILTER'
  | 'ERR_FILTER_TIMEOUT'
  | 'ERR_MESSAGE_REJECTED'
  | 'ERR_BANNED'
  | 'ERR_TOO_MANY_HANDSHAKES'
  | 'ERR_HANDSHAKE_EVICTED'
  | 'ERR_CONN_LIMIT'
  | 'ERR_CONN_RATE'
  | 'ERR_PEER_EVICTED';

/** A peer, connection or message was refused, or a dial failed, at the Switch (self, duplicate, limits, filters, bans, ID mismatch). */
export class RejectedError extends SwitchboardError {
  constructor(code: RejectCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** An argument or input string is invalid (`ERR_INVALID_ARGUMENT`, `ERR_INVALID_ADDRESS`, `ERR_INVALID_KEY_FILE`, `ERR_CHANNEL_TAKEN`). */
export class InvalidArgumentError extends SwitchboardError {
  constructor(
    message: string,
    code: 'ERR_INVALID_ARGUMENT' | 'ERR_INVALID_ADDRESS' | 'ERR_INVALID_KEY_FILE' | 'ERR_CHANNEL_TAKEN' = 'ERR_INVALID_ARGUMENT',
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/**
 * The peer stalled us past a deadline (see `MConnConfig`):
 * - `ERR_SEND_STALL`: we had data for it and it granted no flow-control credit
 *   (or did not read its socket) for `sendStallTimeoutMs`;
 * - `ERR_IDLE_TIMEOUT`: nothing at all arrived for `idleTimeoutMs` (neo-go's idle timeout);
 * - `ERR_RECV_STALL`: a packet it started was not complete within `packetTimeoutMs`,
 *   or a multi-packet message within `messageTimeoutMs`.
 */
export class StallError extends SwitchboardError {
  constructor(code: 'ERR_SEND_STALL' | 'ERR_IDLE_TIMEOUT' | 'ERR_RECV_STALL', message: string) {
    super(code, message);
  }
}

/**
 * The peer broke the keepalive rules: pings faster than we answer them
 * (`ERR_PING_FLOOD`: more than a few pings without a pong of ours in between,
 * which an honest peer never does), or a pong we did not ask for
 * (`ERR_UNSOLICITED_PONG`).
 */
export class KeepaliveError extends SwitchboardError {
  constructor(code: 'ERR_PING_FLOOD' | 'ERR_UNSOLICITED_PONG', message: string) {
    super(code, message);
  }
}
