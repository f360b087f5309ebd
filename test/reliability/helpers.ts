// Helpers of the reliability suite: a target node (a Switch with the real
// gossip and PEX reactors plus an echo channel), a good peer that keeps
// exchanging messages with it, a hand-rolled protocol client that can
// misbehave at any step, and an event log of the target's refusals.
// Everything is registered with the test's teardown.
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePacket, PacketDecoder, type Packet } from '../../lib/conn/packet.js';
import {
  FrameOpener,
  FrameSealer,
  deriveSessionKeys,
  encodeAuthMessage,
  ephemeralKeyPair,
  verifyAuthMessage,
  x25519SharedSecret,
} from '../../lib/conn/secret-connection.js';
import type { MConnection } from '../../lib/conn/mconnection.js';
import type { P2PConfigInput } from '../../lib/config.js';
import type { P2PMetrics } from '../../lib/metrics.js';
import type { Logger } from 'pino';
import type { SwitchboardError } from '../../lib/errors.js';
import { NodeInfo } from '../../lib/node-info.js';
import { NodeKey } from '../../lib/node-key.js';
import type { Peer } from '../../lib/peer.js';
import { BaseReactor, type Envelope } from '../../lib/reactor.js';
import { Switch } from '../../lib/switch.js';
import { AddrBook, PEXReactor } from '../../reactors/pex/index.js';
import { GossipReactor } from '../../reactors/examples/gossip/reactor.js';

type Teardown = { teardown(fn: () => unknown): void };

export const NETWORK = 'reliability';
export const ECHO_CHANNEL = 0x40;
/** recvMessageCapacity of the echo channel (small, to test the bound). */
export const ECHO_CAPACITY = 1024;
export const ECHO_QUEUE = 64;

/** Echoes requests (first byte 1) back as replies (first byte 2); resolves waiters on replies. */
export class EchoReactor extends BaseReactor {
  replies = 0;
  private waiters = new Map<number, (ok: boolean) => void>();
  constructor() {
    super('echo');
  }
  getChannels() {
    return [{ id: ECHO_CHANNEL, priority: 10, sendQueueCapacity: ECHO_QUEUE, recvMessageCapacity: ECHO_CAPACITY, name: 'echo' }];
  }
  override receive({ src, message }: Envelope): void {
    if (message[0] === 1) {
      const reply = Buffer.from(message);
      reply[0] = 2;
      src.trySend(ECHO_CHANNEL, reply);
    } else if (message[0] === 2 && message.length >= 5) {
      this.replies++;
      const seq = Buffer.from(message).readUInt32BE(1);
      this.waiters.get(seq)?.(true);
      this.waiters.delete(seq);
    }
  }
  /** Send request `seq` to `peer`; resolves true on its reply, false after `timeoutMs`. */
  request(peer: Peer, seq: number, timeoutMs: number): Promise<boolean> {
    const msg = Buffer.alloc(16);
    msg[0] = 1;
    msg.writeUInt32BE(seq, 1);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seq);
        resolve(false);
      }, timeoutMs);
      this.waiters.set(seq, (ok) => {
        clearTimeout(timer);
        resolve(ok);
      });
      if (!peer.trySend(ECHO_CHANNEL, msg)) {
        clearTimeout(timer);
        this.waiters.delete(seq);
        resolve(false);
      }
    });
  }
}

/** A refusal or disconnection the target reported: `peer:error` (with the peer ID) or `peer:dial-failed` (with the remote). */
export interface Refusal {
  kind: 'peer' | 'inbound';
  /** Peer ID (peer) or `host:port` / `id@host:port` (inbound). */
  who: string;
  code: string;
  err: SwitchboardError;
  at: number;
}

/** Records a Switch's refusals and lets tests await one. */
export class RefusalLog {
  readonly all: Refusal[] = [];
  private waiters: { match: (r: Refusal) => boolean; resolve: (r: Refusal) => void }[] = [];
  constructor(sw: Switch) {
    sw.on('peer:error', (peer, err) => this.add({ kind: 'peer', who: peer.id, code: (err as SwitchboardError)?.code ?? 'NO_CODE', err: err as SwitchboardError, at: performance.now() }));
    sw.on('peer:dial-failed', (who, err) => this.add({ kind: 'inbound', who, code: err?.code ?? 'NO_CODE', err, at: performance.now() }));
  }
  private add(r: Refusal): void {
    this.all.push(r);
    this.waiters = this.waiters.filter((w) => (w.match(r) ? (w.resolve(r), false) : true));
  }
  /** The first refusal (past or future) matching, rejecting after `timeoutMs`. */
  wait(match: (r: Refusal) => boolean, timeoutMs: number, what = 'refusal'): Promise<Refusal> {
    const past = this.all.find(match);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no ${what} within ${timeoutMs} ms; seen: ${JSON.stringify(this.all.map((r) => [r.who, r.code]))}`));
      }, timeoutMs);
      const done = (r: Refusal) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiters.push({ match, resolve: done });
    });
  }
  /** The refusal of the raw client on `sock`: an inbound refusal naming its port, or a peer error naming its ID. */
  forRaw(raw: RawPeer, timeoutMs = 5000): Promise<Refusal> {
    const port = raw.localPort;
    return this.wait((r) => (r.kind === 'peer' && r.who === raw.key.id) || (r.kind === 'inbound' && r.who.endsWith(`:${port}`)), timeoutMs, `refusal of the raw peer on port ${port}`);
  }
}

/** The node under attack. */
export interface Target {
  sw: Switch;
  echo: EchoReactor;
  gossip: GossipReactor;
  log: RefusalLog;
  port: number;
}

/**
 * Start a target node on 127.0.0.1 (stopped at teardown). With `pex`, a PEXReactor with a book in a temp dir;
 * `metrics` and `logger` are passed to its Switch.
 */
export async function startTarget(t: Teardown, config: P2PConfigInput = {}, opts: { pex?: boolean; metrics?: P2PMetrics; logger?: Logger } = {}): Promise<Target> {
  const sw = new Switch({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: NETWORK, moniker: 'target' },
    config: { listenAddress: '127.0.0.1:0', ...config },
    metrics: opts.metrics,
    logger: opts.logger,
  });
  const echo = sw.addReactor('echo', new EchoReactor());
  const gossip = sw.addReactor('gossip', new GossipReactor());
  // the book saves on stop: its directory goes only after the Switch has stopped
  const dir = opts.pex ? mkdtempSync(join(tmpdir(), 'switchboard-target-')) : undefined;
  if (dir) sw.addReactor('pex', new PEXReactor(new AddrBook(join(dir, 'addrbook.json'), { routabilityStrict: true }), { ensurePeersPeriodMs: 60_000 }));
  const log = new RefusalLog(sw);
  t.teardown(async () => {
    await sw.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  await sw.start();
  return { sw, echo, gossip, log, port: sw.listenAddr.port };
}

/**
 * A good peer: its own Switch, connected to the target, doing an echo round
 * trip every `intervalMs` for as long as it runs. Latencies and failures
 * (no reply within `timeoutMs`) are recorded.
 */
export class GoodPeer {
  sent = 0;
  ok = 0;
  failures = 0;
  maxLatencyMs = 0;
  latencies: number[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private tick: (() => void)[] = [];

  private constructor(
    readonly sw: Switch,
    readonly echo: EchoReactor,
    readonly peer: Peer,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {}

  static async start(t: Teardown, target: Target, opts: { config?: P2PConfigInput; intervalMs?: number; timeoutMs?: number } = {}): Promise<GoodPeer> {
    const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: NETWORK, moniker: 'good' }, config: { listenAddress: '127.0.0.1:0', ...opts.config } });
    const echo = sw.addReactor('echo', new EchoReactor());
    await sw.start();
    t.teardown(() => sw.stop());
    const peer = await sw.dialPeerWithAddress(target.sw.listenAddr);
    const g = new GoodPeer(sw, echo, peer, opts.intervalMs ?? 20, opts.timeoutMs ?? 3000);
    g.running = true;
    g.loop = g.run();
    t.teardown(() => g.stop());
    return g;
  }

  private async run(): Promise<void> {
    let seq = 0;
    while (this.running) {
      const start = performance.now();
      this.sent++;
      const ok = await this.echo.request(this.peer, ++seq, this.timeoutMs);
      const ms = performance.now() - start;
      if (ok) {
        this.ok++;
        this.latencies.push(ms);
        if (ms > this.maxLatencyMs) this.maxLatencyMs = ms;
      } else if (this.running) this.failures++;
      const ws = this.tick;
      this.tick = [];
      for (const w of ws) w();
      if (this.running) await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  /** Resolves after `n` more round trips have completed (successfully or not). */
  async rounds(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await new Promise<void>((r) => this.tick.push(r));
  }

  /** Median round-trip latency so far (ms). */
  get medianMs(): number {
    const s = [...this.latencies].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)]! : NaN;
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const w of this.tick) w();
    this.tick = [];
    await this.loop;
  }
}

/** Internals of a peer's connection, for bounding buffers: the MConnection's stream and the socket under it. */
export function connInternals(peer: Peer): { mconn: MConnection; stream: Duplex; socket: Socket | undefined; pongPending: number; decoderBuffered: number } {
  const mconn = (peer as unknown as { mconn: MConnection }).mconn; // private to the Peer: this test helper reaches in
  const m = mconn as unknown as { conn: Duplex; pongPending: number; decoder: PacketDecoder };
  const stream = m.conn;
  const socket = (stream as unknown as { conn?: Socket }).conn ?? (stream instanceof net.Socket ? stream : undefined);
  return { mconn, stream, socket, pongPending: m.pongPending, decoderBuffered: m.decoder.bufferedBytes };
}

/**
 * A protocol client written by hand from docs/PROTOCOL.md so that it can
 * deviate at any step: raw bytes, the SecretConnection handshake (with
 * overrides), the NodeInfo exchange, then packets in sealed frames.
 */
export class RawPeer {
  readonly key = NodeKey.generate();
  sealer: FrameSealer | undefined;
  opener: FrameOpener | undefined;
  /** Packets received after the NodeInfo exchange. */
  readonly packets: Packet[] = [];
  /** Answer pings with pongs (a well-behaved keepalive). */
  autoPong = false;
  readonly closed: Promise<void>;
  private raw: Buffer[] = [];
  private rawLen = 0;
  private plain: Buffer[] = [];
  private plainLen = 0;
  private packetDecoder: PacketDecoder | undefined;
  private wake: (() => void) | undefined;
  private ended = false;

  /** Our local port (the target names the connection `127.0.0.1:<port>` until it knows our ID). */
  readonly localPort: number;

  private constructor(readonly sock: Socket) {
    this.localPort = sock.localPort ?? 0;
    sock.on('error', () => {});
    this.closed = new Promise((r) => sock.once('close', () => r()));
    sock.on('data', (d: Buffer) => {
      if (this.opener) {
        try {
          this.opener.feed(d, (p) => this.onPlain(p));
        } catch {
          sock.destroy();
        }
      } else {
        this.raw.push(d);
        this.rawLen += d.length;
      }
      this.wake?.();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** Connect to `host:port`, from `localAddress` when given (e.g. 127.0.0.2: another loopback address). */
  static async connect(t: Teardown, port: number, host = '127.0.0.1', localAddress?: string): Promise<RawPeer> {
    const sock = net.connect({ port, host, localAddress });
    t.teardown(() => sock.destroy());
    await once(sock, 'connect');
    return new RawPeer(sock);
  }

  private onPlain(p: Buffer): void {
    if (this.packetDecoder) {
      this.packetDecoder.push(Buffer.from(p));
      return;
    }
    this.plain.push(Buffer.from(p));
    this.plainLen += p.length;
  }

  private async waitFor(cond: () => boolean, what: string): Promise<void> {
    while (!cond()) {
      if (this.ended) throw new Error(`connection closed while waiting for ${what}`);
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Exactly `n` raw bytes (before the handshake completes). */
  async readRaw(n: number): Promise<Buffer> {
    await this.waitFor(() => this.rawLen >= n, `${n} raw bytes`);
    const all = Buffer.concat(this.raw);
    this.raw = [all.subarray(n)];
    this.rawLen -= n;
    return all.subarray(0, n);
  }

  /** Exactly `n` plaintext bytes (after the handshake, before the NodeInfo exchange ends). */
  async readPlain(n: number): Promise<Buffer> {
    await this.waitFor(() => this.plainLen >= n, `${n} plaintext bytes`);
    const all = Buffer.concat(this.plain);
    this.plain = [all.subarray(n)];
    this.plainLen -= n;
    return all.subarray(0, n);
  }

  write(b: Uint8Array): void {
    this.sock.write(b);
  }

  /**
   * The SecretConnection handshake (docs/PROTOCOL.md §2); `authFrame`
   * replaces our sealed auth message on the wire.
   */
  async secretHandshake(o: { authFrame?: (sealed: Buffer) => Buffer } = {}): Promise<void> {
    const eph = ephemeralKeyPair();
    this.write(eph.publicKey);
    const theirs = await this.readRaw(32);
    const keys = deriveSessionKeys(x25519SharedSecret(eph, theirs), eph.publicKey, theirs);
    this.sealer = new FrameSealer(keys.sendKey);
    const sealed = this.sealer.seal(encodeAuthMessage(this.key, keys.challenge));
    this.write(o.authFrame ? o.authFrame(sealed) : sealed);
    const header = await this.readRaw(4);
    const body = await this.readRaw(96 + 16);
    const opener = new FrameOpener(keys.recvKey);
    verifyAuthMessage(opener.open(header, body), keys.challenge);
    const rest = Buffer.concat(this.raw);
    this.raw = [];
    this.rawLen = 0;
    this.opener = opener;
    if (rest.length) opener.feed(rest, (p) => this.onPlain(p));
  }

  /** Our NodeInfo (valid and compatible unless overridden). */
  nodeInfo(over: Partial<Parameters<typeof NodeInfo.create>[0]> = {}): NodeInfo {
    return NodeInfo.create({ id: this.key.id, listenAddr: '127.0.0.1:1', network: NETWORK, channels: Uint8Array.from([0x00, 0x20, ECHO_CHANNEL]), moniker: 'raw', ...over });
  }

  /** Send `u32 length ‖ body` sealed (the NodeInfo message); `length` may lie. */
  sendNodeInfoBytes(body: Uint8Array, length = body.length): void {
    const b = Buffer.allocUnsafe(4 + body.length);
    b.writeUInt32BE(length >>> 0, 0);
    b.set(body, 4);
    this.sendPlain(b);
  }

  /** Exchange NodeInfos; afterwards received plaintext is decoded as packets. */
  async exchangeNodeInfo(info: NodeInfo = this.nodeInfo()): Promise<NodeInfo> {
    this.sendNodeInfoBytes(info.encode());
    const len = (await this.readPlain(4)).readUInt32BE(0);
    const theirs = NodeInfo.decode(await this.readPlain(len));
    const rest = Buffer.concat(this.plain);
    this.plain = [];
    this.plainLen = 0;
    this.packetDecoder = new PacketDecoder(
      {
        onControl: (type) => {
          this.packets.push({ type: type === 1 ? 'ping' : 'pong' });
          if (type === 1 && this.autoPong) this.sendPackets({ type: 'pong' });
        },
        onMsg: (channelId, eof, data) => (this.packets.push({ type: 'msg', channelId, eof, data: Buffer.from(data) }), true),
      },
      1 << 20,
    );
    if (rest.length) this.packetDecoder.push(rest);
    return theirs;
  }

  /** Handshake + NodeInfo: a connected peer of the target. */
  async join(): Promise<NodeInfo> {
    await this.secretHandshake();
    return this.exchangeNodeInfo();
  }

  /** Seal `b` as frames and send it. */
  sendPlain(b: Uint8Array): void {
    this.write(this.sealer!.seal(b));
  }

  sendPackets(...ps: Packet[]): void {
    this.sendPlain(Buffer.concat(ps.map(encodePacket)));
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Bytes of a msg packet, with any flags/length (for malformed headers). */
export function msgHeader(channelId: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(7);
  b[0] = 0x03;
  b[1] = channelId;
  b[2] = flags;
  b.writeUInt32BE(length >>> 0, 3);
  return b;
}

/** Resolves after `ms` (used only to *create* slow peers, never to wait for a condition). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with how long `p` took (ms), rejecting after `timeoutMs`. */
export async function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}
