// The echo example: "foo" is answered with "bar" across two processes;
// anything but a short MessagePack string disconnects the sender.
import t from 'tap';
import { encode } from '@msgpack/msgpack';
import { ECHO_CHANNEL, EchoReactor, MAX_ECHO_TEXT_LENGTH, decodeEcho, encodeEcho } from '../../../reactors/examples/echo/reactor.js';
import { MalformedPacketError, SwitchboardError } from '../../../lib/errors.js';
import { NodeKey } from '../../../lib/node-key.js';
import { Switch } from '../../../lib/switch.js';
import { peerAdded, peerRemoved, startSwitch } from '../../helpers/switches.js';
import { startExample } from './processes.js';

t.test('two processes: the one that sends "foo" hears "bar"', async (t) => {
  const a = await startExample(t, 'alice', 'echo', []);
  const b = await startExample(t, 'bob', 'echo', ['--peers', a.addr, '--send', 'foo']);
  await a.waitFor(/^received "foo" from bob$/);
  await b.waitFor(/^received "bar" from alice$/);
  t.equal(await b.stop('SIGINT'), 0, 'exits 0 on SIGINT');
  await a.waitFor(/^- peer bob/);
  t.equal(await a.stop(), 0, 'exits 0 on SIGTERM');
});

t.test('wire format: a MessagePack string of bounded length', async (t) => {
  t.equal(decodeEcho(encodeEcho('foo')), 'foo');
  t.throws(() => encodeEcho('x'.repeat(MAX_ECHO_TEXT_LENGTH + 1)), MalformedPacketError);
  for (const bad of [encode(42), encode({ text: 'foo' }), encode(['foo']), encode(new Uint8Array(3)), Uint8Array.of(0xc1), encode('x'.repeat(MAX_ECHO_TEXT_LENGTH + 1))]) {
    t.throws(() => decodeEcho(bad), { code: 'ERR_MALFORMED_PACKET' });
  }
});

t.test('over loopback: "foo" → "bar", then junk disconnects the sender with ERR_MALFORMED_PACKET', async (t) => {
  const echo = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'test' }, config: { listenAddress: '127.0.0.1:0' } });
  echo.addReactor('echo', new EchoReactor());
  await echo.start();
  t.teardown(() => echo.stop());
  const { sw: raw, reactor } = await startSwitch(t, { channels: [{ id: ECHO_CHANNEL, sendQueueCapacity: 4 }] });
  const peer = await raw.dialPeerWithAddress(echo.listenAddr);
  const there = await peerAdded(echo, raw.nodeKey.id);
  t.ok(await peer.send(ECHO_CHANNEL, encodeEcho('foo')));
  await reactor.receivedCount(1);
  t.equal(decodeEcho(reactor.received[0].msg), 'bar');
  const removed = peerRemoved(echo, there.id);
  t.ok(await peer.send(ECHO_CHANNEL, encode({ not: 'a string' })));
  const reason = (await removed) as SwitchboardError;
  t.ok(reason instanceof MalformedPacketError, 'typed error');
  t.equal(reason.code, 'ERR_MALFORMED_PACKET');
});
