// The byte-exact examples of docs/PROTOCOL.md §3–§4 against the implementation.
import t from 'tap';
import { decodePacket, encodePacket, type Packet } from '../lib/conn/packet.js';
import { NodeInfo, P2P_PROTOCOL_VERSION } from '../lib/node-info.js';
import { protocolVectors } from './helpers/vectors.js';
import { NetAddress } from '../lib/net-address.js';
import { decodePexMessage, encodePexAddrs, encodePexRequest } from '../reactors/pex/messages.js';
import { decodeGossip } from '../reactors/examples/gossip/reactor.js';
import { encode } from '@msgpack/msgpack';

const vectors = protocolVectors();

const packets: Record<string, Packet> = {
  'packet-ping': { type: 'ping' },
  'packet-pong': { type: 'pong' },
  'packet-msg-hello': { type: 'msg', channelId: 0x20, eof: true, data: Buffer.from('hello') },
  'packet-msg-fragment': { type: 'msg', channelId: 0x01, eof: false, data: Buffer.from([0xde, 0xad, 0xbe, 0xef]) },
  'packet-msg-empty': { type: 'msg', channelId: 0x01, eof: true, data: Buffer.alloc(0) },
  'packet-window-update': { type: 'window', increment: 983040 },
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

t.test('every non-SecretConnection vector in the document is checked here', async (t) => {
  const ours = [...vectors.keys()].filter((k) => !k.startsWith('sc-'));
  t.same(ours.sort(), [...Object.keys(packets), 'nodeinfo-alice', 'pex-request', 'pex-addrs', 'gossip-hi'].sort());
});
