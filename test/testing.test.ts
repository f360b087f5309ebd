import t from 'tap';
import { once } from 'node:events';
import { BaseReactor, type Envelope } from '../lib/reactor.js';
import type { ChannelDescriptor } from '../lib/conn/channel.js';
import { MalformedPacketError } from '../lib/errors.js';
import { mconnectionPair, memoryDuplexPair, peerAdded, peerRemoved, startSwitchPair, WaitTimeoutError } from '../lib/testing.js';

/** Answers "ping" with "pong" on channel 0x40; throws on anything else; records what it got. */
class PingReactor extends BaseReactor {
  readonly got: string[] = [];
  constructor(
    private readonly id = 0x40,
    name = 'ping',
  ) {
    super(name);
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: this.id, sendQueueCapacity: 4 }];
  }
  override receive({ channelId, src, message }: Envelope): void {
    const text = Buffer.from(message).toString();
    this.got.push(text);
    if (text === 'ping') src.trySend(channelId, Buffer.from('pong'));
    else if (text !== 'pong') throw new MalformedPacketError(`not ping/pong: ${text}`);
  }
}

t.test('startSwitchPair: both Switches hold each other and exchange messages; stop() stops both', async (t) => {
  const ra = new PingReactor();
  const rb = new PingReactor();
  const pair = await startSwitchPair({ a: [ra], b: [rb] });
  t.teardown(pair.stop);
  t.equal(pair.toB.id, pair.b.nodeKey.id);
  t.equal(pair.toA.id, pair.a.nodeKey.id);
  t.ok(pair.toB.isOutbound());
  t.notOk(pair.toA.isOutbound());
  t.ok(pair.a.peers.has(pair.b.nodeKey.id) && pair.b.peers.has(pair.a.nodeKey.id));

  const answered = new Promise<void>((resolve) => {
    const orig = ra.receive.bind(ra);
    ra.receive = (e) => (orig(e), resolve());
  });
  t.ok(await pair.toB.send(0x40, Buffer.from('ping')));
  await answered;
  t.same(rb.got, ['ping']);
  t.same(ra.got, ['pong']);

  // a hostile message: peerRemoved gives the typed reason
  const removed = peerRemoved(pair.b, pair.a.nodeKey.id);
  await pair.toB.send(0x40, Buffer.from('junk'));
  t.match(await removed, { code: 'ERR_MALFORMED_PACKET' });

  await pair.stop();
  t.equal(pair.a.peers.size, 0);
  await t.rejects(pair.a.dialPeerWithAddress(pair.b.listenAddr), { code: 'ERR_SWITCH_STOPPED' });
  await pair.stop(); // twice: never rejects
});

t.test('startSwitchPair: a failure stops what was started and passes the typed error on', async (t) => {
  await t.rejects(startSwitchPair({ a: [new PingReactor(0x40, 'one'), new PingReactor(0x40, 'two')], b: [] }), {
    code: 'ERR_CHANNEL_TAKEN',
  });
  // a refused dial: the dial's typed error, and both Switches stopped (their reactors' stop ran)
  const stopped: string[] = [];
  class Stopping extends PingReactor {
    constructor(readonly who: string) {
      super();
    }
    override stop(): void {
      stopped.push(this.who);
    }
  }
  await t.rejects(startSwitchPair({ a: [new Stopping('a')], b: [new Stopping('b')], config: { maxNumOutboundPeers: 0 } }), {
    code: 'ERR_TOO_MANY_PEERS',
  });
  t.same(stopped.sort(), ['a', 'b']);
});

t.test('peerAdded: at once for a present peer, on the event otherwise, WaitTimeoutError after the deadline', async (t) => {
  const pair = await startSwitchPair({ a: [new PingReactor()], b: [new PingReactor()] });
  t.teardown(pair.stop);
  t.equal(await peerAdded(pair.a, pair.b.nodeKey.id, { timeoutMs: 1 }), pair.toB);

  const absent = '00'.repeat(20);
  const err = await peerAdded(pair.a, absent, { timeoutMs: 20 }).catch((e: unknown) => e);
  t.type(err, WaitTimeoutError);
  t.match(err, { code: 'ERR_WAIT_TIMEOUT', timeoutMs: 20, what: new RegExp(`peer:add of ${absent}`) });
  t.equal(pair.a.listenerCount('peer:add'), 0, 'the timed-out wait removed its listener');
  const ac = new AbortController();
  const cancelled = peerAdded(pair.a, absent, { signal: ac.signal });
  ac.abort(new Error('cancelled'));
  await t.rejects(cancelled, { message: 'cancelled' });
  t.equal(pair.a.listenerCount('peer:add'), 0, 'the aborted wait removed its listener');
  for (const timeoutMs of [0, -1, Number.NaN, 2 ** 31]) {
    await t.rejects(peerAdded(pair.a, absent, { timeoutMs }), { code: 'ERR_INVALID_ARGUMENT' }, `timeoutMs ${timeoutMs}`);
    await t.rejects(peerRemoved(pair.a, absent, { timeoutMs }), { code: 'ERR_INVALID_ARGUMENT' });
  }
  await t.rejects(startSwitchPair({ a: [], b: [], timeoutMs: 0 }), { code: 'ERR_INVALID_ARGUMENT' });

  const anyRemoved = peerRemoved(pair.a, undefined, { timeoutMs: 30_000 });
  const again = peerAdded(pair.a, undefined, { timeoutMs: 30_000 });
  await pair.a.stopPeerGracefully(pair.toB);
  await anyRemoved;
  t.equal(pair.a.listenerCount('peer:remove'), 0);
  await pair.a.dialPeerWithAddress(pair.b.listenAddr);
  t.equal((await again).id, pair.b.nodeKey.id);
});

t.test('memoryDuplexPair: ordered bytes both ways, backpressure, end and destroy reach the other side', async (t) => {
  const [a, b] = memoryDuplexPair();
  t.teardown(() => (a.destroy(), b.destroy()));
  b.pause();
  let writes = 0;
  while (a.write(Buffer.alloc(16 * 1024, writes)) && writes < 1000) writes++;
  t.ok(writes < 1000, `write() returned false after ${writes} writes with no reader`);
  const drained = once(a, 'drain');
  const got: Buffer[] = [];
  b.on('data', (c: Buffer) => got.push(c));
  b.resume();
  await drained;
  const all = Buffer.concat(got);
  t.equal(all.length, (writes + 1) * 16 * 1024);
  for (let i = 0; i <= writes; i++) t.equal(all[i * 16 * 1024], i & 0xff);

  const echoed = once(a, 'data');
  b.write('back');
  t.equal(String((await echoed)[0]), 'back');

  const ended = once(b, 'end');
  a.end();
  await ended;

  const [c, d] = memoryDuplexPair();
  d.resume();
  const dEnded = once(d, 'end');
  c.destroy();
  await dEnded;
  d.destroy();
});

t.test('mconnectionPair: messages arrive in memory; an unknown channel stops the receiver with a typed error', async (t) => {
  const got: [number, string][] = [];
  const arrived = new Promise<void>((resolve) => {
    const p = mconnectionPair({
      channels: [{ id: 1, sendQueueCapacity: 10 }, { id: 2 }],
      channelsB: [{ id: 1, sendQueueCapacity: 10 }],
      onReceiveB: (ch, msg) => {
        got.push([ch, Buffer.from(msg).toString()]);
        if (got.length === 2) resolve();
      },
    });
    t.teardown(p.stop);
    t.context.p = p;
  });
  const p = t.context.p as ReturnType<typeof mconnectionPair>;
  t.ok(p.a.trySend(1, Buffer.from('one')));
  t.ok(await p.a.send(1, Buffer.from('two')));
  await arrived;
  t.same(got, [
    [1, 'one'],
    [1, 'two'],
  ]);

  t.ok(p.a.trySend(2, Buffer.from('nobody listens')));
  t.match(await p.errorB, { code: 'ERR_UNKNOWN_CHANNEL' });
});

t.test('mconnectionPair: stopping one side closes the other with ERR_CONNECTION_CLOSED', async (t) => {
  const p = mconnectionPair();
  t.teardown(p.stop);
  p.a.stop();
  t.match(await p.errorB, { code: 'ERR_CONNECTION_CLOSED' });
});
