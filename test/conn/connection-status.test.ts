// The status snapshot of an MConnection (lib/conn/connection-status.ts): each field from its source,
// a copy of the RTT, no rttMs before the first pong.
import t from 'tap';
import type { Channel } from '../../lib/conn/channel.js';
import type { FlowRate } from '../../lib/conn/flow-rate.js';
import { channelStatus, connectionStatus } from '../../lib/conn/connection-status.js';

const chan = (id: number, blocked: boolean) =>
  ({
    desc: { id, name: `ch${id}`, priority: id * 2, sendQueueCapacity: 100 + id },
    queueSize: 3 + id,
    recentlySent: 10.5 + id,
    bytesSent: 1000 + id,
    bytesRecv: 2000 + id,
    recvWindow: 3000 + id,
    sendCredit: 4000 + id,
    blocked,
  }) as unknown as Channel;
const flow = (rate: number, total: number) => ({ rate: () => rate, total }) as unknown as FlowRate;

t.test('channelStatus: each field from the channel and its descriptor', async (t) => {
  t.same(channelStatus(chan(1, true)), {
    id: 1,
    name: 'ch1',
    priority: 2,
    sendQueueCapacity: 101,
    sendQueueSize: 4,
    recentlySent: 11.5,
    bytesSent: 1001,
    bytesRecv: 2001,
    recvWindow: 3001,
    sendCredit: 4001,
    paused: true,
  });
  t.equal(channelStatus(chan(2, false)).paused, false);
});

t.test('connectionStatus: rates and totals of each direction, every channel, the RTT once known (a copy)', async (t) => {
  const rtt = { latest: 3, smoothed: 2.5 };
  const s = connectionStatus(1234, flow(10, 100), flow(20, 200), [chan(1, false), chan(2, true)], rtt);
  t.same(s, {
    durationMs: 1234,
    sendRate: 10,
    recvRate: 20,
    bytesSent: 100,
    bytesRecv: 200,
    channels: [channelStatus(chan(1, false)), channelStatus(chan(2, true))],
    rttMs: { latest: 3, smoothed: 2.5 },
  });
  rtt.latest = 99;
  t.equal(s.rttMs?.latest, 3, 'the RTT is a copy');
  const none = connectionStatus(0, flow(0, 0), flow(0, 0), [], undefined);
  t.notOk('rttMs' in none, 'no rttMs before the first pong');
  t.same(none.channels, []);
});
