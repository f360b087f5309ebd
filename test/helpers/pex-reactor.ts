// A PEXReactor on a fake Switch (a ReactorHost, as the reactor interface allows) with a real
// AddrBook in the test's directory. The test connects and removes fake peers by hand (the fake
// Switch calls the reactor's addPeer/removePeer as the Switch does), delivers their messages,
// steps the clock (ms), and runs the reactor's loop timers itself: `run(fn)` catches the
// setTimeout calls `fn` makes synchronously, `fire()` runs the one pending timer.
import { join } from 'node:path';
import { PeerStoppedError, type SwitchboardError } from '../../lib/errors.js';
import { NetAddress } from '../../lib/net-address.js';
import { NodeKey } from '../../lib/node-key.js';
import type { Peer } from '../../lib/peer.js';
import type { ReactorHost, SwitchAddrBook } from '../../lib/reactor.js';
import { AddrBook, decodePexMessage, PEX_CHANNEL, PEXReactor, type PexMessage, type PEXReactorOptions } from '../../reactors/pex/index.js';
import { LogRecorder } from './mem-switch.js';
import { quietBook } from './pex.js';
import type { Teardown } from './teardown.js';

/** What the reactor reads of a Peer, and what it sent it. */
export interface FakePexPeer {
  readonly id: string;
  readonly remoteAddr: NetAddress;
  readonly remoteIp: string;
  readonly nodeInfo: { hasChannel(id: number): boolean; netAddress(): NetAddress };
  /** Messages sent to it on the PEX channel, decoded. */
  readonly sent: PexMessage[];
  /** What its `send` does: resolve with this boolean, or reject with this error. Default true. */
  sendResult: boolean | Error;
  isOutbound(): boolean;
  isPersistent(): boolean;
  send(channelId: number, msg: Uint8Array): Promise<boolean>;
}

/** Options of {@link ReactorHarness.peer}. */
export interface FakePeerOptions {
  /** The address (default a fresh ID at 127.0.4.<n>:26656). */
  addr?: NetAddress;
  /** Default false (inbound). */
  outbound?: boolean;
  /** Default false. */
  persistent?: boolean;
  /** Channels it advertised (default PEX's only). */
  channels?: number[];
  /** Host and port of its self-reported address, `nodeInfo.netAddress()` (default `addr`'s). */
  reported?: { host: string; port: number };
  /** The socket's remote IP (default `addr.host`). */
  remoteIp?: string;
}

/** Options of {@link reactorHarness}. */
export interface ReactorHarnessOptions {
  /** PEX options; `now` is the harness clock, the loop periods are 600 s unless given. */
  pex?: PEXReactorOptions;
  /** The fake Switch's `config.maxNumOutboundPeers` (default 10). */
  maxNumOutboundPeers?: number;
}

export type ReactorHarness = ReturnType<typeof reactorHarness>;

/** A timer the reactor set (caught by `run`). */
export interface CaughtTimer {
  ms: number;
  fn: () => void;
  unrefd: boolean;
  cleared: boolean;
  fired: boolean;
}

/** A PEXReactor on a fake Switch; `pex.stop()` at teardown. See the module comment. */
export function reactorHarness(t: Teardown & { testdir(): string }, opts: ReactorHarnessOptions = {}) {
  let now = 1_000_000;
  let running = true;
  let n = 0;
  const switchLogs = new LogRecorder();
  const peers = new Map<string, FakePexPeer & { outbound: boolean; persistent: boolean }>();
  const unconditional = new Set<string>();
  const privateIds = new Set<string>();
  const dialFailures = new Map<string, Error>();
  let extraDials = 0;
  let graceful: () => Promise<void> = () => Promise.resolve();
  const rec = {
    dials: [] as string[],
    stoppedForError: [] as { id: string; reason: SwitchboardError }[],
    stoppedGracefully: [] as string[],
    bans: [] as { target: string; ms: number }[],
    addrBooks: [] as SwitchAddrBook[],
  };
  const timers: CaughtTimer[] = [];

  const book = new AddrBook(join(t.testdir(), 'addrbook.json'), { routabilityStrict: false, logger: quietBook });

  const peer = (o: FakePeerOptions = {}): FakePexPeer & { outbound: boolean; persistent: boolean } => {
    n++;
    const addr = o.addr ?? new NetAddress(NodeKey.generate().id, `127.0.4.${n}`, 26656);
    const reported = o.reported ? new NetAddress(addr.id, o.reported.host, o.reported.port) : addr;
    const channels = o.channels ?? [PEX_CHANNEL];
    const p = {
      id: addr.id,
      remoteAddr: addr,
      remoteIp: o.remoteIp ?? addr.host,
      outbound: o.outbound ?? false,
      persistent: o.persistent ?? false,
      nodeInfo: { hasChannel: (id: number) => channels.includes(id), netAddress: () => reported },
      sent: [] as PexMessage[],
      sendResult: true as boolean | Error,
      isOutbound() {
        return this.outbound;
      },
      isPersistent() {
        return this.persistent;
      },
      send(channelId: number, msg: Uint8Array): Promise<boolean> {
        if (channelId === PEX_CHANNEL) this.sent.push(decodePexMessage(msg));
        return this.sendResult instanceof Error ? Promise.reject(this.sendResult) : Promise.resolve(this.sendResult);
      },
    };
    return p;
  };

  const asPeer = (p: FakePexPeer): Peer => p as unknown as Peer;

  const host = {
    nodeKey: NodeKey.generate(),
    config: { maxNumOutboundPeers: opts.maxNumOutboundPeers ?? 10 },
    logger: switchLogs.logger,
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
    get isRunning() {
      return running;
    },
    async dialPeerWithAddress(addr: NetAddress): Promise<Peer> {
      rec.dials.push(addr.toString());
      await Promise.resolve();
      const err = dialFailures.get(addr.id);
      if (err) throw err;
      const p = peer({ addr, outbound: true });
      connect(p);
      return asPeer(p);
    },
    isDialing: () => false,
    numOutboundPeersAndDials: () => [...peers.values()].filter((p) => p.outbound).length + extraDials,
    stopPeerForError(p: Peer, reason: SwitchboardError) {
      rec.stoppedForError.push({ id: p.id, reason });
    },
    stopPeerGracefully(p: Peer) {
      rec.stoppedGracefully.push(p.id);
      return graceful();
    },
    banPeer(target: string | NetAddress, ms: number) {
      rec.bans.push({ target: String(target), ms });
    },
    isPersistentPeer: (id: string) => peers.get(id)?.persistent ?? false,
    isUnconditionalPeer: (id: string) => unconditional.has(id),
    isPrivatePeer: (id: string) => privateIds.has(id),
    setAddrBook(b: SwitchAddrBook) {
      rec.addrBooks.push(b);
    },
  } as unknown as ReactorHost;

  const pex = new PEXReactor(book, { ensurePeersPeriodMs: 600_000, crawlPeriodMs: 600_000, now: () => now, ...opts.pex });
  pex.setSwitch(host);
  t.teardown(() => pex.stop());

  /** The peer joins: the fake Switch's set, then the reactor's addPeer (as the Switch). */
  function connect(p: FakePexPeer & { outbound: boolean; persistent: boolean }): Peer {
    peers.set(p.id, p);
    pex.addPeer(asPeer(p));
    return asPeer(p);
  }

  /** Runs `fn` with setTimeout and clearTimeout caught: the timers it sets go to `timers`, not to Node. */
  function run<T>(fn: () => T): T {
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    globalThis.setTimeout = ((cb: () => void, ms: number) => {
      const timer: CaughtTimer = { ms, fn: cb, unrefd: false, cleared: false, fired: false };
      timers.push(timer);
      return {
        timer,
        unref() {
          timer.unrefd = true;
          return this;
        },
      };
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((h: unknown) => {
      const caught = (h as { timer?: CaughtTimer } | undefined)?.timer;
      if (caught) caught.cleared = true;
      else realClear(h as NodeJS.Timeout);
    }) as typeof clearTimeout;
    try {
      return fn();
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    }
  }

  return {
    pex,
    book,
    host,
    rec,
    timers,
    switchLogs,
    unconditional,
    privateIds,
    dialFailures,
    /** The clock, ms. */
    get now() {
      return now;
    },
    set now(v: number) {
      now = v;
    },
    /** The fake Switch's `isRunning`. */
    setRunning: (v: boolean) => void (running = v),
    /** Dials in progress the Switch counts on top of its outbound peers. */
    setExtraDials: (v: number) => void (extraDials = v),
    /** What `stopPeerGracefully` returns. */
    setGraceful: (fn: () => Promise<void>) => void (graceful = fn),
    /** A fake peer (not connected). */
    peer,
    /** Connect `p`: into the fake Switch's set, then `pex.addPeer`. */
    connect,
    /** A fake peer, connected. */
    add: (o: FakePeerOptions = {}) => {
      const p = peer(o);
      connect(p);
      return p;
    },
    /** `p` leaves: out of the fake Switch's set, then `pex.removePeer` (reason: a graceful stop unless given). */
    remove(p: FakePexPeer, reason: SwitchboardError = new PeerStoppedError('graceful')) {
      peers.delete(p.id);
      pex.removePeer(asPeer(p), reason);
    },
    /** `p` sends `msg` (bytes) on the PEX channel. */
    deliver: (p: FakePexPeer, msg: Uint8Array) => pex.receive({ channelId: PEX_CHANNEL, src: asPeer(p), message: msg }),
    asPeer,
    run,
    /** The timers set and neither cleared nor fired. */
    pending: () => timers.filter((x) => !x.cleared && !x.fired),
    /** Fire the one pending timer (under `run`, so the timer it sets is caught too). */
    fire() {
      const p = timers.filter((x) => !x.cleared && !x.fired);
      if (p.length !== 1) throw new Error(`expected one pending timer, have ${p.length}`);
      p[0]!.fired = true;
      run(p[0]!.fn);
    },
    /** Start the reactor (its timers caught). */
    start: () => run(() => pex.start()),
    /** Resolves after the microtasks and promise callbacks queued so far (one macrotask turn). */
    settle: () => new Promise<void>((r) => setImmediate(r)),
  };
}
