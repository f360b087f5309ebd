/**
 * The `Transport` interface: how a Switch gets raw connections — listen on
 * an address, accept inbound connections, dial an address — whatever carries
 * the bytes (TCP, a Unix domain socket, an in-memory link). What runs on
 * top (SecretConnection, the NodeInfo handshake, handshake admission) is
 * {@link MultiplexTransport}'s and is the same for every transport, as
 * CometBFT's `p2p.MultiplexTransport` over a `net.Listener`; Tendermint
 * 0.35's router takes transports in the same way (`transport_memory.go`
 * among them).
 *
 * @module
 */
import type { Duplex } from 'node:stream';
import type { NetAddress } from './net-address.js';

/** Remote end of a connection: its IP and port (`''` and 0 where the transport has none, as a Unix socket). */
export interface RemoteEndpoint {
  /** Remote IP. */
  host: string;
  /** Remote port. */
  port: number;
}

/** A raw connection, before any handshake. */
export interface RawConnection {
  /** The byte stream (a `net.Socket` for TCP and Unix sockets). */
  conn: Duplex;
  /**
   * The remote end: IP and port for TCP; `{ host: '', port: 0 }` for a Unix
   * socket; the dialer's virtual IP and an ephemeral port for a memory link.
   */
  remote: RemoteEndpoint;
  /** Bytes received on this connection so far (the handshake admission measures progress with it). */
  bytesRead(): number;
}

/** Called for each accepted inbound connection. */
export type AcceptHandler = (c: RawConnection) => void;

/**
 * A way to carry peer connections. Implementations: {@link TCPTransport}
 * (the default), `UnixTransport` (`unix:///path`), `MemoryTransport` (in-process links).
 *
 * Errors: `listen` rejects with the system error (EADDRINUSE, EACCES, …;
 * the Switch wraps it in a ListenError); `dial` rejects with RejectedError
 * `ERR_DIAL` (refused, unreachable, aborted, wrong protocol) or
 * `ERR_DIAL_TIMEOUT`, and `ERR_SWITCH_STOPPED` after `close()`.
 */
export interface Transport {
  /** The address scheme served: `'tcp'`, `'unix'`, `'memory'`. */
  readonly protocol: string;
  /**
   * Listen on `addr` (id ignored; a TCP or memory port 0 picks a free
   * port) and pass each inbound connection to `onAccept`.
   * @returns the bound address (no id), as peers should dial it.
   */
  listen(addr: NetAddress, onAccept: AcceptHandler): Promise<NetAddress>;
  /** Open a raw connection to `addr`; an aborted `signal` rejects with `ERR_DIAL`. */
  dial(addr: NetAddress, signal?: AbortSignal): Promise<RawConnection>;
  /** Stop listening and destroy every connection this transport opened or accepted. Idempotent. */
  close(): Promise<void>;
}
