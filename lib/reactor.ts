/**
 * Reactors: the application's side of the Switch, as CometBFT's
 * `p2p.Reactor` and `p2p.BaseReactor`.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { P2PConfig } from './config.js';
import type { ChannelDescriptor } from './conn/channel.js';
import { NotStartedError, type SwitchboardError } from './errors.js';
import type { NetAddress } from './net-address.js';
import type { NodeInfo } from './node-info.js';
import type { NodeKey } from './node-key.js';
import type { Peer, PeerSet } from './peer.js';

/** What PEX's AddrBook offers the Switch (CometBFT's `AddrBook` interface, plus persisted bans). */
export interface SwitchAddrBook {
  /** The peer with this ID behaved well. */
  markGood(id: string): void;
  /** Our own address: never gossip or dial it. */
  addOurAddress?(addr: NetAddress): void;
  /** Forget an address (e.g. it turned out to be ourselves). */
  removeAddress?(addr: NetAddress): void;
  /** Persist a ban (the book survives restarts). */
  markBad?(addr: NetAddress, banMs: number): void;
  /** True while a persisted ban of this address runs. */
  isBanned?(addr: NetAddress): boolean;
}

/**
 * What a reactor may use of the Switch it was added to: the one seam between
 * the two, handed to {@link Reactor.setSwitch}. The Switch implements it;
 * tests may pass a fake. It is the part of CometBFT's `*p2p.Switch` that
 * CometBFT's reactors call (`Peers`, `NodeInfo`, `DialPeerWithAddress`,
 * `StopPeerForError`, `StopPeerGracefully`, `IsDialingOrExistingAddress`,
 * `NumPeers`, `IsPeerUnconditional`, `SetAddrBook`), plus the node key, the
 * logger and bans. Events (`peer:add`, …) are not part of it: a reactor is
 * told of peers by `initPeer`/`addPeer`/`removePeer`.
 */
export interface ReactorHost {
  /** Our identity (`nodeKey.id` is our node ID, 40 hex). */
  readonly nodeKey: NodeKey;
  /**
   * Our NodeInfo, with the address actually listened on (the real port when
   * `listenAddress` asks for port 0, or `externalAddress`). Available from
   * the moment the Switch calls {@link Reactor.start}.
   * @throws NotStartedError (`ERR_NOT_STARTED`) before the Switch has started listening.
   */
  readonly nodeInfo: NodeInfo;
  /** The effective p2p settings (validated, defaults filled in); e.g. `config.maxNumOutboundPeers`. */
  readonly config: Readonly<P2PConfig>;
  /** The Switch's pino logger (silent unless the application passed one); reactors log through a child. */
  readonly logger: Logger;
  /**
   * The connected peers (read-only): `has(id)`, `get(id)`, `list()` (a
   * snapshot), `size`, `numOutbound()`, `numInbound()`.
   */
  readonly peers: Pick<PeerSet, 'has' | 'get' | 'list' | 'size' | 'numOutbound' | 'numInbound'>;
  /** True between `Switch.start()` and `Switch.stop()` (a loop of the reactor ends when it turns false). */
  readonly isRunning: boolean;
  /**
   * Dial `addr` (`id@host:port`), handshake and add the peer, as CometBFT's
   * `DialPeerWithAddress`; resolves with the Peer once every reactor's
   * `addPeer` has run. Rejects with a typed error: see `Switch.dialPeerWithAddress`.
   */
  dialPeerWithAddress(addr: string | NetAddress, opts?: { signal?: AbortSignal }): Promise<Peer>;
  /** True while a dial to node `id` is in progress. */
  isDialing(id: string): boolean;
  /**
   * Outbound peers plus dials in progress plus slots held for persistent
   * peers, unconditional ones not counted: what `config.maxNumOutboundPeers`
   * bounds (see `Switch.numOutboundPeersAndDials`).
   */
  numOutboundPeersAndDials(): number;
  /**
   * Disconnect `peer` for `reason`, as CometBFT's `StopPeerForError`: every
   * reactor's `removePeer` runs once; a non-SwitchboardError reason is
   * wrapped in a PeerError (`ERR_PEER_ERROR`). No-op for a peer already removed.
   */
  stopPeerForError(peer: Peer, reason: unknown): void;
  /** Write everything queued to `peer`, then disconnect it (`ERR_PEER_STOPPED`, reason `'graceful'`), as CometBFT's `StopPeerGracefully`. */
  stopPeerGracefully(peer: Peer): Promise<void>;
  /**
   * Disconnect and refuse a node ID, an address `id@host:port` or an IP for
   * `durationMs` ms (see `Switch.banPeer`). @throws InvalidArgumentError for a malformed target or duration.
   */
  banPeer(target: string | NetAddress, durationMs: number): void;
  /** True for a persistent peer ID (redialed by the Switch when it drops). */
  isPersistentPeer(id: string): boolean;
  /** True for an unconditional peer ID (not bound by the peer limits). */
  isUnconditionalPeer(id: string): boolean;
  /** True for a private peer ID (never gossiped to others). */
  isPrivatePeer(id: string): boolean;
  /**
   * Give the Switch an address book (as CometBFT's `SetAddrBook`): it marks
   * good peers, learns our own address before reactors start, and persists bans.
   */
  setAddrBook(book: SwitchAddrBook): void;
}

/** One received message: the channel, the peer it came from, and its bytes. */
export interface Envelope {
  /** The channel the message arrived on. */
  channelId: number;
  /** The peer that sent it. */
  src: Peer;
  /** The message bytes (a view of received data: copy it to keep it past a later await if you mutate). */
  message: Uint8Array;
}

/**
 * What the Switch calls on a reactor. For each peer the order is
 * `initPeer` → `addPeer` → `receive`* → `removePeer`, each of `initPeer`,
 * `addPeer` and `removePeer` exactly once, and `receive` only between
 * `addPeer` and `removePeer`.
 */
export interface Reactor {
  /**
   * The reactor's one name, unique across the Switch's reactors: what
   * `Switch.addReactor` registers it under, `Switch.reactor(name)` finds and
   * logs show (e.g. `'pex'`, `'echo'`).
   */
  readonly name: string;
  /** The channels this reactor owns (ids unique across the Switch's reactors). */
  getChannels(): ChannelDescriptor[];
  /** Called by `Switch.addReactor` with the Switch, seen through {@link ReactorHost} (not started yet: no `nodeInfo`). */
  setSwitch(host: ReactorHost): void;
  /**
   * Called by `Switch.start()`, in `addReactor` order, once the Switch
   * listens and has built its NodeInfo (as CometBFT's node: listen, NodeInfo,
   * then reactors), so `host.nodeInfo` holds the address actually listened
   * on. The Switch accepts inbound peers once every reactor's `start` has
   * resolved; a dial begun here may complete before a later reactor's async
   * `start` has. A throw (or rejection) stops the Switch's start: it closes
   * its listener and rejects with that error.
   */
  start(): Promise<void> | void;
  /** Called when the Switch stops (after every peer has been removed). */
  stop(): Promise<void> | void;
  /** Before the peer starts: set up per-peer state (e.g. `peer.set(...)`). */
  initPeer(peer: Peer): void;
  /** The peer is connected and may be sent to. */
  addPeer(peer: Peer): void;
  /**
   * The peer is gone; `reason.code` says why: `ERR_PEER_STOPPED` when we
   * stopped it without an error (`Switch.stop`, `stopPeerGracefully`, a
   * replaced duplicate connection: `PeerStoppedError.reason`),
   * `ERR_CONNECTION_CLOSED` when the remote closed it, otherwise the error
   * that stopped it (`ERR_PEER_ERROR` wraps a non-switchboard error given to
   * `stopPeerForError`, as its `cause`). May return a Promise: a reconnect of
   * the same ID waits for it before its `initPeer`.
   */
  removePeer(peer: Peer, reason: SwitchboardError): void | Promise<void>;
  /**
   * Optional: look at a message's raw bytes before `receive` decodes them;
   * return false to refuse it — the sender is disconnected with
   * `ERR_MESSAGE_REJECTED` (e.g. a size or rate rule).
   */
  filterMessage?(e: Envelope): boolean;
  /**
   * A message arrived on one of this reactor's channels. Return a Promise to
   * apply backpressure: that channel of that peer delivers nothing more until
   * it settles, and the peer stops sending on it once its flow-control window
   * is used (per-channel flow control: the peer's other channels and
   * keepalive carry on). Throwing (or rejecting) disconnects the peer with
   * `ERR_RECEIVE_FAILED`.
   */
  receive(e: Envelope): void | Promise<unknown>;
}

/**
 * A Reactor with no-op defaults for everything but `getChannels` and
 * `receive`, as CometBFT's `BaseReactor`. `this.sw` is the Switch (as a
 * {@link ReactorHost}) once added.
 */
export abstract class BaseReactor implements Reactor {
  /** The Switch this reactor was added to, as a {@link ReactorHost} (set by `setSwitch`). */
  protected sw: ReactorHost | undefined;

  /** @param name the reactor's one name (see {@link Reactor.name}): `Switch.addReactor` registers it under it. */
  constructor(readonly name: string) {}

  abstract getChannels(): ChannelDescriptor[];

  setSwitch(host: ReactorHost): void {
    this.sw = host;
  }

  /** The Switch, as a {@link ReactorHost}. @throws NotStartedError (`ERR_NOT_STARTED`) before `addReactor`. */
  protected get switch(): ReactorHost {
    if (!this.sw) throw new NotStartedError(`reactor ${this.name} is not added to a Switch`);
    return this.sw;
  }

  start(): Promise<void> | void {}
  stop(): Promise<void> | void {}
  initPeer(_peer: Peer): void {}
  addPeer(_peer: Peer): void {}
  removePeer(_peer: Peer, _reason: SwitchboardError): void | Promise<void> {}
  receive(_e: Envelope): void | Promise<unknown> {}
}
