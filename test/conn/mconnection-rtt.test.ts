// RTT of the keepalive ping/pong: peer.status().rttMs (latest, SRTT as RFC 6298) and the Prometheus histogram.
import t from 'tap';
import { NodeKey } from '../../lib/node-key.js';
import { Switch } from '../../lib/switch.js';
import { P2PMetrics } from '../../lib/metrics.js';
import { RecordingReactor, connect } from '../helpers/switches.js';

t.test('each pong updates rttMs (latest and smoothed with alpha 1/8) and the RTT histogram', async (t) => {
  const metrics = new P2PMetrics();
  const mk = (m?: P2PMetrics) => {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      metrics: m,
      config: { listenAddress: '127.0.0.1:0', mconn: { pingIntervalMs: 20 } },
    });
    sw.addReactor(new RecordingReactor());
    t.teardown(() => sw.stop());
    return sw;
  };
  // every sample of a's single peer reaches the histogram through observeRtt: record them on the way
  const samples: number[] = [];
  const feed = metrics.observeRtt;
  (metrics as { observeRtt: (ms: number) => void }).observeRtt = (ms) => {
    samples.push(ms);
    feed(ms);
  };
  const a = mk(metrics);
  const b = mk();
  await a.start();
  await b.start();
  let unsampledAtAdd = false;
  // peer:add is emitted synchronously after the connection starts: no pong can have arrived yet
  a.once('peer:add', (p) => {
    unsampledAtAdd = p.status().rttMs === undefined && samples.length === 0;
  });
  await connect(a, b);
  const peer = a.peers.get(b.nodeKey.id)!;
  t.ok(unsampledAtAdd, 'no sample before the first pong');
  // five round trips (bounded: 20 ms pings, up to 10 s on a loaded machine)
  for (let i = 0; i < 1000 && samples.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(samples.length >= 5, `${samples.length} samples`);
  const s = peer.status().rttMs!;
  t.equal(s.latest, samples.at(-1), 'latest is the last sample');
  const [firstSample = NaN, ...later] = samples;
  let srtt = firstSample;
  for (const r of later) srtt = srtt + (r - srtt) / 8;
  t.ok(Math.abs(s.smoothed - srtt) < 1e-9, `smoothed ${s.smoothed} = SRTT ${srtt}`);
  t.ok(
    samples.every((r) => r > 0 && r < 10_000),
    'samples are plausible round trips',
  );
  const text = await metrics.registry.metrics();
  const count = Number(/switchboard_p2p_peer_rtt_seconds_count (\d+)/.exec(text)?.[1]);
  t.ok(count >= samples.length, `histogram observed every sample (${count})`);
});
