// A peer's connection internals, read to bound buffers in memory tests:
// nothing here is public API, so it is in one place to change with it.
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { MConnection } from '../../lib/conn/mconnection.js';
import type { PacketDecoder } from '../../lib/conn/packet.js';
import type { Peer } from '../../lib/peer.js';

/** Internals of a peer's connection, for bounding buffers: the MConnection's stream and the socket under it. */
export function connInternals(peer: Peer): {
  mconn: MConnection;
  stream: Duplex;
  socket: Socket | undefined;
  /** Pongs queued to write (0 or 1: one pong answers any number of pings). */
  pongPending: number;
  decoderBuffered: number;
} {
  const mconn = (peer as unknown as { mconn: MConnection }).mconn; // private to the Peer: this test helper reaches in
  const m = mconn as unknown as { conn: Duplex; keepalive: { pongPending: boolean }; decoder: PacketDecoder };
  const stream = m.conn;
  const socket = (stream as unknown as { conn?: Socket }).conn ?? (stream instanceof net.Socket ? stream : undefined);
  return { mconn, stream, socket, pongPending: Number(m.keepalive.pongPending), decoderBuffered: m.decoder.bufferedBytes };
}
