/**
 * The progress line on stderr while the benchmarks run: step n/total,
 * elapsed time, the case and run, and what the run is doing. On a terminal
 * it rewrites one line (refreshed every second); otherwise it prints one
 * line per step. No dependency (a package such as cli-progress would also
 * do).
 *
 * @module
 */

/** A single-line progress display. */
export class Progress {
  private index = 0;
  private label = '';
  private detail = '';
  private readonly started = Date.now();
  private readonly tty: boolean;
  private readonly timer: NodeJS.Timeout | undefined;

  /** @param total number of steps (runs) expected. */
  constructor(
    private readonly total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(out.isTTY);
    if (this.tty) {
      this.timer = setInterval(() => this.render(), 1000);
      this.timer.unref();
    }
  }

  /** Begin the next step. */
  step(label: string): void {
    this.index++;
    this.label = label;
    this.detail = '';
    if (this.tty) this.render();
    else this.out.write(`${this.prefix()} ${label}\n`);
  }

  /** Say what the current step is doing. */
  status(detail: string): void {
    this.detail = detail;
    if (this.tty) this.render();
  }

  /** Print a message on its own line (above the progress line). */
  log(msg: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${msg}\n`);
    if (this.tty) this.render();
  }

  /** Clear the line and stop refreshing. */
  done(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`benchmarks finished in ${fmtElapsed(Date.now() - this.started)}\n`);
  }

  private prefix(): string {
    const w = String(this.total).length;
    return `[${String(this.index).padStart(w)}/${this.total}] ${fmtElapsed(Date.now() - this.started)}`;
  }

  private render(): void {
    let line = `${this.prefix()} ${this.label}${this.detail ? ` · ${this.detail}` : ''}`;
    const cols = this.out.columns || 120;
    if (line.length > cols - 1) line = line.slice(0, cols - 2) + '…';
    this.out.write(`\r\x1b[2K${line}`);
  }
}

/** `m:ss`. */
function fmtElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
