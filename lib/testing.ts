/**
 * Test helpers for applications built on switchboard, imported as
 * `switchboard/testing`: two started Switches connected over 127.0.0.1
 * ({@link startSwitchPair}), waits for a peer to be added or removed that
 * reject with a typed {@link WaitTimeoutError} instead of hanging
 * ({@link peerAdded}, {@link peerRemoved}), and two MConnections joined by an
 * in-memory stream pair, with no socket and no encryption
 * ({@link mconnectionPair}, over {@link memoryDuplexPair}).
 *
 * ```ts
 * import t from 'tap';
 * import { startSwitchPair } from 'switchboard/testing';
 *
 * t.test('echo answers foo with bar', async (t) => {
 *   const { toB, stop } = await startSwitchPair({ a: [new EchoReactor()], b: [new EchoReactor()] });
 *   t.teardown(stop);
 *   await toB.send(ECHO_CHANNEL, encodeEcho('foo'));
 * });
 * ```
 *
 * Nothing here sleeps: every wait is an event with a deadline.
 *
 * @module switchboard/testing
 */
import { Duplex } from 'node:stream';
import type { ChannelDescriptor } from './conn/channel.js';
import type { MConnConfig } from './conn/mconn-config.js';
import { MConnection, type ReceiveHandler } from './conn/mconnection.js';
import type { P2PConfigInput } from './config.js';
import { InvalidArgumentError, SwitchboardError } from './errors.js';
import { NodeKey } from './node-key.js';
import type { Peer } from './peer.js';
import type { Reactor } from './reactor.js';
import { Switch } from './switch.js';
import type { SwitchEvents } from './switch-options.js';

/** Default deadline of every wait in this module: 10000 ms. */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

/**
 * A wait of this module did not see its event within its deadline
 * (`ERR_WAIT_TIMEOUT`). `what` names the awaited event, e.g.
 * `"peer:add of <id> on 3f9a01c2"`; `timeoutMs` is the deadline that passed.
 */
export class WaitTimeoutError extends SwitchboardError {
  constructor(
    /** The awaited event, e.g. `"peer:add of <id> on 3f9a01c2"`. */
    readonly what: string,
    /** The deadline that passed (ms). */
    readonly timeoutMs: number,
  ) {
    super('ERR_WAIT_TIMEOUT', `${what}: not seen within ${timeoutMs} ms`);
  }
}

/** Options of the waits in this module. */
export interface WaitOptions {
  /** Deadline in ms; the wait rejects with {@link WaitTimeoutError} after it. Default {@link DEFAULT_WAIT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Cancels the wait: it rejects with the signal's reason and removes its listener and timer. */
  signal?: AbortSignal;
}

/** The deadline of `opts`, checked. @throws InvalidArgumentError unless a positive number of ms. */
function deadline(opts: { timeoutMs?: number }): number {
  const ms = opts.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
  if (!(ms > 0 && ms <= 2_147_483_647)) throw new InvalidArgumentError(`timeoutMs must be 1..2147483647 ms, got ${ms}`);
  return ms;
}

/** Why a peer was removed, as the Switch's `peer:remove` event gives it. */
export type RemoveReason = SwitchEvents['peer:remove'][1];

/** The first 8 hex digits of the Switch's node ID, for messages. */
function label(sw: Switch): string {
  return sw.nodeKey.id.slice(0, 8);
}

/** Waits for the first `event` of `sw` whose peer passes `match`; rejects after `timeoutMs`. */
function waitFor<E extends 'peer:add' | 'peer:remove'>(
  sw: Switch,
  event: E,
  match: (peer: Peer) => boolean,
  what: string,
  opts: WaitOptions,
): Promise<SwitchEvents[E]> {
  let timeoutMs: number;
  try {
    timeoutMs = deadline(opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const signal = opts.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const on = (...args: SwitchEvents[E]) => {
      if (!match(args[0])) return;
      done();
      resolve(args);
    };
    const timer = setTimeout(() => {
      done();
      reject(new WaitTimeoutError(what, timeoutMs));
    }, timeoutMs);
    const abort = () => {
      done();
      reject(signal!.reason);
    };
    const done = () => {
      clearTimeout(timer);
      sw.off(event, on as never);
      signal?.removeEventListener('abort', abort);
    };
    sw.on(event, on as never);
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/**
 * Resolves with the Peer once `sw` has added the peer with node ID `id`: at
 * once when it is already connected, else on its `peer:add` event. Without
 * `id`, resolves with the next peer `sw` adds.
 *
 * @throws (rejects with) {@link WaitTimeoutError} after `timeoutMs` (default 10000 ms),
 *   the signal's reason when `signal` aborts, or InvalidArgumentError
 *   (`ERR_INVALID_ARGUMENT`) for a `timeoutMs` that is not 1..2147483647.
 */
export function peerAdded(sw: Switch, id?: string, opts: WaitOptions = {}): Promise<Peer> {
  const present = id === undefined ? undefined : sw.peers.get(id);
  if (present) return Promise.resolve(present);
  const what = `peer:add of ${id ?? 'any peer'} on ${label(sw)}`;
  return waitFor(sw, 'peer:add', (p) => id === undefined || p.id === id, what, opts).then(([peer]) => peer);
}

/**
 * Resolves with the reason once `sw` removes the peer with node ID `id`
 * (without `id`: the next peer it removes). The reason is the typed error
 * that stopped the peer, a `SwitchboardError`: e.g. `ERR_MALFORMED_PACKET`
 * when a reactor refused its message, `ERR_CONNECTION_CLOSED` when the remote
 * closed, `ERR_PEER_STOPPED` for a local stop (Switch.stop, a graceful stop). Call it before the action that removes
 * the peer: it waits for the next removal, not a past one.
 *
 * @throws (rejects with) {@link WaitTimeoutError} after `timeoutMs` (default 10000 ms),
 *   the signal's reason when `signal` aborts, or InvalidArgumentError
 *   (`ERR_INVALID_ARGUMENT`) for a `timeoutMs` that is not 1..2147483647.
 */
export function peerRemoved(sw: Switch, id?: string, opts: WaitOptions = {}): Promise<RemoveReason> {
  const what = `peer:remove of ${id ?? 'any peer'} on ${label(sw)}`;
  return waitFor(sw, 'peer:remove', (p) => id === undefined || p.id === id, what, opts).then(([, reason]) => reason);
}

/** Options of {@link startSwitchPair}. */
export interface SwitchPairOptions {
  /** Reactors of Switch `a` (the dialer), added in this order with `addReactor` (each under its `name`). */
  a: readonly Reactor[];
  /** Reactors of Switch `b` (the listener that `a` dials). */
  b: readonly Reactor[];
  /** Network name of both NodeInfos. Default `"test"`. */
  network?: string;
  /** P2P config of both Switches (any subset); `listenAddress` defaults to `127.0.0.1:0` (a free port). */
  config?: P2PConfigInput;
  /** Deadline in ms for connecting (dial and both `peer:add`s). Default {@link DEFAULT_WAIT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Two started, connected Switches: what {@link startSwitchPair} resolves with. */
export interface SwitchPair {
  /** The dialer, moniker `a`. */
  a: Switch;
  /** The listener, moniker `b`. */
  b: Switch;
  /** `b` as `a` sees it (outbound): `toB.send(channelId, msg)` sends from a to b. */
  toB: Peer;
  /** `a` as `b` sees it (inbound). */
  toA: Peer;
  /** Stops both Switches (their peers, reactors and listeners); never rejects. Pass it to `t.teardown`. */
  stop(): Promise<void>;
}

/**
 * Starts two Switches on 127.0.0.1 with fresh node keys and the given
 * reactors, has `a` dial `b`, and resolves once each has added the other.
 * On any failure both Switches are stopped before the error is passed on.
 *
 * @throws (rejects with) the Switch's typed errors (e.g. `ERR_CHANNEL_TAKEN`
 *   from `addReactor`, `ERR_INCOMPATIBLE_PEER` from the dial), or
 *   {@link WaitTimeoutError} when the pair is not connected within `timeoutMs`, or
 *   InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for a `timeoutMs` that is not 1..2147483647.
 */
export async function startSwitchPair(opts: SwitchPairOptions): Promise<SwitchPair> {
  const timeoutMs = deadline(opts);
  const make = (moniker: string, reactors: readonly Reactor[]) => {
    const sw = new Switch({
      nodeKey: NodeKey.generate(),
      nodeInfo: { network: opts.network ?? 'test', moniker },
      config: { listenAddress: '127.0.0.1:0', ...opts.config },
    });
    for (const reactor of reactors) sw.addReactor(reactor);
    return sw;
  };
  const started: Switch[] = [];
  const cancel = new AbortController();
  const stop = async () => {
    await Promise.allSettled(started.map((sw) => sw.stop()));
  };
  try {
    const a = make('a', opts.a);
    const b = make('b', opts.b);
    for (const sw of [a, b]) {
      started.push(sw);
      await sw.start();
    }
    const atB = peerAdded(b, a.nodeKey.id, { timeoutMs, signal: cancel.signal });
    atB.catch(() => {}); // awaited below; a failed dial must not leave it unhandled
    const toB = await withDeadline(a.dialPeerWithAddress(b.listenAddr), `dial of b by a`, timeoutMs);
    const toA = await atB;
    return { a, b, toB, toA, stop };
  } catch (err) {
    cancel.abort();
    await stop();
    throw err;
  }
}

function withDeadline<T>(p: Promise<T>, what: string, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(what, timeoutMs)), timeoutMs);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Two connected in-memory Duplex streams: what one side writes, the other
 * reads, in order. Backpressure is real: a write completes once the other
 * side reads it, so `write()` returns false and `'drain'` follows as on a
 * socket. Ending one side ends the other's readable side; destroying one
 * side ends the other (as a closed TCP connection does).
 */
export function memoryDuplexPair(): [Duplex, Duplex] {
  const a = new MemoryDuplex();
  const b = new MemoryDuplex();
  a.other = b;
  b.other = a;
  return [a, b];
}

/** One side of {@link memoryDuplexPair} (as Node 22's `stream.duplexPair`, which Node 20.0 lacks). */
class MemoryDuplex extends Duplex {
  other!: MemoryDuplex;
  /** The callback of the other side's last write, called once we read on. */
  private writeDone: (() => void) | undefined;

  override _read(): void {
    const cb = this.writeDone;
    this.writeDone = undefined;
    cb?.();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.other.destroyed || this.other.readableEnded) return cb();
    this.other.writeDone = cb;
    this.other.push(chunk);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.other.push(null);
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const pending = this.writeDone; // a write of the other side that waits for us to read: complete it
    this.writeDone = undefined;
    pending?.();
    if (!this.other.destroyed && !this.other.readableEnded) this.other.push(null);
    cb(err);
  }
}

/** Options of {@link mconnectionPair}. */
export interface MConnectionPairOptions {
  /** Channels of both connections. Default one channel, id 0x01, `sendQueueCapacity` 100. */
  channels?: ChannelDescriptor[];
  /** Channels of `b` when they differ from `a`'s (e.g. to test an unknown channel). */
  channelsB?: ChannelDescriptor[];
  /** MConnection config of both sides (`pingIntervalMs`, `recvWindowBytes`, …). */
  config?: Partial<MConnConfig>;
  /** Receive handler of `a`; default ignores messages. */
  onReceiveA?: ReceiveHandler;
  /** Receive handler of `b`; default ignores messages. */
  onReceiveB?: ReceiveHandler;
  /** Call `start()` on both. Default true. */
  start?: boolean;
}

/** What {@link mconnectionPair} returns. */
export interface MConnectionPair {
  /** One side, started unless `start: false`. */
  a: MConnection;
  /** The other side. */
  b: MConnection;
  /** Resolves with the typed error that stopped `a` (its `onError`), if one ever does. */
  errorA: Promise<SwitchboardError>;
  /** Resolves with the typed error that stopped `b`. */
  errorB: Promise<SwitchboardError>;
  /** Stops both connections at once (`MConnection.stop`). */
  stop(): void;
}

/**
 * Two MConnections joined by {@link memoryDuplexPair}: plaintext, no
 * handshake, no socket, so a reactor's codec or a channel configuration can
 * be tested without ports. Each side's `onError` resolves its `errorA`/`errorB`.
 *
 * @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for bad channels or config, as `new MConnection`.
 */
export function mconnectionPair(opts: MConnectionPairOptions = {}): MConnectionPair {
  const channels = opts.channels ?? [{ id: 0x01, sendQueueCapacity: 100 }];
  const [da, db] = memoryDuplexPair();
  let failA!: (e: SwitchboardError) => void;
  let failB!: (e: SwitchboardError) => void;
  const errorA = new Promise<SwitchboardError>((r) => (failA = r));
  const errorB = new Promise<SwitchboardError>((r) => (failB = r));
  const a = new MConnection(da, channels, opts.onReceiveA ?? (() => {}), failA, opts.config);
  const b = new MConnection(db, opts.channelsB ?? channels, opts.onReceiveB ?? (() => {}), failB, opts.config);
  if (opts.start !== false) {
    a.start();
    b.start();
  }
  return {
    a,
    b,
    errorA,
    errorB,
    stop() {
      a.stop();
      b.stop();
    },
  };
}
