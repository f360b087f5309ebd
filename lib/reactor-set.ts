/**
 * A Switch's reactors, as CometBFT's `reactors` and `reactorsByCh`: each
 * registered under a name, each channel id owned by one reactor, and the
 * calls the Switch makes on all of them for a peer (a reactor's error in
 * `addPeer` or `removePeer` is logged, never stops the others).
 *
 * @module
 */
import type { Logger } from 'pino';
import { channelIdHex, type ChannelDescriptor } from './conn/channel.js';
import { InvalidArgumentError, type SwitchboardError } from './errors.js';
import type { Peer } from './peer.js';
import type { Reactor } from './reactor.js';

/** The reactors of one Switch, by name and by channel. */
export class ReactorSet {
  /** By name, in the order added (reactors start in this order). */
  readonly byName = new Map<string, Reactor>();
  /** By channel id (0..255): the reactor that owns it. */
  readonly byChannel: (Reactor | undefined)[] = new Array(256);
  /** Every channel of every reactor, in the order added. */
  readonly channels: ChannelDescriptor[] = [];
  /** Peers whose reactors' `removePeer` is still running (async), by ID. */
  readonly #removals = new Map<string, Promise<void>>();

  /**
   * Register `reactor` under `name` with its channels.
   * @throws InvalidArgumentError (`ERR_CHANNEL_TAKEN`) when a channel id is already taken, (`ERR_INVALID_ARGUMENT`) when the name is.
   */
  add(name: string, reactor: Reactor): void {
    if (this.byName.has(name)) throw new InvalidArgumentError(`a reactor named ${name} is already added`);
    const chs = reactor.getChannels();
    const seen = new Set<number>();
    for (const ch of chs) {
      if (this.byChannel[ch.id] || seen.has(ch.id)) {
        throw new InvalidArgumentError(`channel ${channelIdHex(ch.id)} of reactor ${name} is already taken`, 'ERR_CHANNEL_TAKEN');
      }
      seen.add(ch.id);
    }
    for (const ch of chs) {
      this.byChannel[ch.id] = reactor;
      this.channels.push(ch);
    }
    this.byName.set(name, reactor);
  }

  /** Every reactor's `addPeer`, in order; errors are logged to `log`. */
  addPeer(peer: Peer, log: Logger): void {
    for (const r of this.byName.values()) {
      try {
        r.addPeer(peer);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'reactor addPeer failed');
      }
    }
  }

  /** Every reactor's `removePeer`; errors are logged to `log`. Until the asynchronous ones settle, {@link removal} returns a Promise of them. */
  removePeer(peer: Peer, reason: SwitchboardError, log: Logger): void {
    const pending: Promise<unknown>[] = [];
    for (const r of this.byName.values()) {
      try {
        const res = r.removePeer(peer, reason);
        if (res && typeof (res as Promise<void>).then === 'function') pending.push(res as Promise<void>);
      } catch (err) {
        log.error({ peer: peer.id, err: (err as Error).message }, 'reactor removePeer failed');
      }
    }
    if (pending.length > 0) {
      // a reconnect of this ID waits until every reactor has finished removing it
      const done: Promise<void> = Promise.allSettled(pending).then(() => {
        if (this.#removals.get(peer.id) === done) this.#removals.delete(peer.id);
      });
      this.#removals.set(peer.id, done);
    }
  }

  /** While some reactor is still removing a peer with ID `id`: a Promise that settles when they are done (check again after it). */
  removal(id: string): Promise<void> | undefined {
    return this.#removals.get(id);
  }

  /** Settles once every removal in progress has. */
  async allRemoved(): Promise<void> {
    await Promise.allSettled(this.#removals.values());
  }
}
