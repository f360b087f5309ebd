import t from 'tap';
import { NetAddress } from '../lib/net-address.js';

const id = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef';

t.test('parses IPv4, bracketed IPv6 and DNS names', async (t) => {
  const a = NetAddress.parse(`${id}@1.2.3.4:26656`);
  t.match(a, { id, host: '1.2.3.4', port: 26656 });
  t.equal(a.toString(), `${id}@1.2.3.4:26656`);
  const b = NetAddress.parse(`${id}@[2001:db8::1]:80`);
  t.match(b, { host: '2001:db8::1', port: 80 });
  t.equal(b.toString(), `${id}@[2001:db8::1]:80`);
  t.equal(NetAddress.parse(`${id}@node-1.example.com:1`).host, 'node-1.example.com');
  t.equal(NetAddress.parse('127.0.0.1:5', { requireId: false }).id, '');
});

t.test('every malformed form is a clear ERR_INVALID_ADDRESS', async (t) => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['1.2.3.4:26656', /missing node ID/],
    [`xyz@1.2.3.4:1`, /40 lower-case hex/],
    [`${id.toUpperCase()}@1.2.3.4:1`, /40 lower-case hex/],
    [`${id}@1.2.3.4`, /missing port/],
    [`${id}@1.2.3.4:0`, /out of range/],
    [`${id}@1.2.3.4:65536`, /out of range/],
    [`${id}@1.2.3.4:12a`, /invalid port/],
    [`${id}@::1:80`, /brackets/],
    [`${id}@[::1:80`, /unclosed/],
    [`${id}@[zz::1]:80`, /invalid IPv6/],
    [`${id}@[::1]80`, /missing port/],
    [`${id}@bad_host!:80`, /invalid host/],
    [`${id}@999.1.1.1:80`, /invalid host/],
    [`${id}@-lead.example:80`, /invalid host/],
    ['x'.repeat(401), /longer than 400/],
  ];
  for (const [s, why] of bad) t.throws(() => NetAddress.parse(s), { code: 'ERR_INVALID_ADDRESS', message: why }, s.slice(0, 60));
});

t.test('routable and local follow the address classes', async (t) => {
  const r = (h: string) => new NetAddress(id, h, 1).routable();
  const l = (h: string) => new NetAddress(id, h, 1).local();
  t.equal(r('8.8.8.8'), true);
  t.equal(r('2001:4860:4860::8888'), true);
  for (const h of [
    '127.0.0.1',
    '10.0.0.1',
    '192.168.1.1',
    '172.16.0.1',
    '169.254.1.1',
    '0.0.0.0',
    '::1',
    'fc00::1',
    'fe80::1',
    '224.0.0.1',
    '100.64.0.1',
    'example.com',
  ]) {
    t.equal(r(h), false, `${h} not routable`);
  }
  t.equal(l('127.0.0.1'), true);
  t.equal(l('::1'), true);
  t.equal(l('localhost'), true);
  t.equal(l('8.8.8.8'), false);
});
