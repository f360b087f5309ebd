/**
 * The upgrade of raw connections to authenticated peer connections, over any
 * {@link Transport}: SecretConnection, then the NodeInfo exchange and
 * compatibility check — under one handshake deadline, as CometBFT's
 * `p2p.MultiplexTransport`.
 *
 * Admission of inbound connections, so that honest peers win against
 * connections that hold handshake slots without doing a handshake:
 * - at most `maxHandshaking` connections are in the handshake at once; when
 *   the table is full a newcomer evicts the pending connection that has made
 *   the least progress (fewest bytes received, the oldest among equals:
 *   `ERR_HANDSHAKE_EVICTED`) instead of being refused — a silent socket costs
 *   an attacker nothing, an honest peer sends its key at once, so silent
 *   sockets evict each other and the honest handshake completes;
 * - a connection that has not sent its first 32 bytes (the ephemeral key)
 *   within `handshakeKeyTimeoutMs` is closed (`ERR_HANDSHAKE_TIMEOUT`);
 *   `handshakeTimeoutMs` stays the bound of the whole upgrade;
 * - per routable remote IP (loopback and private addresses are exempt, so
 *   local testnets work) at most `maxHandshakingPerIp` connections in the
 *   handshake (`ERR_CONN_LIMIT`) and `maxInboundConnRatePerIp` new
 *   connections per second (`ERR_CONN_RATE`), as Tendermint's
 *   `conn_tracker` and js-libp2p's `inboundConnectionThreshold`.
 * Every refused or evicted connection is reported to `onInboundError` with
 * its code (the Switch counts and logs them).
 *
 * @module
 */
import ipaddr from 'ipaddr.js';
import type { Duplex } from 'node:stream';
import { AuthError, HandshakeError, NodeInfoError, RejectedError, SwitchboardError } from './errors.js';
import { NetAddress } from './net-address.js';
import { MAX_NODE_INFO_SIZE, NodeInfo } from './node-info.js';
import type { NodeKey } from './node-key.js';
import { SecretConnection } from './conn/secret-connection.js';
import type { RawConnection, Transport } from './transport.js';
import { TCPTransport } from './transport-tcp.js';

/** {@link MultiplexTransport} settings (ms for times). */
export interface MultiplexTransportOptions {
  /** What carries the raw connections. Default a {@link TCPTransport} with `dialTimeoutMs`. */
  transport?: Transport;
  /** Our identity: authenticates SecretConnections. */
  nodeKey: NodeKey;
  /** Our NodeInfo, read at each handshake. */
  nodeInfo: () => NodeInfo;
  /** Deadline for the whole upgrade: SecretConnection + NodeInfo exchange (ms). Default 20000, as CometBFT. */
  handshakeTimeoutMs?: number;
  /** Deadline for the TCP connect of a dial (ms), when `transport` is not given. Default 3000, as CometBFT. */
  dialTimeoutMs?: number;
  /** Skip SecretConnection (benchmarks and tests only; never on a real network). Default false. */
  plaintext?: boolean;
  /** Connections allowed in the handshake at once; a newcomer beyond it evicts the one with the least progress. Default 64. */
  maxHandshaking?: number;
  /** An inbound connection must send its first 32 bytes (its ephemeral key) within this (ms). Default 5000. */
  handshakeKeyTimeoutMs?: number;
  /** Inbound connections from one routable IP in the handshake at once. Default 8. */
  maxHandshakingPerIp?: number;
  /** New inbound connections per second accepted from one routable IP. Default 10. */
  maxInboundConnRatePerIp?: number;
  /**
   * Called for each inbound connection before the handshake (no crypto spent
   * yet); reject to refuse it. Used by the Switch for bans, duplicate IPs
   * and connection filters.
   */
  filterConn?: (remoteHost: string, remotePort: number) => Promise<void>;
}

/** A socket that passed the handshake: the stream to run an MConnection over and the peer's NodeInfo. */
export interface UpgradedConn {
  /** The upgraded stream (a SecretConnection, or the socket when plaintext). */
  conn: Duplex;
  /** The remote's validated, compatible NodeInfo. */
  nodeInfo: NodeInfo;
  /** True when we dialed. */
  outbound: boolean;
  /** Remote IP of the connection (`''` when the transport has none: Unix sockets). */
  remoteHost: string;
  /** Remote port of the connection (0 when none). */
  remotePort: number;
}

/** An inbound connection in the handshake. */
interface Pending {
  raw: RawConnection;
  host: string;
  /** Set when evicted by a newer connection (its failure is reported as `ERR_HANDSHAKE_EVICTED`). */
  evicted?: boolean;
  /** Set when it sent no key within `handshakeKeyTimeoutMs`. */
  keyTimedOut?: boolean;
  keyTimer: NodeJS.Timeout;
}

/** Connections per second of one IP: a fixed one-second window. */
interface RateWindow {
  start: number;
  n: number;
}

/** Remembered rate windows at most before stale ones are swept. */
const MAX_RATE_ENTRIES = 4096;
/** Bytes a connection must send before `handshakeKeyTimeoutMs` (the X25519 ephemeral key). */
const FIRST_MESSAGE_BYTES = 32;

/** True when `host` is a publicly routable unicast IP (loopback, private, link-local, … are not). */
function routableIp(host: string): boolean {
  try {
    return ipaddr.process(host).range() === 'unicast';
  } catch {
    return false;
  }
}

/**
 * Listens for and dials raw connections over a {@link Transport} and
 * upgrades them. Inbound results go to `onInbound`; handshake failures of
 * inbound connections to `onInboundError` (the connection is already closed).
 */
export class MultiplexTransport {
  /** The transport carrying the raw connections. */
  readonly transport: Transport;
  /** Deadline of an upgrade (ms). */
  readonly handshakeTimeoutMs: number;
  /** True when connections are not encrypted (tests and benchmarks). */
  readonly plaintext: boolean;
  /** Inbound connections allowed in the handshake at once. */
  readonly maxHandshaking: number;
  /** Deadline of an inbound connection's first 32 bytes (ms). */
  readonly handshakeKeyTimeoutMs: number;
  /** Inbound connections in the handshake at once per routable IP. */
  readonly maxHandshakingPerIp: number;
  /** New inbound connections per second per routable IP. */
  readonly maxInboundConnRatePerIp: number;
  /** Inbound connections in the handshake, oldest first. */
  private readonly pending = new Map<RawConnection, Pending>();
  private readonly rates = new Map<string, RateWindow>();
  private closed = false;

  constructor(
    private readonly opts: MultiplexTransportOptions,
    private readonly onInbound: (c: UpgradedConn) => void,
    private readonly onInboundError: (err: SwitchboardError, remote: string) => void,
  ) {
    this.transport = opts.transport ?? new TCPTransport({ dialTimeoutMs: opts.dialTimeoutMs });
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 20_000;
    this.plaintext = opts.plaintext ?? false;
    this.maxHandshaking = opts.maxHandshaking ?? 64;
    this.handshakeKeyTimeoutMs = opts.handshakeKeyTimeoutMs ?? 5_000;
    this.maxHandshakingPerIp = opts.maxHandshakingPerIp ?? 8;
    this.maxInboundConnRatePerIp = opts.maxInboundConnRatePerIp ?? 10;
  }

  /** Connections currently in the handshake. */
  get handshakingCount(): number {
    return this.pending.size;
  }

  /**
   * Listen on `addr` (a TCP port 0 picks a free port).
   * @returns the bound address (no id). Rejects with the listen error (EADDRINUSE, …).
   */
  listen(addr: NetAddress): Promise<NetAddress> {
    return this.transport.listen(addr, (raw) => this.accept(raw));
  }

  private accept(raw: RawConnection): void {
    const conn = raw.conn;
    conn.on('error', () => {}); // a reset during the filter must not crash the process
    if (this.closed) {
      conn.destroy();
      return;
    }
    const { host, port } = raw.remote;
    const remote = host ? `${host}:${port}` : `${this.transport.protocol} connection`;
    const refusal = this.admit(host);
    if (refusal) {
      conn.destroy();
      this.onInboundError(refusal, remote);
      return;
    }
    const p: Pending = {
      raw,
      host,
      keyTimer: setTimeout(() => {
        if (raw.bytesRead() >= FIRST_MESSAGE_BYTES) return;
        p.keyTimedOut = true;
        conn.destroy();
      }, this.handshakeKeyTimeoutMs),
    };
    this.pending.set(raw, p);
    const done = () => {
      clearTimeout(p.keyTimer);
      this.pending.delete(raw);
    };
    const filter = this.opts.filterConn;
    (filter ? filter(host, port) : Promise.resolve())
      .then(() => this.upgrade(raw, false, undefined))
      .then(
        (c) => {
          done();
          if (p.evicted) {
            c.conn.destroy();
            this.onInboundError(new RejectedError('ERR_HANDSHAKE_EVICTED', `${remote} was evicted from the handshake table`), remote);
          } else this.onInbound(c);
        },
        (err: SwitchboardError) => {
          done();
          conn.destroy();
          const e = p.evicted
            ? new RejectedError('ERR_HANDSHAKE_EVICTED', `${remote} was evicted from the handshake table by a newer connection`)
            : p.keyTimedOut
              ? new HandshakeError(`${remote} sent no ephemeral key within ${this.handshakeKeyTimeoutMs} ms`, { timeout: true })
              : err;
          this.onInboundError(e, remote);
        },
      );
  }

  /**
   * Admission of an inbound connection from `host` (module doc): undefined to
   * admit (evicting the least advanced pending handshake if the table is
   * full), else the refusal.
   */
  private admit(host: string): RejectedError | undefined {
    if (routableIp(host)) {
      let inHandshake = 0;
      for (const p of this.pending.values()) if (p.host === host) inHandshake++;
      if (inHandshake >= this.maxHandshakingPerIp)
        return new RejectedError('ERR_CONN_LIMIT', `${host} already has ${inHandshake} connections in the handshake`);
      const now = Date.now();
      let w = this.rates.get(host);
      if (!w || now - w.start >= 1000) {
        if (!w && this.rates.size >= MAX_RATE_ENTRIES) for (const [h, v] of this.rates) if (now - v.start >= 1000) this.rates.delete(h);
        w = { start: now, n: 0 };
        this.rates.set(host, w);
      }
      if (++w.n > this.maxInboundConnRatePerIp)
        return new RejectedError('ERR_CONN_RATE', `${host} opened more than ${this.maxInboundConnRatePerIp} connections in a second`);
    }
    if (this.pending.size < this.maxHandshaking) return undefined;
    let victim: Pending | undefined;
    // an evicted connection leaves `pending` at once, so every entry is a candidate; oldest first: ties keep the oldest
    for (const p of this.pending.values()) if (!victim || p.raw.bytesRead() < victim.raw.bytesRead()) victim = p;
    if (!victim) return new RejectedError('ERR_TOO_MANY_HANDSHAKES', `${this.pending.size} connections already in the handshake`);
    victim.evicted = true;
    this.pending.delete(victim.raw);
    clearTimeout(victim.keyTimer);
    victim.raw.conn.destroy();
    return undefined;
  }

  /**
   * Dial `addr` over the transport and upgrade. The remote must authenticate as `addr.id`.
   * Rejects with RejectedError `ERR_DIAL_TIMEOUT`/`ERR_DIAL` when the
   * connect fails, HandshakeError on a failed or timed-out handshake,
   * AuthError (`ERR_AUTH`) when the remote's key is not `addr.id`, NodeInfoError
   * when incompatible, RejectedError `ERR_SWITCH_STOPPED` after close.
   */
  async dial(addr: NetAddress, signal?: AbortSignal): Promise<UpgradedConn> {
    if (this.closed) throw new RejectedError('ERR_SWITCH_STOPPED', 'transport closed');
    const raw = await this.transport.dial(addr, signal);
    return this.upgrade(raw, true, addr.id || undefined);
  }

  /**
   * SecretConnection (unless plaintext) then the NodeInfo exchange, all under
   * `handshakeTimeoutMs`. On failure the connection is destroyed.
   */
  private async upgrade(raw: RawConnection, outbound: boolean, expectedId: string | undefined): Promise<UpgradedConn> {
    const socket = raw.conn;
    socket.on('error', () => {}); // errors surface through the handshake's reads
    const remoteHost = raw.remote.host;
    const remotePort = raw.remote.port;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HandshakeError(
              `handshake with ${remoteHost ? `${remoteHost}:${remotePort}` : 'a ' + this.transport.protocol + ' peer'} timed out after ${this.handshakeTimeoutMs} ms`,
              { timeout: true },
            ),
          ),
        this.handshakeTimeoutMs,
      );
    });
    try {
      return await Promise.race([deadline, this.doUpgrade(socket, outbound, expectedId, remoteHost, remotePort)]);
    } catch (err) {
      socket.destroy();
      throw err instanceof SwitchboardError ? err : new HandshakeError(`handshake failed: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private async doUpgrade(
    socket: Duplex,
    outbound: boolean,
    expectedId: string | undefined,
    remoteHost: string,
    remotePort: number,
  ): Promise<UpgradedConn> {
    let conn: Duplex = socket;
    let authId: string | undefined;
    if (!this.plaintext) {
      const sc = await SecretConnection.make(socket, this.opts.nodeKey, { handshakeTimeoutMs: this.handshakeTimeoutMs });
      // errors after the handshake reach the MConnection's own listener; never crash the process meanwhile
      sc.on('error', () => {});
      conn = sc;
      authId = sc.remoteId;
      if (expectedId !== undefined && authId !== expectedId) {
        sc.destroy();
        throw new AuthError(`dialed ${expectedId} but the remote authenticated as ${authId}`);
      }
    }
    const ours = this.opts.nodeInfo();
    const [, theirs] = await Promise.all([writeNodeInfo(conn, ours), readNodeInfo(conn)]);
    if (authId !== undefined && theirs.id !== authId) {
      throw new AuthError(`NodeInfo claims id ${theirs.id} but the remote authenticated as ${authId}`);
    }
    if (expectedId !== undefined && theirs.id !== expectedId) {
      throw new RejectedError('ERR_PEER_ID_MISMATCH', `dialed ${expectedId} but the remote is ${theirs.id}`);
    }
    ours.compatibleWith(theirs);
    return { conn, nodeInfo: theirs, outbound, remoteHost, remotePort };
  }

  /** Stop listening and destroy every connection the transport opened or accepted (closes the transport). */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pending.values()) clearTimeout(p.keyTimer);
    await this.transport.close();
  }
}

/** Write `u32 BE length ‖ MessagePack(NodeInfo)` (docs/PROTOCOL.md §3). */
function writeNodeInfo(conn: Duplex, info: NodeInfo): Promise<void> {
  const body = info.encode();
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, 4);
  return new Promise((resolve, reject) => {
    conn.write(frame, (err) => (err ? reject(new HandshakeError(`writing NodeInfo failed: ${err.message}`, { cause: err })) : resolve()));
  });
}

/** Read one length-prefixed NodeInfo, bounding the length before reading the body. */
async function readNodeInfo(conn: Duplex): Promise<NodeInfo> {
  const len = (await readExactly(conn, 4)).readUInt32BE(0);
  if (len > MAX_NODE_INFO_SIZE) throw new NodeInfoError(`NodeInfo length ${len} exceeds ${MAX_NODE_INFO_SIZE} bytes`, { invalid: true });
  return NodeInfo.decode(await readExactly(conn, len));
}

/**
 * Read exactly `n` bytes in paused mode, leaving anything after them in the
 * stream's buffer for the next reader. Rejects with HandshakeError when the
 * stream ends, closes or errors first.
 */
export function readExactly(stream: Duplex, n: number): Promise<Buffer> {
  if (n === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const onReadable = () => {
      const b = stream.read(n) as Buffer | null;
      if (b === null) return;
      cleanup();
      if (b.length < n) reject(new HandshakeError('connection closed during handshake'));
      else resolve(b);
    };
    const onEnd = () => {
      cleanup();
      reject(new HandshakeError('connection closed during handshake'));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(
        err instanceof SwitchboardError ? err : new HandshakeError(`connection failed during handshake: ${err.message}`, { cause: err }),
      );
    };
    const cleanup = () => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}
