/**
 * The address book's typed errors, as CometBFT's `p2p/pex/errors.go`.
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
