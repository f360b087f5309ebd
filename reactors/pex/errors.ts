/**
 * PEX's typed errors (the address book's and the reactor's), as CometBFT's
 * `p2p/pex/errors.go`.
 *
 * @module
 */
import { RejectedError } from '../../lib/errors.js';
import type { NetAddress } from '../../lib/net-address.js';

/** Why {@link AddrBook.addAddress} refused an address. */
export type AddrBookRejectReason = 'banned' | 'private' | 'private-source' | 'self' | 'non-routable';

/**
 * {@link AddrBook.addAddress} refused a well-formed address, as CometBFT's
 * `ErrAddressBanned`, `ErrAddrBookPrivate`, `ErrAddrBookPrivateSrc`,
 * `ErrAddrBookSelf`, `ErrAddrBookNonRoutable`. `code` is `ERR_BANNED` for a
 * banned address and `ERR_REJECTED` otherwise; `reason` tells which.
 */
export class AddrBookRejectedError extends RejectedError {
  /** Which rule refused the address. */
  readonly reason: AddrBookRejectReason;
  /** The refused address (for `private-source`, the address that was offered). */
  readonly addr: NetAddress;
  constructor(reason: AddrBookRejectReason, addr: NetAddress, message: string) {
    super(reason === 'banned' ? 'ERR_BANNED' : 'ERR_REJECTED', message);
    this.reason = reason;
    this.addr = addr;
  }
}

/** Why a peer was disconnected by PEX: see {@link PexAbuseError}. */
export type PexAbuseReason = 'request-too-soon' | 'unsolicited-addrs';

/**
 * A peer broke the PEX rules (CometBFT's `ErrReceivedPEXRequestTooSoon` and
 * `ErrUnsolicitedList`): it requested addresses too often, or sent addresses
 * we did not ask for. Code `ERR_REJECTED`; the peer is disconnected with this
 * error and banned for `banMs`.
 */
export class PexAbuseError extends RejectedError {
  /** Which rule was broken. */
  readonly reason: PexAbuseReason;
  /** The offending peer's ID. */
  readonly peerId: string;
  constructor(reason: PexAbuseReason, peerId: string, message: string) {
    super('ERR_REJECTED', message);
    this.reason = reason;
    this.peerId = peerId;
  }
}

/** Why `PEXReactor` did not dial an address (code `ERR_REJECTED` unless noted). */
export type PexDialRefusal = 'backoff' | 'max-attempts' | 'dialing-or-connected' | 'too-many-peers';

/**
 * PEX refused to dial an address itself, before asking the Switch:
 * `backoff` (a previous dial failed recently), `max-attempts` (too many
 * failures: the address is now banned), `dialing-or-connected`
 * (`ERR_DUPLICATE_PEER`), `too-many-peers` (`ERR_TOO_MANY_PEERS`).
 */
export class PexDialRefusedError extends RejectedError {
  /** Why the dial was refused. */
  readonly reason: PexDialRefusal;
  constructor(reason: PexDialRefusal, message: string) {
    super(
      reason === 'dialing-or-connected' ? 'ERR_DUPLICATE_PEER' : reason === 'too-many-peers' ? 'ERR_TOO_MANY_PEERS' : 'ERR_REJECTED',
      message,
    );
    this.reason = reason;
  }
}
