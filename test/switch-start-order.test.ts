// Start order as CometBFT's node: the Switch listens, builds its NodeInfo with the address it
// actually listens on, then starts its reactors; inbound peers wait until every reactor has started.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ChannelDescriptor } from '../lib/conn/channel.js';
import { NotStartedError, SwitchboardError } from '../lib/errors.js';
import type { NetAddress } from '../lib/net-address.js';
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import { BaseReactor, type ReactorHost } from '../lib/reactor.js';
import { Switch } from '../lib/switch.js';
import { peerAdded } from '../lib/testing.js';
import { AddrBook, PEXReactor } from '../reactors/pex/index.js';

type Teardown = { teardown(fn: () => unknown): void };

/** Records what it sees of its host at setSwitch and start; `start` may be held on a gate. */
class WatchingReactor extends BaseReactor {
  setSwitchError: unknown;
  startedWith: NetAddress | undefined;
  started = false;
  initBeforeStarted = 0;
  inits = 0;
  gate: Promise<void> | undefined;
  /** Resolves once `start` has been called. */
  readonly startCalled: Promise<void>;
  private calledStart!: () => void;
  constructor(private readonly ch: number) {
    super(`watching-${ch}`);
    this.startCalled = new Promise<void>((r) => (this.calledStart = r));
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: this.ch }];
  }
  override setSwitch(host: ReactorHost): void {
    super.setSwitch(host);
    try {
      void host.nodeInfo;
    } catch (err) {
      this.setSwitchError = err;
    }
  }
  override async start(): Promise<void> {
    this.startedWith = this.switch.nodeInfo.netAddress();
    this.calledStart();
    if (this.gate) await this.gate;
    this.started = true;
  }
  override initPeer(_p: Peer): void {
    this.inits++;
    if (!this.started) this.initBeforeStarted++;
  }
}

function newSwitch(t: Teardown, ...reactors: BaseReactor[]): Switch {
  const sw = new Switch({ nodeKey: NodeKey.generate(), config: { listenAddress: '127.0.0.1:0' } });
  for (const r of reactors) sw.addReactor(r);
  t.teardown(() => sw.stop());
  return sw;
}

t.test('a reactor sees the NodeInfo with the real port in start(); before start, nodeInfo is ERR_NOT_STARTED', async (t) => {
  const r = new WatchingReactor(0x20);
  const sw = newSwitch(t, r);
  t.type(r.setSwitchError, NotStartedError, 'setSwitch: no NodeInfo yet');
  t.equal((r.setSwitchError as SwitchboardError).code, 'ERR_NOT_STARTED');
  t.throws(() => sw.listenAddr, { code: 'ERR_NOT_STARTED' }, 'listenAddr before start');
  await sw.start();
  t.ok(r.startedWith, 'start() read host.nodeInfo');
  t.not(r.startedWith!.port, 0, 'the port actually listened on, not the 0 asked for');
  t.equal(r.startedWith!.toString(), sw.listenAddr.toString(), 'the address the Switch advertises');
  t.equal(r.startedWith!.id, sw.nodeKey.id);
});

t.test('inbound peers wait until every reactor has started', async (t) => {
  const slow = new WatchingReactor(0x20);
  let open!: () => void;
  slow.gate = new Promise<void>((r) => (open = r));
  const a = newSwitch(t, slow);
  const starting = a.start();
  await slow.startCalled; // a listens and has its NodeInfo; slow.start() is held
  t.ok(slow.startedWith, 'the reactor was started after listening');
  const b = newSwitch(t, new WatchingReactor(0x20));
  await b.start();
  const added = peerAdded(a, b.nodeKey.id, { timeoutMs: 10_000 });
  await b.dialPeerWithAddress(slow.startedWith!);
  // a's side of the handshake ends soon after b's (no event for it: poll, bounded), then give its
  // admission a turn of the event loop — where, without the wait for the reactors, initPeer would run
  for (let i = 0; i < 1000 && a.handshakingCount > 0; i++) await new Promise((r) => setTimeout(r, 5));
  t.equal(a.handshakingCount, 0, "a's handshake is done");
  await new Promise((r) => setImmediate(r));
  t.equal(slow.inits, 0, 'no initPeer while a reactor is starting');
  open();
  await starting;
  await added;
  t.equal(slow.inits, 1, 'the peer is added once the reactors have started');
  t.equal(slow.initBeforeStarted, 0, 'never before start() resolved');
});

t.test('a reactor whose start fails fails Switch.start() and the listener is closed again', async (t) => {
  class Failing extends BaseReactor {
    listenPort = 0;
    getChannels(): ChannelDescriptor[] {
      return [{ id: 0x21 }];
    }
    override start(): void {
      this.listenPort = this.switch.nodeInfo.netAddress().port;
      throw new Error('no disk');
    }
  }
  const r = new Failing('failing');
  const sw = newSwitch(t, r);
  await t.rejects(sw.start(), { message: 'no disk' });
  t.equal(sw.isRunning, false);
  t.not(r.listenPort, 0);
  const refused = await new Promise<string | undefined>((resolve) => {
    const s = net.connect(r.listenPort, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(undefined)));
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code));
  });
  t.equal(refused, 'ECONNREFUSED', 'nothing listens on the port any more');
});

t.test("PEX's book knows our own address before PEX starts, without a view of the book", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-start-order-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const book = new AddrBook(join(dir, 'addrbook.json'), { routabilityStrict: false });
  let ourAtStart: boolean | undefined;
  class AfterPex extends WatchingReactor {
    override async start(): Promise<void> {
      ourAtStart = book.ourAddress(this.switch.nodeInfo.netAddress());
      await super.start();
    }
  }
  const sw = newSwitch(t, new PEXReactor(book), new AfterPex(0x20));
  await sw.start();
  t.equal(ourAtStart, true, 'the Switch told the book our listen address before starting reactors');
  t.equal(book.ourAddress(sw.listenAddr), true);
});
