/**
 * What an application says of itself in its NodeInfo, and how the Switch
 * makes our NodeInfo from it once it listens (id, channels and their
 * versions, and the listen address filled in).
 *
 * @module
 */
import type { ChannelDescriptor } from './conn/channel.js';
import { NodeInfo, type ProtocolVersion } from './node-info.js';

/** The parts of our NodeInfo an application sets; id, channels and listenAddr are filled by the Switch. */
export interface NodeInfoSettings {
  /** Network (chain) name; peers must match. Default `switchboard`. */
  network?: string;
  /** Default: the first 8 characters of the node ID. */
  moniker?: string;
  /** The application's version string. Default `''`. */
  version?: string;
  /** Default `{ p2p: 1, block: 0, app: 0 }`. */
  protocolVersion?: ProtocolVersion;
  /** Free-form string pairs peers can see (at most 16). Default `{}`. */
  other?: Record<string, string>;
}

/**
 * Our NodeInfo: node `id`, advertised `listenAddr`, `settings` with their
 * defaults, and each channel with its versions (ascending).
 * @throws NodeInfoError or InvalidArgumentError from `NodeInfo.create` for invalid settings.
 */
export function ourNodeInfo(id: string, listenAddr: string, settings: NodeInfoSettings, channels: readonly ChannelDescriptor[]): NodeInfo {
  return NodeInfo.create({
    id,
    listenAddr,
    network: settings.network ?? 'switchboard',
    moniker: settings.moniker ?? id.slice(0, 8),
    version: settings.version ?? '',
    protocolVersion: settings.protocolVersion,
    other: settings.other ?? {},
    channels: Uint8Array.from(channels.map((c) => c.id)),
    // each channel's versions, ascending (NodeInfo rejects duplicates and out-of-range values)
    channelVersions: channels.map((c) => [...(c.versions ?? [1])].sort((a, b) => a - b)),
  });
}
