// The refusals and disconnections a Switch reports (`peer:error`,
// `peer:dial-failed`), recorded so a test can await the one it provoked.
import type { SwitchboardError } from '../../lib/errors.js';
import type { Switch } from '../../lib/switch.js';

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
    sw.on('peer:error', (peer, err) =>
      this.add({
        kind: 'peer',
        who: peer.id,
        code: (err as SwitchboardError)?.code ?? 'NO_CODE',
        err: err as SwitchboardError,
        at: performance.now(),
      }),
    );
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
  forRaw(raw: { key: { id: string }; localPort: number }, timeoutMs = 5000): Promise<Refusal> {
    const port = raw.localPort;
    return this.wait(
      (r) => (r.kind === 'peer' && r.who === raw.key.id) || (r.kind === 'inbound' && r.who.endsWith(`:${port}`)),
      timeoutMs,
      `refusal of the raw peer on port ${port}`,
    );
  }
}
