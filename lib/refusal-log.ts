/**
 * Logging refused inbound connections without flooding the log: the first
 * refusal at info at once, the rest as one line per reason per
 * `refusalLogIntervalMs` with the count.
 *
 * @module
 */
import type { Logger } from 'pino';

/** Rate-limited info logs of inbound refusals, by reason. */
export class RefusalLog {
  /** Refusals not logged yet, by reason. */
  readonly #counts = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param logger where to log.
   * @param intervalMs at most one line per reason per this interval (ms).
   */
  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Count one refusal of `remote` for `reason`. */
  count(reason: string, remote: string): void {
    if (!this.#timer) {
      this.logger.info({ reason, remote }, 'inbound connection refused');
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, this.intervalMs);
      this.#timer.unref();
      return;
    }
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
  }

  /** Log what is counted and stop the timer. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#flush();
  }

  #flush(): void {
    for (const [reason, count] of this.#counts)
      this.logger.info({ reason, count, intervalMs: this.intervalMs }, 'inbound connections refused');
    this.#counts.clear();
  }
}
