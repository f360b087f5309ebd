/**
 * NodeInfo: what a node tells a peer about itself in the handshake, and the
 * compatibility check, as CometBFT's `p2p.DefaultNodeInfo`.
 *
 * Encoded as MessagePack (docs/PROTOCOL.md §3), at most
 * {@link MAX_NODE_INFO_SIZE} bytes.
 *
 * @module
 */
import { decode, encode } from '@msgpack/msgpack';
import { NodeInfoError } from './errors.js';
import { NetAddress } from './net-address.js';
import { isValidNodeId } from './node-key.js';

/** Largest encoded NodeInfo accepted (bytes), as CometBFT's `maxNodeInfoSize`. */
export const MAX_NODE_INFO_SIZE = 10240;
/** Most channels a node may advertise (the id space is 0..255). */
export const MAX_NUM_CHANNELS = 256;
/**
 * Version of this wire protocol (packets, frames, handshake); peers must match.
 * 2: NodeInfo carries `channelVersions` (docs/PROTOCOL.md §3).
 * 3: flow control per channel — window updates name their channel (§4).
 */
export const P2P_PROTOCOL_VERSION = 3;
/** Most versions one channel may advertise. */
export const MAX_CHANNEL_VERSIONS = 8;

const MAX_MONIKER = 128;
const MAX_NETWORK = 64;
const MAX_VERSION = 64;
const MAX_OTHER_ENTRIES = 16;
const MAX_OTHER_KEY = 64;
const MAX_OTHER_VALUE = 256;

/**
 * Protocol versions, as CometBFT's `ProtocolVersion`: `p2p` is this wire
 * protocol (must match), `block` the application's block protocol (must
 * match when both set it non-zero), `app` informational.
 */
export interface ProtocolVersion {
  /** This wire protocol's version; peers must match. */
  p2p: number;
  /** The application's block protocol; must match when both are non-zero. */
  block: number;
  /** The application's version (informational). */
  app: number;
}

/** Plain fields of a NodeInfo. */
export interface NodeInfoFields {
  /** Protocol versions (see {@link ProtocolVersion}). */
  protocolVersion: ProtocolVersion;
  /** Node ID, 40 hex characters. */
  id: string;
  /** Address the node accepts connections on, `host:port`. */
  listenAddr: string;
  /** Network (chain) name; peers must be on the same one. 1..64 printable ASCII characters. */
  network: string;
  /** Software version, informational. Up to 64 printable ASCII characters. */
  version: string;
  /** Channel ids the node has reactors for (unique, 0..255). */
  channels: Uint8Array;
  /**
   * The versions of each channel, parallel to `channels`: entry i lists the
   * versions the node speaks on `channels[i]`, 1..{@link MAX_CHANNEL_VERSIONS}
   * strictly ascending integers in 1..2^32−1. Default `[1]` for every channel.
   */
  channelVersions: number[][];
  /** Human-readable name, 1..128 printable characters. */
  moniker: string;
  /** Free-form string pairs (≤ 16 entries, keys ≤ 64 and values ≤ 256 characters). */
  other: Record<string, string>;
}

/**
 * A node's self-description. Construct with {@link NodeInfo.create} (which
 * validates) or {@link NodeInfo.decode} (from the wire).
 */
export class NodeInfo implements NodeInfoFields {
  /** Protocol versions (see {@link ProtocolVersion}). */
  readonly protocolVersion: ProtocolVersion;
  readonly id: string;
  readonly listenAddr: string;
  readonly network: string;
  readonly version: string;
  readonly channels: Uint8Array;
  readonly channelVersions: number[][];
  readonly moniker: string;
  readonly other: Record<string, string>;

  private constructor(f: NodeInfoFields) {
    this.protocolVersion = f.protocolVersion;
    this.id = f.id;
    this.listenAddr = f.listenAddr;
    this.network = f.network;
    this.version = f.version;
    this.channels = f.channels;
    this.channelVersions = f.channelVersions;
    this.moniker = f.moniker;
    this.other = f.other;
  }

  /**
   * Build and validate. `protocolVersion` defaults to `{ p2p: P2P_PROTOCOL_VERSION, block: 0, app: 0 }`,
   * `version` to `''`, `other` to `{}`, `channelVersions` to `[1]` for every channel.
   * @throws NodeInfoError (`ERR_INVALID_NODE_INFO`) naming the invalid field,
   *   or when the encoding would exceed {@link MAX_NODE_INFO_SIZE}.
   */
  static create(f: Omit<NodeInfoFields, 'protocolVersion' | 'version' | 'other' | 'channelVersions'> & Partial<NodeInfoFields>): NodeInfo {
    const info = new NodeInfo({
      protocolVersion: f.protocolVersion ?? { p2p: P2P_PROTOCOL_VERSION, block: 0, app: 0 },
      version: f.version ?? '',
      other: f.other ?? {},
      id: f.id,
      listenAddr: f.listenAddr,
      network: f.network,
      channels: f.channels,
      channelVersions: f.channelVersions ?? defaultVersions(f.channels),
      moniker: f.moniker,
    });
    info.validate();
    const size = info.encode().length;
    if (size > MAX_NODE_INFO_SIZE) invalid(`encoded NodeInfo of ${size} bytes exceeds ${MAX_NODE_INFO_SIZE}`);
    return info;
  }

  /** A copy with some fields replaced (validated); new `channels` without `channelVersions` get `[1]` each. */
  with(f: Partial<NodeInfoFields>): NodeInfo {
    const cv = f.channels && !f.channelVersions ? { channelVersions: defaultVersions(f.channels) } : {};
    return NodeInfo.create({ ...this.fields(), ...f, ...cv });
  }

  /**
   * Check every field, as CometBFT's `DefaultNodeInfo.Validate`.
   * @throws NodeInfoError (`ERR_INVALID_NODE_INFO`).
   */
  validate(): void {
    const pv = this.protocolVersion;
    if (typeof pv !== 'object' || pv === null || !isU32(pv.p2p) || !isU32(pv.block) || !isU32(pv.app))
      invalid('protocolVersion must be {p2p, block, app} of unsigned 32-bit integers');
    if (!isValidNodeId(this.id)) invalid('id must be 40 lower-case hex characters');
    if (typeof this.listenAddr !== 'string') invalid('listenAddr must be a string');
    try {
      NetAddress.parse(this.listenAddr, { requireId: false });
    } catch (err) {
      invalid(`listenAddr: ${(err as Error).message}`);
    }
    if (!isAsciiText(this.network, 1, MAX_NETWORK)) invalid(`network must be 1..${MAX_NETWORK} printable ASCII characters`);
    if (!isAsciiText(this.version, 0, MAX_VERSION)) invalid(`version must be at most ${MAX_VERSION} printable ASCII characters`);
    if (!(this.channels instanceof Uint8Array) || this.channels.length > MAX_NUM_CHANNELS)
      invalid(`channels must be at most ${MAX_NUM_CHANNELS} bytes`);
    if (new Set(this.channels).size !== this.channels.length) invalid('channels must be unique');
    const cv = this.channelVersions;
    if (!Array.isArray(cv) || cv.length !== this.channels.length) invalid('channelVersions must be an array with one entry per channel');
    for (let i = 0; i < cv.length; i++) {
      const vs = cv[i];
      const ok =
        Array.isArray(vs) &&
        vs.length >= 1 &&
        vs.length <= MAX_CHANNEL_VERSIONS &&
        vs.every((v, j) => isU32(v) && v >= 1 && (j === 0 || v > vs[j - 1]));
      if (!ok)
        invalid(
          `channelVersions of channel 0x${this.channels[i].toString(16)} must be 1..${MAX_CHANNEL_VERSIONS} strictly ascending integers in 1..2^32-1`,
        );
    }
    if (typeof this.moniker !== 'string' || this.moniker.length < 1 || this.moniker.length > MAX_MONIKER || /\p{Cc}/u.test(this.moniker)) {
      invalid(`moniker must be 1..${MAX_MONIKER} printable characters`);
    }
    if (typeof this.other !== 'object' || this.other === null || Array.isArray(this.other)) invalid('other must be a map of strings');
    const entries = Object.entries(this.other);
    if (entries.length > MAX_OTHER_ENTRIES) invalid(`other has more than ${MAX_OTHER_ENTRIES} entries`);
    for (const [k, v] of entries) {
      if (k.length > MAX_OTHER_KEY || typeof v !== 'string' || v.length > MAX_OTHER_VALUE)
        invalid(`other.${k.slice(0, 64)} is too long or not a string`);
    }
  }

  /**
   * Throw unless a peer with `other` can talk to us, as CometBFT's
   * `CompatibleWith`: same p2p protocol version, same block protocol (when
   * both set one), same network, and at least one common channel.
   * @throws NodeInfoError (`ERR_INCOMPATIBLE_PEER`) saying which check failed.
   */
  compatibleWith(other: NodeInfo): void {
    if (this.protocolVersion.p2p !== other.protocolVersion.p2p) {
      throw new NodeInfoError(`peer speaks p2p protocol ${other.protocolVersion.p2p}, we speak ${this.protocolVersion.p2p}`);
    }
    const a = this.protocolVersion.block;
    const b = other.protocolVersion.block;
    if (a !== 0 && b !== 0 && a !== b) throw new NodeInfoError(`peer is on block protocol ${b}, we are on ${a}`);
    if (this.network !== other.network)
      throw new NodeInfoError(`peer is on network ${JSON.stringify(other.network)}, we are on ${JSON.stringify(this.network)}`);
    if (this.channels.length === 0) return; // we have no reactors: accept anyone (as CometBFT)
    const ours = new Set(this.channels);
    if (!other.channels.some((c) => ours.has(c))) {
      throw new NodeInfoError(`no common channel: peer has [${hexList(other.channels)}], we have [${hexList(this.channels)}]`);
    }
    if (matchChannelVersions(this, other).size === 0) {
      throw new NodeInfoError(`no common channel version: peer has ${versionList(other)}, we have ${versionList(this)}`);
    }
  }

  /** The versions advertised for channel `id` (ascending), or undefined when the node lacks the channel. */
  channelVersionsOf(id: number): readonly number[] | undefined {
    const i = this.channels.indexOf(id);
    return i < 0 ? undefined : this.channelVersions[i];
  }

  /** The advertised listen address with the node ID, `id@host:port`. */
  netAddress(): NetAddress {
    return NetAddress.parse(this.listenAddr, { requireId: false }).withId(this.id);
  }

  /** True when the node advertised channel `id`. */
  hasChannel(id: number): boolean {
    return this.channels.includes(id);
  }

  /** MessagePack encoding (docs/PROTOCOL.md §3). */
  encode(): Uint8Array {
    return encode(this.fields());
  }

  /**
   * Decode and validate a NodeInfo from the wire.
   * @throws NodeInfoError (`ERR_INVALID_NODE_INFO`) when `bytes` is larger than
   *   {@link MAX_NODE_INFO_SIZE}, not MessagePack, of the wrong shape, or invalid.
   */
  static decode(bytes: Uint8Array): NodeInfo {
    if (bytes.length > MAX_NODE_INFO_SIZE) invalid(`encoded NodeInfo of ${bytes.length} bytes exceeds ${MAX_NODE_INFO_SIZE}`);
    let raw: unknown;
    try {
      raw = decode(bytes, {
        maxStrLength: MAX_NODE_INFO_SIZE,
        maxBinLength: MAX_NODE_INFO_SIZE,
        maxArrayLength: MAX_NUM_CHANNELS,
        maxMapLength: 64,
        maxExtLength: 0,
      });
    } catch (err) {
      throw new NodeInfoError(`NodeInfo is not valid MessagePack: ${(err as Error).message}`, { invalid: true, cause: err });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) invalid('NodeInfo must be a map');
    const r = raw as Record<string, unknown>;
    const pv = r.protocolVersion as Record<string, unknown> | undefined;
    const other = r.other;
    const info = new NodeInfo({
      protocolVersion: { p2p: pv?.p2p as number, block: pv?.block as number, app: pv?.app as number },
      id: r.id as string,
      listenAddr: r.listenAddr as string,
      network: r.network as string,
      version: r.version as string,
      channels: r.channels as Uint8Array,
      // a p2p-1 NodeInfo has no channelVersions: default them so compatibleWith names the version mismatch
      channelVersions: (r.channelVersions === undefined && pv?.p2p !== P2P_PROTOCOL_VERSION
        ? defaultVersions(r.channels as Uint8Array)
        : r.channelVersions) as number[][],
      moniker: r.moniker as string,
      other: (other ?? {}) as Record<string, string>,
    });
    info.validate();
    return info;
  }

  private fields(): NodeInfoFields {
    return {
      protocolVersion: { ...this.protocolVersion },
      id: this.id,
      listenAddr: this.listenAddr,
      network: this.network,
      version: this.version,
      channels: this.channels,
      channelVersions: this.channelVersions.map((vs) => [...vs]),
      moniker: this.moniker,
      other: { ...this.other },
    };
  }
}

/**
 * The version each channel both nodes have will speak: the highest version
 * both advertise, as go-ethereum's `matchProtocols`. Channels without a
 * common version (or that one side lacks) are absent from the map; such a
 * channel is inactive for that peer.
 * @returns channel id → agreed version.
 */
export function matchChannelVersions(ours: NodeInfo, theirs: NodeInfo): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < ours.channels.length; i++) {
    const remote = theirs.channelVersionsOf(ours.channels[i]);
    if (!remote) continue;
    const local = ours.channelVersions[i];
    // Stryker disable next-line ArithmeticOperator: starting past the end reads undefined twice, which no remote list includes
    for (let j = local.length - 1; j >= 0; j--) {
      if (remote.includes(local[j])) {
        out.set(ours.channels[i], local[j]);
        break;
      }
    }
  }
  return out;
}

function defaultVersions(channels: Uint8Array): number[][] {
  return channels instanceof Uint8Array ? Array.from(channels, () => [1]) : [];
}

function versionList(info: NodeInfo): string {
  return `{${Array.from(info.channels, (c, i) => `0x${c.toString(16).padStart(2, '0')}: [${info.channelVersions[i].join(', ')}]`).join(', ')}}`;
}

function invalid(why: string): never {
  throw new NodeInfoError(`invalid NodeInfo: ${why}`, { invalid: true });
}

function isU32(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function isAsciiText(s: unknown, min: number, max: number): boolean {
  return typeof s === 'string' && s.length >= min && s.length <= max && /^[\x20-\x7e]*$/.test(s);
}

function hexList(ch: Uint8Array): string {
  return Array.from(ch, (c) => '0x' + c.toString(16).padStart(2, '0')).join(', ');
}
