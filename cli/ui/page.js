// @ts-check
/**
 * The live view's page script (served as /page.js, a module): a circular
 * graph (the seed in the middle), a node table and a per-channel rate table,
 * redrawn from `/events`. Node groups carry `data-node` (the ID), edge groups
 * `data-edge` (`from>to`) and `data-live`; `body[data-ready]` is set after
 * the first picture. Plain JS with JSDoc types, checked by
 * `tsc -p cli/ui/tsconfig.json` (part of `npm run typecheck`), no build step.
 */

/** @typedef {import('./view.js').ViewState} ViewState */
/** @typedef {import('./view.js').ViewNode} ViewNode */
/** @typedef {{ x: number, y: number }} Point */

const SVGNS = 'http://www.w3.org/2000/svg';
const SIZE = 560;
const RING = SIZE / 2 - 60;
/** Node radius, px: 26, smaller when the ring gets crowded (set by {@link layout}). */
let R = 26;

/**
 * An element with attributes and optional text.
 * @param {string | null} ns namespace (SVG) or null for HTML
 * @param {string} tag
 * @param {Record<string, string | number | boolean>} attrs
 * @param {string} [text]
 * @returns {Element}
 */
function el(ns, tag, attrs, text) {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * @param {string} text
 * @param {string} [cls]
 */
function td(text, cls) {
  return el(null, 'td', cls ? { class: cls } : {}, text);
}

/** @param {number} n bytes/s */
function rate(n) {
  if (n < 1) return '0 B/s';
  if (n < 1000) return n.toFixed(0) + ' B/s';
  if (n < 1e6) return (n / 1e3).toFixed(1) + ' kB/s';
  return (n / 1e6).toFixed(2) + ' MB/s';
}

/** @param {number} n bytes */
function bytes(n) {
  if (n < 1000) return n + ' B';
  if (n < 1e6) return (n / 1e3).toFixed(1) + ' kB';
  return (n / 1e6).toFixed(2) + ' MB';
}

/** @param {number} ms */
function seconds(ms) {
  return (ms / 1000).toFixed(1) + ' s';
}

/** @param {number} n ms */
function ms(n) {
  return n < 10 ? n.toFixed(2) + ' ms' : n.toFixed(0) + ' ms';
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e;
}

/**
 * The seed in the middle, the other nodes on a circle.
 * @param {ViewNode[]} nodes
 * @returns {Point[]} by node index
 */
function layout(nodes) {
  /** @type {Point[]} */
  const pos = [];
  const ring = nodes.filter((n) => !n.seed);
  const c = SIZE / 2;
  const r = RING;
  // node radius: 26 px, smaller when the ring gets crowded
  R = Math.max(6, Math.min(26, (0.4 * 2 * Math.PI * r) / Math.max(1, ring.length)));
  ring.forEach((n, k) => {
    const a = -Math.PI / 2 + (2 * Math.PI * k) / ring.length;
    pos[n.index] = { x: c + r * Math.cos(a), y: c + r * Math.sin(a) };
  });
  for (const n of nodes) if (n.seed) pos[n.index] = { x: c, y: c };
  return pos;
}

/** @param {ViewState} s */
function drawGraph(s) {
  const pos = layout(s.nodes);
  const edges = byId('edges');
  const nodes = byId('nodes');
  edges.replaceChildren();
  nodes.replaceChildren();
  for (const e of s.edges) {
    const a = pos[e.from];
    const b = pos[e.to];
    const fromNode = s.nodes[e.from];
    const toNode = s.nodes[e.to];
    if (!a || !b || !fromNode || !toNode) continue;
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const ux = dx / len;
    const uy = dy / len;
    // from the rim of a circle, or of the seed's square, plus a little air
    /** @param {ViewNode} n */
    const rim = (n) => 3 + (n.seed ? R / Math.max(Math.abs(ux), Math.abs(uy)) : R);
    const ga = rim(fromNode);
    const gb = rim(toNode);
    const g = el(SVGNS, 'g', { class: 'edge', 'data-edge': e.from + '>' + e.to, 'data-live': e.live });
    const line = /** @type {SVGLineElement} */ (
      el(SVGNS, 'line', {
        x1: a.x + ux * ga,
        y1: a.y + uy * ga,
        x2: b.x - ux * gb,
        y2: b.y - uy * gb,
        'marker-end': e.live ? 'url(#arrow)' : 'url(#arrow-closed)',
      })
    );
    // thicker with traffic: +1.2 px per decade above 100 B/s, at most 7 px
    if (e.live) line.style.strokeWidth = String(Math.min(7, 1.6 + 1.2 * Math.log10(1 + (e.fwdRate + e.backRate) / 100)));
    const title = e.live
      ? ' (open since ' + seconds(e.since) + '; wire ' + rate(e.fwdRate) + ' → / ' + rate(e.backRate) + ' ←)'
      : ' (closed at ' + seconds(e.closed ?? 0) + ')';
    g.appendChild(el(SVGNS, 'title', {}, fromNode.moniker + ' → ' + toNode.moniker + title));
    g.appendChild(line);
    edges.appendChild(g);
  }
  for (const n of s.nodes) {
    const p = pos[n.index];
    if (!p) continue;
    const g = el(SVGNS, 'g', { class: 'node', 'data-node': n.id, 'data-moniker': n.moniker, 'data-seed': n.seed, 'data-state': n.state });
    const detail = n.peers + ' peer' + (n.peers === 1 ? '' : 's') + ' · ↑' + rate(n.sendRate) + ' ↓' + rate(n.recvRate);
    g.appendChild(el(SVGNS, 'title', {}, n.moniker + ' ' + n.id + (n.listen ? ' @ ' + n.listen : '') + ' — ' + n.state + ', ' + detail));
    if (n.seed) {
      g.appendChild(el(SVGNS, 'rect', { x: p.x - R, y: p.y - R, width: 2 * R, height: 2 * R, rx: 4 }));
    } else {
      g.appendChild(el(SVGNS, 'circle', { cx: p.x, cy: p.y, r: R }));
    }
    if (R >= 18) {
      g.appendChild(el(SVGNS, 'text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle' }, n.moniker));
      // peers and rates below the node while there is room (else the tooltip and the table have them)
      if (s.nodes.length <= 10)
        g.appendChild(el(SVGNS, 'text', { x: p.x, y: p.y + R + 14, 'text-anchor': 'middle', class: 'sub' }, detail));
    } else {
      // crowded: the name outside the ring (the seed's below it), the rest in the tooltip
      const dx = p.x - SIZE / 2;
      const dy = p.y - SIZE / 2;
      const d = Math.hypot(dx, dy);
      const lx = d ? p.x + (dx / d) * (R + 14) : p.x;
      const ly = d ? p.y + (dy / d) * (R + 10) + 4 : p.y + R + 14;
      g.appendChild(el(SVGNS, 'text', { x: lx, y: ly, 'text-anchor': 'middle', class: 'sub' }, n.moniker));
    }
    nodes.appendChild(g);
  }
}

/**
 * A rate cell with a bar scaled to `max` (40 px at most).
 * @param {'fwd' | 'back'} cls
 * @param {number} value bytes/s
 * @param {number} max bytes/s
 */
function bar(cls, value, max) {
  const w = max > 0 ? Math.max(value > 0 ? 2 : 0, Math.round((40 * value) / max)) : 0;
  const cell = el(null, 'td', { class: 'num' });
  const span = /** @type {HTMLElement} */ (el(null, 'span', { class: 'bar ' + cls }));
  span.style.width = w + 'px'; // through CSSOM: the CSP allows no inline style attributes
  cell.appendChild(span);
  cell.appendChild(document.createTextNode(rate(value)));
  return cell;
}

/** @param {ViewState} s */
function drawTables(s) {
  const rows = byId('node-rows');
  rows.replaceChildren();
  for (const n of s.nodes) {
    const tr = el(null, 'tr', { 'data-row': n.id });
    tr.appendChild(td(n.moniker + (n.seed ? ' (seed)' : '') + (n.state !== 'up' ? ' — ' + n.state : '')));
    tr.appendChild(td(n.id.slice(0, 8) + '…', 'mono'));
    tr.appendChild(td(n.listen, 'mono'));
    tr.appendChild(td(n.peers + ' (' + n.outbound + ')', 'num'));
    tr.appendChild(td(n.seed ? '—' : String(n.heard), 'num'));
    tr.appendChild(td(rate(n.sendRate), 'num'));
    tr.appendChild(td(rate(n.recvRate), 'num'));
    rows.appendChild(tr);
  }
  const erows = byId('edge-rows');
  erows.replaceChildren();
  const live = s.edges.filter((e) => e.live);
  let max = 0;
  for (const e of live) for (const c of e.channels) max = Math.max(max, c.fwdRate, c.backRate);
  for (const e of live) {
    const name = (s.nodes[e.from]?.moniker ?? '?') + ' → ' + (s.nodes[e.to]?.moniker ?? '?');
    const chans = e.channels.length ? e.channels : [null];
    chans.forEach((c, k) => {
      const tr = el(null, 'tr', {});
      tr.appendChild(td(k === 0 ? name : ''));
      tr.appendChild(td(k === 0 && e.rttMs ? ms(e.rttMs.smoothed) + ' (' + ms(e.rttMs.latest) + ')' : '', 'num'));
      if (!c) {
        tr.appendChild(el(null, 'td', { colspan: 5 }, '(no stats yet)'));
        erows.appendChild(tr);
        return;
      }
      tr.setAttribute('data-channel', String(c.id));
      tr.appendChild(td((c.name || 'channel') + ' 0x' + c.id.toString(16).padStart(2, '0'), 'mono'));
      tr.appendChild(bar('fwd', c.fwdRate, max));
      tr.appendChild(bar('back', c.backRate, max));
      tr.appendChild(td(bytes(c.fwdBytes), 'num'));
      tr.appendChild(td(bytes(c.backBytes), 'num'));
      erows.appendChild(tr);
    });
  }
}

/**
 * @param {ViewState} s
 * @param {boolean} connected whether the event stream is up
 */
function drawStatus(s, connected) {
  const st = byId('status');
  st.replaceChildren();
  const up = s.nodes.filter((n) => n.state === 'up').length;
  const open = s.edges.filter((e) => e.live).length;
  st.appendChild(
    document.createTextNode(
      up + '/' + s.nodes.length + ' nodes up · ' + open + ' connections · outbound target ' + s.target + ' · ' + seconds(s.elapsed) + ' ',
    ),
  );
  if (s.milestones.targets !== undefined)
    st.appendChild(el(null, 'span', { class: 'ok' }, '✓ targets reached in ' + s.milestones.targets + ' ms '));
  if (s.milestones.gossip !== undefined)
    st.appendChild(el(null, 'span', { class: 'ok' }, '✓ all greetings heard in ' + s.milestones.gossip + ' ms '));
  if (s.stopping) st.appendChild(el(null, 'span', { class: 'bad' }, 'testnet stopping'));
  else if (!connected) st.appendChild(el(null, 'span', { class: 'bad' }, 'disconnected, retrying…'));
}

/** @type {ViewState | null} */
let last = null;

/**
 * @param {ViewState} s
 * @param {boolean} connected
 */
function render(s, connected) {
  last = s;
  byId('network').textContent = s.network;
  drawGraph(s);
  drawTables(s);
  drawStatus(s, connected);
  document.body.setAttribute('data-ready', 'true');
}

const events = new EventSource('events');
events.onmessage = (/** @type {MessageEvent<string>} */ m) => render(/** @type {ViewState} */ (JSON.parse(m.data)), true);
events.onerror = () => {
  if (last) drawStatus(last, false);
  else byId('status').textContent = 'cannot reach the testnet, retrying…';
};
