/**
 * The PEX (peer exchange) reactor and its address book, as CometBFT's
 * `p2p/pex` package: {@link AddrBook} (bucketed, persisted), {@link PEXReactor}
 * (channel 0x00), the PEX wire messages, the reactor's defaults, and
 * {@link createNode}, which builds a Switch with both from one config.
 *
 * ```ts
 * import { createNode } from 'switchboard/reactors/pex';
 * const node = createNode({ nodeKey, config: { seeds }, addrBookPath: 'addrbook.json', reactors: [app] });
 * await node.start();
 * // or by hand:
 * import { AddrBook, PEXReactor } from 'switchboard/reactors/pex';
 * sw.addReactor(new PEXReactor(new AddrBook('addrbook.json'), { seeds }));
 * ```
 *
 * @module switchboard/reactors/pex
 */
export {
  AddrBook,
  AddrBookRejectedError,
  type AddrBookLogger,
  type AddrBookOptions,
  type AddrBookRejectReason,
  type AddrBookStats,
} from './addrbook.js';
export { groupKey } from './group-key.js';
export { KnownAddress, type BucketType, type KnownAddressJSON, type NetAddressJSON } from './known-address.js';
export {
  PEX_CHANNEL,
  MAX_PEX_ADDRS,
  MAX_PEX_HOST_LENGTH,
  MAX_PEX_ADDRESS_SIZE,
  MAX_PEX_MESSAGE_SIZE,
  encodePexRequest,
  encodePexAddrs,
  encodePexMessage,
  decodePexMessage,
  isPexWireAddress,
  type PexRequest,
  type PexAddrs,
  type PexMessage,
} from './messages.js';
export { PEXReactor, SEED_BIAS_TOWARDS_NEW_ADDRS } from './reactor.js';
export { PexAbuseError, PexDialRefusedError, type PexAbuseReason, type PexDialRefusal } from './errors.js';
export {
  DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_CRAWL_PERIOD_MS,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
  DEFAULT_SEED_DISCONNECT_WAIT_MS,
  DEFAULT_BAN_MS,
  DEFAULT_DIAL_BACKOFF_BASE_MS,
  DEFAULT_MAX_ATTEMPTS_TO_DIAL,
  PEXSettingsSchema,
  type PEXReactorOptions,
  type PEXSettings,
} from './options.js';
export { HANGUP_WINDOW_MS, MAX_SEED_BACKOFF_MS } from './dialer.js';
export {
  createNode,
  parseNodeConfig,
  PEXConfigSchema,
  NodeConfigSchema,
  type CreateNodeOptions,
  type NodeConfig,
  type NodeConfigInput,
  type PEXConfig,
  type SwitchboardNode,
} from './node.js';
