/**
 * How the `switchboard` command reports a failure: one line on stderr that
 * names the thing (file, address) and what went wrong, the error code once.
 *
 * @module
 */
import { getSystemErrorMap } from 'node:util';
import { SwitchboardError } from '../lib/errors.js';

/** A Node.js system error (fs, net): `code` (`ENOENT`…), `syscall`, and the `path` or `address`/`port` it was about. */
type SystemError = Error & { code: string; syscall: string; errno?: number; path?: string; address?: string; port?: number };

/** True for a Node.js system error (an `fs` or `net` failure with `code` and `syscall`). */
export function isSystemError(err: unknown): err is SystemError {
  return err instanceof Error && typeof (err as SystemError).code === 'string' && typeof (err as SystemError).syscall === 'string';
}

/**
 * What a system error means, without its code and the path Node puts in
 * its message: `no such file or directory` for `ENOENT` (libuv's text).
 */
export function systemErrorText(err: SystemError): string {
  return (err.errno !== undefined && getSystemErrorMap().get(err.errno)?.[1]) || err.code;
}

/**
 * The line printed for an error that ends the command (without the
 * `switchboard: ` prefix): `CODE: message` for a SwitchboardError,
 * `cannot <syscall> <path or address>: <what>` for a system error (`cannot
 * open /h/config/node_key.json: permission denied`), else the message.
 */
export function cliErrorLine(err: unknown): string {
  if (err instanceof SwitchboardError) return `${err.code}: ${err.message}`;
  if (isSystemError(err)) {
    const where = err.path ?? (err.address !== undefined ? `${err.address}${err.port !== undefined ? `:${err.port}` : ''}` : undefined);
    const verb = err.syscall === 'listen' ? 'listen on' : err.syscall === 'connect' ? 'connect to' : err.syscall;
    const hint = err.code === 'EADDRINUSE' ? ' (another process listens there: pick another port)' : '';
    return `cannot ${verb}${where !== undefined ? ` ${where}` : ''}: ${systemErrorText(err)}${hint}`;
  }
  return err instanceof Error ? err.message : String(err);
}
