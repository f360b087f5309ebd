/**
 * `switchboard testnet`: a local network of N node processes on 127.0.0.1.
 * Each node has its own home directory (key and data survive restarts),
 * dials the nodes started before it as persistent peers, and gossips one
 * greeting; the parent prints what every node sees and a line once every
 * node has heard every greeting. Ctrl-C (SIGINT) or SIGTERM stops all nodes
 * and exits 0.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, resolve, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NodeKey } from '../node-key.js';
import { nodeKeyPath, type NodeReport } from './node.js';

/** Options of {@link runTestnet}. */
export interface TestnetOptions {
  /** Number of node processes, 1..64. Default 4. */
  nodes: number;
  /** Port of node 0; node i listens on basePort + i. 0 = any free ports. Default 26656. */
  basePort: number;
  /** Directory holding `node0/`, `node1/`, …. Default `./.testnet`. */
  home: string;
  network: string;
  plaintext: boolean;
  logLevel: string;
}

/** Resolves with the exit code once every node has stopped (after a signal). */
export async function runTestnet(o: TestnetOptions): Promise<number> {
  const cli = fileURLToPath(new URL(`./index${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  // from TypeScript source, children need tsx's loader unless this process already runs under it
  const loader = cli.endsWith('.ts') && !process.execArgv.some((a) => a.includes('tsx')) ? ['--import', import.meta.resolve('tsx')] : [];
  const home = resolve(o.home);
  const ids: string[] = [];
  for (let i = 0; i < o.nodes; i++) ids.push(NodeKey.loadOrGen(nodeKeyPath(join(home, `node${i}`))).id);
  const port = (i: number) => (o.basePort === 0 ? 0 : o.basePort + i);
  const addrs: string[] = []; // from each node's ready report
  const heard = ids.map(() => new Set<string>());
  const started = Date.now();
  let allDone = false;
  const children: ChildProcess[] = [];
  let stopping = false;

  const ports = o.basePort === 0 ? 'free ports' : `ports ${o.basePort}..${o.basePort + o.nodes - 1}`;
  process.stdout.write(`starting ${o.nodes} nodes on 127.0.0.1, ${ports} (network ${o.network}, home ${home})\n`);
  for (let i = 0; i < o.nodes; i++) {
    const args = [
      ...process.execArgv,
      cli,
      'node',
      '--home', join(home, `node${i}`),
      '--listen', `127.0.0.1:${port(i)}`,
      '--network', o.network,
      '--moniker', `node${i}`,
      '--say', `hello from node${i}`,
      '--log-level', o.logLevel,
      ...(o.plaintext ? ['--plaintext'] : []),
      ...(i > 0 ? ['--persistent-peers', addrs.join(',')] : []),
    ];
    const child = spawn(process.execPath, [...loader, ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    children.push(child);
    createInterface({ input: child.stdout! }).on('line', (l) => process.stdout.write(`${l}\n`));
    createInterface({ input: child.stderr! }).on('line', (l) => process.stderr.write(`node${i} | ${l}\n`));
    child.on('message', (r: NodeReport) => {
      if (r.type !== 'message' || r.origin === ids[i]) return;
      heard[i].add(r.origin);
      if (!allDone && heard.every((h) => h.size === o.nodes - 1)) {
        allDone = true;
        process.stdout.write(`✓ all ${o.nodes} nodes heard all ${o.nodes} greetings (${o.nodes * (o.nodes - 1)} deliveries) in ${Date.now() - started} ms — Ctrl-C to stop\n`);
      }
    });
    child.on('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`node${i} exited (${signal ?? code})\n`);
    });
    // start nodes one after another so each finds its predecessors listening
    await new Promise<void>((res) => {
      const onReport = (r: NodeReport) => {
        if (r.type !== 'ready') return;
        addrs.push(r.listen);
        child.off('message', onReport);
        res();
      };
      child.on('message', onReport);
      child.once('exit', () => res());
    });
  }

  const exited = children.map((c) => new Promise<number>((res) => (c.exitCode !== null ? res(c.exitCode) : c.once('exit', (code) => res(code ?? 1)))));
  await new Promise<void>((res) => {
    process.once('SIGINT', res);
    process.once('SIGTERM', res);
    // if every node died on its own, stop waiting
    void Promise.all(exited).then(() => res());
  });
  stopping = true;
  process.stdout.write('stopping…\n');
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  const codes = await Promise.all(exited);
  const bad = codes.filter((c) => c !== 0).length;
  process.stdout.write(bad ? `${bad} node(s) exited with an error\n` : `all nodes stopped\n`);
  return bad ? 1 : 0;
}
