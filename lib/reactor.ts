/**
 * Reactors: the application's side of the Switch, as CometBFT's
 * `p2p.Reactor` and `p2p.BaseReactor`.
 *
 * @module
 */
import type { ChannelDescriptor } from './conn/channel.js';
import type { SwitchboardError } from './errors.js';
import type { Peer } from './peer.js';
import type { Switch } from './switch.js';

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
  /** The channels this reactor owns (ids unique across the Switch's reactors). */
  getChannels(): ChannelDescriptor[];
  /** Called by `Switch.addReactor`. */
  setSwitch(sw: Switch): void;
  /** Called when the Switch starts (before it listens or dials). */
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
   * apply backpressure: the peer's connection stops reading until it
   * settles. Throwing (or rejecting) disconnects the peer with `ERR_RECEIVE_FAILED`.
   */
  receive(e: Envelope): void | Promise<unknown>;
}

/**
 * A Reactor with no-op defaults for everything but `getChannels` and
 * `receive`, as CometBFT's `BaseReactor`. `this.sw` is the Switch once added.
 */
export abstract class BaseReactor implements Reactor {
  /** The Switch this reactor was added to (set by `setSwitch`). */
  protected sw: Switch | undefined;

  /** @param name for logs. */
  constructor(readonly name: string) {}

  abstract getChannels(): ChannelDescriptor[];

  setSwitch(sw: Switch): void {
    this.sw = sw;
  }

  /** The Switch; @throws Error when called before `addReactor`. */
  protected get switch(): Switch {
    if (!this.sw) throw new Error(`reactor ${this.name} is not added to a Switch`);
    return this.sw;
  }

  start(): Promise<void> | void {}
  stop(): Promise<void> | void {}
  initPeer(_peer: Peer): void {}
  addPeer(_peer: Peer): void {}
  removePeer(_peer: Peer, _reason: SwitchboardError): void | Promise<void> {}
  receive(_e: Envelope): void | Promise<unknown> {}
}
