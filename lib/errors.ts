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
 *   a message), `ERR_BANNED`, `ERR_LISTEN` (`Switch.start()` could not listen),
 *   `ERR_NOT_STARTED` (`Switch.nodeInfo`/`listenAddr` read before `start()`,
 *   a reactor's Switch used before `addReactor`)
 * - peer removal (the `reason` of `peer:remove`, `peer:error` and
 *   `Reactor.removePeer`): any code above, plus `ERR_PEER_STOPPED` (we stopped
 *   the peer without an error: `Switch.stop`, `stopPeerGracefully`, or a
 *   simultaneous connection replaced it) and `ERR_PEER_ERROR`
 *   (`stopPeerForError` was given something that is not a SwitchboardError;
 *   the original is the `cause`). A remote close is `ERR_CONNECTION_CLOSED`.
 * - input: `ERR_INVALID_ADDRESS`, `ERR_INVALID_ARGUMENT`, `ERR_INVALID_KEY_FILE`
 * - versioned channels: `ERR_CHANNEL_INACTIVE` (no common version with that peer)
 * - request/response ({@link RequestError}): `ERR_REQUEST_TIMEOUT`, `ERR_REQUEST_ABORTED`,
 *   `ERR_PEER_REMOVED`, `ERR_REMOTE_ERROR`, `ERR_TOO_MANY_REQUESTS`,
 *   `ERR_RESPONSE_TOO_LARGE`, `ERR_STALL_TIMEOUT` (a peer let too many requests
 *   in a row time out), `ERR_PROTOCOL_VIOLATION` (a peer broke a reactor's protocol)
 * - testing (`switchboard/testing`): `ERR_WAIT_TIMEOUT`
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
  | 'ERR_LISTEN'
  | 'ERR_NOT_STARTED'
  | 'ERR_PEER_STOPPED'
  | 'ERR_PEER_ERROR'
  | 'ERR_INVALID_ADDRESS'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INVALID_KEY_FILE'
  | 'ERR_CHANNEL_INACTIVE'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_REQUEST_ABORTED'
  | 'ERR_PEER_REMOVED'
  | 'ERR_REMOTE_ERROR'
  | 'ERR_TOO_MANY_REQUESTS'
  | 'ERR_RESPONSE_TOO_LARGE'
  | 'ERR_STALL_TIMEOUT'
  | 'ERR_PROTOCOL_VIOLATION'
  | 'ERR_WAIT_TIMEOUT'
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

/** Why we stopped a peer without an error, see {@link PeerStoppedError}. */
export type PeerStopReason =
  /** `Switch.stop()`: every peer is stopped. */
  | 'switch-stop'
  /** `Switch.stopPeerGracefully(peer)`: queued messages were written first. */
  | 'graceful'
  /** A simultaneous connection to the same node won the tie-break and replaced this one. */
  | 'replaced';

const STOP_MESSAGES: Record<PeerStopReason, string> = {
  'switch-stop': 'stopped: the Switch is stopping',
  graceful: 'stopped gracefully: queued messages written, then closed',
  replaced: 'replaced by a simultaneous connection to the same node',
};

/**
 * We disconnected the peer ourselves, with no error (`ERR_PEER_STOPPED`):
 * the `reason` of `peer:remove` and `Reactor.removePeer` for a local stop.
 * The remote sees `ERR_CONNECTION_CLOSED`.
 */
export class PeerStoppedError extends SwitchboardError {
  /** Which local stop: `'switch-stop'`, `'graceful'` or `'replaced'`. */
  readonly reason: PeerStopReason;
  constructor(reason: PeerStopReason) {
    super('ERR_PEER_STOPPED', STOP_MESSAGES[reason]);
    this.reason = reason;
  }
}

/**
 * `Switch.stopPeerForError` was given a reason that is not a
 * SwitchboardError, e.g. an Error thrown inside a reactor (`ERR_PEER_ERROR`).
 * The original is the `cause`; the message is `stopped for an error: <its message>`.
 */
export class PeerError extends SwitchboardError {
  constructor(cause: unknown) {
    super('ERR_PEER_ERROR', `stopped for an error: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** What each listen errno means, and what to do about it. */
const LISTEN_ERRNO: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another node running? pick another listen port, or port 0 for any free one)',
  EACCES: 'permission denied (ports below 1024 need privileges: pick a port from 1024 up, or port 0)',
  EADDRNOTAVAIL: 'no interface of this host has that address (listen on 0.0.0.0, 127.0.0.1 or one of its own addresses)',
  ENOTFOUND: 'the host name does not resolve (use an IP address or a name this host resolves)',
  EAI_AGAIN: 'the host name does not resolve right now (use an IP address)',
};

/**
 * `Switch.start()` could not listen on its `listenAddress` (`ERR_LISTEN`).
 * `cause` is the system error (its `code`: `EADDRINUSE`, `EACCES`,
 * `EADDRNOTAVAIL`, …); the message is one line naming the address, what went
 * wrong and what to do, e.g. `cannot listen on 127.0.0.1:26656: the address is
 * in use (another node running? pick another listen port, or port 0 for any free one)`.
 */
export class ListenError extends SwitchboardError {
  /** The host we tried to listen on (`unix:///path` for a Unix socket). */
  readonly host: string;
  /** The port we tried to listen on (0 = any). */
  readonly port: number;
  constructor(host: string, port: number, cause: unknown) {
    const errno = (cause as { code?: unknown } | undefined)?.code;
    const why = (typeof errno === 'string' && LISTEN_ERRNO[errno]) || (cause instanceof Error ? cause.message : String(cause));
    const where = host.startsWith('unix://') ? host : `${host.includes(':') ? `[${host}]` : host}:${port}`;
    super('ERR_LISTEN', `cannot listen on ${where}: ${why}`, { cause });
    this.host = host;
    this.port = port;
  }
}

/**
 * Something that exists only once the Switch runs was asked for too early
 * (`ERR_NOT_STARTED`): `Switch.nodeInfo` or `Switch.listenAddr` before
 * `start()` has listened, or `BaseReactor`'s Switch before `addReactor`.
 */
export class NotStartedError extends SwitchboardError {
  constructor(message: string) {
    super('ERR_NOT_STARTED', message);
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
 * A send on a channel that has no common version with the peer
 * (`ERR_CHANNEL_INACTIVE`): both advertise the channel but the version
 * negotiation of the handshake found none both speak (see `Peer.channelVersion`).
 */
export class ChannelInactiveError extends SwitchboardError {
  /** The inactive channel id (0..255). */
  readonly channelId: number;
  constructor(channelId: number, message: string) {
    super('ERR_CHANNEL_INACTIVE', message);
    this.channelId = channelId;
  }
}

/** Codes of {@link RequestError}. */
export type RequestErrorCode =
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_REQUEST_ABORTED'
  | 'ERR_PEER_REMOVED'
  | 'ERR_TOO_MANY_REQUESTS'
  | 'ERR_RESPONSE_TOO_LARGE'
  | 'ERR_STALL_TIMEOUT';

/**
 * A request of a `RequestReactor` failed locally: no response in time
 * (`ERR_REQUEST_TIMEOUT`), its signal aborted (`ERR_REQUEST_ABORTED`), the
 * peer went away (`ERR_PEER_REMOVED`), the in-flight limit was reached
 * (`ERR_TOO_MANY_REQUESTS`), the response was over `maxResponseBytes`
 * (`ERR_RESPONSE_TOO_LARGE`); also the reason a stalling peer is
 * disconnected with (`ERR_STALL_TIMEOUT`).
 */
export class RequestError extends SwitchboardError {
  constructor(code: RequestErrorCode, message: string, options?: { cause?: unknown }) {
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
 * The remote handler of a request failed (`ERR_REMOTE_ERROR`). `remoteCode`
 * and `remoteMessage` are what the remote sent (its error's `code`, or
 * `ERR_HANDLER` when it had none, and its message); the peer stays connected.
 */
export class RemoteError extends SwitchboardError {
  /** The remote handler's error code (at most 64 bytes of UTF-8). */
  readonly remoteCode: string;
  /** The remote handler's error message (at most 1024 bytes of UTF-8). */
  readonly remoteMessage: string;
  constructor(remoteCode: string, remoteMessage: string) {
    super('ERR_REMOTE_ERROR', `remote handler failed: ${remoteCode}: ${remoteMessage}`);
    this.remoteCode = remoteCode;
    this.remoteMessage = remoteMessage;
  }
}

/**
 * A peer broke a reactor's protocol (`ERR_PROTOCOL_VIOLATION`): e.g. it sent
 * more requests at once than `maxInFlightPerPeer`, or answered a request it
 * was never sent. The peer is disconnected with it.
 */
export class ProtocolViolationError extends SwitchboardError {
  constructor(message: string) {
    super('ERR_PROTOCOL_VIOLATION', message);
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
