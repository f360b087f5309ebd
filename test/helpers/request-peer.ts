// A Switch with a RequestReactor (or a raw reactor on the same channel) in a
// child process, for test/request-reactor*.test.ts. Configured by a JSON
// argument; driven by JSON lines on stdin; reports JSON lines on stdout.
//
// Handler behaviour by request text: `echo:X` → X, `fail:CODE:MSG` throws,
// `stall` waits until aborted, `big:N` → N bytes, `version` → the channel version.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NodeKey } from '../../lib/node-key.js';
import { BaseReactor, type Envelope } from '../../lib/reactor.js';
import { RequestReactor, type RequestHandler, type RequestReactorOptions } from '../../lib/request-reactor.js';
import { Switch } from '../../lib/switch.js';
import type { Peer } from '../../lib/peer.js';
import type { ChannelDescriptor } from '../../lib/conn/channel.js';
import { childEnv } from './child-env.js';
import type { Teardown } from './teardown.js';

export const REQ_CHANNEL = 0x41;
export const OTHER_CHANNEL = 0x42;

/** The scripted handler; `report` hears `handling` and `aborted` events. */
export function scriptedHandler(report: (ev: Record<string, unknown>) => void): RequestHandler {
  return ({ request, signal, version }) => {
    const body = Buffer.from(request).toString();
    report({ ev: 'handling', body });
    signal.addEventListener('abort', () => report({ ev: 'aborted', body, code: (signal.reason as { code?: string })?.code }), {
      once: true,
    });
    if (body.startsWith('echo:')) return Buffer.from(body.slice(5));
    if (body === 'version') return Buffer.from(String(version));
    if (body.startsWith('big:')) return Buffer.alloc(Number(body.slice(4)), 7);
    if (body.startsWith('fail:')) {
      const [, code, message] = body.split(':');
      throw Object.assign(new Error(message), { code });
    }
    if (body === 'stall')
      return new Promise<Uint8Array>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    throw new Error(`unknown request ${body}`);
  };
}

/** A reactor on another channel that records what arrives (the "stay connected through another channel" check). */
export class OtherReactor extends BaseReactor {
  constructor(private readonly report: (ev: Record<string, unknown>) => void) {
    super('other');
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: OTHER_CHANNEL, sendQueueCapacity: 8 }];
  }
  override receive(e: Envelope): void {
    this.report({ ev: 'other', text: Buffer.from(e.message).toString() });
  }
}

/** Raw: sends given bytes on the request channel (to break the protocol). */
class RawReactor extends BaseReactor {
  constructor(private readonly versions: number[] | undefined) {
    super('raw');
  }
  getChannels(): ChannelDescriptor[] {
    return [{ id: REQ_CHANNEL, sendQueueCapacity: 64, versions: this.versions }];
  }
}

export interface PeerConfig {
  mode?: 'request' | 'raw';
  reactor?: Omit<RequestReactorOptions, 'channelId' | 'handler'>;
  versions?: number[];
  other?: boolean;
}

/** The child process, driven from a test. */
export class RequestPeerProcess {
  addr = '';
  private lines: Record<string, unknown>[] = [];
  private waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((r) => child.once('exit', (c) => r(c)));
    createInterface({ input: child.stdout }).on('line', (l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      this.lines.push(e);
      this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
    });
  }

  /** The first event (past or future) matching `pred`; rejects if the process exits first. */
  waitFor(pred: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ pred, resolve });
      void this.exited.then((c) => reject(new Error(`request peer exited (${c}): ${this.stderr}`)));
    });
  }

  /** Events so far matching `pred`. */
  count(pred: (e: Record<string, unknown>) => boolean): number {
    return this.lines.filter(pred).length;
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify(cmd) + '\n');
  }
}

/** Spawn the child; resolves once it listens. Killed at teardown. */
export async function startRequestPeer(t: Teardown, cfg: PeerConfig): Promise<RequestPeerProcess> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--import', 'tsx', self, JSON.stringify(cfg)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: childEnv(),
  });
  t.teardown(() => child.kill('SIGKILL'));
  const p = new RequestPeerProcess(child);
  p.addr = (await p.waitFor((e) => e.ev === 'listening')).addr as string;
  return p;
}

async function main(cfg: PeerConfig): Promise<void> {
  const out = (ev: Record<string, unknown>) => process.stdout.write(JSON.stringify(ev) + '\n');
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'req-test', moniker: 'child' },
    config: { listenAddress: '127.0.0.1:0' },
  });
  const rr =
    cfg.mode === 'raw'
      ? undefined
      : sw.addReactor(
          new RequestReactor({ channelId: REQ_CHANNEL, handler: scriptedHandler(out), versions: cfg.versions, ...cfg.reactor }),
        );
  if (cfg.mode === 'raw') sw.addReactor(new RawReactor(cfg.versions));
  if (cfg.other) sw.addReactor(new OtherReactor(out));
  sw.on('peer:add', (p) => out({ ev: 'peer', id: p.id, version: p.channelVersion(REQ_CHANNEL) ?? null }));
  sw.on('peer:remove', (p, reason) => out({ ev: 'removed', id: p.id, code: (reason as { code?: string })?.code ?? null }));
  await sw.start();
  out({ ev: 'listening', addr: sw.listenAddr.toString() });
  const peer = (): Peer => {
    const [p] = sw.peers.list();
    if (!p) throw new Error('no peer connected');
    return p;
  };
  createInterface({ input: process.stdin }).on('line', (l) => {
    const c = JSON.parse(l) as { cmd: string; tag?: string; body?: string; hex?: string; timeoutMs?: number; addr?: string; text?: string };
    if (c.cmd === 'dial')
      void sw.dialPeerWithAddress(c.addr!).catch((err: Error & { code?: string }) => out({ ev: 'dial-failed', code: err.code }));
    if (c.cmd === 'raw') void peer().send(REQ_CHANNEL, Buffer.from(c.hex!, 'hex'));
    if (c.cmd === 'other') void peer().send(OTHER_CHANNEL, Buffer.from(c.text!));
    if (c.cmd === 'request') {
      rr!.request(peer(), Buffer.from(c.body!), { timeoutMs: c.timeoutMs }).then(
        (res) => out({ ev: 'result', tag: c.tag, ok: true, text: Buffer.from(res).toString() }),
        (err: Error & { code?: string }) => out({ ev: 'result', tag: c.tag, ok: false, code: err.code }),
      );
    }
  });
  process.stdin.on('end', () => void sw.stop().then(() => process.exit(0)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  void main(JSON.parse(process.argv[2] ?? '{}') as PeerConfig);
