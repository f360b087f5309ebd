/**
 * Network groups of addresses, the unit of the address book's anti-eclipse
 * bucketing, as CometBFT's `groupKeyFor` (`p2p/pex/addrbook.go`, inherited
 * from btcd/bitcoind).
 *
 * @module
 */
import ipaddr from 'ipaddr.js';
import type { NetAddress } from '../../lib/net-address.js';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const cidr = (s: string): Cidr => ipaddr.parseCIDR(s);

/** RFC 6145 IPv4-translated addresses, `::ffff:0:0:0/96`: the IPv4 address is in the last 4 bytes. */
const RFC6145 = cidr('::ffff:0:0:0/96');
/** RFC 6052 NAT64 well-known prefix, `64:ff9b::/96`: the IPv4 address is in the last 4 bytes. */
const RFC6052 = cidr('64:ff9b::/96');
/** RFC 3964 6to4, `2002::/16`: the IPv4 address is in bytes 2..5. */
const RFC3964 = cidr('2002::/16');
/** RFC 4380 Teredo, `2001::/32`: the IPv4 address is the last 4 bytes XOR 0xff. */
const RFC4380 = cidr('2001::/32');
/** OnionCat (Tor) addresses, `fd87:d87e:eb43::/48`. */
const ONION_CAT = cidr('fd87:d87e:eb43::/48');
/** Hurricane Electric's tunnel broker range, grouped by /36 instead of /32. */
const HE_NET = cidr('2001:470::/32');

function inRange(ip: ipaddr.IPv4 | ipaddr.IPv6, range: Cidr): boolean {
  return ip.kind() === range[0].kind() && ip.match(range);
}

function ipv4Group(bytes: ArrayLike<number>): string {
  return `${bytes[0]}.${bytes[1]}.0.0`;
}

/**
 * The network group of `addr`: addresses of one group are placed in a
 * bounded set of buckets, so that one network (one /16, one ISP) cannot fill
 * the book (eclipse defence). As CometBFT's `groupKeyFor`:
 *
 * - with `routabilityStrict`, `"local"` for loopback and `0.0.0.0/8`, and
 *   `"unroutable"` for every other non-public address (RFC 1918, link-local,
 *   ULA, documentation, broadcast, ...; the same classes as
 *   {@link NetAddress.routable}, so 6to4/Teredo/NAT64 are unroutable here too);
 * - IPv4 (and IPv4-mapped IPv6): the /16, e.g. `"12.1.0.0"`;
 * - IPv6 embedding an IPv4 address: the /16 of that IPv4 address — RFC 6145
 *   and RFC 6052 (last 4 bytes), RFC 3964 6to4 (bytes 2..5), RFC 4380 Teredo
 *   (last 4 bytes XOR 0xff);
 * - OnionCat Tor addresses: `"tor:N"`, N the low 4 bits of byte 6;
 * - other IPv6: the /32, `"2602:100::"`, or the /36 inside Hurricane
 *   Electric's `2001:470::/32`, `"2001:470:1000::"` (RFC 5952 text).
 *
 * A host name (not an IP literal) is `"unroutable"` in both modes (CometBFT
 * resolves names first; the book stores IP addresses only). The port and ID
 * do not matter.
 *
 * @param addr the address to classify.
 * @param routabilityStrict default true, as the book's option of that name.
 */
export function groupKey(addr: NetAddress, routabilityStrict = true): string {
  if (!addr.isIP()) return 'unroutable';
  const ip = ipaddr.process(addr.host);
  if (routabilityStrict) {
    const range = ip.range();
    if (range === 'loopback' || (ip.kind() === 'ipv4' && range === 'unspecified')) return 'local';
    if (range !== 'unicast') return 'unroutable';
  }
  const bytes = ip.toByteArray();
  if (ip.kind() === 'ipv4') return ipv4Group(bytes);
  if (inRange(ip, RFC6145) || inRange(ip, RFC6052)) return ipv4Group(bytes.slice(12, 16));
  if (inRange(ip, RFC3964)) return ipv4Group(bytes.slice(2, 6));
  if (inRange(ip, RFC4380)) return ipv4Group(bytes.slice(12, 16).map((b) => b ^ 0xff));
  if (inRange(ip, ONION_CAT)) return `tor:${Buffer.from(bytes).readUInt8(6) & 0x0f}`; // 16 bytes: IPv6
  const bits = inRange(ip, HE_NET) ? 36 : 32;
  const parts = (ip as ipaddr.IPv6).parts.map((part, i) => {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    return keep === 0 ? 0 : part & ((0xffff << (16 - keep)) & 0xffff);
  });
  return new ipaddr.IPv6(parts).toRFC5952String();
}
