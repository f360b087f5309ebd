/**
 * PEX wire messages, as CometBFT's `PexRequest` / `PexAddrs`
 * (`proto/cometbft/p2p/v1/pex.proto`), encoded with MessagePack instead of
 * protobuf (docs/PROTOCOL.md, "PEX messages").
 *
 * Layout (every message is one MessagePack map, keys in this order when
 * encoded; a decoder accepts any order but no other key):
 *
 * - `PexRequest`: `{ "t": "req" }`
 * - `PexAddrs`:   `{ "t": "addrs", "addrs": [ { "id": <40 hex>, "host": <IP literal>, "port": <1..65535> }, ... ] }`
 *   with at most {@link MAX_PEX_ADDRS} (250) entries.
 *
 * Example: a PexRequest is the 7 bytes `81 a1 74 a3 72 65 71`.
 *
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import { isIP } from 'node:net';
import { InvalidArgumentError, MalformedPacketError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { isValidNodeId } from '../../lib/node-key.js';
import { MAX_GET_SELECTION } from './params.js';

/** The PEX channel id, as CometBFT's `PexChannel` (0x00). */
export const PEX_CHANNEL = 0x00;

/** Most addresses one {@link PexAddrs} may carry (CometBFT's `maxGetSelection`, 250). */
export const MAX_PEX_ADDRS = MAX_GET_SELECTION;

/** Longest `host` accepted on the wire, characters (an IPv6 literal with a zone id fits). */
export const MAX_PEX_HOST_LENGTH = 64;

/**
 * Upper bound of one encoded address entry, bytes (CometBFT's
 * `maxAddressSize` is 256 for protobuf; ours: map header 1 + `"id"` 3 + id 42
 * + `"host"` 5 + host ≤ 66 + `"port"` 5 + port ≤ 3 = 125, rounded up).
 */
export const MAX_PEX_ADDRESS_SIZE = 128;

/**
 * Largest encoded PEX message, bytes: 250 addresses × 128 + 64 bytes of
 * envelope = 32 064 (CometBFT's `maxMsgSize` = maxAddressSize × maxGetSelection).
 * It is the PEX channel's `recvMessageCapacity`.
 */
export const MAX_PEX_MESSAGE_SIZE = MAX_PEX_ADDRS * MAX_PEX_ADDRESS_SIZE + 64;

/** Ask a peer for addresses (CometBFT's `PexRequest`). */
export interface PexRequest {
  /** Discriminator. */
  readonly type: 'request';
}

/** Addresses sent in answer to a {@link PexRequest} (CometBFT's `PexAddrs`). */
export interface PexAddrs {
  /** Discriminator. */
  readonly type: 'addrs';
  /** 0..250 addresses, each with a node ID, an IP literal host and a port 1..65535. */
  readonly addrs: readonly NetAddress[];
}

/** A decoded PEX message. */
export type PexMessage = PexRequest | PexAddrs;

const REQUEST_BYTES = encode({ t: 'req' });

/** Encode a {@link PexRequest}: always `81 a1 74 a3 72 65 71`. */
export function encodePexRequest(): Uint8Array {
  return REQUEST_BYTES.slice();
}

/**
 * Encode a {@link PexAddrs} carrying `addrs`.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for more than
 *   {@link MAX_PEX_ADDRS} addresses, (`ERR_INVALID_ADDRESS`) for an address
 *   that {@link decodePexMessage} would refuse (no ID, a host name instead of
 *   an IP, port 0, a host longer than {@link MAX_PEX_HOST_LENGTH}).
 */
export function encodePexAddrs(addrs: readonly NetAddress[]): Uint8Array {
  if (addrs.length > MAX_PEX_ADDRS)
    throw new InvalidArgumentError(`a PexAddrs carries at most ${MAX_PEX_ADDRS} addresses, got ${addrs.length}`);
  const wire = addrs.map((a) => {
    const why = wireAddressProblem(a.id, a.host, a.port);
    if (why) throw new InvalidArgumentError(`cannot send ${a} in a PexAddrs: ${why}`, 'ERR_INVALID_ADDRESS');
    return { id: a.id, host: a.host, port: a.port };
  });
  return encode({ t: 'addrs', addrs: wire });
}

/**
 * True when `addr` may travel in a {@link PexAddrs}: it has a node ID, an IP
 * literal host of at most {@link MAX_PEX_HOST_LENGTH} characters, and a port 1..65535.
 */
export function isPexWireAddress(addr: NetAddress): boolean {
  return wireAddressProblem(addr.id, addr.host, addr.port) === undefined;
}

/** Encode either message. @throws as {@link encodePexAddrs}. */
export function encodePexMessage(msg: PexMessage): Uint8Array {
  return msg.type === 'request' ? encodePexRequest() : encodePexAddrs(msg.addrs);
}

/**
 * Decode and validate one PEX message. Never allocates more than the input
 * allows: the input is bounded by {@link MAX_PEX_MESSAGE_SIZE} before decoding,
 * and the decoder by string (64), array (256), map (8) and bin/ext (0) limits.
 *
 * @throws MalformedPacketError (`ERR_MALFORMED_PACKET`) when `bytes` is larger
 *   than {@link MAX_PEX_MESSAGE_SIZE}, is not exactly one MessagePack value, is
 *   not a map of the layout above (unknown `t`, missing or extra keys), carries
 *   more than {@link MAX_PEX_ADDRS} addresses, or any address has an invalid
 *   `id` (not 40 lower-case hex), `host` (not an IP literal of at most 64
 *   characters) or `port` (not an integer 1..65535).
 */
export function decodePexMessage(bytes: Uint8Array): PexMessage {
  if (!(bytes instanceof Uint8Array)) throw malformed('message is not bytes');
  if (bytes.length > MAX_PEX_MESSAGE_SIZE) throw malformed(`message of ${bytes.length} bytes exceeds ${MAX_PEX_MESSAGE_SIZE}`);
  let raw: unknown;
  try {
    raw = decode(bytes, {
      maxStrLength: MAX_PEX_HOST_LENGTH,
      maxBinLength: 0,
      maxArrayLength: 256,
      maxMapLength: 8,
      maxExtLength: 0,
    });
  } catch (err) {
    throw malformed(`not valid MessagePack: ${(err as Error).message}`, err);
  }
  if (!isPlainMap(raw)) throw malformed('message is not a map');
  const keys = Object.keys(raw);
  if (raw.t === 'req') {
    if (keys.length !== 1) throw malformed('PexRequest has keys other than "t"');
    return { type: 'request' };
  }
  if (raw.t !== 'addrs') throw malformed(`unknown message type ${describe(raw.t)}`);
  if (keys.length !== 2 || !Object.hasOwn(raw, 'addrs')) throw malformed('PexAddrs must have exactly the keys "t" and "addrs"');
  const list = raw.addrs;
  if (!Array.isArray(list)) throw malformed('PexAddrs.addrs is not an array');
  if (list.length > MAX_PEX_ADDRS) throw malformed(`PexAddrs carries ${list.length} addresses, at most ${MAX_PEX_ADDRS} are allowed`);
  const addrs: NetAddress[] = [];
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i];
    if (!isPlainMap(e)) throw malformed(`PexAddrs.addrs[${i}] is not a map`);
    const n = Object.keys(e).length;
    if (n !== 3 || !Object.hasOwn(e, 'id') || !Object.hasOwn(e, 'host') || !Object.hasOwn(e, 'port')) {
      throw malformed(`PexAddrs.addrs[${i}] must have exactly the keys "id", "host" and "port"`);
    }
    const why = wireAddressProblem(e.id, e.host, e.port);
    if (why) throw malformed(`PexAddrs.addrs[${i}]: ${why}`);
    // wireAddressProblem above refuses every (id, host, port) the NetAddress constructor would: the
    // catch guards against a stricter NetAddress, unreachable today (stryker/EQUIVALENTS.md)
    try {
      addrs.push(new NetAddress(e.id as string, e.host as string, e.port as number));
    } catch (err) {
      // Stryker disable next-line StringLiteral: unreachable, see above
      throw malformed(`PexAddrs.addrs[${i}]: ${(err as Error).message}`, err);
    }
  }
  return { type: 'addrs', addrs };
}

/** Why `(id, host, port)` may not travel in a PexAddrs, or undefined when it may. */
function wireAddressProblem(id: unknown, host: unknown, port: unknown): string | undefined {
  if (typeof id !== 'string' || !isValidNodeId(id)) return 'id must be 40 lower-case hex characters';
  if (typeof host !== 'string' || host.length === 0 || host.length > MAX_PEX_HOST_LENGTH || isIP(host) === 0) {
    return `host must be an IP literal of at most ${MAX_PEX_HOST_LENGTH} characters`;
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return 'port must be an integer in 1..65535';
  return undefined;
}

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && Object.getPrototypeOf(v) === Object.prototype
  );
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 16)) : typeof v;
}

function malformed(why: string, cause?: unknown): MalformedPacketError {
  return new MalformedPacketError(`invalid PEX message: ${why}`, cause === undefined ? undefined : { cause });
}
