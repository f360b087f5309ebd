// The testnet's live view: TestnetView's bookkeeping and the HTTP server in
// process, then `switchboard testnet --ui` in a child process driven by
// headless Chromium (Debian's /usr/bin/chromium through playwright-core).
import { childEnv, tsImport } from './helpers/child-env.js';
import t from 'tap';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { serveUi } from '../cli/ui/server.js';
import { TestnetView, RECENTLY_CLOSED_MS, type ViewState } from '../cli/ui/view.js';
import type { PeerStats } from '../cli/node.js';
import { freePort } from './helpers/net.js';

// the bits of the DOM the page functions below use (the project's lib has no DOM types)
declare const document: {
  querySelectorAll(s: string): { length: number };
  getElementById(id: string): { textContent: string | null } | null;
};
declare function getComputedStyle(e: unknown): { borderTopLeftRadius: string };

const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const ids = ['a', 'b', 'c'].map((c) => c.repeat(40));

function view() {
  let now = 1000;
  const v = new TestnetView(
    ids.map((id, i) => ({ id, moniker: i === 0 ? 'seed' : `node${i}`, seed: i === 0 })),
    { network: 'n', target: 1 },
    () => now,
  );
  return { v, advance: (ms: number) => (now += ms) };
}

const peer = (i: number, peerIdx: number, outbound: boolean, up: boolean) =>
  ({
    type: 'peer',
    peer: ids[peerIdx]!,
    moniker: `node${peerIdx}`,
    outbound,
    up,
    numOutbound: outbound && up ? 1 : 0,
    maxOutbound: 1,
  }) as const;

const stats = (peerIdx: number, outbound: boolean, sent: number, recv: number): PeerStats => ({
  peer: ids[peerIdx]!,
  outbound,
  sendRate: sent,
  recvRate: recv,
  bytesSent: sent,
  bytesRecv: recv,
  channels: [{ id: 0x20, name: 'gossip', bytesSent: sent, bytesRecv: recv }],
});

t.test('TestnetView: edges point from dialer to listener, close, and expire', async (t) => {
  const { v, advance } = view();
  let changes = 0;
  v.on('change', () => changes++);
  t.same(
    v.snapshot().nodes.map((n) => [n.moniker, n.seed, n.state]),
    [
      ['seed', true, 'starting'],
      ['node1', false, 'starting'],
      ['node2', false, 'starting'],
    ],
  );
  v.report(1, { type: 'ready', id: ids[1]!, listen: `${ids[1]}@127.0.0.1:5000` });
  t.equal(v.snapshot().nodes[1]!.listen, '127.0.0.1:5000');
  t.equal(v.snapshot().nodes[1]!.state, 'up');

  // node2 dials node1: both ends report it; one edge 2 → 1
  v.report(2, peer(2, 1, true, true));
  v.report(1, peer(1, 2, false, true));
  let s = v.snapshot();
  t.same(
    s.edges.map((e) => [e.from, e.to, e.live]),
    [[2, 1, true]],
  );
  t.equal(s.nodes[2]!.outbound, 1);
  t.equal(s.nodes[1]!.peers, 1);

  // it stays live until both ends let go
  advance(500);
  v.report(2, peer(2, 1, true, false));
  t.same(
    v.snapshot().edges.map((e) => e.live),
    [true],
  );
  v.report(1, peer(1, 2, false, false));
  s = v.snapshot();
  t.same(
    s.edges.map((e) => [e.from, e.to, e.live, e.since, e.closed]),
    [[2, 1, false, 0, 500]],
  );

  // a reconnect makes it live again; the node exiting closes it
  v.report(1, peer(1, 2, false, true));
  t.same(
    v.snapshot().edges.map((e) => e.live),
    [true],
  );
  v.exited(1);
  v.report(2, peer(2, 1, true, false));
  t.equal(v.snapshot().nodes[1]!.state, 'exited');
  t.same(
    v.snapshot().edges.map((e) => e.live),
    [false],
  );
  advance(RECENTLY_CLOSED_MS + 1);
  t.same(v.snapshot().edges, [], 'closed edges expire');

  // peers unknown to the testnet draw no edge
  v.report(2, { type: 'peer', peer: 'f'.repeat(40), moniker: 'x', outbound: true, up: true, numOutbound: 1, maxOutbound: 1 });
  t.same(v.snapshot().edges, []);
  v.report(9, { type: 'ready', id: 'x', listen: 'x' }); // no such node: ignored

  v.report(2, { type: 'message', origin: ids[1]!, moniker: 'node1', text: 'hi', hops: 0 });
  v.report(2, { type: 'message', origin: ids[1]!, moniker: 'node1', text: 'hi', hops: 1 });
  v.report(2, { type: 'message', origin: ids[2]!, moniker: 'node2', text: 'me', hops: 0 });
  t.equal(v.snapshot().nodes[2]!.heard, 1, 'distinct greetings from others');
  v.milestone('targets', 12);
  v.stop();
  s = v.snapshot();
  t.same(s.milestones, { targets: 12 });
  t.equal(s.stopping, true);
  t.ok(changes > 10, 'every update emits change');
});

t.test('TestnetView: a link shows the RTT its nodes report, the dialer first', async (t) => {
  const { v } = view();
  v.report(2, { type: 'stats', at: 10_000, peers: [stats(1, false, 1, 1)] });
  t.equal(v.snapshot().edges[0]!.rttMs, undefined, 'no RTT before a pong');
  v.report(2, { type: 'stats', at: 11_000, peers: [{ ...stats(1, false, 1, 1), rttMs: { latest: 3, smoothed: 2 } }] });
  t.same(v.snapshot().edges[0]!.rttMs, { latest: 3, smoothed: 2 }, "the listener's RTT when the dialer has none");
  v.report(1, { type: 'stats', at: 11_000, peers: [{ ...stats(2, true, 1, 1), rttMs: { latest: 5, smoothed: 4 } }] });
  t.same(v.snapshot().edges[0]!.rttMs, { latest: 5, smoothed: 4 }, "the dialer's own RTT");
});

t.test('TestnetView: per-channel rates from byte deltas, mirrored from the listener when the dialer has no stats', async (t) => {
  const { v } = view();
  // node1 dialed node2; only node2 (the listener) reports stats first
  v.report(2, { type: 'stats', at: 10_000, peers: [stats(1, false, 100, 40)] });
  let e = v.snapshot().edges[0]!;
  t.same([e.from, e.to, e.live], [1, 2, true], 'a stats snapshot alone creates the edge');
  t.same(e.channels, [{ id: 0x20, name: 'gossip', fwdRate: 0, backRate: 0, fwdBytes: 40, backBytes: 100 }], 'no rate from one sample');
  v.report(2, { type: 'stats', at: 12_000, peers: [stats(1, false, 300, 1040)] });
  e = v.snapshot().edges[0]!;
  t.same(
    e.channels[0],
    { id: 0x20, name: 'gossip', fwdRate: 500, backRate: 100, fwdBytes: 1040, backBytes: 300 },
    'listener view mirrored',
  );
  t.equal(e.fwdRate, 1040);
  t.equal(e.backRate, 300);
  // the dialer's own view wins once it reports
  v.report(1, { type: 'stats', at: 12_000, peers: [stats(2, true, 2000, 500)] });
  e = v.snapshot().edges[0]!;
  t.equal(e.channels[0]!.fwdBytes, 2000);
  t.equal(e.fwdRate, 2000);
  const n1 = v.snapshot().nodes[1]!;
  t.same([n1.sendRate, n1.recvRate, n1.bytesSent, n1.bytesRecv, n1.peers], [2000, 500, 2000, 500, 1]);
  // a reconnect restarts the totals: no negative rate
  v.report(2, { type: 'stats', at: 13_000, peers: [stats(1, false, 10, 10)] });
  v.report(1, { type: 'stats', at: 13_000, peers: [] });
  e = v.snapshot().edges[0]!;
  t.same([e.channels[0]!.fwdRate, e.channels[0]!.backRate], [0, 0]);
  // both ends report no peers: the edge closes
  v.report(2, { type: 'stats', at: 14_000, peers: [] });
  t.same(
    v.snapshot().edges.map((e) => e.live),
    [false],
  );
});

t.test('serveUi: the page, /state.json, /events, 404, 405, 127.0.0.1 only', async (t) => {
  const { v } = view();
  const ui = await serveUi(v, 0);
  t.teardown(() => ui.close());
  t.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const page = await fetch(ui.url);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /text\/html/);
  t.match(page.headers.get('content-security-policy'), /default-src 'none'/);
  t.equal(await page.text(), readFileSync(new URL('../cli/ui/page.html', import.meta.url), 'utf8'));
  for (const [file, type] of [
    ['page.css', /^text\/css/],
    ['page.js', /^text\/javascript/],
  ] as const) {
    const res = await fetch(`${ui.url}${file}`);
    t.match(res.headers.get('content-type'), type, `${file}: its content type`);
    t.equal(await res.text(), readFileSync(new URL(`../cli/ui/${file}`, import.meta.url), 'utf8'), `${file}: the file`);
  }
  const state = (await (await fetch(`${ui.url}state.json`)).json()) as ViewState;
  t.equal(state.nodes.length, 3);
  t.equal((await fetch(`${ui.url}nope`)).status, 404);
  t.equal((await fetch(`${ui.url}state.json/x`)).status, 404);
  const post = await fetch(ui.url, { method: 'POST', body: 'x' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(ui.url, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '');
  await t.rejects(
    fetch(`http://[::1]:${ui.port}/`),
    { name: 'TypeError', cause: { code: /^(ECONNREFUSED|EADDRNOTAVAIL|ENETUNREACH|EAFNOSUPPORT)$/ } },
    'not reachable on another address: the connection itself fails',
  );

  // the event stream: a snapshot at once, then one per change (coalesced)
  const ac = new AbortController();
  const res = await fetch(`${ui.url}events`, { signal: ac.signal });
  t.equal(res.headers.get('content-type'), 'text/event-stream');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  const nextEvent = async (): Promise<ViewState> => {
    for (;;) {
      const m = /data: (.*)\n\n/.exec(buf);
      if (m) {
        buf = buf.slice(m.index + m[0].length);
        return JSON.parse(m[1]!) as ViewState;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buf += value;
    }
  };
  t.equal((await nextEvent()).edges.length, 0);
  v.report(2, peer(2, 1, true, true));
  v.report(1, peer(1, 2, false, true));
  t.same(
    (await nextEvent()).edges.map((e) => [e.from, e.to]),
    [[2, 1]],
  );
  // close() ends the stream after a last picture, even with a subscriber attached
  v.stop();
  await ui.close();
  t.equal((await nextEvent()).stopping, true);
  await t.rejects(nextEvent(), /stream ended/);
  ac.abort();
  await t.rejects(serveUi(v, -1), { code: 'ERR_SOCKET_BAD_PORT' }, 'a bad port rejects with the listen error');
});

t.test('serveUi: a port in use rejects with EADDRINUSE naming the address', async (t) => {
  const { v } = view();
  const a = await serveUi(v, 0);
  t.teardown(() => a.close());
  await t.rejects(serveUi(v, a.port), { code: 'EADDRINUSE', message: new RegExp(`live view: cannot listen on 127\\.0\\.0\\.1:${a.port}`) });
});

const noChromium = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (as root: apt-get install -y chromium; .ci/run does that)`;

t.test(
  'switchboard testnet --nodes 4 --ui in headless Chromium: the graph shows every node and connection, exit 0 on SIGINT',
  { skip: noChromium },
  async (t) => {
    const n = 4;
    const dir = t.testdir();
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        ...tsImport(),
        cli,
        'testnet',
        '--nodes',
        String(n),
        '--base-port',
        '0',
        '--home',
        join(dir, 'net'),
        '--ui',
        '--ui-port',
        String(port),
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: childEnv(),
      },
    );
    t.teardown(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const m = /^live view on (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`testnet exited before printing the URL: ${stderr}`)));
    });
    t.equal(url, `http://127.0.0.1:${port}/`);

    const context: BrowserContext = await chromium.launchPersistentContext(join(dir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 760 },
    });
    t.teardown(() => context.close());
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(url);

    // every node up, every node at its outbound target (the testnet's own ✓), at least N-1 edges drawn, and
    // channel stats for every live one: with 4 nodes the settled network may have only N-2 connections
    // (node2→node1, node3→node1, node1 then has no one left to dial), so the recently closed (dashed) seed
    // connections count towards N-1 too, and at least N-2 must be live
    await page.waitForFunction(
      (n) => {
        const live = document.querySelectorAll('svg [data-edge][data-live="true"]').length;
        return (
          document.querySelectorAll('svg [data-node][data-state="up"]').length === n &&
          document.querySelectorAll('svg [data-edge]').length >= n - 1 &&
          live >= n - 2 &&
          document.querySelectorAll('#edge-rows tr[data-channel="32"]').length === live &&
          (document.getElementById('status')?.textContent ?? '').includes('✓ targets reached')
        );
      },
      n,
      { timeout: 60_000 },
    );
    const shot = join(dir, 'ui.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    t.ok(png.length > 1000, `screenshot ${shot} is ${png.length} bytes`);
    t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'screenshot is a PNG');
    t.ok(png.readUInt32BE(16) > 0 && png.readUInt32BE(20) > 0, 'PNG has a size');
    if (process.env.SWITCHBOARD_UI_SCREENSHOT) copyFileSync(shot, process.env.SWITCHBOARD_UI_SCREENSHOT);

    t.equal(await page.locator('svg [data-node]').count(), n, 'one node element per node');
    t.equal(await page.locator('svg [data-node][data-seed="true"]').count(), 1, 'one seed');
    t.same((await page.locator('svg [data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-moniker')))).sort(), [
      'node1',
      'node2',
      'node3',
      'seed',
    ]);
    const edges = await page.locator('svg [data-edge]').evaluateAll((els) => els.map((e) => e.getAttribute('data-edge')!));
    t.ok(
      edges.every((e) => /^\d>\d$/.test(e) && e[0] !== e[2]),
      `edges are dialer>listener between two nodes: ${edges.join(' ')}`,
    );
    const live = await page.locator('svg [data-edge][data-live="true"]').count();
    t.ok(live >= n - 2, `${live} live connections`);
    t.equal(
      await page.locator('#edge-rows tr[data-channel="32"] td', { hasText: 'gossip 0x20' }).count(),
      live,
      'a gossip channel row per live connection',
    );
    t.equal(
      await page.locator('#edge-rows tr[data-channel="0"] td', { hasText: 'pex 0x00' }).count(),
      live,
      'a pex channel row per live connection',
    );
    t.equal(await page.locator('#graph').evaluate((e) => getComputedStyle(e).borderTopLeftRadius), '8px', 'page.css applies under the CSP');
    t.same(pageErrors, [], 'no script errors');

    // SIGINT with the page still subscribed: the testnet stops and exits 0, the page says so
    child.kill('SIGINT');
    t.equal(await exited, 0, `exits 0 when told to stop: ${stderr}`);
    t.ok(lines.some((l) => l.startsWith('✓ every node reached its outbound target (1)')));
    t.ok(lines.includes('all nodes stopped'));
    await page.waitForFunction(() => (document.getElementById('status')?.textContent ?? '').includes('testnet stopping'));
    await context.close();
  },
);
