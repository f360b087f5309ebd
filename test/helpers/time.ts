// Time in tests: a pause to *pace* a peer (never to wait for a condition:
// await an event, or poll with a bounded loop), and a deadline on a promise.

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
