/**
 * switchboard: a peer-to-peer framework for Node.js in the Tendermint/CometBFT
 * style. The API an application uses (listed in README.md's "API" section):
 * the Switch and its settings, reactors, peers, identities and addresses,
 * transports, metrics, request/response, and the typed errors. The wire level
 * (MConnection, SecretConnection, the packet codec, the handshake's
 * transport, protocol bounds) is `switchboard/conn`.
 *
 * @module switchboard
 */
export * from './errors.js';
export { Switch } from './switch.js';
export { type SwitchOptions, type SwitchEvents } from './switch-options.js';
export { type NodeInfoSettings } from './node-info-settings.js';
export { type ConnFilter, type PeerFilter } from './peer-filters.js';
export { parseP2PConfig, P2PConfigSchema, type P2PConfig, type P2PConfigInput } from './config.js';
export {
  BaseReactor,
  type Reactor,
  type Envelope,
  /** What a reactor may use of its Switch (peers, node key and NodeInfo, config, logger, dialing, stopping and banning peers, peer kinds, outbound counts); `Reactor.setSwitch` receives it. */
  type ReactorHost,
  type SwitchAddrBook,
} from './reactor.js';
export { type ChannelDescriptor } from './conn/channel.js';
export { Peer, PeerSet } from './peer.js';
export { type SendOptions } from './conn/mconnection.js';
export { type ConnectionStatus, type ChannelStatus } from './conn/connection-status.js';
export { type RttStatus } from './conn/keepalive.js';
export { NodeKey, isValidNodeId } from './node-key.js';
export { NodeInfo, type NodeInfoFields, type ProtocolVersion } from './node-info.js';
export { NetAddress, type NetProtocol } from './net-address.js';
export { type Transport, type RawConnection, type AcceptHandler, type RemoteEndpoint } from './transport.js';
export { TCPTransport, type TCPTransportOptions } from './transport-tcp.js';
export { UnixTransport } from './transport-unix.js';
export {
  MemoryNetwork,
  MemoryTransport,
  type MemoryNetworkOptions,
  type MemoryNetworkStats,
  type LinkProfile,
} from './transport-memory.js';
export { P2PMetrics } from './metrics.js';
export {
  RequestReactor,
  type InFlightCounts,
  type RequestReactorOptions,
  type RequestOptions,
  type RequestHandler,
  type RequestContext,
} from './request-reactor.js';
