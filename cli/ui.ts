/**
 * `switchboard testnet --ui`: a live view of the local network in a browser.
 *
 * {@link TestnetView} folds the nodes' IPC reports ({@link NodeReport}) into
 * one picture — nodes, connections (dialer → listener), per-connection and
 * per-channel byte rates — and {@link serveUi} serves it on 127.0.0.1 with
 * node:http: `/` is one HTML page (inline JS and SVG, no build step),
 * `/state.json` the current {@link ViewState}, `/events` the same as
 * Server-Sent Events (one `data:` line per change, at most 4 per second).
 * Anything else is a 404.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeReport, PeerStats } from './node.js';
import type { RttStatus } from '../lib/conn/mconnection.js';

/** Port of the live view unless `--ui-port` says otherwise. */
export const DEFAULT_UI_PORT = 26600;

/** How long a closed connection stays on the graph (dashed), ms. */
export const RECENTLY_CLOSED_MS = 30_000;

/** Minimum time between two pushes to `/events` subscribers, ms. */
const PUSH_INTERVAL_MS = 250;

/** One node of a {@link ViewState}. */
export interface ViewNode {
  index: number;
  id: string;
  moniker: string;
  seed: boolean;
  state: 'starting' | 'up' | 'exited';
  /** `host:port` once the node listens. */
  listen: string;
  peers: number;
  outbound: number;
  /** Distinct greetings heard from other nodes. */
  heard: number;
  /** Wire rates over all its connections, bytes/s. */
  sendRate: number;
  recvRate: number;
  bytesSent: number;
  bytesRecv: number;
}

/** One channel of a connection; `fwd` is dialer → listener, `back` listener → dialer. */
export interface ViewChannel {
  id: number;
  name: string;
  fwdRate: number;
  backRate: number;
  fwdBytes: number;
  backBytes: number;
}

/** One connection of a {@link ViewState}: `from` dialed `to` (node indexes). */
export interface ViewEdge {
  from: number;
  to: number;
  /** False for a connection closed in the last {@link RECENTLY_CLOSED_MS}. */
  live: boolean;
  /** When it opened / closed, ms since the testnet started. */
  since: number;
  closed?: number;
  /** Wire rates (headers included), bytes/s. */
  fwdRate: number;
  backRate: number;
  channels: ViewChannel[];
  /** Keepalive round-trip time of the link (ms), latest and smoothed (SRTT); absent until the first pong. */
  rttMs?: RttStatus;
}

/** What `/state.json` and `/events` carry. */
export interface ViewState {
  network: string;
  /** Outbound target of the non-seed nodes. */
  target: number;
  /** ms since the testnet started. */
  elapsed: number;
  /** When (ms since start) every node reached its target / heard every greeting. */
  milestones: { targets?: number; gossip?: number };
  stopping: boolean;
  nodes: ViewNode[];
  edges: ViewEdge[];
}

interface ChannelSample {
  name: string;
  bytesSent: number;
  bytesRecv: number;
  sendRate: number;
  recvRate: number;
}

interface PeerSample {
  at: number;
  sendRate: number;
  recvRate: number;
  bytesSent: number;
  bytesRecv: number;
  channels: Map<number, ChannelSample>;
  rttMs?: RttStatus;
}

interface EdgeRecord {
  from: number;
  to: number;
  since: number;
  closed?: number;
}

/**
 * The testnet as the nodes report it. Feed it with {@link report} and
 * {@link exited}; read it with {@link snapshot}; it emits `change` after
 * every update.
 */
export class TestnetView extends EventEmitter<{ change: [] }> {
  private readonly started: number;
  private readonly nodes: ViewNode[];
  private readonly byId = new Map<string, number>();
  /** Per node: its connected peers (ID → we dialed it). */
  private readonly peers: Map<string, boolean>[];
  /** Per node: the last stats sample of each connected peer. */
  private readonly samples: Map<string, PeerSample>[];
  private readonly heard: Set<string>[];
  private readonly edges = new Map<string, EdgeRecord>();
  private readonly milestones: ViewState['milestones'] = {};
  private stopping = false;

  /**
   * @param nodes the testnet's nodes in index order (node 0 the seed when `seed` says so)
   * @param now clock in ms (injectable for tests)
   */
  constructor(
    nodes: readonly { id: string; moniker: string; seed: boolean }[],
    private readonly info: { network: string; target: number },
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.started = now();
    this.nodes = nodes.map((n, index) => ({ index, id: n.id, moniker: n.moniker, seed: n.seed, state: 'starting', listen: '', peers: 0, outbound: 0, heard: 0, sendRate: 0, recvRate: 0, bytesSent: 0, bytesRecv: 0 }));
    nodes.forEach((n, i) => this.byId.set(n.id, i));
    this.peers = nodes.map(() => new Map());
    this.samples = nodes.map(() => new Map());
    this.heard = nodes.map(() => new Set());
  }

  /** Fold in one report of node `i`. */
  report(i: number, r: NodeReport): void {
    const node = this.nodes[i];
    if (!node) return;
    switch (r.type) {
      case 'ready':
        node.state = 'up';
        node.listen = r.listen.slice(r.listen.indexOf('@') + 1);
        break;
      case 'peer':
        if (r.up) this.peers[i]!.set(r.peer, r.outbound);
        else if (this.peers[i]!.get(r.peer) === r.outbound) this.peers[i]!.delete(r.peer);
        node.outbound = r.numOutbound;
        this.reconcileEdges();
        break;
      case 'message':
        if (r.origin !== node.id) this.heard[i]!.add(r.origin);
        node.heard = this.heard[i]!.size;
        break;
      case 'stats':
        this.fold(i, r.at, r.peers);
        // a snapshot of the node's peers: it corrects whatever the events left out of order
        this.peers[i] = new Map(r.peers.map((p) => [p.peer, p.outbound]));
        this.reconcileEdges();
        break;
    }
    this.emit('change');
  }

  /** Node `i`'s process exited. */
  exited(i: number): void {
    const node = this.nodes[i];
    if (!node) return;
    node.state = 'exited';
    this.peers[i]!.clear();
    this.samples[i]!.clear();
    this.reconcileEdges();
    this.emit('change');
  }

  /** Record a milestone (ms since start) of the testnet. */
  milestone(name: keyof ViewState['milestones'], ms: number): void {
    this.milestones[name] = ms;
    this.emit('change');
  }

  /** The testnet is shutting down. */
  stop(): void {
    this.stopping = true;
    this.emit('change');
  }

  /** The current picture (a fresh object, JSON-safe). */
  snapshot(): ViewState {
    const t = this.now() - this.started;
    for (const [k, e] of this.edges) if (e.closed !== undefined && t - e.closed > RECENTLY_CLOSED_MS) this.edges.delete(k);
    const nodes = this.nodes.map((n, i) => {
      let sendRate = 0, recvRate = 0, bytesSent = 0, bytesRecv = 0;
      for (const s of this.samples[i]!.values()) {
        sendRate += s.sendRate;
        recvRate += s.recvRate;
        bytesSent += s.bytesSent;
        bytesRecv += s.bytesRecv;
      }
      return { ...n, peers: this.peers[i]!.size, sendRate, recvRate, bytesSent, bytesRecv };
    });
    const edges = [...this.edges.values()].map((e): ViewEdge => {
      const live = e.closed === undefined;
      const base = { from: e.from, to: e.to, live, since: e.since, ...(live ? {} : { closed: e.closed }) };
      if (!live) return { ...base, fwdRate: 0, backRate: 0, channels: [] };
      // the dialer's view of the connection, else the listener's mirrored
      const fromSide = this.samples[e.from]!.get(this.nodes[e.to]!.id);
      const toSide = this.samples[e.to]!.get(this.nodes[e.from]!.id);
      const s = fromSide ?? toSide;
      const mirrored = !fromSide;
      if (!s) return { ...base, fwdRate: 0, backRate: 0, channels: [] };
      const channels = [...s.channels].map(([id, c]) => ({
        id,
        name: c.name,
        fwdRate: mirrored ? c.recvRate : c.sendRate,
        backRate: mirrored ? c.sendRate : c.recvRate,
        fwdBytes: mirrored ? c.bytesRecv : c.bytesSent,
        backBytes: mirrored ? c.bytesSent : c.bytesRecv,
      }));
      const rtt = s.rttMs ?? (mirrored ? undefined : toSide?.rttMs);
      return { ...base, fwdRate: mirrored ? s.recvRate : s.sendRate, backRate: mirrored ? s.sendRate : s.recvRate, channels, ...(rtt ? { rttMs: rtt } : {}) };
    });
    edges.sort((a, b) => a.from - b.from || a.to - b.to);
    return { network: this.info.network, target: this.info.target, elapsed: t, milestones: { ...this.milestones }, stopping: this.stopping, nodes, edges };
  }

  /** Live edges = every node's peers, each as dialer → listener; vanished ones are marked closed. */
  private reconcileEdges(): void {
    const t = this.now() - this.started;
    const live = new Set<string>();
    this.peers.forEach((peers, i) => {
      for (const [id, outbound] of peers) {
        const j = this.byId.get(id);
        if (j === undefined || j === i) continue;
        const [from, to] = outbound ? [i, j] : [j, i];
        const key = `${from}>${to}`;
        live.add(key);
        const e = this.edges.get(key);
        if (!e || e.closed !== undefined) this.edges.set(key, { from, to, since: t });
      }
    });
    for (const [k, e] of this.edges) if (!live.has(k) && e.closed === undefined) e.closed = t;
  }

  /** Per-channel rates from the byte totals of two consecutive samples. */
  private fold(i: number, at: number, peers: readonly PeerStats[]): void {
    const prev = this.samples[i]!;
    const next = new Map<string, PeerSample>();
    for (const p of peers) {
      const old = prev.get(p.peer);
      const dt = old ? (at - old.at) / 1000 : 0;
      const channels = new Map<number, ChannelSample>();
      for (const c of p.channels) {
        const o = old?.channels.get(c.id);
        // a reconnect restarts the totals: no rate until the next sample
        const rate = (now: number, before: number | undefined) => (dt > 0 && before !== undefined && now >= before ? (now - before) / dt : 0);
        channels.set(c.id, { name: c.name, bytesSent: c.bytesSent, bytesRecv: c.bytesRecv, sendRate: rate(c.bytesSent, o?.bytesSent), recvRate: rate(c.bytesRecv, o?.bytesRecv) });
      }
      next.set(p.peer, { at, sendRate: p.sendRate, recvRate: p.recvRate, bytesSent: p.bytesSent, bytesRecv: p.bytesRecv, channels, ...(p.rttMs ? { rttMs: p.rttMs } : {}) });
    }
    this.samples[i] = next;
  }
}

/** A running live-view server. */
export interface UiServer {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  /** Ends the event streams and closes the server. */
  close(): Promise<void>;
}

/**
 * Serve `view` on `127.0.0.1:<port>` (0 = any free port). Rejects with the
 * listen error (e.g. `EADDRINUSE`), its message naming the address.
 */
export async function serveUi(view: TestnetView, port: number): Promise<UiServer> {
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
      '/': () => send(res, 200, 'text/html; charset=utf-8', UI_PAGE),
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
  'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...HEADERS, 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * The page: a circular graph (the seed in the middle), a node table and a
 * per-channel rate table, redrawn from `/events`. Node groups carry
 * `data-node` (the ID), edge groups `data-edge` (`from>to`) and `data-live`.
 * Plain JS in a template literal, so no backticks or dollar-brace inside.
 */
export const UI_PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>switchboard testnet</title>
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f6f7f9; }
  body { margin: 0; padding: 16px 20px; }
  h1 { font-size: 18px; margin: 0 0 4px; }
  #status { color: #5b6475; margin-bottom: 12px; }
  #status .ok { color: #16794a; font-weight: 600; }
  #status .bad { color: #b3261e; font-weight: 600; }
  main { display: flex; gap: 20px; align-items: flex-start; flex-wrap: wrap; }
  #graph { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; width: 560px; height: 560px; flex: none; }
  section { flex: 1; min-width: 420px; }
  h2 { font-size: 14px; margin: 0 0 6px; }
  .scroll { overflow: auto; margin-bottom: 16px; border: 1px solid #dde1e8; background: #fff; }
  .scroll table { border: 0; margin: 0; }
  .scroll thead th { position: sticky; top: 0; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #dde1e8; margin-bottom: 16px; font-variant-numeric: tabular-nums; }
  th, td { padding: 3px 6px; text-align: left; border-bottom: 1px solid #eef0f4; white-space: nowrap; }
  th { font-weight: 600; color: #5b6475; background: #fafbfc; }
  td.num { text-align: right; }
  .bar { display: inline-block; height: 8px; border-radius: 2px; vertical-align: middle; margin-right: 6px; }
  .fwd { background: #2f6fde; } .back { background: #e08a1e; }
  .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  .legend { color: #5b6475; font-size: 12px; margin: 6px 0 0; }
  svg text { font: 12px system-ui, sans-serif; fill: #1d2330; pointer-events: none; }
  svg text.sub { font-size: 10px; fill: #5b6475; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
  .edge line { stroke: #6b7a90; stroke-width: 1.6; }
  .edge[data-live="false"] line { stroke: #b8c0cc; stroke-dasharray: 5 4; }
  .node circle, .node rect { stroke: #1d2330; stroke-width: 1.5; }
  .node[data-state="starting"] circle { fill: #e4e7ec; }
  .node[data-state="up"] circle { fill: #cfe0ff; }
  .node[data-state="exited"] circle, .node[data-state="exited"] rect { fill: #f4c7c3; }
  .node[data-seed="true"] rect { fill: #ffe2a8; }
</style>
</head>
<body>
<h1>switchboard testnet <span id="network" class="mono"></span></h1>
<div id="status">connecting…</div>
<main>
  <div>
    <svg id="graph" viewBox="0 0 560 560" role="img" aria-label="network graph">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#6b7a90"></path>
        </marker>
        <marker id="arrow-closed" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="12" markerHeight="12" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#b8c0cc"></path>
        </marker>
      </defs>
      <g id="edges"></g>
      <g id="nodes"></g>
    </svg>
    <p class="legend">arrow: dialer → listener · dashed: closed in the last 30 s · square: the seed (PEX seed mode)</p>
  </div>
  <section>
    <h2>nodes</h2>
    <div class="scroll" style="max-height: 240px"><table><thead><tr><th>node</th><th>id</th><th>listen</th><th>peers (out)</th><th>greetings</th><th title="bytes/s on the wire, headers included">↑ wire</th><th title="bytes/s on the wire, headers included">↓ wire</th></tr></thead><tbody id="node-rows"></tbody></table></div>
    <h2>connections and channels <span class="legend"><span class="bar fwd" style="width:12px"></span>dialer → listener <span class="bar back" style="width:12px"></span>listener → dialer (payload bytes/s)</span></h2>
    <div class="scroll" style="max-height: 300px"><table><thead><tr><th>connection</th><th title="keepalive ping round trip: smoothed (latest)">RTT</th><th>channel</th><th>→ rate</th><th>← rate</th><th>→ bytes</th><th>← bytes</th></tr></thead><tbody id="edge-rows"></tbody></table></div>
  </section>
</main>
<script>
'use strict';
var SVGNS = 'http://www.w3.org/2000/svg';
var SIZE = 560, RING = SIZE / 2 - 60, R = 26;

function el(ns, tag, attrs, text) {
  var e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (var k in attrs) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = text;
  return e;
}
function td(text, cls) { return el(null, 'td', cls ? { class: cls } : {}, text); }
function rate(n) {
  if (n < 1) return '0 B/s';
  if (n < 1000) return n.toFixed(0) + ' B/s';
  if (n < 1e6) return (n / 1e3).toFixed(1) + ' kB/s';
  return (n / 1e6).toFixed(2) + ' MB/s';
}
function bytes(n) {
  if (n < 1000) return n + ' B';
  if (n < 1e6) return (n / 1e3).toFixed(1) + ' kB';
  return (n / 1e6).toFixed(2) + ' MB';
}
function seconds(ms) { return (ms / 1000).toFixed(1) + ' s'; }
function ms(n) { return n < 10 ? n.toFixed(2) + ' ms' : n.toFixed(0) + ' ms'; }

/** The seed in the middle, the other nodes on a circle. */
function layout(nodes) {
  var pos = [], ring = nodes.filter(function (n) { return !n.seed; });
  var c = SIZE / 2, r = RING;
  // node radius: 26 px, smaller when the ring gets crowded
  R = Math.max(6, Math.min(26, (0.4 * 2 * Math.PI * r) / Math.max(1, ring.length)));
  ring.forEach(function (n, k) {
    var a = -Math.PI / 2 + (2 * Math.PI * k) / ring.length;
    pos[n.index] = { x: c + r * Math.cos(a), y: c + r * Math.sin(a) };
  });
  nodes.forEach(function (n) { if (n.seed) pos[n.index] = { x: c, y: c }; });
  return pos;
}

function drawGraph(s) {
  var pos = layout(s.nodes);
  var edges = document.getElementById('edges'), nodes = document.getElementById('nodes');
  edges.replaceChildren();
  nodes.replaceChildren();
  s.edges.forEach(function (e) {
    var a = pos[e.from], b = pos[e.to];
    if (!a || !b) return;
    var dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    var ux = dx / len, uy = dy / len;
    // from the rim of a circle, or of the seed's square, plus a little air
    var rim = function (n) { return 3 + (n.seed ? R / Math.max(Math.abs(ux), Math.abs(uy)) : R); };
    var ga = rim(s.nodes[e.from]), gb = rim(s.nodes[e.to]);
    var g = el(SVGNS, 'g', { class: 'edge', 'data-edge': e.from + '>' + e.to, 'data-live': e.live });
    var line = el(SVGNS, 'line', {
      x1: a.x + ux * ga, y1: a.y + uy * ga, x2: b.x - ux * gb, y2: b.y - uy * gb,
      'marker-end': e.live ? 'url(#arrow)' : 'url(#arrow-closed)',
    });
    // thicker with traffic: +1.2 px per decade above 100 B/s, at most 7 px
    if (e.live) line.style.strokeWidth = String(Math.min(7, 1.6 + 1.2 * Math.log10(1 + (e.fwdRate + e.backRate) / 100)));
    var from = s.nodes[e.from].moniker, to = s.nodes[e.to].moniker;
    g.appendChild(el(SVGNS, 'title', {}, from + ' → ' + to + (e.live
      ? ' (open since ' + seconds(e.since) + '; wire ' + rate(e.fwdRate) + ' → / ' + rate(e.backRate) + ' ←)'
      : ' (closed at ' + seconds(e.closed) + ')')));
    g.appendChild(line);
    edges.appendChild(g);
  });
  s.nodes.forEach(function (n) {
    var p = pos[n.index];
    var g = el(SVGNS, 'g', { class: 'node', 'data-node': n.id, 'data-moniker': n.moniker, 'data-seed': n.seed, 'data-state': n.state });
    var detail = n.peers + ' peer' + (n.peers === 1 ? '' : 's') + ' · ↑' + rate(n.sendRate) + ' ↓' + rate(n.recvRate);
    g.appendChild(el(SVGNS, 'title', {}, n.moniker + ' ' + n.id + (n.listen ? ' @ ' + n.listen : '') + ' — ' + n.state + ', ' + detail));
    if (n.seed) {
      g.appendChild(el(SVGNS, 'rect', { x: p.x - R, y: p.y - R, width: 2 * R, height: 2 * R, rx: 4 }));
    } else {
      g.appendChild(el(SVGNS, 'circle', { cx: p.x, cy: p.y, r: R }));
    }
    if (R >= 18) {
      g.appendChild(el(SVGNS, 'text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle' }, n.moniker));
      // peers and rates below the node while there is room (else the tooltip and the table have them)
      if (s.nodes.length <= 10) g.appendChild(el(SVGNS, 'text', { x: p.x, y: p.y + R + 14, 'text-anchor': 'middle', class: 'sub' }, detail));
    } else {
      // crowded: the name outside the ring (the seed's below it), the rest in the tooltip
      var dx = p.x - SIZE / 2, dy = p.y - SIZE / 2, d = Math.hypot(dx, dy);
      var lx = d ? p.x + (dx / d) * (R + 14) : p.x, ly = d ? p.y + (dy / d) * (R + 10) + 4 : p.y + R + 14;
      g.appendChild(el(SVGNS, 'text', { x: lx, y: ly, 'text-anchor': 'middle', class: 'sub' }, n.moniker));
    }
    nodes.appendChild(g);
  });
}

function bar(cls, value, max) {
  var w = max > 0 ? Math.max(value > 0 ? 2 : 0, Math.round((40 * value) / max)) : 0;
  var cell = el(null, 'td', { class: 'num' });
  cell.appendChild(el(null, 'span', { class: 'bar ' + cls, style: 'width:' + w + 'px' }));
  cell.appendChild(document.createTextNode(rate(value)));
  return cell;
}

function drawTables(s) {
  var rows = document.getElementById('node-rows');
  rows.replaceChildren();
  s.nodes.forEach(function (n) {
    var tr = el(null, 'tr', { 'data-row': n.id });
    tr.appendChild(td(n.moniker + (n.seed ? ' (seed)' : '') + (n.state !== 'up' ? ' — ' + n.state : '')));
    tr.appendChild(td(n.id.slice(0, 8) + '…', 'mono'));
    tr.appendChild(td(n.listen, 'mono'));
    tr.appendChild(td(n.peers + ' (' + n.outbound + ')', 'num'));
    tr.appendChild(td(n.seed ? '—' : String(n.heard), 'num'));
    tr.appendChild(td(rate(n.sendRate), 'num'));
    tr.appendChild(td(rate(n.recvRate), 'num'));
    rows.appendChild(tr);
  });
  var erows = document.getElementById('edge-rows');
  erows.replaceChildren();
  var live = s.edges.filter(function (e) { return e.live; });
  var max = 0;
  live.forEach(function (e) { e.channels.forEach(function (c) { max = Math.max(max, c.fwdRate, c.backRate); }); });
  live.forEach(function (e) {
    var name = s.nodes[e.from].moniker + ' → ' + s.nodes[e.to].moniker;
    var chans = e.channels.length ? e.channels : [null];
    chans.forEach(function (c, k) {
      var tr = el(null, 'tr');
      tr.appendChild(td(k === 0 ? name : ''));
      tr.appendChild(td(k === 0 && e.rttMs ? ms(e.rttMs.smoothed) + ' (' + ms(e.rttMs.latest) + ')' : '', 'num'));
      if (!c) {
        tr.appendChild(el(null, 'td', { colspan: 5 }, '(no stats yet)'));
        erows.appendChild(tr);
        return;
      }
      tr.setAttribute('data-channel', c.id);
      tr.appendChild(td((c.name || 'channel') + ' 0x' + c.id.toString(16).padStart(2, '0'), 'mono'));
      tr.appendChild(bar('fwd', c.fwdRate, max));
      tr.appendChild(bar('back', c.backRate, max));
      tr.appendChild(td(bytes(c.fwdBytes), 'num'));
      tr.appendChild(td(bytes(c.backBytes), 'num'));
      erows.appendChild(tr);
    });
  });
}

function drawStatus(s, connected) {
  var st = document.getElementById('status');
  st.replaceChildren();
  var up = s.nodes.filter(function (n) { return n.state === 'up'; }).length;
  var open = s.edges.filter(function (e) { return e.live; }).length;
  st.appendChild(document.createTextNode(up + '/' + s.nodes.length + ' nodes up · ' + open + ' connections · outbound target ' + s.target + ' · ' + seconds(s.elapsed) + ' '));
  if (s.milestones.targets !== undefined) st.appendChild(el(null, 'span', { class: 'ok' }, '✓ targets reached in ' + s.milestones.targets + ' ms '));
  if (s.milestones.gossip !== undefined) st.appendChild(el(null, 'span', { class: 'ok' }, '✓ all greetings heard in ' + s.milestones.gossip + ' ms '));
  if (s.stopping) st.appendChild(el(null, 'span', { class: 'bad' }, 'testnet stopping'));
  else if (!connected) st.appendChild(el(null, 'span', { class: 'bad' }, 'disconnected, retrying…'));
}

var last = null;
function render(s, connected) {
  last = s;
  document.getElementById('network').textContent = s.network;
  drawGraph(s);
  drawTables(s);
  drawStatus(s, connected);
  document.body.setAttribute('data-ready', 'true');
}

var events = new EventSource('events');
events.onmessage = function (m) { render(JSON.parse(m.data), true); };
events.onerror = function () {
  if (last) drawStatus(last, false);
  else document.getElementById('status').textContent = 'cannot reach the testnet, retrying…';
};
</script>
</body>
</html>
`;
