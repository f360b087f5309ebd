// Helpers to run Switches in one process over loopback, cleaned up at teardown.
import { NodeKey } from '../../lib/node-key.js';
import { BaseReactor, type Envelope } from '../../lib/reactor.js';
import { Switch } from '../../lib/switch.js';
import type { P2PConfigInput } from '../../lib/config.js';
import type { Peer } from '../../lib/peer.js';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import type { SwitchboardError } from '../../lib/errors.js';
import { peerAdded as waitPeerAdded, peerRemoved as waitPeerRemoved } from '../../lib/testing.js';
import type { Teardown } from './teardown.js';

/** Records every call the Switch makes, in order. */
export class RecordingReactor extends BaseReactor {
  readonly calls: string[] = [];
  readonly received: { ch: number; from: string; msg: Buffer }[] = [];
  /** The `reason` of each `removePeer` call, in order. */
  readonly removeReasons: SwitchboardError[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  constructor(
    private readonly chs: ChannelDescriptor[] = [{ id: 0x20, sendQueueCapacity: 100 }],
    name = 'recording',
  ) {
    super(name);
  }
  getChannels(): ChannelDescriptor[] {
    return this.chs;
  }
  override initPeer(p: Peer): void {
    this.calls.push(`init:${p.id}`);
  }
  override addPeer(p: Peer): void {
    this.calls.push(`add:${p.id}`);
  }
  override removePeer(p: Peer, reason: SwitchboardError): void {
    this.calls.push(`remove:${p.id}`);
    this.removeReasons.push(reason);
  }
  override receive(e: Envelope): void {
    this.calls.push(`receive:${e.src.id}`);
    this.received.push({ ch: e.channelId, from: e.src.id, msg: Buffer.from(e.message) });
    this.waiters = this.waiters.filter((w) => (this.received.length >= w.n ? (w.resolve(), false) : true));
  }
  /** Resolves once `n` messages have been received in total. */
  receivedCount(n: number): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** A started Switch on 127.0.0.1 with a RecordingReactor, stopped at teardown. */
export async function startSwitch(
  t: Teardown,
  opts: { config?: P2PConfigInput; network?: string; channels?: ChannelDescriptor[]; key?: NodeKey; moniker?: string } = {},
): Promise<{ sw: Switch; reactor: RecordingReactor }> {
  const sw = new Switch({
    nodeKey: opts.key ?? NodeKey.generate(),
    nodeInfo: { network: opts.network ?? 'test', moniker: opts.moniker },
    config: { listenAddress: '127.0.0.1:0', ...opts.config },
  });
  const reactor = sw.addReactor(new RecordingReactor(opts.channels));
  await sw.start();
  t.teardown(() => sw.stop());
  return { sw, reactor };
}

// Waits: switchboard/testing's, with a deadline long enough for the slowest
// test here (persistent-peer redials back off for up to 8 s; CPU is shared).
const WAIT_MS = 60_000;

/** Resolves when `sw` has a peer with `id` (now or later); rejects with ERR_WAIT_TIMEOUT after 60 s. */
export function peerAdded(sw: Switch, id: string): Promise<Peer> {
  return waitPeerAdded(sw, id, { timeoutMs: WAIT_MS });
}

/** Resolves with the reason when `sw` removes the peer with `id`; rejects with ERR_WAIT_TIMEOUT after 60 s. */
export function peerRemoved(sw: Switch, id: string): Promise<SwitchboardError> {
  return waitPeerRemoved(sw, id, { timeoutMs: WAIT_MS });
}

/** Connect a to b and wait until both see each other. */
export async function connect(a: Switch, b: Switch): Promise<void> {
  const seen = peerAdded(b, a.nodeKey.id);
  await a.dialPeerWithAddress(b.listenAddr);
  await seen;
}
