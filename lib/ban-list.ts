/**
 * The Switch's bans: node IDs and IPs refused until a time, as CometBFT's
 * ban of a peer (but also by IP, and persisted through the AddrBook when
 * there is one: see `Switch.banPeer`).
 *
 * @module
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { P2PConfig } from './config.js';
import { RejectedError } from './errors.js';
import { NetAddress } from './net-address.js';
import type { SwitchAddrBook } from './reactor.js';

/** Banned node IDs and IPs, each until a time (ms since the epoch); expired bans are dropped when asked about. */
export class BanList {
  readonly #until = new Map<string, number>();

  /** Ban each of `keys` (node IDs or IPs) until `until` (ms since the epoch), or longer if banned longer already. */
  ban(keys: readonly string[], until: number): void {
    for (const k of keys) this.#until.set(k, Math.max(until, this.#until.get(k) ?? 0));
  }

  /** True while `key` (a node ID or an IP) is banned. */
  has(key: string): boolean {
    const until = this.#until.get(key);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.#until.delete(key);
    return false;
  }

  /**
   * Refuse a connection from node `id` (if known) at `host:port`.
   * @throws RejectedError (`ERR_BANNED`) when the ID or the IP is banned here, or the address `id@host:port` in `book`.
   */
  check(id: string | undefined, host: string, port: number, book: SwitchAddrBook | undefined): void {
    if ((id && this.has(id)) || this.has(host)) throw new RejectedError('ERR_BANNED', `${id ? `${id}@` : ''}${host} is banned`);
    if (id && host && port && book?.isBanned?.(new NetAddress(id, host, port))) {
      throw new RejectedError('ERR_BANNED', `${id}@${host}:${port} is banned in the address book`);
    }
  }
}

/**
 * What a ban of the address `addr` covers: its node ID, and its IP as
 * `scope` says — `routable` (a unicast IP only, so loopback and private
 * networks are not banned wholesale), `all`, or `none`.
 */
export function banKeys(addr: NetAddress, scope: P2PConfig['banIpScope']): string[] {
  const keys = [addr.id];
  if (scope === 'all' || (scope === 'routable' && isIP(addr.host) && ipaddr.process(addr.host).range() === 'unicast')) keys.push(addr.host);
  return keys;
}
