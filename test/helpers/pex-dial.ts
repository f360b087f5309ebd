// A PexDialer (and a SeedCrawler) against a fake Switch and a fake address book that the test
// drives by hand: which addresses the book offers, which peers are connected, how each dial ends,
// and the clock (ms, stepped by the test). Every dial, ban and book call is recorded.
import type { AddrBook } from '../../reactors/pex/addrbook.js';
import { SeedCrawler } from '../../reactors/pex/crawler.js';
import { PexDialer } from '../../reactors/pex/dialer.js';
import { parsePEXSettings, type PEXReactorOptions } from '../../reactors/pex/options.js';
import type { PeerState } from '../../reactors/pex/peer-state.js';
import { SwitchboardError, type ErrorCode } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { NodeKey } from '../../lib/node-key.js';
import type { Peer } from '../../lib/peer.js';
import type { ReactorHost } from '../../lib/reactor.js';
import { LogRecorder } from './mem-switch.js';
import type { Teardown } from './teardown.js';

/** A fake connected peer: what the dialer and crawler read of a Peer. */
export interface FakePeer {
  id: string;
  remoteAddr: NetAddress;
  outbound: boolean;
  persistent: boolean;
  isOutbound(): boolean;
  isPersistent(): boolean;
}

/** An address `id@127.0.2.<i>:<30000+i>` with a fresh node ID. */
export const addrN = (i: number): NetAddress => new NetAddress(NodeKey.generate().id, `127.0.2.${i}`, 30000 + i);

/** A Switch error with `code`, as the Switch's dial rejects with. */
export const swErr = (code: ErrorCode, message: string = code): SwitchboardError => new SwitchboardError(code, message);

/** Options of {@link dialHarness}. */
export interface DialHarnessOptions {
  pex?: PEXReactorOptions;
  seeds?: NetAddress[];
  maxNumOutboundPeers?: number;
  persistent?: string[];
  unconditional?: string[];
}

/** The harness: the dialer, its fakes, and the records. */
export type DialHarness = ReturnType<typeof dialHarness>;

/**
 * A PexDialer and a SeedCrawler on fakes. A dial of an address resolves with a new outbound
 * peer unless `outcome` says otherwise (set it per address ID, or `defaultOutcome`): an error
 * rejects the dial, `'no-reason'` rejects it with `undefined`; `'hang'` leaves it pending until `release(id)`.
 */
export function dialHarness(t: Teardown, opts: DialHarnessOptions = {}) {
  let now = 1_000_000;
  let alive = true;
  const settings = parsePEXSettings(opts.pex ?? {});
  const seeds = opts.seeds ?? [];
  const peers = new Map<string, FakePeer>();
  const switchDialing = new Set<string>();
  const persistent = new Set(opts.persistent ?? []);
  const unconditional = new Set(opts.unconditional ?? []);
  const outcome = new Map<string, Error | 'hang' | 'no-reason'>();
  const pending = new Map<string, () => void>();
  let defaultOutcome: Error | 'hang' | undefined;
  let extraSwitchCount = 0;
  const rec = {
    dialed: [] as string[],
    attempts: [] as string[],
    bans: [] as { addr: string; ms: number }[],
    removed: [] as string[],
    ours: [] as string[],
    biases: [] as number[],
    reinstated: 0,
    asked: 0,
    stoppedGracefully: [] as string[],
    requested: [] as string[],
  };
  const offer: NetAddress[] = [];
  let pickIndex = 0;
  let needMore = false;
  let empty = false;
  let selection: NetAddress[] = [];
  let markBadThrows = false;
  let onAdd: ((p: Peer) => void) | undefined;

  const book = {
    pickAddress(bias: number) {
      rec.biases.push(bias);
      if (offer.length === 0) return undefined;
      return offer[pickIndex++ % offer.length];
    },
    needMoreAddrs: () => needMore,
    isEmpty: () => empty,
    reinstateBadPeers: () => void rec.reinstated++,
    markAttempt: (a: NetAddress) => void rec.attempts.push(a.toString()),
    markBad(a: NetAddress, ms: number) {
      if (markBadThrows) throw new Error('book is broken');
      rec.bans.push({ addr: a.toString(), ms });
    },
    removeAddress: (a: NetAddress) => void rec.removed.push(a.toString()),
    addOurAddress: (a: NetAddress) => void rec.ours.push(a.toString()),
    getSelection: () => selection,
  } as unknown as AddrBook;

  const addPeer = (addr: NetAddress, o: { outbound?: boolean; persistent?: boolean } = {}): FakePeer => {
    const p: FakePeer = {
      id: addr.id,
      remoteAddr: addr,
      outbound: o.outbound ?? true,
      persistent: o.persistent ?? false,
      isOutbound() {
        return this.outbound;
      },
      isPersistent() {
        return this.persistent;
      },
    };
    peers.set(addr.id, p);
    return p;
  };

  const host = {
    config: { maxNumOutboundPeers: opts.maxNumOutboundPeers ?? 10 },
    peers: {
      has: (id: string) => peers.has(id),
      get: (id: string) => peers.get(id),
      list: () => [...peers.values()],
      get size() {
        return peers.size;
      },
      numOutbound: () => [...peers.values()].filter((p) => p.outbound).length,
      numInbound: () => [...peers.values()].filter((p) => !p.outbound).length,
    },
    isPersistentPeer: (id: string) => persistent.has(id),
    isUnconditionalPeer: (id: string) => unconditional.has(id),
    isDialing: (id: string) => switchDialing.has(id),
    numOutboundPeersAndDials: () => [...peers.values()].filter((p) => p.outbound && !unconditional.has(p.id)).length + extraSwitchCount,
    async dialPeerWithAddress(addr: NetAddress): Promise<Peer> {
      rec.dialed.push(addr.toString());
      const o = outcome.get(addr.id) ?? defaultOutcome;
      if (o === 'no-reason') throw undefined;
      if (o === 'hang') await new Promise<void>((r) => pending.set(addr.id, r));
      else if (o) throw o;
      const p = addPeer(addr) as unknown as Peer;
      onAdd?.(p);
      return p;
    },
    stopPeerGracefully(p: Peer) {
      rec.stoppedGracefully.push(p.id);
      return Promise.resolve();
    },
  } as unknown as ReactorHost;

  const logs = new LogRecorder();
  const ctx = {
    book,
    settings,
    seeds,
    now: () => now,
    log: () => logs.logger,
    host: () => host,
    alive: () => alive,
    askSomePeerForAddrs: () => void rec.asked++,
  };
  const dialer = new PexDialer(ctx);
  const states = new Map<Peer, PeerState>();
  const crawler = new SeedCrawler({
    ...ctx,
    dialer,
    peers: states,
    requestAddrs: (p: Peer) => (rec.requested.push(p.id), true),
  });

  let realRandom: (() => number) | undefined;
  t.teardown(() => {
    if (realRandom) Math.random = realRandom;
    for (const r of pending.values()) r();
  });

  return {
    dialer,
    crawler,
    settings,
    rec,
    logs,
    peers,
    states,
    switchDialing,
    outcome,
    /** The fake clock, ms. */
    get now() {
      return now;
    },
    set now(v: number) {
      now = v;
    },
    setAlive: (v: boolean) => void (alive = v),
    /** Every dial not given an outcome ends so. */
    setDefaultOutcome: (o: Error | 'hang' | undefined) => void (defaultOutcome = o),
    /** The Switch's own count of outbound peers and dials is this much above the peers (slots held, its own dials). */
    setExtraSwitchCount: (n: number) => void (extraSwitchCount = n),
    /** The addresses `pickAddress` offers, in turn. */
    offer: (...a: NetAddress[]) => void (offer.splice(0, offer.length, ...a), (pickIndex = 0)),
    setNeedMore: (v: boolean) => void (needMore = v),
    setEmpty: (v: boolean) => void (empty = v),
    setSelection: (a: NetAddress[]) => void (selection = a),
    setMarkBadThrows: (v: boolean) => void (markBadThrows = v),
    addPeer,
    /** Run `fn` for each peer a dial connects, before the dial resolves (as the reactor's addPeer). */
    setOnAdd: (fn: (p: Peer) => void) => void (onAdd = fn),
    /** Let a `'hang'` dial of `id` succeed. */
    release(id: string) {
      pending.get(id)?.();
      pending.delete(id);
    },
    /** Math.random returns these in turn (the last one repeated) for the rest of the test. */
    random(...values: number[]) {
      realRandom ??= Math.random;
      let i = 0;
      Math.random = () => values[Math.min(i++, values.length - 1)]!;
    },
  };
}
