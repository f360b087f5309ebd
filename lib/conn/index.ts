/**
 * The wire level, imported as `switchboard/conn`: what a tool, a test peer or
 * another implementation of the protocol needs, and an application built on
 * the Switch does not. {@link MConnection} (channels multiplexed over one
 * stream, as CometBFT's `p2p/conn.MConnection`), {@link SecretConnection}
 * (the encrypted, authenticated stream), {@link MultiplexTransport} (either
 * of them plus the NodeInfo handshake over any `Transport`), the packet codec
 * (every byte layout: docs/PROTOCOL.md), channel descriptor defaults,
 * {@link FlowRate}, the protocol's size bounds and version, and the
 * RequestReactor's wire messages.
 *
 * ```ts
 * import { MConnection, decodePacket } from 'switchboard/conn';
 * ```
 *
 * @module switchboard/conn
 */
export { MConnection, type ReceiveHandler, type ErrorHandler } from './mconnection.js';
export { MConnConfigSchema, DEFAULT_MCONN_CONFIG, type MConnConfig } from './mconn-config.js';
export { CHANNEL_DEFAULTS, fillChannelDescriptor, type FullChannelDescriptor } from './channel.js';
export { FlowRate } from './flow-rate.js';
export {
  decodePacket,
  encodePacket,
  PacketDecoder,
  type Packet,
  type PacketHandler,
  PACKET_PING,
  PACKET_PONG,
  PACKET_MSG,
  MSG_HEADER_SIZE,
  MAX_PACKET_PAYLOAD_LIMIT,
} from './packet.js';
export { SecretConnection, type SecretConnectionOptions } from './secret-connection.js';
export { MultiplexTransport, type MultiplexTransportOptions, type UpgradedConn } from '../transport-multiplex.js';
export { MAX_NODE_INFO_SIZE, MAX_CHANNEL_VERSIONS, P2P_PROTOCOL_VERSION, matchChannelVersions } from '../node-info.js';
export { nodeIdFromPubKey, verifySignature } from '../node-key.js';
export {
  decodeRequestMessage,
  encodeRequest,
  encodeResponse,
  encodeError,
  encodeCancel,
  REQUEST_KIND_REQUEST,
  REQUEST_KIND_RESPONSE,
  REQUEST_KIND_ERROR,
  REQUEST_KIND_CANCEL,
  REQUEST_HEADER_MAX,
  MAX_ERROR_CODE,
  MAX_ERROR_MESSAGE,
  type RequestMessage,
  type WireRequest,
  type WireResponse,
  type WireError,
  type WireCancel,
} from '../request-wire.js';
