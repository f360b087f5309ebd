// The byte-exact examples of docs/PROTOCOL.md §3–§4 against the implementation.
import t from 'tap';
import { decodePacket, encodePacket, type Packet } from '../lib/conn/packet.js';
import { NodeInfo, P2P_PROTOCOL_VERSION } from '../lib/node-info.js';
import { protocolVectors } from './helpers/vectors.js';
import { NetAddress } from '../lib/net-address.js';
import { decodePexMessage, encodePexAddrs, encodePexRequest } from '../reactors/pex/messages.js';
import { decodeGossip } from '../reactors/examples/gossip/reactor.js';
import { encode } from '@msgpack/msgpack';
import { decodeRequestMessage, encodeCancel, encodeError, encodeRequest, encodeResponse } from '../lib/request-wire.js';

const vectors = protocolVectors();

const packets: Record<string, Packet> = {
  'packet-ping': { type: 'ping' },
  'packet-pong': { type: 'pong' },
  'packet-msg-hello': { type: 'msg', channelId: 0x20, eof: true, data: Buffer.from('hello') },
  'packet-msg-fragment': { type: 'msg', channelId: 0x01, eof: false, data: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
  'packet-msg-empty': { type: 'msg', channelId: 0x01, eof: true, data: Buffer.alloc(0) },
  'packet-window-update': { type: 'window', channelId: 0x20, increment: 983040 },
};

t.test('every packet vector encodes and decodes byte for byte', async (t) => {
  for (const [name, p] of Object.entries(packets)) {
    const v = vectors.get(name);
    t.ok(v, `${name} is in PROTOCOL.md`);
    t.equal(encodePacket(p).toString('hex'), v!.toString('hex'), `${name} encodes`);
    const d = decodePacket(v!);
    t.same({ ...d, ...(d.type === 'msg' ? { data: Buffer.from(d.data) } : {}) }, p, `${name} decodes`);
  }
});

t.test('the NodeInfo vector encodes and decodes byte for byte', async (t) => {
  const v = vectors.get('nodeinfo-alice')!;
  const ni = NodeInfo.create({
    id: 'a'.repeat(40),
    listenAddr: '127.0.0.1:26656',
    network: 'testnet',
    version: '0.1.0',
    channels: Uint8Array.from([0x00, 0x20]),
    channelVersions: [[1], [1, 2]],
    moniker: 'alice',
  });
  t.equal(Buffer.from(ni.encode()).toString('hex'), v.toString('hex'));
  const back = NodeInfo.decode(v);
  t.equal(back.moniker, 'alice');
  t.same(Array.from(back.channels), [0x00, 0x20]);
  t.same(back.channelVersions, [[1], [1, 2]]);
  t.equal(back.protocolVersion.p2p, P2P_PROTOCOL_VERSION);
});

t.test('the PEX vectors encode and decode byte for byte', async (t) => {
  t.equal(Buffer.from(encodePexRequest()).toString('hex'), vectors.get('pex-request')!.toString('hex'));
  const addrs = [
    NetAddress.parse('0123456789abcdef0123456789abcdef01234567@203.0.113.7:26656'),
    NetAddress.parse('89abcdef0123456789abcdef0123456789abcdef@[2001:db8::1]:26656'),
  ];
  const v = vectors.get('pex-addrs')!;
  t.equal(Buffer.from(encodePexAddrs(addrs)).toString('hex'), v.toString('hex'));
  const back = decodePexMessage(v);
  t.same(back.type === 'addrs' ? back.addrs.map(String) : [], addrs.map(String));
});

t.test('the gossip vector decodes and re-encodes byte for byte', async (t) => {
  const v = vectors.get('gossip-hi')!;
  const m = decodeGossip(v);
  t.match(m, { moniker: 'alice', text: 'hi', hops: 0 });
  t.equal(Buffer.from(encode(m)).toString('hex'), v.toString('hex'));
});

t.test('the request/response vectors encode and decode byte for byte', async (t) => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  t.equal(hex(encodeRequest(1, 5000, Buffer.from('get 7'))), vectors.get('request-get')!.toString('hex'));
  t.equal(hex(encodeResponse(1, Buffer.from('block 7'))), vectors.get('response-block')!.toString('hex'));
  t.equal(hex(encodeError(2, 'E_NOT_FOUND', 'no such block')), vectors.get('request-error')!.toString('hex'));
  t.equal(hex(encodeCancel(3)), vectors.get('request-cancel')!.toString('hex'));
  const req = decodeRequestMessage(vectors.get('request-get')!);
  t.match(req, { kind: 'request', id: 1, timeoutMs: 5000 });
  t.equal(req.kind === 'request' && Buffer.from(req.payload).toString(), 'get 7');
  const res = decodeRequestMessage(vectors.get('response-block')!);
  t.equal(res.kind === 'response' && Buffer.from(res.payload).toString(), 'block 7');
  t.same(decodeRequestMessage(vectors.get('request-error')!), { kind: 'error', id: 2, code: 'E_NOT_FOUND', message: 'no such block' });
  t.same(decodeRequestMessage(vectors.get('request-cancel')!), { kind: 'cancel', id: 3 });
});

t.test('every non-SecretConnection vector in the document is checked here', async (t) => {
  const ours = [...vectors.keys()].filter((k) => !k.startsWith('sc-'));
  t.same(
    ours.sort(),
    [
      ...Object.keys(packets),
      'nodeinfo-alice',
      'pex-request',
      'pex-addrs',
      'gossip-hi',
      'request-get',
      'response-block',
      'request-error',
      'request-cancel',
    ].sort(),
  );
});
