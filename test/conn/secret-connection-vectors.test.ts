/**
 * Byte-exact SecretConnection vectors: every `<!-- vector: sc-... -->` hex
 * block in docs/PROTOCOL.md is recomputed from the fixed inputs listed there
 * and compared, and a real handshake over loopback TCP with the same fixed
 * keys must put exactly those bytes on the wire.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import { FrameSealer } from '../../lib/conn/frame.js';
import { SecretConnection, type SecretConnectionTestOptions } from '../../lib/conn/secret-connection.js';
import { deriveSessionKeys, encodeAuthMessage, ephemeralKeyPair, hkdfInfo, x25519SharedSecret } from '../../lib/conn/handshake.js';
import { NodeKey } from '../../lib/node-key.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

const A_EPH_SECRET = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const B_EPH_SECRET = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const A_KEY = NodeKey.fromSeed(hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
const B_KEY = NodeKey.fromSeed(hex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb'));
const PLAINTEXT = Buffer.from('switchboard secret connection test vector', 'ascii');

function docVectors(): Map<string, Buffer> {
  const md = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  const re = /<!--\s*vector:\s*(sc-[A-Za-z0-9_-]+)\s*-->\s*\n```[^\n]*\n([\s\S]*?)```/g;
  const out = new Map<string, Buffer>();
  for (const m of md.matchAll(re)) {
    const name = m[1]!;
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^([0-9a-f]{2})+$/.test(body)) throw new Error(`vector ${name} is not lower-case hex`);
    if (out.has(name)) throw new Error(`vector ${name} appears twice`);
    out.set(name, hex(body));
  }
  return out;
}

function computed(): Map<string, Buffer> {
  const ea = ephemeralKeyPair(A_EPH_SECRET);
  const eb = ephemeralKeyPair(B_EPH_SECRET);
  const shared = x25519SharedSecret(ea, eb.publicKey);
  const ka = deriveSessionKeys(shared, ea.publicKey, eb.publicKey);
  const kb = deriveSessionKeys(x25519SharedSecret(eb, ea.publicKey), eb.publicKey, ea.publicKey);
  const authA = encodeAuthMessage(A_KEY, ka.challenge);
  const authB = encodeAuthMessage(B_KEY, kb.challenge);
  const frames = new FrameSealer(ka.sendKey);
  return new Map([
    ['sc-eph-pub-a', ea.publicKey],
    ['sc-eph-pub-b', eb.publicKey],
    ['sc-shared-secret', shared],
    ['sc-hkdf-info', hkdfInfo(ea.publicKey, eb.publicKey)],
    ['sc-okm', ka.okm],
    ['sc-auth-a', authA],
    ['sc-auth-b', authB],
    ['sc-auth-frame-a', new FrameSealer(ka.sendKey).seal(authA)],
    ['sc-frame', frames.seal(PLAINTEXT)],
    ['sc-frame-1', frames.seal(PLAINTEXT)],
  ]);
}

t.test('every sc- vector in docs/PROTOCOL.md matches the implementation', async (t) => {
  const doc = docVectors();
  const mine = computed();
  t.same([...doc.keys()].sort(), [...mine.keys()].sort(), 'the document and the test know the same vectors');
  for (const [name, want] of doc) {
    const got = mine.get(name);
    t.ok(got, `${name} is computed`);
    if (got) t.equal(Buffer.from(got).toString('hex'), want.toString('hex'), name);
  }
});

t.test('derivation is symmetric and A is the lo side', async (t) => {
  const ea = ephemeralKeyPair(A_EPH_SECRET);
  const eb = ephemeralKeyPair(B_EPH_SECRET);
  const ka = deriveSessionKeys(x25519SharedSecret(ea, eb.publicKey), ea.publicKey, eb.publicKey);
  const kb = deriveSessionKeys(x25519SharedSecret(eb, ea.publicKey), eb.publicKey, ea.publicKey);
  t.equal(ka.localIsLo, true);
  t.equal(kb.localIsLo, false);
  t.ok(ka.sendKey.equals(kb.recvKey));
  t.ok(ka.recvKey.equals(kb.sendKey));
  t.ok(ka.challenge.equals(kb.challenge));
  t.ok(ka.recvKey.equals(ka.okm.subarray(0, 32)), 'lo receives with okm[0:32]');
  t.ok(ka.sendKey.equals(ka.okm.subarray(32, 64)), 'lo sends with okm[32:64]');
  t.equal(A_KEY.id, '21fe31dfa154a261626bf854046fd2271b7bed4b');
  t.equal(B_KEY.id, '39f713d0a644253f04529421b9f51b9b08979d08');
});

t.test('a real handshake puts exactly the vector bytes on the wire', async (t) => {
  const doc = docVectors();
  const server = net.createServer();
  const sockets: net.Socket[] = [];
  const conns: SecretConnection[] = [];
  t.teardown(() => {
    for (const c of conns) c.destroy();
    for (const s of sockets) s.destroy();
    server.close();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;

  // Server = B. Record every byte A sends, alongside B's SecretConnection.
  const fromA: Buffer[] = [];
  const bSide = once(server, 'connection').then(([s]) => {
    const sock = s as net.Socket;
    sockets.push(sock);
    sock.on('data', (d: Buffer) => fromA.push(d));
    const opts: SecretConnectionTestOptions = { ephemeralSecretKey: B_EPH_SECRET };
    return SecretConnection.make(sock, B_KEY, opts);
  });
  const client = net.connect(port, '127.0.0.1');
  sockets.push(client);
  const fromB: Buffer[] = [];
  client.on('data', (d: Buffer) => fromB.push(d));
  const aOpts: SecretConnectionTestOptions = { ephemeralSecretKey: A_EPH_SECRET };
  const [a, b] = await Promise.all([SecretConnection.make(client, A_KEY, aOpts), bSide]);
  conns.push(a, b);
  t.equal(a.remoteId, B_KEY.id);
  t.equal(b.remoteId, A_KEY.id);

  const received = once(b, 'data');
  a.write(PLAINTEXT);
  const [piece] = (await received) as [Buffer];
  t.equal(piece.toString('ascii'), PLAINTEXT.toString('ascii'));

  const wireA = Buffer.concat(fromA).toString('hex');
  const wantA = Buffer.concat([doc.get('sc-eph-pub-a')!, doc.get('sc-auth-frame-a')!, doc.get('sc-frame-1')!]).toString('hex');
  t.equal(wireA, wantA, 'A sent: ephemeral key ‖ auth frame (counter 0) ‖ data frame (counter 1)');
  const wireB = Buffer.concat(fromB).subarray(0, 32).toString('hex');
  t.equal(wireB, doc.get('sc-eph-pub-b')!.toString('hex'), 'B sent its ephemeral key first');
});
