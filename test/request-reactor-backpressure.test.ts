// RequestReactor under backpressure: when the channel is full, `request`
// waits for room (bounded by its timeout) and never drops a request silently.
import t from 'tap';
import { NodeKey } from '../lib/node-key.js';
import type { Envelope } from '../lib/reactor.js';
import { RequestReactor } from '../lib/request-reactor.js';
import { Switch } from '../lib/switch.js';
import { INITIAL_WINDOW } from '../lib/conn/packet.js';
import { connect } from './helpers/switches.js';

const REQ = 0x41;

/**
 * Pause `rr`'s channel on its own node, as a slow reactor would: the next
 * message it receives is handled, and its `receive` then returns a Promise
 * that stays pending until `open()` (per-channel flow control: only this
 * channel stops; its credit is not returned to the sender).
 */
function gate(rr: RequestReactor) {
  let open!: () => void;
  const held = new Promise<void>((r) => (open = r));
  let shut!: () => void;
  const closed = new Promise<void>((r) => (shut = r));
  const receive = rr.receive.bind(rr);
  let once = false;
  rr.receive = (e: Envelope) => {
    const r = receive(e);
    if (once) return r;
    once = true;
    shut();
    return held;
  };
  return { open, closed };
}

t.test('a full channel makes request wait, bounded by its timeout; nothing is dropped', async (t) => {
  const mk = (handler?: ConstructorParameters<typeof RequestReactor>[0]['handler']) => {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      config: { listenAddress: '127.0.0.1:0', mconn: { recvWindowBytes: INITIAL_WINDOW } },
    });
    const rr = sw.addReactor(
      new RequestReactor({ channelId: REQ, handler, sendQueueCapacity: 1, maxRequestBytes: 256 << 10, stallLimit: 0, timeoutMs: 60_000 }),
    );
    t.teardown(() => sw.stop());
    return { sw, rr };
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
  // b's request channel stops reading from a, after answering one request
  const g = gate(b.rr);
  t.equal((await a.rr.request(peer, Buffer.from('hold')))[0], 'h'.charCodeAt(0));
  await g.closed;
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
  g.open();
  const [x1, x2] = await Promise.all([r1, r2]);
  t.equal(x1?.[0], 1);
  t.equal(x2?.[0], 2);
  t.equal(handled, 3, 'the remote never saw the request that timed out before it was queued (it handled hold, r1, r2)');
  t.same(a.rr.inFlight(peer), { outgoing: 0, incoming: 0 });
  t.equal((await a.rr.request(peer, big(4)))[0], 4, 'the channel works on');
});
