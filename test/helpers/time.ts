// Time in tests: a pause, and a deadline on a promise.

/**
 * Resolves after `ms`: to pace a peer (a slow or flooding one), or as the
 * interval of a poll bounded in count where there is no event to await. Never
 * to wait for a condition an event tells.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with `p`'s value, or rejects naming `what` when it has not settled within `timeoutMs`. */
export async function within<T>(p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
