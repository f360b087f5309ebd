import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeKey } from '../lib/node-key.js';
import { NetAddress } from '../lib/net-address.js';
import { Switch } from '../lib/switch.js';
import { UnixTransport } from '../lib/transport-unix.js';
import { peerAdded, RecordingReactor } from './helpers/switches.js';

function tempDir(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-unix-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function unixSwitch(
  t: { teardown(fn: () => unknown): void },
  path: string,
  plaintext = false,
): Promise<{ sw: Switch; reactor: RecordingReactor }> {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'test' },
    config: { listenAddress: `unix://${path}`, plaintext },
    transport: new UnixTransport(),
  });
  const reactor = sw.addReactor(new RecordingReactor());
  await sw.start();
  t.teardown(() => sw.stop());
  return { sw, reactor };
}

t.test('two Switches over Unix sockets: SecretConnection handshake, messages both ways, socket file removed on stop', async (t) => {
  const dir = tempDir(t);
  const a = await unixSwitch(t, join(dir, 'a.sock'));
  const b = await unixSwitch(t, join(dir, 'b.sock'));
  t.equal(a.sw.listenAddr.toString(), `${a.sw.nodeKey.id}@unix://${join(dir, 'a.sock')}`);
  t.equal(a.sw.listenAddr.protocol, 'unix');
  const added = peerAdded(b.sw, a.sw.nodeKey.id);
  const pb = await a.sw.dialPeerWithAddress(b.sw.listenAddr);
  const pa = await added;
  t.equal(pa.remoteAddr.toString(), a.sw.listenAddr.toString(), 'the inbound peer is known by its advertised socket path');
  t.equal(await pb.send(0x20, Buffer.from('to b')), true);
  t.equal(await pa.send(0x20, Buffer.from('to a')), true);
  await Promise.all([b.reactor.receivedCount(1), a.reactor.receivedCount(1)]);
  t.equal(b.reactor.received[0]!.msg.toString(), 'to b');
  t.equal(a.reactor.received[0]!.msg.toString(), 'to a');
  t.ok(existsSync(join(dir, 'a.sock')));
  await a.sw.stop();
  t.notOk(existsSync(join(dir, 'a.sock')), 'the socket file is gone after stop');
});

t.test('a dial of the wrong ID over a Unix socket is refused; a TCP address is refused by the Unix transport', async (t) => {
  const dir = tempDir(t);
  const a = await unixSwitch(t, join(dir, 'a.sock'));
  const b = await unixSwitch(t, join(dir, 'b.sock'));
  const wrong = new NetAddress(NodeKey.generate().id, join(dir, 'b.sock'), 0, 'unix');
  await t.rejects(a.sw.dialPeerWithAddress(wrong), { code: 'ERR_AUTH' });
  await t.rejects(a.sw.dialPeerWithAddress(`${b.sw.nodeKey.id}@127.0.0.1:1`), { code: 'ERR_DIAL' });
  await t.rejects(a.sw.dialPeerWithAddress(new NetAddress(b.sw.nodeKey.id, join(dir, 'none.sock'), 0, 'unix')), { code: 'ERR_DIAL' });
});

t.test('a stale socket file of a crashed process is replaced; a live one is EADDRINUSE', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a.sock');
  const a = await unixSwitch(t, path);
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: `unix://${path}` }, transport: new UnixTransport() });
  t.teardown(() => sw.stop());
  await t.rejects(sw.start(), {
    code: 'ERR_LISTEN',
    message: `cannot listen on unix://${path}: the address is in use (another node running? pick another listen port, or port 0 for any free one)`,
  });
  t.ok(a.sw.isRunning, 'the live listener is untouched');
  // a crashed process leaves its socket file behind: a child that listens and is killed by SIGKILL
  const stale = join(dir, 'stale.sock');
  const child = spawnSync(process.execPath, [
    '-e',
    `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  t.equal(child.signal, 'SIGKILL');
  t.ok(existsSync(stale), 'the killed process left its socket file');
  const b = await unixSwitch(t, stale);
  t.equal(b.sw.listenAddr.host, stale);
});
