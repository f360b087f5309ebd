// An echo reactor for the reliability suite: requests (first byte 1) come
// back as replies (first byte 2), on a channel with a small receive bound.
import { BaseReactor, type Envelope } from '../../lib/reactor.js';
import type { Peer } from '../../lib/peer.js';

/** Channel of {@link EchoReactor}. */
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
