/**
 * Connection and peer filters, as CometBFT's `ConnFilterFunc` and
 * `PeerFilterFunc`: application checks the Switch runs on every inbound
 * connection before the handshake, and on every peer after it, each under
 * `filterTimeoutMs`.
 *
 * @module
 */
import { RejectedError } from './errors.js';
import type { NodeInfo } from './node-info.js';
import type { RemoteEndpoint } from './transport.js';

/**
 * Runs for each inbound connection before the handshake, as CometBFT's
 * `ConnFilterFunc`. Throw or reject to refuse (`ERR_FILTER`, with the filter's
 * message); taking longer than `filterTimeoutMs` refuses with `ERR_FILTER_TIMEOUT`.
 */
export type ConnFilter = (remote: RemoteEndpoint) => void | Promise<void>;

/**
 * Runs for each peer, inbound and outbound, after the handshake and before
 * any reactor sees it, as CometBFT's `PeerFilterFunc`. Same refusal rules as
 * {@link ConnFilter}.
 */
export type PeerFilter = (info: NodeInfo, remote: RemoteEndpoint) => void | Promise<void>;

/**
 * Run one filter (`run`, named `what` in errors) under a deadline of `timeoutMs`.
 * Rejects with RejectedError: the filter's own one, `ERR_FILTER` wrapping
 * anything else it threw, or `ERR_FILTER_TIMEOUT`.
 */
export function runFilter(run: () => void | Promise<void>, what: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new RejectedError('ERR_FILTER_TIMEOUT', `${what} took longer than ${timeoutMs} ms`)), timeoutMs);
    Promise.resolve()
      .then(run)
      .then(
        () => (clearTimeout(timer), resolve()),
        (err: unknown) => {
          clearTimeout(timer);
          reject(
            err instanceof RejectedError
              ? err
              : new RejectedError('ERR_FILTER', `${what} refused: ${(err as Error)?.message ?? err}`, { cause: err }),
          );
        },
      );
  });
}
