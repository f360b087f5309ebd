// Test helpers: loopback socket pairs, free ports and event waiting. Every resource is
// registered with the test's teardown.
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import type { Teardown } from './teardown.js';

/** A connected pair of TCP sockets on 127.0.0.1, destroyed at teardown. */
export async function socketPair(t: Teardown): Promise<[Socket, Socket]> {
  // no Nagle, as the Transport's sockets: a small write must not wait for a delayed ACK (40 ms)
  const server = createServer({ noDelay: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const a = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(a, 'connect');
  const [b] = await accepted;
  server.close();
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  return [a, b];
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves with the first value passed to the returned callback. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Random bytes with a deterministic pattern (fast, no crypto). */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
