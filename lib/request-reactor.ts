/**
 * RequestReactor: request/response over one channel, with correlation ids,
 * deadlines, in-flight limits and stall accounting — neo-go's synchronous
 * requests and `StallTimeout`, which CometBFT's p2p RFC-000 lists as missing
 * ("synchronous semantics"). The wire header is docs/PROTOCOL.md §7
 * (lib/request-wire.ts).
 *
 * @module
 */
import type { ChannelDescriptor } from './conn/channel.js';
import {
  ChannelInactiveError,
  InvalidArgumentError,
  MessageTooLargeError,
  ProtocolViolationError,
  RemoteError,
  RequestError,
  type SwitchboardError,
} from './errors.js';
import type { Peer } from './peer.js';
import { BaseReactor, type Envelope } from './reactor.js';
import {
  decodeRequestMessage,
  encodeCancel,
  encodeError,
  encodeRequest,
  encodeResponse,
  MAX_ERROR_MESSAGE,
  REQUEST_HEADER_MAX,
  type RequestMessage,
} from './request-wire.js';

/** What a request handler gets. */
export interface RequestContext {
  /** The peer that sent the request. */
  peer: Peer;
  /** The request bytes (a view of received data; copy it to keep it). */
  request: Uint8Array;
  /**
   * Aborted when the request's deadline passes (the smaller of the
   * requester's timeout and this reactor's `timeoutMs`), when the requester
   * cancels, or when the peer goes. A handler should stop its work then: its
   * result is no longer sent.
   */
  signal: AbortSignal;
  /** The channel version agreed with this peer (see `Peer.channelVersion`). */
  version: number;
}

/**
 * Answers one request with the response bytes. Throwing (or rejecting) sends
 * an error response carrying the error's `code` (a string of 1..64 printable
 * ASCII characters, else `ERR_HANDLER`) and `message` (cut to 1024 bytes) —
 * the requester sees them in a RemoteError; the peer is never disconnected
 * for it. Throw only errors whose message the remote may read.
 */
export type RequestHandler = (ctx: RequestContext) => Uint8Array | Promise<Uint8Array>;

/** Options of a {@link RequestReactor}. */
export interface RequestReactorOptions {
  /** The channel (0..255). */
  channelId: number;
  /** Answers requests; without one every request gets an error response `ERR_NO_HANDLER`. */
  handler?: RequestHandler;
  /** Default timeout of `request` (ms), also the longest a handler may run. Default 5000. */
  timeoutMs?: number;
  /**
   * Requests in flight per peer, in each direction (positive integer).
   * Default 16. Locally `request` rejects with `ERR_TOO_MANY_REQUESTS` beyond
   * it; a remote that sends more unanswered requests is disconnected with
   * `ERR_PROTOCOL_VIOLATION` — so it is part of the channel's protocol: use
   * the same value on every node.
   */
  maxInFlightPerPeer?: number;
  /** Largest request (bytes). Default 1048576 (1 MiB). */
  maxRequestBytes?: number;
  /** Largest response (bytes). Default 4194304 (4 MiB). */
  maxResponseBytes?: number;
  /**
   * Requests in a row that may time out before the peer is disconnected with
   * `ERR_STALL_TIMEOUT` (as neo-go's stall timeout); 0 = never. Default 3.
   * An answer in time resets the count.
   */
  stallLimit?: number;
  /** Channel versions (see `ChannelDescriptor.versions`). Default `[1]`. */
  versions?: number[];
  /** Channel priority. Default 1. */
  priority?: number;
  /** Channel send queue capacity (messages). Default `maxInFlightPerPeer`. */
  sendQueueCapacity?: number;
  /** Reactor and channel name for logs. Default `request`. */
  name?: string;
}

/** Options of one {@link RequestReactor.request}. */
export interface RequestOptions {
  /** Give up after this many ms (1..2^32−1, including the wait for room in the send queue). Default the reactor's `timeoutMs`. */
  timeoutMs?: number;
  /** Give up when aborted (`ERR_REQUEST_ABORTED`). */
  signal?: AbortSignal;
}

/** Requests in flight with one peer (see {@link RequestReactor.inFlight}). */
export interface InFlightCounts {
  /** Ours: sent and not yet answered (including timed-out ones awaiting their late answer). */
  outgoing: number;
  /** Theirs: received and not yet answered. */
  incoming: number;
}

/** A request we sent (or are sending). */
interface Outgoing {
  resolve: (b: Uint8Array) => void;
  reject: (e: SwitchboardError) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Aborts a blocking send still waiting for room. */
  sendAbort: AbortController;
  /** The request is in the send queue (the remote will see it). */
  queued: boolean;
  /** The caller's promise is settled (timed out or aborted); kept until the remote answers. */
  settled: boolean;
}

/** A request we received and have not answered. */
interface Incoming {
  ac: AbortController;
  timer: NodeJS.Timeout | undefined;
}

interface PeerState {
  peer: Peer;
  nextId: number;
  outgoing: Map<number, Outgoing>;
  incoming: Map<number, Incoming>;
  stalls: number;
}

const MAX_U32 = 0xffffffff;

/**
 * Request/response over one channel.
 *
 * ```ts
 * const blocks = sw.addReactor(new RequestReactor({
 *   name: 'blocks',
 *   channelId: 0x41,
 *   handler: async ({ request, signal }) => encodeBlock(await store.get(decode(request), { signal })),
 * }));
 * const response = await blocks.request(peer, bytes, { timeoutMs: 2000 });
 * ```
 *
 * Each request carries a correlation id; the responder answers each request
 * exactly once (a response, an error, or — after a cancel or its deadline —
 * an `ERR_REQUEST_ABORTED`/`ERR_REQUEST_TIMEOUT` error). A request that timed
 * out or was aborted keeps its in-flight slot until that answer arrives (the
 * answer is dropped), so both sides always agree on what is in flight.
 *
 * `request` waits for room in the channel's send queue (the Switch's
 * backpressure), bounded by its timeout; it never drops a request silently.
 * Handlers run concurrently, at most `maxInFlightPerPeer` per peer.
 *
 * Protocol violations disconnect the peer (`Switch.stopPeerForError`):
 * `ERR_MALFORMED_PACKET` for a malformed header, `ERR_PROTOCOL_VIOLATION`
 * for more requests in flight than `maxInFlightPerPeer`, a duplicate id, or
 * an answer to a request we never sent.
 */
export class RequestReactor extends BaseReactor {
  /** The channel id. */
  readonly channelId: number;
  /** Default request timeout (ms). */
  readonly timeoutMs: number;
  /** In-flight limit per peer and direction. */
  readonly maxInFlightPerPeer: number;
  /** Largest request (bytes). */
  readonly maxRequestBytes: number;
  /** Largest response (bytes). */
  readonly maxResponseBytes: number;
  /** Timeouts in a row before a peer is disconnected (0 = never). */
  readonly stallLimit: number;
  private readonly handler: RequestHandler | undefined;
  private readonly descriptor: ChannelDescriptor;
  private readonly states = new Map<Peer, PeerState>();

  /** @throws InvalidArgumentError (`ERR_INVALID_ARGUMENT`) for an option out of range. */
  constructor(opts: RequestReactorOptions) {
    super(opts.name ?? 'request');
    this.channelId = opts.channelId;
    this.handler = opts.handler;
    this.timeoutMs = checkTimeout(opts.timeoutMs ?? 5000, 'timeoutMs');
    this.maxInFlightPerPeer = positiveInt(opts.maxInFlightPerPeer ?? 16, 'maxInFlightPerPeer');
    this.maxRequestBytes = positiveInt(opts.maxRequestBytes ?? 1 << 20, 'maxRequestBytes');
    this.maxResponseBytes = positiveInt(opts.maxResponseBytes ?? 4 << 20, 'maxResponseBytes');
    const stall = opts.stallLimit ?? 3;
    if (!Number.isInteger(stall) || stall < 0) throw new InvalidArgumentError(`stallLimit must be an integer ≥ 0, got ${stall}`);
    this.stallLimit = stall;
    this.descriptor = {
      id: opts.channelId,
      priority: opts.priority,
      sendQueueCapacity: opts.sendQueueCapacity ?? this.maxInFlightPerPeer,
      recvMessageCapacity: REQUEST_HEADER_MAX + Math.max(this.maxRequestBytes, this.maxResponseBytes, MAX_ERROR_MESSAGE),
      name: opts.name ?? 'request',
      versions: opts.versions,
    };
  }

  getChannels(): ChannelDescriptor[] {
    return [this.descriptor];
  }

  override addPeer(peer: Peer): void {
    this.states.set(peer, { peer, nextId: 1, outgoing: new Map(), incoming: new Map(), stalls: 0 });
  }

  /** Every pending request of the peer rejects with `ERR_PEER_REMOVED` at once; its timers are cleared and its handlers aborted. */
  override removePeer(peer: Peer, _reason: unknown): void {
    const st = this.states.get(peer);
    if (!st) return;
    this.states.delete(peer);
    const gone = new RequestError('ERR_PEER_REMOVED', `peer ${peer.id} was removed`);
    for (const o of st.outgoing.values()) this.finish(o, gone);
    st.outgoing.clear();
    for (const i of st.incoming.values()) {
      clearTimeout(i.timer);
      i.ac.abort(gone);
    }
    st.incoming.clear();
  }

  /**
   * Requests in flight with `peer`: `outgoing` (ours, including timed-out
   * ones still awaiting their answer) and `incoming` (theirs, not yet
   * answered). Zeros for a peer that is not connected.
   */
  inFlight(peer: Peer): InFlightCounts {
    const st = this.states.get(peer);
    return { outgoing: st?.outgoing.size ?? 0, incoming: st?.incoming.size ?? 0 };
  }

  /**
   * Send `msg` to `peer` and resolve with its response.
   *
   * Rejects with RequestError `ERR_REQUEST_TIMEOUT` (no response within
   * `timeoutMs`, default the reactor's, or the responder's handler ran past
   * its own deadline — whichever side's timer fires first, it is a timeout and
   * counts towards `stallLimit`), `ERR_REQUEST_ABORTED` (the signal),
   * `ERR_PEER_REMOVED` (the peer is not connected, or went), `ERR_TOO_MANY_REQUESTS`
   * (`maxInFlightPerPeer` requests in flight), `ERR_RESPONSE_TOO_LARGE` (the
   * response is over `maxResponseBytes`, or the remote refused to send one
   * that was); RemoteError `ERR_REMOTE_ERROR` (the remote handler failed);
   * ChannelInactiveError `ERR_CHANNEL_INACTIVE` (no common channel version);
   * MessageTooLargeError `ERR_MESSAGE_TOO_LARGE` (`msg` over `maxRequestBytes`);
   * InvalidArgumentError for a bad timeout.
   */
  request(peer: Peer, msg: Uint8Array, opts: RequestOptions = {}): Promise<Uint8Array> {
    try {
      const timeoutMs = checkTimeout(opts.timeoutMs ?? this.timeoutMs, 'timeoutMs');
      if (!(msg instanceof Uint8Array)) throw new InvalidArgumentError('a request must be a Uint8Array');
      if (msg.length > this.maxRequestBytes)
        throw new MessageTooLargeError(`request of ${msg.length} bytes exceeds maxRequestBytes ${this.maxRequestBytes}`);
      const st = this.states.get(peer);
      if (!st) throw new RequestError('ERR_PEER_REMOVED', `${peer.id} is not a connected peer`);
      if (peer.channelVersion(this.channelId) === undefined) {
        throw new ChannelInactiveError(this.channelId, `channel 0x${this.channelId.toString(16)} has no common version with ${peer.id}`);
      }
      if (opts.signal?.aborted) throw new RequestError('ERR_REQUEST_ABORTED', 'request aborted before it was sent');
      if (st.outgoing.size >= this.maxInFlightPerPeer) {
        throw new RequestError(
          'ERR_TOO_MANY_REQUESTS',
          `${st.outgoing.size} requests in flight to ${peer.id} (maxInFlightPerPeer ${this.maxInFlightPerPeer})`,
        );
      }
      return this.launch(st, msg, timeoutMs, opts.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private launch(st: PeerState, msg: Uint8Array, timeoutMs: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    let id = st.nextId;
    while (st.outgoing.has(id)) id = id === MAX_U32 ? 1 : id + 1;
    st.nextId = id === MAX_U32 ? 1 : id + 1;
    return new Promise<Uint8Array>((resolve, reject) => {
      const o: Outgoing = {
        resolve,
        reject,
        timer: undefined,
        signal,
        onAbort: undefined,
        sendAbort: new AbortController(),
        queued: false,
        settled: false,
      };
      st.outgoing.set(id, o);
      o.timer = setTimeout(
        () => this.giveUp(st, id, o, new RequestError('ERR_REQUEST_TIMEOUT', `no response from ${st.peer.id} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (signal) {
        o.onAbort = () => this.giveUp(st, id, o, new RequestError('ERR_REQUEST_ABORTED', 'request aborted', { cause: signal.reason }));
        signal.addEventListener('abort', o.onAbort, { once: true });
      }
      st.peer.send(this.channelId, encodeRequest(id, timeoutMs, msg), { signal: o.sendAbort.signal, timeoutMs: 0 }).then(
        (ok) => this.sent(st, id, o, ok),
        (err: SwitchboardError) => this.sent(st, id, o, false, err),
      );
    });
  }

  /** The blocking send resolved: queued (`ok`), or given up (aborted by us, or the peer stopped). */
  private sent(st: PeerState, id: number, o: Outgoing, ok: boolean, err?: SwitchboardError): void {
    if (st.outgoing.get(id) !== o) return; // the peer was removed meanwhile
    if (ok) {
      o.queued = true;
      if (o.settled) st.peer.trySend(this.channelId, encodeCancel(id)); // gave up while it waited for room
      return;
    }
    // never queued: the remote does not know the id
    st.outgoing.delete(id);
    this.finish(o, err ?? new RequestError('ERR_PEER_REMOVED', `peer ${st.peer.id} is stopping`));
  }

  /** Timeout or abort: settle the caller's promise; the slot stays until the remote answers (if it saw the request). */
  private giveUp(st: PeerState, id: number, o: Outgoing, err: RequestError): void {
    if (o.settled) return;
    const timedOut = err.code === 'ERR_REQUEST_TIMEOUT';
    this.settle(o);
    o.reject(err);
    if (!o.queued) {
      o.sendAbort.abort(); // `sent` removes it
      return;
    }
    st.peer.trySend(this.channelId, encodeCancel(id)); // best effort: the remote's own deadline answers anyway
    if (timedOut) this.countStall(st);
  }

  /** One more timeout in a row; at `stallLimit` the peer is disconnected with `ERR_STALL_TIMEOUT` (neo-go's stall timeout). */
  private countStall(st: PeerState): void {
    if (this.stallLimit > 0 && ++st.stalls >= this.stallLimit && this.states.get(st.peer) === st) {
      const stall = new RequestError(
        'ERR_STALL_TIMEOUT',
        `${st.stalls} requests in a row to ${st.peer.id} timed out (stallLimit ${this.stallLimit})`,
      );
      this.sw?.logger.info({ peer: st.peer.id, stalls: st.stalls }, 'peer stalled on requests');
      this.switch.stopPeerForError(st.peer, stall);
    }
  }

  private settle(o: Outgoing): void {
    o.settled = true;
    clearTimeout(o.timer);
    o.timer = undefined;
    if (o.onAbort) o.signal!.removeEventListener('abort', o.onAbort);
  }

  /** Settle (if not yet) with `err`, and stop any send still waiting. */
  private finish(o: Outgoing, err: SwitchboardError): void {
    o.sendAbort.abort();
    if (o.settled) return;
    this.settle(o);
    o.reject(err);
  }

  override receive({ src, message }: Envelope): void {
    const st = this.states.get(src);
    if (!st) return;
    let m: RequestMessage;
    try {
      m = decodeRequestMessage(message);
    } catch (err) {
      this.violation(src, err as SwitchboardError);
      return;
    }
    switch (m.kind) {
      case 'request':
        return this.onRequest(st, m.id, m.timeoutMs, m.payload);
      case 'cancel': {
        const i = st.incoming.get(m.id);
        if (i)
          this.answer(
            st,
            m.id,
            encodeError(m.id, 'ERR_REQUEST_ABORTED', 'cancelled by the requester'),
            new RequestError('ERR_REQUEST_ABORTED', 'cancelled by the requester'),
          );
        return; // a cancel that crossed our answer is normal
      }
      default:
        return this.onAnswer(st, m);
    }
  }

  private onRequest(st: PeerState, id: number, timeoutMs: number, payload: Uint8Array): void {
    const peer = st.peer;
    if (st.incoming.has(id)) return this.violation(peer, new ProtocolViolationError(`request id ${id} is already in flight`));
    if (st.incoming.size >= this.maxInFlightPerPeer) {
      return this.violation(
        peer,
        new ProtocolViolationError(`more than maxInFlightPerPeer (${this.maxInFlightPerPeer}) requests in flight`),
      );
    }
    const i: Incoming = { ac: new AbortController(), timer: undefined };
    st.incoming.set(id, i);
    if (payload.length > this.maxRequestBytes) {
      return this.answer(
        st,
        id,
        encodeError(id, 'ERR_MESSAGE_TOO_LARGE', `request of ${payload.length} bytes exceeds ${this.maxRequestBytes}`),
      );
    }
    const handler = this.handler;
    if (!handler) return this.answer(st, id, encodeError(id, 'ERR_NO_HANDLER', 'this node answers no requests on this channel'));
    const deadline = Math.min(timeoutMs, this.timeoutMs);
    i.timer = setTimeout(() => {
      const err = new RequestError('ERR_REQUEST_TIMEOUT', `handler ran past its deadline of ${deadline} ms`);
      this.answer(st, id, encodeError(id, err.code, err.message), err);
    }, deadline);
    const signal = i.ac.signal;
    Promise.resolve()
      .then(() => handler({ peer, request: payload, signal, version: peer.channelVersion(this.channelId) ?? 0 }))
      .then(
        (res) => {
          if (st.incoming.get(id) !== i) return; // aborted meanwhile
          if (!(res instanceof Uint8Array)) {
            this.answer(st, id, encodeError(id, 'ERR_HANDLER', 'handler returned no Uint8Array'));
          } else if (res.length > this.maxResponseBytes) {
            this.answer(
              st,
              id,
              encodeError(
                id,
                'ERR_RESPONSE_TOO_LARGE',
                `response of ${res.length} bytes exceeds maxResponseBytes ${this.maxResponseBytes}`,
              ),
            );
          } else {
            this.answer(st, id, encodeResponse(id, res));
          }
        },
        (err: unknown) => {
          if (st.incoming.get(id) !== i) return;
          const e = err as { code?: unknown; message?: unknown } | undefined;
          const code = typeof e?.code === 'string' ? e.code : 'ERR_HANDLER';
          const text = typeof e?.message === 'string' ? e.message : String(err);
          this.answer(st, id, encodeError(id, code, text));
        },
      );
  }

  /** Answer request `id` once (freeing its slot), aborting its handler with `abort` when given. */
  private answer(st: PeerState, id: number, bytes: Uint8Array, abort?: SwitchboardError): void {
    const i = st.incoming.get(id);
    if (!i) return;
    st.incoming.delete(id);
    clearTimeout(i.timer);
    if (abort) i.ac.abort(abort);
    // Waits for room as long as it takes: the remote cannot send more than
    // maxInFlightPerPeer requests before it gets these answers, so they are bounded.
    void st.peer.send(this.channelId, bytes, { timeoutMs: 0 }).catch(() => {});
  }

  private onAnswer(st: PeerState, m: Exclude<RequestMessage, { kind: 'request' | 'cancel' }>): void {
    const o = st.outgoing.get(m.id);
    if (!o || !o.queued) return this.violation(st.peer, new ProtocolViolationError(`answer to request id ${m.id}, which we never sent`));
    st.outgoing.delete(m.id);
    if (o.settled) return; // timed out or aborted: the late answer frees the slot
    if (m.kind === 'error' && m.code === 'ERR_REQUEST_TIMEOUT') {
      // the responder's deadline (ours, sent with the request) ran out first: a timeout, whichever
      // side's timer fired first, and it counts towards stallLimit; the slot is already free
      this.settle(o);
      o.reject(new RequestError('ERR_REQUEST_TIMEOUT', `no response from ${st.peer.id} in time (remote: ${m.message})`));
      this.countStall(st);
      return;
    }
    st.stalls = 0;
    this.settle(o);
    if (m.kind === 'response') {
      if (m.payload.length > this.maxResponseBytes) {
        o.reject(
          new RequestError(
            'ERR_RESPONSE_TOO_LARGE',
            `response of ${m.payload.length} bytes exceeds maxResponseBytes ${this.maxResponseBytes}`,
          ),
        );
      } else {
        o.resolve(m.payload);
      }
    } else if (m.code === 'ERR_RESPONSE_TOO_LARGE') {
      o.reject(new RequestError('ERR_RESPONSE_TOO_LARGE', `remote: ${m.message}`));
    } else {
      o.reject(new RemoteError(m.code, m.message));
    }
  }

  private violation(peer: Peer, err: SwitchboardError): void {
    this.sw?.logger.info({ peer: peer.id, code: err.code, err: err.message }, 'request protocol violation');
    this.switch.stopPeerForError(peer, err);
  }
}

function positiveInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a positive integer, got ${n}`);
  return n;
}

function checkTimeout(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_U32) throw new InvalidArgumentError(`${what} must be an integer in 1..2^32-1 ms, got ${n}`);
  return n;
}
