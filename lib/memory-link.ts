/**
 * One in-memory connection of a {@link MemoryNetwork}: two {@link MemoryConn}
 * Duplex ends joined by one {@link MemoryPipe} per direction. A pipe is a
 * FIFO with one timer: each write is delivered, in order, at
 * `max(previous delivery, serialised + latency ± jitter)` where the
 * serialisation of a write of `n` bytes ends `n / bandwidth` after the
 * previous one ended (a store-and-forward link of that rate).
 *
 * @module
 */
import { Duplex } from 'node:stream';

/** The character of one direction of a link. */
export interface LinkProfile {
  /** One-way latency (ms). Default 0. */
  latencyMs?: number;
  /** Uniform jitter added to each write's latency, in [-jitterMs, +jitterMs] (ms; the latency never goes below 0). Default 0. */
  jitterMs?: number;
  /** Link rate (bytes/s); 0 or Infinity for unlimited. Default unlimited. */
  bandwidth?: number;
}

/** What a pipe needs from its network: the clock, the random source and the profile of its direction. */
export interface PipeContext {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Uniform in [0, 1), seeded. */
  random(): number;
  /** The profile of this direction, read at each write (so it can change while connections run). */
  profile(): LinkProfile;
  /** Bytes a writer may have waiting for serialisation before its write callback is held (a socket's send buffer). */
  sendBufferBytes: number;
  /** Counts each delivered chunk. */
  onDeliver?(bytes: number): void;
}

/** A chunk in flight; `data` null is the end of the stream. */
interface InFlight {
  data: Buffer | null;
  at: number;
}

/** One direction of a connection: a FIFO with one timer. */
export class MemoryPipe {
  private readonly queue: InFlight[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private busyUntil = 0;
  private lastAt = 0;
  private paused = false;
  private ended = false;
  private dead = false;
  private writerWake: NodeJS.Timeout | undefined;
  /** The receiving end. */
  dst!: MemoryConn;

  constructor(private readonly ctx: PipeContext) {}

  /** Queue `data` (or the end of stream, null); `done` runs once the writer may write again. */
  send(data: Buffer | null, done: () => void): void {
    if (this.dead || this.ended) return done();
    if (data === null) this.ended = true;
    const now = this.ctx.now();
    const p = this.ctx.profile();
    const bw = p.bandwidth && Number.isFinite(p.bandwidth) && p.bandwidth > 0 ? p.bandwidth : 0;
    const start = Math.max(now, this.busyUntil);
    this.busyUntil = start + (bw && data ? (data.length / bw) * 1000 : 0);
    const jitter = p.jitterMs ? (this.ctx.random() * 2 - 1) * p.jitterMs : 0;
    const at = Math.max(this.lastAt, this.busyUntil + Math.max(0, (p.latencyMs ?? 0) + jitter));
    this.lastAt = at;
    this.queue.push({ data, at });
    this.schedule();
    // a socket send buffer: the write completes once no more than sendBufferBytes wait for serialisation
    const backlogMs = this.busyUntil - now - (bw ? (this.ctx.sendBufferBytes / bw) * 1000 : 0);
    if (backlogMs <= 0) return done();
    this.writerWake = setTimeout(() => {
      this.writerWake = undefined;
      done();
    }, Math.ceil(backlogMs));
  }

  /** The receiver read on after a full buffer. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.flush();
  }

  /** Drop everything in flight and stop (a reset or a destroyed receiver). */
  kill(): void {
    this.dead = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.head = 0;
  }

  private schedule(): void {
    const next = this.queue[this.head]; // undefined past the end
    if (this.timer || this.paused || this.dead || next === undefined) return;
    const wait = next.at - this.ctx.now();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.flush();
      },
      Math.max(0, Math.ceil(wait)),
    );
  }

  private flush(): void {
    const now = this.ctx.now();
    for (let c = this.queue[this.head]; c !== undefined && !this.dead && !this.paused; c = this.queue[this.head]) {
      if (c.at > now) break;
      this.queue[this.head++] = undefined as never;
      if (this.dst.destroyed) continue;
      if (c.data === null) {
        this.dst.push(null);
        continue;
      }
      this.ctx.onDeliver?.(c.data.length);
      this.dst.received += c.data.length;
      if (!this.dst.push(c.data)) this.paused = true;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.schedule();
  }

  /** Clear the writer's timer (the writer is gone). */
  close(): void {
    clearTimeout(this.writerWake);
    this.writerWake = undefined;
  }
}

/** One end of an in-memory connection: a Duplex (half-open not allowed, as a TCP socket). */
export class MemoryConn extends Duplex {
  /** Bytes received so far. */
  received = 0;

  constructor(
    private readonly out: MemoryPipe,
    private readonly inbound: MemoryPipe,
  ) {
    super({ allowHalfOpen: false });
  }

  override _read(): void {
    this.inbound.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.out.send(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.out.send(null, () => {});
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.out.send(null, () => {}); // the remote sees the end after the latency, as a FIN
    this.out.close();
    this.inbound.kill();
    cb(err);
  }
}

/** Two joined ends: `[dialer's, listener's]`. */
export function memoryLink(aToB: PipeContext, bToA: PipeContext): [MemoryConn, MemoryConn] {
  const ab = new MemoryPipe(aToB);
  const ba = new MemoryPipe(bToA);
  const a = new MemoryConn(ab, ba);
  const b = new MemoryConn(ba, ab);
  ab.dst = b;
  ba.dst = a;
  return [a, b];
}
