// The chat example: three processes in a line (alice ← bob ← carol) talk
// through stdin/stdout, messages are relayed across the middle node and shown
// once; in-process, a triangle proves duplicates are dropped; invalid
// messages disconnect the sender.
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import {
  CHAT_CHANNEL,
  ChatReactor,
  MAX_CHAT_TTL,
  decodeChatMessage,
  parseChatMessage,
  type ChatMessage,
} from '../../../reactors/examples/chat/reactor.js';
import { MalformedPacketError } from '../../../lib/errors.js';
import { NodeKey } from '../../../lib/node-key.js';
import { Switch } from '../../../lib/switch.js';
import type { Envelope } from '../../../lib/reactor.js';
import { connect, peerAdded, peerRemoved, startSwitch } from '../../helpers/switches.js';
import { startExample } from '../../helpers/example-processes.js';
import type { Teardown } from '../../helpers/teardown.js';

t.test('three processes in a line: stdin lines reach every node once, relayed through the middle; EOF leaves', async (t) => {
  // alice gives only --nick: that is also the name her peers show (no `chat-<id>`)
  const alice = await startExample(t, 'alice', 'chat', ['--nick', 'alice'], { moniker: false });
  const bob = await startExample(t, 'bob', 'chat', ['--peers', alice.addr]);
  const carol = await startExample(t, 'carol', 'chat', ['--peers', bob.addr, '--nick', 'carol']);
  await Promise.all([alice.waitFor(/^\+ peer bob /), bob.waitFor(/^\+ peer carol /), carol.waitFor(/^\+ peer bob /)]);
  await bob.waitFor(/^\+ peer alice \(/); // bob shows alice by her --nick

  alice.write('hello from alice');
  await Promise.all([bob.waitFor(/^<alice> hello from alice$/), carol.waitFor(/^<alice> hello from alice$/)]);
  carol.write('hi, carol here');
  await Promise.all([alice.waitFor(/^<carol> hi, carol here$/), bob.waitFor(/^<carol> hi, carol here$/)]);
  alice.write('bye');
  await carol.waitFor(/^<alice> bye$/);

  t.equal(carol.count(/hello from alice/), 1, "carol saw alice's first line once");
  t.equal(alice.count(/^<alice>/), 0, 'nobody is shown their own lines');
  t.equal(alice.count(/^<carol>/), 1);
  t.equal(alice.count(/^\+ peer carol/), 0, 'alice and carol are not connected: bob relayed');

  alice.child.stdin.end();
  t.equal(await alice.exited, 0, 'EOF on stdin leaves the room with exit 0');
  await bob.waitFor(/^- peer alice( |$)/);
  t.equal(bob.count(/chat-[0-9a-f]{6}/), 0, "no generated moniker anywhere in bob's output");
});

/** A ChatReactor that counts raw deliveries, so the test can wait for the duplicates to arrive. */
class CountingChat extends ChatReactor {
  raw = 0;
  private waiting: { n: number; resolve: () => void }[] = [];
  override receive(e: Envelope): void {
    super.receive(e);
    this.raw++;
    this.waiting = this.waiting.filter((w) => (this.raw >= w.n ? (w.resolve(), false) : true));
  }
  rawCount(n: number): Promise<void> {
    return this.raw >= n ? Promise.resolve() : new Promise((resolve) => this.waiting.push({ n, resolve }));
  }
}

async function chatNode(t: Teardown, moniker: string) {
  const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'chat', moniker }, config: { listenAddress: '127.0.0.1:0' } });
  const chat = sw.addReactor(new CountingChat());
  await sw.start();
  t.teardown(() => sw.stop());
  const seen: ChatMessage[] = [];
  chat.events.on('message', (m) => seen.push(m));
  return { sw, chat, seen };
}

t.test('a triangle: every node gets each message twice and shows it once', async (t) => {
  const x = await chatNode(t, 'x');
  const y = await chatNode(t, 'y');
  const z = await chatNode(t, 'z');
  await connect(x.sw, y.sw);
  await connect(y.sw, z.sw);
  await connect(z.sw, x.sw);
  const msg = x.chat.say('one');
  // y hears it from x and from z's relay; z from x and from y's relay
  await Promise.all([y.chat.rawCount(2), z.chat.rawCount(2)]);
  t.same(
    y.seen.map((m) => m.text),
    ['one'],
  );
  t.same(
    z.seen.map((m) => m.text),
    ['one'],
  );
  t.equal(y.seen[0]?.id, msg.id);
  t.equal(y.seen[0]?.ttl, MAX_CHAT_TTL, 'first hop keeps the ttl it was sent with');
  t.equal(x.chat.raw, 0, 'the author is never sent its own message');
});

t.test('validation: every field is checked, control characters are refused', async (t) => {
  const good = { id: 'a'.repeat(32), origin: 'b'.repeat(40), nick: 'alice', text: 'hi', ts: 1, ttl: 3 };
  t.same(decodeChatMessage(encode(good)), good);
  const bad: Record<string, unknown>[] = [
    { ...good, id: 'A'.repeat(32) },
    { ...good, origin: 'nope' },
    { ...good, nick: '' },
    { ...good, nick: 'x'.repeat(33) },
    { ...good, text: 'red \u001b[31m' },
    { ...good, text: 'x'.repeat(1001) },
    { ...good, ts: -1 },
    { ...good, ttl: MAX_CHAT_TTL + 1 },
    { ...good, extra: 1 },
  ];
  for (const b of bad) t.throws(() => decodeChatMessage(encode(b)), MalformedPacketError, JSON.stringify(b).slice(0, 60));
  t.throws(() => decodeChatMessage(Uint8Array.of(0xc1)), { code: 'ERR_MALFORMED_PACKET' });
  t.throws(() => parseChatMessage(null), { code: 'ERR_MALFORMED_PACKET' });

  const x = await chatNode(t, 'x');
  const { sw: raw } = await startSwitch(t, { network: 'chat', channels: [{ id: CHAT_CHANNEL, sendQueueCapacity: 4 }] });
  const peer = await raw.dialPeerWithAddress(x.sw.listenAddr);
  await peerAdded(x.sw, raw.nodeKey.id);
  const removed = peerRemoved(x.sw, raw.nodeKey.id);
  await peer.send(CHAT_CHANNEL, encode({ ...good, text: '\u0007' }));
  t.match(await removed, { code: 'ERR_MALFORMED_PACKET' }, 'the sender of an invalid message is disconnected');
  t.equal(x.seen.length, 0);
});
