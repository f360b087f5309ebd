/**
 * `switchboard testnet`: a local network of N node processes on 127.0.0.1
 * that discovers itself. node0 is a seed (PEX seed mode); every other node
 * knows only the seed, learns the others' addresses through PEX, and dials
 * until it has its outbound target. Each node gossips one greeting. The
 * parent prints what every node sees, a line when every node has reached
 * its outbound target or is connected to every other node (naming each node
 * short of its target, with its counts), and one when every node has heard
 * every greeting. Each node's home (key, address book) lives under `--home`
 * and survives restarts (the address books only with a fixed `--base-port`:
 * on free ports they are emptied at start, their addresses being stale).
 * Ctrl-C (SIGINT) or SIGTERM stops all nodes and exits 0. A node that fails
 * to start (its port taken, …) stops the testnet: it says which node and
 * why, and exits 1.
 * With `--ui`, a live view of the network is served on 127.0.0.1 (see `./ui/server.ts`).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, resolve, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeKey } from '../lib/node-key.js';
import { addrBookPath, nodeKeyPath, type NodeReport } from './node.js';
import { DEFAULT_UI_PORT, serveUi } from './ui/server.js';
import { TestnetView } from './ui/view.js';

/** Options of {@link runTestnet}. */
export interface TestnetOptions {
  /** Number of node processes including the seed, 2..64. Default 6. */
  nodes: number;
  /** Port of node 0; node i listens on basePort + i. 0 = any free ports. Default 26656. */
  basePort: number;
  /** Directory holding `node0/`, `node1/`, …. Default `./.testnet`. */
  home: string;
  network: string;
  plaintext: boolean;
  logLevel: string;
  /** Serve the live view: `true` on {@link DEFAULT_UI_PORT}, or on this port. */
  ui?: boolean | number;
  /** Port of the live view (implies `ui`); 0 = any free port. */
  uiPort?: number;
}

/**
 * Outbound target of each non-seed node among `m` of them: as many as the
 * network can give every node at once (each pair carries one connection),
 * at least 1, at most CometBFT's default of 10.
 */
export function outboundTarget(m: number): number {
  return Math.min(10, Math.max(1, Math.floor((m - 1) / 2)));
}

/**
 * Resolves with the exit code once every node has stopped: after a signal
 * (0 when every node stopped cleanly, else 1), or at once when a node failed
 * to start (1).
 */
export async function runTestnet(o: TestnetOptions): Promise<number> {
  const cli = fileURLToPath(new URL(`./index${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  // from TypeScript source, children need tsx's loader unless this process already runs under it
  const loader = cli.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx')) ? ['--import', import.meta.resolve('tsx')] : [];
  const home = resolve(o.home);
  const ids: string[] = [];
  for (let i = 0; i < o.nodes; i++) ids.push(NodeKey.loadOrGen(nodeKeyPath(join(home, `node${i}`))).id);
  // On free ports every address in the books is of an earlier run's ports, and a book keeps the address it has for a known ID
  // (as CometBFT's): the nodes would dial dead ports and never reach their targets. So each starts with an empty book.
  if (o.basePort === 0) {
    for (let i = 0; i < o.nodes; i++) for (const f of ['', '.bak']) rmSync(addrBookPath(join(home, `node${i}`)) + f, { force: true });
  }
  const m = o.nodes - 1; // non-seed nodes
  const target = outboundTarget(m);
  const port = (i: number) => (o.basePort === 0 ? 0 : o.basePort + i);
  let seedAddr = '';
  /** Per node (index 0 the seed): its ID, the greetings it heard (by origin), its connected peers (ID → outbound), its last stderr line (why it exited). */
  const nodes = ids.map((id) => ({ id, heard: new Set<string>(), peers: new Map<string, boolean>(), lastErr: '' }));
  type TestnetNode = (typeof nodes)[number];
  /** Connected to every other non-seed node. */
  const meshed = (n: TestnetNode) => nodes.every((other, j) => j === 0 || other === n || n.peers.has(other.id));
  const numOut = (n: TestnetNode) => [...n.peers.values()].filter(Boolean).length;
  let failedToStart: string | undefined;
  const started = Date.now();
  let gossipDone = false;
  let targetDone = false;
  const children: ChildProcess[] = [];
  let stopping = false;
  const uiPort = o.uiPort ?? (typeof o.ui === 'number' ? o.ui : o.ui ? DEFAULT_UI_PORT : undefined);
  const view =
    uiPort === undefined
      ? undefined
      : new TestnetView(
          ids.map((id, i) => ({ id, moniker: i === 0 ? 'seed' : `node${i}`, seed: i === 0 })),
          { network: o.network, target },
        );
  const ui = view && uiPort !== undefined ? await serveUi(view, uiPort) : undefined;

  const ports = o.basePort === 0 ? 'free ports' : `ports ${o.basePort}..${o.basePort + o.nodes - 1}`;
  process.stdout.write(
    `starting a seed and ${m} nodes on 127.0.0.1, ${ports} (network ${o.network}, outbound target ${target}, home ${home})\n`,
  );
  if (ui) process.stdout.write(`live view on ${ui.url}\n`);
  const checkTargets = () => {
    if (targetDone || children.length !== o.nodes) return;
    const nonSeeds = nodes.slice(1);
    if (!nonSeeds.every((n) => numOut(n) >= target || meshed(n))) return;
    targetDone = true;
    const ms = Date.now() - started;
    const short = nonSeeds.filter((n) => numOut(n) < target);
    if (short.length === 0) {
      process.stdout.write(`✓ every node reached its outbound target (${target}) through PEX in ${ms} ms\n`);
    } else {
      // same opening words as the line above: the target line is one milestone, whichever way it was reached
      process.stdout.write(
        `✓ every node reached its outbound target (${target}) or is connected to every other node, through PEX in ${ms} ms:\n`,
      );
      for (const n of short) {
        process.stdout.write(
          `  node${nodes.indexOf(n)}: ${numOut(n)}/${target} outbound, ${n.peers.size - numOut(n)} inbound: every other node already connected\n`,
        );
      }
    }
    view?.milestone('targets', ms);
  };
  for (const [i, node] of nodes.entries()) {
    const seed = i === 0;
    const args = [
      ...loader,
      ...process.execArgv,
      cli,
      'node',
      '--home',
      join(home, `node${i}`),
      '--listen',
      `127.0.0.1:${port(i)}`,
      '--network',
      o.network,
      '--moniker',
      seed ? 'seed' : `node${i}`,
      '--log-level',
      o.logLevel,
      '--addr-book-lax',
      '--ensure-peers-period',
      '1000',
      '--max-outbound',
      String(target),
      // the seed crawls every 5 s (each node at most once per 2 min): the network learns its whole book within seconds
      ...(seed ? ['--seed-mode', '--crawl-period', '5000'] : ['--seeds', seedAddr, '--say', `hello from node${i}`]),
      ...(o.plaintext ? ['--plaintext'] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    children.push(child);
    createInterface({ input: child.stdout! }).on('line', (l) => process.stdout.write(`${l}\n`));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      if (l.trim()) node.lastErr = l.trim();
      process.stderr.write(`node${i} | ${l}\n`);
    });
    child.on('message', (r: NodeReport) => {
      view?.report(i, r);
      if (r.type === 'peer') {
        if (r.up) node.peers.set(r.peer, r.outbound);
        else node.peers.delete(r.peer);
        checkTargets();
      }
      if (r.type !== 'message' || seed || r.origin === node.id) return;
      node.heard.add(r.origin);
      if (!gossipDone && children.length === o.nodes && nodes.every((n, j) => j === 0 || n.heard.size >= m - 1)) {
        gossipDone = true;
        process.stdout.write(`✓ all ${m} nodes heard all ${m} greetings in ${Date.now() - started} ms — Ctrl-C to stop\n`);
        view?.milestone('gossip', Date.now() - started);
      }
    });
    let ready = false;
    // 'close', not 'exit': stdio is drained by then, so the last stderr line (the reason) is in
    child.on('close', (code, signal) => {
      view?.exited(i);
      if (stopping || !ready) return;
      process.stderr.write(`node${i} exited unexpectedly (${signal ?? `code ${code}`})${node.lastErr ? `: ${node.lastErr}` : ''}\n`);
    });
    // start the seed first so the others can reach it
    ready = await new Promise<boolean>((res) => {
      const onReport = (r: NodeReport) => {
        if (r.type !== 'ready') return;
        if (seed) seedAddr = r.listen;
        child.off('message', onReport);
        res(true);
      };
      child.on('message', onReport);
      child.once('close', () => res(false));
    });
    if (!ready) {
      failedToStart = `node${i}${seed ? ' (the seed)' : ''} failed to start (exit code ${child.exitCode ?? child.signalCode})${node.lastErr ? `: ${node.lastErr}` : ''}`;
      break;
    }
  }

  const exited = children.map(
    (c) =>
      new Promise<number>((res) =>
        c.exitCode !== null || c.signalCode !== null ? res(c.exitCode ?? 1) : c.once('exit', (code) => res(code ?? 1)),
      ),
  );
  if (!failedToStart) {
    await new Promise<void>((res) => {
      // keep the handlers: a second Ctrl-C must not kill us while the nodes stop
      process.on('SIGINT', res);
      process.on('SIGTERM', res);
      void Promise.all(exited).then(() => res()); // every node died on its own
    });
  }
  stopping = true;
  view?.stop();
  process.stdout.write('stopping…\n');
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const codes = await Promise.all(exited);
  await ui?.close();
  if (failedToStart) {
    process.stderr.write(`testnet stopped: ${failedToStart}\n`);
    return 1;
  }
  const bad = codes.filter((c) => c !== 0).length;
  process.stdout.write(bad ? `${bad} node(s) exited with an error\n` : `all nodes stopped\n`);
  return bad ? 1 : 0;
}
