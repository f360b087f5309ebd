// RequestReactor under backpressure: when the channel is full, `request`
// waits for room (bounded by its timeout) and never drops a request silently.
import t from 'tap';
import { NodeKey } from '../lib/node-key.js';
import { BaseReactor, type Envelope } from '../lib/reactor.js';
import { RequestReactor } from '../lib/request-reactor.js';
import { Switch } from '../lib/switch.js';
import { INITIAL_WINDOW } from '../lib/conn/packet.js';
import type { ChannelDescriptor } from '../lib/conn/channel.js';
import { connect } from './helpers/switches.js';

const REQ = 0x41;
const GATE = 0x42;

/** Holds the connection's reads while the test keeps the gate closed (receive returns a pending Promise). */
class GateReactor extends BaseReactor {
  open!: () => void;
  private readonly held = new Promise<void>((r) => (this.open = r));
  private shut!: () => void;
  /** Resolves once a gate message has paused the connection. */
  readonly closed = new Promise<void>((r) => (this.shut = r));
  constructor() {
    super('gate');
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: GATE }];
  }
  override receive(_e: Envelope): Promise<void> {
    this.shut();
    return this.held;
  }
}

t.test('a full channel makes request wait, bounded by its timeout; nothing is dropped', async (t) => {
  const mk = (handler?: ConstructorParameters<typeof RequestReactor>[0]['handler']) => {
    const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '127.0.0.1:0', mconn: { recvWindowBytes: INITIAL_WINDOW } } });
    const rr = sw.addReactor('req', new RequestReactor({ channelId: REQ, handler, sendQueueCapacity: 1, maxRequestBytes: 256 << 10, stallLimit: 0, timeoutMs: 60_000 }));
    const gate = sw.addReactor('gate', new GateReactor());
    t.teardown(() => sw.stop());
    return { sw, rr, gate };
  };
  let handled = 0;
  const a = mk();
  const b = mk(({ request }) => {
    handled++;
    return request.subarray(0, 8);
  });
  await a.sw.start();
  await b.sw.start();
  await connect(a.sw, b.sw);
  const peer = a.sw.peers.get(b.sw.nodeKey.id)!;
  // b stops reading from a
  t.ok(await peer.send(GATE, Buffer.from('hold')));
  await b.gate.closed;
  const big = (n: number) => Buffer.alloc(200 << 10, n);
  const settled: string[] = [];
  const track = (p: Promise<Uint8Array>, name: string) =>
    p.then(
      (r) => (settled.push(`${name} ok`), r),
      (err: { code?: string }) => (settled.push(`${name} ${err.code}`), undefined),
    );
  const r1 = track(a.rr.request(peer, big(1)), 'r1'); // being written, then stuck on the flow-control window
  const r2 = track(a.rr.request(peer, big(2)), 'r2'); // waits in the queue (capacity 1)
  const r3 = track(a.rr.request(peer, big(3), { timeoutMs: 300 }), 'r3'); // waits for room
  t.equal(await r3, undefined);
  t.same(settled, ['r3 ERR_REQUEST_TIMEOUT'], 'the request that found no room timed out, the others wait');
  t.same(a.rr.inFlight(peer).outgoing, 2, 'the one never queued left no slot behind');
  b.gate.open();
  const [x1, x2] = await Promise.all([r1, r2]);
  t.equal(x1?.[0], 1);
  t.equal(x2?.[0], 2);
  t.equal(handled, 2, 'the remote never saw the request that timed out before it was queued');
  t.same(a.rr.inFlight(peer), { outgoing: 0, incoming: 0 });
  t.equal((await a.rr.request(peer, big(4)))[0], 4, 'the channel works on');
});
