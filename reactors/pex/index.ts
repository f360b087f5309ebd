/**
 * The PEX (peer exchange) reactor and its address book, as CometBFT's
 * `p2p/pex` package: {@link AddrBook} (bucketed, persisted), {@link PEXReactor}
 * (channel 0x00), the PEX wire messages and the book's tuning constants.
 *
 * ```ts
 * import { AddrBook, PEXReactor } from 'switchboard/reactors/pex';
 * sw.addReactor('pex', new PEXReactor(new AddrBook('addrbook.json'), { seeds }));
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
export * from './params.js';
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
export {
  PEXReactor,
  PexAbuseError,
  PexDialRefusedError,
  DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_CRAWL_PERIOD_MS,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
  DEFAULT_SEED_DISCONNECT_WAIT_MS,
  DEFAULT_BAN_MS,
  DEFAULT_DIAL_BACKOFF_BASE_MS,
  DEFAULT_MAX_ATTEMPTS_TO_DIAL,
  SEED_BIAS_TOWARDS_NEW_ADDRS,
  type PEXReactorOptions,
  type PexAbuseReason,
  type PexDialRefusal,
} from './reactor.js';
