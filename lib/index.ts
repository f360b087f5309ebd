/**
 * switchboard: a peer-to-peer framework for Node.js in the Tendermint/CometBFT
 * style. The public API; see README.md and docs/.
 *
 * @module switchboard
 */
export * from './errors.js';
export { CHANNEL_DEFAULTS, fillChannelDescriptor, type ChannelDescriptor, type FullChannelDescriptor } from './conn/channel.js';
export { FlowRate } from './conn/flow-rate.js';
export { MConnection, type SendOptions, type ReceiveHandler, type ErrorHandler } from './conn/mconnection.js';
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
} from './conn/packet.js';
export { SecretConnection, type SecretConnectionOptions } from './conn/secret-connection.js';
export { NetAddress, MAX_UNIX_PATH_LENGTH, type NetProtocol } from './net-address.js';
export {
  NodeInfo,
  MAX_NODE_INFO_SIZE,
  MAX_CHANNEL_VERSIONS,
  P2P_PROTOCOL_VERSION,
  matchChannelVersions,
  type NodeInfoFields,
  type ProtocolVersion,
} from './node-info.js';
export { NodeKey, nodeIdFromPubKey, isValidNodeId, verifySignature } from './node-key.js';
export { Peer, PeerSet } from './peer.js';
export {
  BaseReactor,
  type Reactor,
  type Envelope,
  /** What a reactor may use of its Switch (peers, node key and NodeInfo, config, logger, dialing, stopping and banning peers, peer kinds, outbound counts); `Reactor.setSwitch` receives it. */
  type ReactorHost,
  type SwitchAddrBook,
} from './reactor.js';
export { Switch } from './switch.js';
export { type SwitchOptions, type SwitchEvents } from './switch-options.js';
export { type NodeInfoSettings } from './node-info-settings.js';
export { type ConnFilter, type PeerFilter } from './peer-filters.js';
export { parseP2PConfig, P2PConfigSchema, DEFAULT_P2P_CONFIG, type P2PConfig, type P2PConfigInput } from './config.js';
export { MConnConfigSchema, DEFAULT_MCONN_CONFIG, type MConnConfig } from './conn/mconn-config.js';
export { type RttStatus } from './conn/keepalive.js';
export { type ConnectionStatus, type ChannelStatus } from './conn/connection-status.js';
export { P2PMetrics } from './metrics.js';
export { type Transport, type RawConnection, type AcceptHandler, type RemoteEndpoint } from './transport.js';
export { MultiplexTransport, type MultiplexTransportOptions, type UpgradedConn } from './transport-multiplex.js';
export { TCPTransport, type TCPTransportOptions } from './transport-tcp.js';
export { UnixTransport } from './transport-unix.js';
export {
  MemoryNetwork,
  MemoryTransport,
  type MemoryNetworkOptions,
  type MemoryNetworkStats,
  type LinkProfile,
} from './transport-memory.js';
export { mulberry32 } from './mulberry32.js';
export {
  RequestReactor,
  type InFlightCounts,
  type RequestReactorOptions,
  type RequestOptions,
  type RequestHandler,
  type RequestContext,
} from './request-reactor.js';
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
} from './request-wire.js';
