/**
 * The Unix domain socket transport: peers on one host (a sidecar, a local
 * test network) over `unix:///path/to.sock` addresses. The socket file is
 * removed on `close()` (and a stale one left by a crashed process is
 * replaced at `listen()` only when nothing accepts on it).
 *
 * @module
 */
import { connect, type Server, type Socket } from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { NetAddress } from './net-address.js';
import { TCPTransport, type TCPTransportOptions } from './transport-tcp.js';
import type { AcceptHandler } from './transport.js';

/**
 * Listens on and dials Unix domain sockets (`unix:///abs/path.sock`; node IDs
 * apply as for TCP: `id@unix:///path`). Inbound connections have the remote
 * endpoint `{ host: '', port: 0 }` (a Unix socket has no peer address), so
 * per-IP admission limits do not apply; the overall `maxHandshaking` does.
 * Rejects a dial of a TCP address with RejectedError `ERR_DIAL`; `listen`
 * rejects with the system error (EADDRINUSE when another process serves the path).
 */
export class UnixTransport extends TCPTransport {
  override readonly protocol: string = 'unix';
  private path: string | undefined;

  constructor(opts: TCPTransportOptions = {}) {
    super(opts);
  }

  /** Listen on the socket path of `addr` (a `unix` NetAddress). */
  override async listen(addr: NetAddress, onAccept: AcceptHandler): Promise<NetAddress> {
    if (addr.protocol !== 'unix') throw new Error(`the unix transport cannot listen on ${addr}`);
    if (await staleSocket(addr.host)) unlinkSync(addr.host);
    const bound = await super.listen(addr, onAccept);
    this.path = addr.host;
    return bound;
  }

  /** Stop listening, destroy every connection and remove the socket file. */
  override async close(): Promise<void> {
    await super.close();
    const path = this.path;
    this.path = undefined;
    if (path) {
      try {
        unlinkSync(path); // node removes it on server.close(); this covers a server that never closed cleanly
      } catch {
        // already gone
      }
    }
  }

  /** @internal */
  protected override listenOptions(addr: NetAddress): { path: string } {
    return { path: addr.host };
  }

  /** @internal */
  protected override boundAddress(_server: Server, requested: NetAddress): NetAddress {
    return new NetAddress('', requested.host, 0, 'unix');
  }

  /** @internal */
  protected override connectSocket(addr: NetAddress): Socket {
    return connect({ path: addr.host });
  }
}

/** True when `path` is a socket file nobody accepts on (left by a crashed process). */
function staleSocket(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return Promise.resolve(false);
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}
