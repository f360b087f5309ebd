/**
 * The TCP transport: raw `net.Socket` connections (Nagle off), the default
 * {@link Transport} of a Switch, as CometBFT's TCP listener and dialer.
 *
 * @module
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { RejectedError, type SwitchboardError } from './errors.js';
import { NetAddress } from './net-address.js';
import type { AcceptHandler, RawConnection, Transport } from './transport.js';

/** {@link TCPTransport} settings. */
export interface TCPTransportOptions {
  /** Deadline for the connect of a dial (ms). Default 3000, as CometBFT. */
  dialTimeoutMs?: number;
}

/**
 * Listens for and dials TCP connections. Rejects a dial of an address of
 * another protocol with RejectedError `ERR_DIAL`.
 */
export class TCPTransport implements Transport {
  /** `'tcp'`. */
  readonly protocol: string = 'tcp';
  /** Deadline of a connect (ms). */
  readonly dialTimeoutMs: number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private closed = false;

  constructor(opts: TCPTransportOptions = {}) {
    this.dialTimeoutMs = opts.dialTimeoutMs ?? 3_000;
  }

  /** Listen on `addr.host:addr.port`. Rejects with the listen error (EADDRINUSE, …). */
  listen(addr: NetAddress, onAccept: AcceptHandler): Promise<NetAddress> {
    if (this.closed) return Promise.reject(new RejectedError('ERR_SWITCH_STOPPED', 'transport closed'));
    const server = createServer({ noDelay: true });
    this.server = server;
    server.on('connection', (socket) => {
      socket.on('error', () => {}); // a reset before anyone listens must not crash the process
      if (this.closed) return void socket.destroy();
      this.track(socket);
      onAccept(this.raw(socket));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenOptions(addr), () => {
        server.off('error', reject);
        server.on('error', () => {}); // accept errors (EMFILE…) are transient; keep serving
        try {
          resolve(this.boundAddress(server, addr));
        } catch (err) {
          server.close(); // a rejected listen leaves nothing listening
          reject(err);
        }
      });
    });
  }

  /**
   * Connect to `addr` within `dialTimeoutMs`. Rejects with RejectedError `ERR_DIAL_TIMEOUT`, `ERR_DIAL`
   * (refused, aborted — before any socket is opened when `signal` is already aborted — or closed
   * while connecting), `ERR_SWITCH_STOPPED` (closed, or `close()` called while connecting).
   */
  dial(addr: NetAddress, signal?: AbortSignal): Promise<RawConnection> {
    if (this.closed) return Promise.reject(new RejectedError('ERR_SWITCH_STOPPED', 'transport closed'));
    if (addr.protocol !== this.protocol)
      return Promise.reject(new RejectedError('ERR_DIAL', `cannot dial ${addr} over the ${this.protocol} transport`));
    const aborted = () => new RejectedError('ERR_DIAL', `dial ${addr} aborted`);
    if (signal?.aborted) return Promise.reject(aborted());
    return new Promise((resolve, reject) => {
      const socket = this.connectSocket(addr);
      this.track(socket);
      const fail = (err: SwitchboardError) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new RejectedError('ERR_DIAL_TIMEOUT', `dial ${addr} timed out after ${this.dialTimeoutMs} ms`)),
        this.dialTimeoutMs,
      );
      const onAbort = () => fail(aborted());
      const onError = (err: Error) => fail(new RejectedError('ERR_DIAL', `dial ${addr} failed: ${err.message}`, { cause: err }));
      // a destroy without an error (our close()) emits only 'close'
      const onClose = () =>
        fail(
          this.closed
            ? new RejectedError('ERR_SWITCH_STOPPED', 'transport closed')
            : new RejectedError('ERR_DIAL', `dial ${addr} closed while connecting`),
        );
      const onConnect = () => {
        cleanup();
        socket.on('error', () => {}); // errors surface through the handshake's reads
        resolve(this.raw(socket));
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('connect', onConnect);
        socket.off('close', onClose);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.once('connect', onConnect);
    });
  }

  /** Stop listening and destroy every socket this transport opened or accepted. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** @internal The `server.listen` options for `addr`. */
  protected listenOptions(addr: NetAddress): { host?: string; port?: number; path?: string } {
    return { host: addr.host, port: addr.port };
  }

  /** @internal The bound address after listening. */
  protected boundAddress(server: Server, _requested: NetAddress): NetAddress {
    const a = server.address();
    if (a === null || typeof a === 'string') throw new Error('unexpected server address');
    return new NetAddress('', a.address, a.port);
  }

  /** @internal A socket connecting to `addr`. */
  protected connectSocket(addr: NetAddress): Socket {
    return connect({ host: addr.host, port: addr.port, noDelay: true });
  }

  private raw(socket: Socket): RawConnection {
    return { conn: socket, remote: { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, bytesRead: () => socket.bytesRead };
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }
}
