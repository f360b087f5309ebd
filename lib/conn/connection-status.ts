/**
 * What `MConnection.status()` reports: per connection, the wire rates and
 * totals and the keepalive's round-trip time; per channel, its queue,
 * scheduler measure, flow-control windows and whether it is paused.
 *
 * @module
 */
import type { Channel } from './channel.js';
import type { FlowRate } from './flow-rate.js';
import type { RttStatus } from './keepalive.js';

/** One channel in a {@link ConnectionStatus}. */
export interface ChannelStatus {
  /** Channel id. */
  id: number;
  /** Channel name (descriptor `name`). */
  name: string;
  /** Channel priority. */
  priority: number;
  /** Capacity of the send queue (messages). */
  sendQueueCapacity: number;
  /** Messages waiting (not counting one partly written). */
  sendQueueSize: number;
  /** Decayed bytes sent recently (the scheduler's measure). */
  recentlySent: number;
  /** Payload bytes sent / received on this channel since start. */
  bytesSent: number;
  /** Payload bytes received on this channel since start. */
  bytesRecv: number;
  /** The flow-control window we grant the peer on this channel (bytes; starts at `recvWindowBytes`, grows by auto-tuning). */
  recvWindow: number;
  /** Credit the peer has left us on this channel (bytes of msg packets we may send now). */
  sendCredit: number;
  /** True while this channel's receive handler is pending (the channel is paused). */
  paused: boolean;
}

/** Snapshot returned by `MConnection.status()`. */
export interface ConnectionStatus {
  /** Time since `start()` (ms). */
  durationMs: number;
  /** Moving-average rates (bytes/s) and totals (bytes) on the wire, headers included. */
  sendRate: number;
  /** Moving-average receive rate (bytes/s). */
  recvRate: number;
  /** Bytes written since start. */
  bytesSent: number;
  /** Bytes read since start. */
  bytesRecv: number;
  /** One entry per channel. */
  channels: ChannelStatus[];
  /**
   * Round-trip time of the keepalive ping/pong (ms): the latest sample and
   * the smoothed value, as TCP's SRTT (RFC 6298, alpha = 1/8). Absent until
   * the first pong (the first ping goes out when the connection starts). A round
   * trip during which our own reader was paused is not sampled (it measures
   * us, not the link), as Karn's rule skips ambiguous samples.
   */
  rttMs?: RttStatus;
}

/** The {@link ChannelStatus} of `c` now. */
export function channelStatus(c: Channel): ChannelStatus {
  return {
    id: c.desc.id,
    name: c.desc.name,
    priority: c.desc.priority,
    sendQueueCapacity: c.desc.sendQueueCapacity,
    sendQueueSize: c.queueSize,
    recentlySent: c.recentlySent,
    bytesSent: c.bytesSent,
    bytesRecv: c.bytesRecv,
    recvWindow: c.recvWindow,
    sendCredit: c.sendCredit,
    paused: c.blocked,
  };
}

/** The {@link ConnectionStatus} of a connection `durationMs` old with these meters, channels and round-trip time. */
export function connectionStatus(
  durationMs: number,
  sendFlow: FlowRate,
  recvFlow: FlowRate,
  channels: readonly Channel[],
  rtt: RttStatus | undefined,
): ConnectionStatus {
  return {
    durationMs,
    sendRate: sendFlow.rate(),
    recvRate: recvFlow.rate(),
    bytesSent: sendFlow.total,
    bytesRecv: recvFlow.total,
    channels: channels.map(channelStatus),
    ...(rtt ? { rttMs: { ...rtt } } : {}),
  };
}
