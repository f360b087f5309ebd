/**
 * What a Switch is built with ({@link SwitchOptions}) and the events it
 * emits ({@link SwitchEvents}).
 *
 * @module
 */
import type { Logger } from 'pino';
import type { P2PConfigInput } from './config.js';
import type { SwitchboardError } from './errors.js';
import type { P2PMetrics } from './metrics.js';
import type { NodeInfoSettings } from './node-info-settings.js';
import type { NodeKey } from './node-key.js';
import type { Peer } from './peer.js';
import type { ConnFilter, PeerFilter } from './peer-filters.js';
import type { Transport } from './transport.js';

/** Switch constructor options. */
export interface SwitchOptions {
  /** Our identity. */
  nodeKey: NodeKey;
  /** What we tell peers about ourselves. */
  nodeInfo?: NodeInfoSettings;
  /** Any subset of {@link P2PConfig}; validated, defaults filled. */
  config?: P2PConfigInput;
  /** pino logger; default silent. Each peer gets a child logger `{ peer: id }`. */
  logger?: Logger;
  /** prom-client metrics; default none. */
  metrics?: P2PMetrics;
  /** Run for each inbound connection before the handshake. */
  connFilters?: ConnFilter[];
  /** Run for each peer after the handshake, before any reactor sees it. */
  peerFilters?: PeerFilter[];
  /**
   * What carries connections (`listenAddress` must be of its protocol): default a TCPTransport with `dialTimeoutMs`.
   * SecretConnection, the NodeInfo handshake and admission run on top of any transport. The Switch closes it on `stop()`.
   */
  transport?: Transport;
}

/** Typed events of a Switch. */
export interface SwitchEvents {
  /** A peer passed the handshake, the filters and every reactor's `addPeer`. */
  'peer:add': [peer: Peer];
  /**
   * A peer was removed. `reason.code` says why: `ERR_PEER_STOPPED` for a local stop without an error (`Switch.stop`,
   * `stopPeerGracefully`, a replaced duplicate connection; see {@link PeerStoppedError}), `ERR_CONNECTION_CLOSED` when the remote
   * closed it, otherwise the error that stopped it (`ERR_PONG_TIMEOUT`, `ERR_BANNED`, a reactor's error, …).
   */
  'peer:remove': [peer: Peer, reason: SwitchboardError];
  /** A peer was stopped for an error (after `peer:remove`, with the same `err`). */
  'peer:error': [peer: Peer, err: SwitchboardError];
  /**
   * A dial failed, or an inbound connection was refused. `addr` is the dialed `id@host:port`, or the remote `host:port` (with
   * `id@` once known).
   */
  'peer:dial-failed': [addr: string, err: SwitchboardError];
}
