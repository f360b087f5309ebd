/**
 * Reading a small file from a path someone else may control (a node key, an
 * address book, a config file) without trusting its size or its kind.
 *
 * @module
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** What {@link readBoundedFile} found: the bytes, or why they were not read. */
export type BoundedRead = { bytes: Buffer } | { problem: string };

/**
 * Read the regular file at `path` if it holds at most `maxBytes` bytes. The
 * file is opened non-blocking, so a FIFO or device at the path is refused
 * (`problem: "not a regular file"`) instead of hanging the process; its size
 * is checked before anything is read, and the read stops past the bound if
 * the file grows meanwhile (`problem: "larger than N bytes"`).
 * @throws the `open` error as Node gives it (`ENOENT`, `EACCES`, …).
 */
export function readBoundedFile(path: string, maxBytes: number): BoundedRead {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: 'not a regular file' };
    if (st.size > maxBytes) return { problem: `larger than ${maxBytes} bytes (${st.size})` };
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) return { problem: `larger than ${maxBytes} bytes` };
      chunks.push(chunk.subarray(0, n));
    }
    return { bytes: Buffer.concat(chunks, total) };
  } finally {
    closeSync(fd);
  }
}
