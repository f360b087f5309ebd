/**
 * MConnection settings: one zod schema gives each field's type, default and
 * range ({@link MConnConfigSchema}); the type ({@link MConnConfig}), the
 * defaults ({@link DEFAULT_MCONN_CONFIG}) and the check the MConnection
 * constructor runs ({@link parseMConnConfig}) are derived from it, and
 * `P2PConfig.mconn` (lib/config.ts) composes it. Units: ms for times, bytes
 * for sizes, bytes/s for rates. docs/operations.md lists every field.
 *
 * @module
 */
import { z } from 'zod';
import { parseConfig } from '../parse-config.js';
import { INITIAL_WINDOW, MAX_PACKET_PAYLOAD_LIMIT, MAX_WINDOW } from './packet.js';

/**
 * The schema of {@link MConnConfig}: every field optional on input, its
 * default filled on output; unknown keys are errors. Besides each field's
 * range, `idleTimeoutMs` must exceed `pingIntervalMs` (or be 0) and
 * `maxRecvWindowBytes` must be at least `recvWindowBytes`.
 */
export const MConnConfigSchema = z
  .object({
    /** Send rate limit (bytes/s); 0 = unlimited. Default 0 (CometBFT's node config uses 5120000). */
    sendRate: z.number().nonnegative().default(0),
    /** Receive rate limit (bytes/s); 0 = unlimited. Default 0. */
    recvRate: z.number().nonnegative().default(0),
    /**
     * Largest data of one msg packet (bytes), 1..1048576. Default 16384: large
     * enough that per-packet work does not bound throughput, small enough that a
     * high-priority packet waits at most ~16 KiB behind a bulk channel.
     * CometBFT uses 1024. Both ends must agree (a peer sending larger packets
     * than ours accepts is disconnected).
     */
    maxPacketMsgPayloadSize: z.number().int().min(1).max(MAX_PACKET_PAYLOAD_LIMIT).default(16384),
    /**
     * Longest a queued packet waits before it is written (ms). 0 (default):
     * written at the end of the current event-loop turn, batching everything
     * queued in that turn into one write. CometBFT v1 uses 10 ms.
     */
    flushThrottleMs: z.number().nonnegative().default(0),
    /** Bytes per socket write at most (a batch of packets). Default 65536. */
    maxBatchBytes: z.number().int().positive().default(65536),
    /**
     * Flow-control window we grant the peer on each channel at start (bytes
     * of msg packets, headers included, that may be in flight to us
     * unconsumed on that channel), 65536..2^31−1. Default 1048576. It bounds
     * what sits in socket buffers ahead of a high-priority packet (so the
     * priority scheduler keeps its meaning under bulk traffic) and what a peer
     * can make us hold for a paused channel. Credit is returned (HTTP/2-style
     * window updates, RFC 9113 §6.9) each time a quarter of the window has
     * been consumed; a channel whose receive handler is pending returns none.
     * Smaller windows cut the wait of urgent packets behind bulk, larger ones
     * raise bulk throughput on long links (see benchmarks/README.md, W5).
     */
    recvWindowBytes: z
      .number()
      .int()
      .min(INITIAL_WINDOW)
      .max(MAX_WINDOW)
      .default(1 << 20),
    /**
     * Most bytes the receive windows of all channels may add up to by
     * auto-tuning (each starts at `recvWindowBytes` and doubles while its
     * reader keeps up with a sender the window holds back), recvWindowBytes..2^31−1.
     * Default 16777216 (16 MiB): a window of 8 MiB or more on one channel, line
     * rate over a 100 ms, 640 Mbit/s path.
     */
    maxRecvWindowBytes: z
      .number()
      .int()
      .min(INITIAL_WINDOW)
      .max(MAX_WINDOW)
      .default(16 << 20),
    /** Interval between pings (ms). Default 60000, as CometBFT. The first goes out at start, then round-trip probes 1, 2, 4 … s after each pong while under this interval (`RTT_PROBE_FIRST_MS`). */
    pingIntervalMs: z.number().positive().default(60_000),
    /** Time to wait for a pong (ms) before failing with `ERR_PONG_TIMEOUT`. Default 45000, as CometBFT. */
    pongTimeoutMs: z.number().positive().default(45_000),
    /** Default timeout of a blocking `send()` (ms); 0 = wait forever. Default 10000, as CometBFT's `defaultSendTimeout`. */
    sendTimeoutMs: z.number().nonnegative().default(10_000),
    /** Longest `flushStop()` waits for the queues to drain before closing anyway (ms). Default 10000. */
    flushStopTimeoutMs: z.number().positive().default(10_000),
    /**
     * Blocked `send()` callers allowed at once per channel; past it `send`
     * resolves false at once. Default 1024 (the gossip example's history of
     * 1000 messages to a new peer fits). CometBFT does not bound them.
     */
    maxSendWaiters: z.number().int().positive().default(1024),
    /**
     * Bytes held for sending to this peer, summed over its channels (queued
     * messages and the ones being cut into packets; a blocked sender's message
     * is the sender's until queued): past it `trySend` returns false and `send`
     * waits for room, except that each channel may always hold its share
     * (this ÷ channels) and one message — so the total stays under 2 × this
     * plus a message per channel, and a channel the peer has stopped cannot
     * lock the others out. Default 16777216 (16 MiB).
     */
    maxSendBufferBytes: z
      .number()
      .int()
      .positive()
      .default(16 << 20),
    /**
     * A peer that lets us make no progress while we have data for it — no
     * flow-control credit, or a socket that does not drain — for this long is
     * disconnected with `ERR_SEND_STALL` (ms); 0 = never. Default 30000
     * (shorter than a ping interval plus pong timeout).
     */
    sendStallTimeoutMs: z.number().nonnegative().default(30_000),
    /**
     * Nothing at all received (not even a pong to our pings) for this long
     * disconnects with `ERR_IDLE_TIMEOUT` (ms); 0 = never. Must exceed
     * `pingIntervalMs` (our pings draw a pong from a live peer). Default 90000.
     */
    idleTimeoutMs: z.number().nonnegative().default(90_000),
    /** A packet whose first bytes arrived must be complete within this (ms), else `ERR_RECV_STALL`; 0 = never. Default 10000. */
    packetTimeoutMs: z.number().nonnegative().default(10_000),
    /**
     * A message sent in several packets must be complete within this (ms) of
     * its first packet, else `ERR_RECV_STALL`; 0 = never. Default 120000 (a
     * 21 MiB message at 180 kB/s).
     */
    messageTimeoutMs: z.number().nonnegative().default(120_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.idleTimeoutMs > 0 && !(c.idleTimeoutMs > c.pingIntervalMs)) {
      ctx.addIssue({
        code: 'custom',
        path: ['idleTimeoutMs'],
        message: `must exceed pingIntervalMs (${c.pingIntervalMs}), or be 0; got ${c.idleTimeoutMs}`,
      });
    }
    if (c.maxRecvWindowBytes < c.recvWindowBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxRecvWindowBytes'],
        message: `must be at least recvWindowBytes (${c.recvWindowBytes}); got ${c.maxRecvWindowBytes}`,
      });
    }
  });

/**
 * MConnection settings, every field filled (see {@link MConnConfigSchema}
 * for each field's meaning, default and range). Units: ms for times, bytes
 * for sizes, bytes/s for rates.
 */
export type MConnConfig = z.output<typeof MConnConfigSchema>;

/**
 * Validate MConnection settings and fill the defaults; `undefined` fields
 * take their default.
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) listing every invalid
 *   or unknown field: `invalid MConnection config: pingIntervalMs: Too small: expected number to be >0`.
 */
export function parseMConnConfig(input: Partial<MConnConfig> = {}): MConnConfig {
  return parseConfig(MConnConfigSchema, input, 'invalid MConnection config');
}

/** Defaults of {@link MConnConfig} (what {@link MConnConfigSchema} fills in). */
export const DEFAULT_MCONN_CONFIG: Readonly<MConnConfig> = Object.freeze(parseMConnConfig({}));
