// The echo example: "foo" is answered with "bar" across two processes, and
// the one-shot `--send` client exits by itself; a node with a home keeps its
// address across restarts; anything but a short MessagePack string
// disconnects the sender.
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { ECHO_CHANNEL, EchoReactor, MAX_ECHO_TEXT_LENGTH, decodeEcho, encodeEcho } from '../../../reactors/examples/echo/reactor.js';
import { MalformedPacketError, SwitchboardError } from '../../../lib/errors.js';
import { NodeKey } from '../../../lib/node-key.js';
import { Switch } from '../../../lib/switch.js';
import { peerAdded, peerRemoved, startSwitch } from '../../helpers/switches.js';
import { privateDir, startExample } from '../../helpers/example-processes.js';

/** The echo example's documented default port (README, "Examples"; `EXAMPLE_PORTS` in cli/examples.ts). */
const ECHO_PORT = 26670;

t.test('two processes: `--send foo` prints the answer "bar" and exits 0 by itself', async (t) => {
  const a = await startExample(t, 'alice', 'echo', []);
  const b = await startExample(t, 'bob', 'echo', ['--peers', a.addr, '--send', 'foo']);
  await a.waitFor(/^received "foo" from bob$/);
  t.equal(await b.exited, 0, 'bob exits 0 once answered, with no signal');
  t.ok(b.lines.includes('received "bar" from alice'), 'after printing the answer');
  await a.waitFor(/^- peer bob/);
  t.equal(await a.stop(), 0, 'exits 0 on SIGTERM');
});

t.test('`--send` with no answer within `--timeout`: one line on stderr, exit 1', async (t) => {
  const a = await startExample(t, 'alice', 'echo', []);
  const b = await startExample(t, 'bob', 'echo', ['--peers', a.addr, '--send', 'hello', '--timeout', '1000']);
  await a.waitFor(/^received "hello" from bob$/);
  t.equal(await b.exited, 1);
  t.match(b.stderr, /^switchboard example echo: no answer to "hello" within 1000 ms from alice \(the echo reactor answers only "foo"\)$/m);
  t.equal(b.count(/^received/), 0);
  t.equal(await a.stop('SIGINT'), 0, 'exits 0 on SIGINT');
});

t.test("with --home, a restarted node keeps its key and listen address (the others' --peers stay valid)", async (t) => {
  const home = privateDir(t);
  const first = await startExample(t, 'alice', 'echo', ['--home', home, '--listen', '127.0.0.1:0']);
  t.equal(await first.stop(), 0);
  const again = await startExample(t, 'alice', 'echo', ['--home', home], { listen: false });
  t.equal(again.addr, first.addr, 'same id@host:port without --listen');
  const b = await startExample(t, 'bob', 'echo', ['--peers', first.addr, '--send', 'foo']);
  t.equal(await b.exited, 0, 'the old --peers line reaches it');
  t.equal(await again.stop(), 0);
});

t.test(`without --listen or --home: 127.0.0.1:${ECHO_PORT}, or a free port with a note when that is taken`, async (t) => {
  const a = await startExample(t, 'alice', 'echo', [], { listen: false });
  const port = Number(a.addr.split(':').pop());
  if (port === ECHO_PORT) t.pass(`listens on the echo port ${port}`);
  else t.match(a.stderr, new RegExp(`^note: 127\\.0\\.0\\.1:${ECHO_PORT} is in use`, 'm'), `port ${port}: says the default was taken`);
  t.equal(await a.stop(), 0);
});

t.test('wire format: a MessagePack string of bounded length', async (t) => {
  t.equal(decodeEcho(encodeEcho('foo')), 'foo');
  t.throws(() => encodeEcho('x'.repeat(MAX_ECHO_TEXT_LENGTH + 1)), MalformedPacketError);
  for (const bad of [
    encode(42),
    encode({ text: 'foo' }),
    encode(['foo']),
    encode(new Uint8Array(3)),
    Uint8Array.of(0xc1),
    encode('x'.repeat(MAX_ECHO_TEXT_LENGTH + 1)),
  ]) {
    t.throws(() => decodeEcho(bad), { code: 'ERR_MALFORMED_PACKET' });
  }
});

t.test('over loopback: "foo" → "bar", then junk disconnects the sender with ERR_MALFORMED_PACKET', async (t) => {
  const echo = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0' } });
  echo.addReactor(new EchoReactor());
  await echo.start();
  t.teardown(() => echo.stop());
  const { sw: raw, reactor } = await startSwitch(t, { channels: [{ id: ECHO_CHANNEL, sendQueueCapacity: 4 }] });
  const peer = await raw.dialPeerWithAddress(echo.listenAddr);
  const there = await peerAdded(echo, raw.nodeKey.id);
  t.ok(await peer.send(ECHO_CHANNEL, encodeEcho('foo')));
  await reactor.receivedCount(1);
  const [answer] = reactor.received;
  t.equal(answer && decodeEcho(answer.msg), 'bar');
  const removed = peerRemoved(echo, there.id);
  t.ok(await peer.send(ECHO_CHANNEL, encode({ not: 'a string' })));
  const reason = (await removed) as SwitchboardError;
  t.ok(reason instanceof MalformedPacketError, 'typed error');
  t.equal(reason.code, 'ERR_MALFORMED_PACKET');
});
