// A protocol client written by hand from docs/PROTOCOL.md, so that a test
// can deviate at any step: raw bytes, the SecretConnection handshake (with
// overrides), the NodeInfo exchange, then packets in sealed frames.
import { once } from 'node:events';
import net, { type Socket } from 'node:net';
import { encodePacket, MSG_HEADER_SIZE, PacketDecoder, writeMsgHeader, type Packet } from '../../lib/conn/packet.js';
import { FrameOpener, FrameSealer } from '../../lib/conn/frame.js';
import { deriveSessionKeys, encodeAuthMessage, ephemeralKeyPair, verifyAuthMessage, x25519SharedSecret } from '../../lib/conn/handshake.js';
import { NodeInfo } from '../../lib/node-info.js';
import { NodeKey } from '../../lib/node-key.js';
import { ECHO_CHANNEL } from './echo-reactor.js';
import { NETWORK } from './target.js';
import type { Teardown } from './teardown.js';

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
    return NodeInfo.create({
      id: this.key.id,
      listenAddr: '127.0.0.1:1',
      network: NETWORK,
      channels: Uint8Array.from([0x00, 0x20, ECHO_CHANNEL]),
      moniker: 'raw',
      ...over,
    });
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
        onMsg: (channelId, eof, data) => void this.packets.push({ type: 'msg', channelId, eof, data: Buffer.from(data) }),
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

/** Bytes of a msg packet header with any flags byte and length (for malformed headers). */
export function msgHeader(channelId: number, flags: number, length: number): Buffer {
  const b = Buffer.alloc(MSG_HEADER_SIZE);
  writeMsgHeader(b, 0, channelId, false, length >>> 0);
  b[2] = flags; // any byte, valid or not
  return b;
}
