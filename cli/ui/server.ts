/**
 * The live view's server: `switchboard testnet --ui` serves a
 * {@link TestnetView} on 127.0.0.1 with node:http. `/` is the page
 * (`page.html`, with `page.css` and the module `page.js`: no build step),
 * `/state.json` the current {@link ViewState}, `/events` the same as
 * Server-Sent Events (one `data:` line per change, at most 4 per second).
 * Anything else is a 404; anything but GET and HEAD a 405.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestnetView } from './view.js';

/** Port of the live view unless `--ui-port` says otherwise. */
export const DEFAULT_UI_PORT = 26600;

/** Minimum time between two pushes to `/events` subscribers, ms. */
const PUSH_INTERVAL_MS = 250;

/** A running live-view server. */
export interface UiServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  /** Ends the event streams and closes the server. */
  close(): Promise<void>;
}

/**
 * Serve `view` on `127.0.0.1:<port>` (0 = any free port), the page files read
 * once, at start. Rejects with the listen error (e.g. `EADDRINUSE`), its
 * message naming the address, or with the fs error when a page file is
 * missing (a build that did not copy them).
 */
export async function serveUi(view: TestnetView, port: number): Promise<UiServer> {
  const page = await readPage();
  const streams = new Set<ServerResponse>();
  let timer: NodeJS.Timeout | undefined;
  let lastPush = 0;
  const push = () => {
    timer = undefined;
    lastPush = Date.now();
    const data = `data: ${JSON.stringify(view.snapshot())}\n\n`;
    for (const res of streams) res.write(data);
  };
  const onChange = () => {
    if (timer || streams.size === 0) return;
    timer = setTimeout(push, Math.max(0, lastPush + PUSH_INTERVAL_MS - Date.now()));
  };
  view.on('change', onChange);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const routes: Record<string, () => void> = {
      '/': () => send(res, 200, 'text/html; charset=utf-8', page.html),
      '/page.css': () => send(res, 200, 'text/css; charset=utf-8', page.css),
      '/page.js': () => send(res, 200, 'text/javascript; charset=utf-8', page.js),
      '/state.json': () => send(res, 200, 'application/json', JSON.stringify(view.snapshot())),
      '/events': () => {
        res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
        res.write(`retry: 1000\ndata: ${JSON.stringify(view.snapshot())}\n\n`);
        streams.add(res);
        res.once('close', () => streams.delete(res));
      },
    };
    const route = routes[path];
    if (!route) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    route();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      err.message = `live view: cannot listen on 127.0.0.1:${port}: ${err.message}`;
      reject(err);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        view.off('change', onChange);
        clearTimeout(timer);
        if (streams.size) push(); // a last picture (stopping: true)
        for (const res of streams) res.end();
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

const HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src data:",
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...HEADERS, 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** The page's files, next to this module (`cli/ui/`, copied to `dist/cli/ui/` by the build). */
async function readPage(): Promise<{ html: string; css: string; js: string }> {
  const read = (name: string) => readFile(new URL(name, import.meta.url), 'utf8');
  const [html, css, js] = await Promise.all([read('page.html'), read('page.css'), read('page.js')]);
  return { html, css, js };
}
