/**
 * A "link": one end of the message pipe under test, over a connected TCP
 * socket. Three kinds, compared in the report:
 *
 * - `mconn`: MConnection over SecretConnection, as shipped (encrypted);
 * - `plain`: MConnection straight over the socket (`--plaintext`);
 * - `raw`: the W8 baseline, {@link RawConnection}.
 *
 * Both ends of a link must use the same kind and the same channels.
 *
 * @module
 */
import type { Socket } from 'node:net';
import type { ChannelDescriptor } from '../lib/conn/channel.js';
import { DEFAULT_MCONN_CONFIG, type MConnConfig } from '../lib/conn/mconn-config.js';
import { MConnection } from '../lib/conn/mconnection.js';
import { SecretConnection } from '../lib/conn/secret-connection.js';
import { NodeKey } from '../lib/node-key.js';
import { RawConnection } from './raw-tcp.js';

/** What carries the messages. */
export type LinkKind = 'mconn' | 'plain' | 'raw';

/** Human-readable name of a link kind, for tables. */
export const LINK_LABELS: Readonly<Record<LinkKind, string>> = {
  mconn: 'MConnection+SecretConnection',
  plain: 'MConnection plaintext',
  raw: 'raw TCP (W8)',
};

/** Send queue capacity of every benchmark channel (messages). */
export const BENCH_SEND_QUEUE_CAPACITY = 4096;

/** The sending side of a link: MConnection's API (the raw baseline ignores channel ids). */
export interface Link {
  trySend(channelId: number, msg: Uint8Array): boolean;
  send(channelId: number, msg: Uint8Array, opts?: { timeoutMs?: number }): Promise<boolean>;
  stop(): void;
}

/** Callbacks of a link. */
export interface LinkHandlers {
  /** Every complete message; a returned Promise pauses the channel (W10 only; the raw link ignores it). */
  onReceive(channelId: number, msg: Uint8Array): void | Promise<unknown>;
  /** The first error; the link is stopped. */
  onError(err: Error): void;
}

/**
 * Set up a link of `kind` over `socket` and start it. For `mconn` this runs
 * the SecretConnection handshake with a fresh node key (the other end must
 * be doing the same). The MConnection uses {@link DEFAULT_MCONN_CONFIG}
 * (as shipped) with `mconn` overrides (the `--mconn` option; none by default).
 */
export async function openLink(
  socket: Socket,
  kind: LinkKind,
  channels: ChannelDescriptor[],
  h: LinkHandlers,
  mconn: Partial<MConnConfig> = {},
): Promise<Link> {
  socket.setNoDelay(true);
  if (kind === 'raw') return new RawConnection(socket, h.onReceive, h.onError, BENCH_SEND_QUEUE_CAPACITY);
  const stream = kind === 'mconn' ? await SecretConnection.make(socket, NodeKey.generate()) : socket;
  const mc = new MConnection(stream, channels, h.onReceive, h.onError, { ...DEFAULT_MCONN_CONFIG, ...mconn });
  mc.start();
  return mc;
}
