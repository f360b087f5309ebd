/**
 * Network addresses of peers: `id@host:port`, as CometBFT's `p2p.NetAddress`,
 * and `id@unix:///path/to.sock` for Unix domain sockets.
 *
 * @module
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from './errors.js';
import { isValidNodeId } from './node-key.js';

/** Longest host name accepted (RFC 1035: 253 characters). */
const MAX_HOST_LENGTH = 253;
const LABEL_RE = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
/** Longest Unix socket path (bytes): Linux's `sun_path` holds 108 bytes with the terminating NUL. */
export const MAX_UNIX_PATH_LENGTH = 107;
const UNIX_PREFIX = 'unix://';

/** Address schemes a {@link NetAddress} can carry: `tcp` (host and port) or `unix` (a socket path). */
export type NetProtocol = 'tcp' | 'unix';

/**
 * A peer address `id@host:port`. `host` is an IPv4 address, an IPv6 address
 * (written in brackets in the string form) or a DNS name; `id` is the
 * 40-hex-character node ID, or `''` when the address carries none (a bare
 * `host:port`, allowed only where {@link NetAddress.parse} is told so).
 * With `protocol` `'unix'` it is `id@unix:///abs/path.sock`: `host` holds
 * the absolute socket path and `port` is 0; such an address is local, never
 * routable, and never travels in PEX (which carries IP addresses only).
 */
export class NetAddress {
  /** Node ID (40 lower-case hex), or `''` when unknown. */
  readonly id: string;
  /** IP literal (no brackets) or DNS name. */
  readonly host: string;
  /** TCP port, 1..65535 (0 only for listen addresses meaning "any", and for Unix sockets). */
  readonly port: number;
  /** `'tcp'` (default) or `'unix'`. */
  readonly protocol: NetProtocol;

  /**
   * @param protocol default `'tcp'`; with `'unix'`, `host` is the socket path and `port` must be 0.
   * @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) for a malformed id, host, path or port.
   */
  constructor(id: string, host: string, port: number, protocol: NetProtocol = 'tcp') {
    if (id !== '' && !isValidNodeId(id)) throw addrError(`${id}@${host}:${port}`, 'node ID must be 40 lower-case hex characters');
    if (protocol === 'unix') {
      const why = unixPathProblem(host);
      if (why) throw addrError(`${id}@${UNIX_PREFIX}${host}`, why);
      if (port !== 0) throw addrError(`${id}@${UNIX_PREFIX}${host}`, 'a Unix socket address has no port');
    } else {
      if (protocol !== 'tcp') throw addrError(`${id}@${host}:${port}`, `unknown protocol ${JSON.stringify(protocol)}`);
      if (!isValidHost(host)) throw addrError(`${id}@${host}:${port}`, `invalid host ${JSON.stringify(host)}`);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw addrError(`${id}@${host}:${port}`, `port must be 0..65535`);
    }
    this.id = id;
    this.host = host;
    this.port = port;
    this.protocol = protocol;
  }

  /**
   * Parse a listen address: `[tcp://]host:port` (port 0 picks a free port;
   * IPv6 in brackets) or `unix:///abs/path.sock`. No node ID.
   * @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`).
   */
  static parseListen(s: string): NetAddress {
    if (typeof s === 'string' && s.startsWith(UNIX_PREFIX)) return new NetAddress('', s.slice(UNIX_PREFIX.length), 0, 'unix');
    const raw = typeof s === 'string' ? s.replace(/^tcp:\/\//, '') : '';
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(raw);
    const host = m?.[1] ?? m?.[2]; // the regex holds one of the two and the port when it matches
    const port = Number(m?.[3]);
    if (host === undefined || !(port <= 65535) || (m?.[1] !== undefined && isIP(host) !== 6) || !isValidHost(host)) {
      throw new InvalidArgumentError(
        `invalid listen address ${JSON.stringify(s)} (expected host:port or unix:///path)`,
        'ERR_INVALID_ADDRESS',
      );
    }
    return new NetAddress('', host, port);
  }

  /** The same address with node ID `id`. @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) for a malformed id. */
  withId(id: string): NetAddress {
    return new NetAddress(id, this.host, this.port, this.protocol);
  }

  /**
   * Parse `id@host:port`, `id@[v6]:port`, `id@unix:///abs/path.sock`, or
   * (with `requireId: false`) the same without `id@`.
   * @param s the address string (at most 400 characters).
   * @param opts.requireId default true.
   * @throws InvalidArgumentError (`ERR_INVALID_ADDRESS`) naming what is wrong:
   *   a missing or malformed ID, a missing port, a port outside 1..65535, an
   *   IPv6 literal without brackets, an invalid host name, a Unix socket
   *   path that is relative, longer than 107 bytes (Linux's `sun_path` less its NUL) or holds a NUL.
   */
  static parse(s: string, opts: { requireId?: boolean } = {}): NetAddress {
    const requireId = opts.requireId ?? true;
    if (typeof s !== 'string' || s.length === 0) throw addrError(String(s), 'empty address');
    if (s.length > 400) throw addrError(s.slice(0, 40) + '…', 'address longer than 400 characters');
    let rest = s;
    let id = '';
    const at = s.indexOf('@');
    if (at >= 0) {
      id = s.slice(0, at);
      rest = s.slice(at + 1);
      if (!isValidNodeId(id)) throw addrError(s, 'node ID must be 40 lower-case hex characters');
    } else if (requireId) {
      throw addrError(s, 'missing node ID (expected id@host:port)');
    }
    if (rest.startsWith(UNIX_PREFIX)) return new NetAddress(id, rest.slice(UNIX_PREFIX.length), 0, 'unix');
    let host: string;
    let portStr: string;
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      if (close < 0) throw addrError(s, 'unclosed "[" in IPv6 address');
      host = rest.slice(1, close);
      if (isIP(host) !== 6) throw addrError(s, `invalid IPv6 address ${JSON.stringify(host)}`);
      if (rest[close + 1] !== ':') throw addrError(s, 'missing port');
      portStr = rest.slice(close + 2);
    } else {
      const colon = rest.lastIndexOf(':');
      if (colon < 0) throw addrError(s, 'missing port');
      host = rest.slice(0, colon);
      portStr = rest.slice(colon + 1);
      if (host.includes(':')) throw addrError(s, 'IPv6 addresses must be in brackets: id@[::1]:26656');
    }
    if (!/^[0-9]{1,5}$/.test(portStr)) throw addrError(s, `invalid port ${JSON.stringify(portStr)}`);
    const port = Number(portStr);
    if (port < 1 || port > 65535) throw addrError(s, `port ${port} out of range 1..65535`);
    return new NetAddress(id, host, port);
  }

  /** `host:port` with IPv6 in brackets; `unix:///path` for a Unix socket. */
  dialString(): string {
    if (this.protocol === 'unix') return UNIX_PREFIX + this.host;
    return isIP(this.host) === 6 ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** `id@host:port` (or `host:port` when there is no ID). */
  toString(): string {
    return this.id ? `${this.id}@${this.dialString()}` : this.dialString();
  }

  /** Same id, protocol, host and port. */
  equals(other: NetAddress): boolean {
    return this.id === other.id && this.protocol === other.protocol && this.host === other.host && this.port === other.port;
  }

  /** True when `host` is an IP literal (not a DNS name, not a Unix socket path). */
  isIP(): boolean {
    return this.protocol === 'tcp' && isIP(this.host) !== 0;
  }

  /**
   * True for loopback addresses (127/8, ::1), `localhost` and Unix sockets, as CometBFT's `Local()`.
   */
  local(): boolean {
    if (this.protocol === 'unix' || this.host === 'localhost') return true;
    if (!this.isIP()) return false;
    return ipaddr.process(this.host).range() === 'loopback';
  }

  /**
   * True when the address is a publicly routable unicast IP (as CometBFT's
   * `Routable()`): not loopback, private (RFC 1918, ULA), link-local,
   * unspecified, multicast, documentation, CGNAT or other reserved ranges.
   * DNS names are not routable (they must be resolved first).
   */
  routable(): boolean {
    if (this.protocol !== 'tcp' || !this.isIP() || this.port === 0) return false;
    return ipaddr.process(this.host).range() === 'unicast';
  }

  /** Plain `{ id, host, port }` for serialisation (of TCP addresses: a Unix socket's would lose its protocol; use `toString()`). */
  toJSON(): {
    /** Node ID. */
    id: string;
    /** Host: IP literal or DNS name. */
    host: string;
    /** TCP port. */
    port: number;
  } {
    return { id: this.id, host: this.host, port: this.port };
  }
}

function isValidHost(host: string): boolean {
  if (typeof host !== 'string' || host.length === 0 || host.length > MAX_HOST_LENGTH) return false;
  if (isIP(host)) return true;
  if (/^[0-9.]+$/.test(host)) return false; // looks like a broken IPv4 literal
  return host.split('.').every((label) => LABEL_RE.test(label));
}

function unixPathProblem(path: string): string | undefined {
  if (typeof path !== 'string' || !path.startsWith('/')) return 'a Unix socket path must be absolute (unix:///path/to.sock)';
  if (path.includes('\0')) return 'a Unix socket path must not contain NUL';
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_LENGTH) return `a Unix socket path is at most ${MAX_UNIX_PATH_LENGTH} bytes`;
  return undefined;
}

function addrError(s: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`invalid address ${JSON.stringify(s)}: ${why}`, 'ERR_INVALID_ADDRESS');
}
