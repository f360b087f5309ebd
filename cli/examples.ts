/**
 * `switchboard example echo|chat|chain`: run one of the example reactors of
 * `reactors/examples/` as a node. Each prints what it sees on stdout, one
 * line per event (`listening on <id@host:port>` first), logs to stderr, and
 * stops on SIGINT/SIGTERM with exit code 0.
 *
 * Common options: `--listen` (default: see {@link EXAMPLE_PORTS}),
 * `--peers id@host:port,…` (dialed at start and kept connected),
 * `--home DIR` (keep the node key, its listen address, and the chain, there;
 * default: a new key each run), `--network`, `--moniker`, `--plaintext`,
 * `--log-level`.
 *
 * Without `--listen` a node listens on 127.0.0.1 at its example's port, or,
 * with `--home`, where that home listened last time
 * (`<home>/config/listen_address`): with the node key kept in the same home,
 * its `id@host:port` (what other nodes' `--peers` take) stays valid across
 * restarts. When that port is taken (a second node of the same example on
 * this machine) it takes a free port and says so on stderr. `--listen
 * host:0` asks for a free port explicitly.
 *
 * @module
 */
import { Command, Option } from 'commander';
import { int, list } from './options.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import writeFileAtomic from 'write-file-atomic';
import { NodeKey } from '../lib/node-key.js';
import type { Peer } from '../lib/peer.js';
import type { Reactor } from '../lib/reactor.js';
import type { NodeInfoSettings } from '../lib/node-info-settings.js';
import type { PeerFilter } from '../lib/peer-filters.js';
import { Switch } from '../lib/switch.js';
import { SwitchboardError } from '../lib/errors.js';
import { nodeKeyPath } from './node.js';
import { EchoReactor, encodeEcho, ECHO_CHANNEL } from '../reactors/examples/echo/reactor.js';
import { ChatReactor } from '../reactors/examples/chat/reactor.js';
import { ChainReactor, chainPeerFilter, CHAIN_GENESIS_KEY } from '../reactors/examples/chain/reactor.js';
import { loadChain, saveChain } from '../reactors/examples/chain/store.js';

/**
 * The default listen port of each example on 127.0.0.1 (used when neither
 * `--listen` nor a saved address in `--home` says otherwise).
 */
export const EXAMPLE_PORTS = { echo: 26670, chat: 26671, chain: 26672 } as const;

/** The examples' names. */
type ExampleName = keyof typeof EXAMPLE_PORTS;

/** Options every example takes. */
export interface ExampleOptions {
  /** Home directory for the node key, its listen address (and the chain); default none: a fresh key. */
  home?: string;
  /** Listen address `host:port` (port 0: any free port); default: see {@link EXAMPLE_PORTS}. */
  listen?: string;
  /** `id@host:port` of peers to dial and keep connected. */
  peers: string[];
  network: string;
  moniker?: string;
  plaintext?: boolean;
  logLevel: string;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** A started example node: its Switch, and a function that stops it (idempotent). */
interface ExampleNode {
  sw: Switch;
  stop(): Promise<void>;
}

/** Where a home keeps its node's last listen address (`host:port` and a newline). */
const listenAddressPath = (home: string) => join(home, 'config', 'listen_address');

/** The listen address saved in `home`, if there is a well-formed one (a bad file is reported and ignored). */
function savedListen(home: string): string | undefined {
  const path = listenAddressPath(home);
  if (!existsSync(path)) return undefined;
  // our own small file: anything larger or not `host:port` is not ours to trust
  const v = statSync(path).size <= 300 ? readFileSync(path, 'utf8').trim() : '';
  const m = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (m && Number(m[1]) >= 1 && Number(m[1]) <= 65535) return v;
  process.stderr.write(`note: ignoring ${path} (not host:port); listening on the default address\n`);
  return undefined;
}

/** Whether a TCP listener could bind `host:port` now (false only for EADDRINUSE: other errors are the Switch's to report). */
function portFree(addr: string): Promise<boolean> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'EADDRINUSE'));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The listen address of an example node: `--listen`, else the home's saved one or the example's port, else a free port. */
async function chooseListen(name: ExampleName, o: ExampleOptions): Promise<string> {
  if (o.listen !== undefined) return o.listen;
  const preferred = (o.home ? savedListen(o.home) : undefined) ?? `127.0.0.1:${EXAMPLE_PORTS[name]}`;
  if (await portFree(preferred)) return preferred;
  const host = preferred.slice(0, preferred.lastIndexOf(':'));
  process.stderr.write(`note: ${preferred} is in use (another node?): listening on a free port instead; --listen chooses one\n`);
  return `${host}:0`;
}

/**
 * Build a Switch with `reactors`, print peers coming and going, start it,
 * print `listening on …`, and stop (then exit 0) on SIGINT/SIGTERM.
 */
async function startExample(
  name: ExampleName,
  o: ExampleOptions,
  reactors: readonly Reactor[],
  extra: { other?: Record<string, string>; peerFilters?: PeerFilter[]; listening?: (sw: Switch) => string; onStop?: () => void } = {},
): Promise<ExampleNode> {
  const key = o.home ? NodeKey.loadOrGen(nodeKeyPath(o.home)) : NodeKey.generate();
  const moniker = o.moniker ?? `${name}-${key.id.slice(0, 6)}`;
  const logger: Logger = pino(
    { level: o.logLevel, base: { node: moniker } },
    pretty({ destination: 2, colorize: process.stderr.isTTY, sync: true, ignore: 'pid,hostname' }),
  );
  const nodeInfo: NodeInfoSettings = { network: o.network, moniker, other: extra.other };
  const sw = new Switch({
    nodeKey: key,
    nodeInfo,
    logger,
    peerFilters: extra.peerFilters,
    config: { listenAddress: await chooseListen(name, o), persistentPeers: o.peers, plaintext: o.plaintext ?? false },
  });
  for (const r of reactors) sw.addReactor(r);
  sw.on('peer:add', (p) => out(`+ peer ${p.nodeInfo.moniker} (${p.id.slice(0, 8)}, ${p.isOutbound() ? 'outbound' : 'inbound'})`));
  sw.on('peer:remove', (p, reason) =>
    out(
      `- peer ${p.nodeInfo.moniker}${reason instanceof Error ? ` (${(reason as SwitchboardError).code ?? reason.name}: ${reason.message})` : ''}`,
    ),
  );
  await sw.start();
  if (o.home) {
    const { host, port } = sw.listenAddr;
    writeFileAtomic.sync(listenAddressPath(o.home), `${host.includes(':') ? `[${host}]` : host}:${port}\n`);
  }
  out(`listening on ${sw.listenAddr}${extra.listening ? ` ${extra.listening(sw)}` : ''}`);
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await sw.stop();
      extra.onStop?.();
      logger.flush();
    })());
  const onSignal = () => void stop().then(() => process.exit(0));
  // `on`, not `once`: a second signal (Ctrl-C reaches the whole process group) must not kill a stopping node
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { sw, stop };
}

/** Lines of stdin, one callback each; `onEnd` when stdin closes. */
function readLines(onLine: (line: string) => void, onEnd?: () => void): void {
  const rl = createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (l) => {
    const line = l.trim();
    if (line) onLine(line);
  });
  if (onEnd) rl.on('close', onEnd);
}

const who = (p: Peer | undefined) => (p ? p.nodeInfo.moniker : 'local');

/**
 * echo: answer "foo" with "bar". `--send TEXT` makes a one-shot client: it
 * sends TEXT to every peer as it connects, prints the first answer, and
 * exits 0; with no answer within `--timeout` ms it says so on stderr and
 * exits 1.
 */
async function runEcho(o: ExampleOptions & { send?: string; timeout: number }): Promise<void> {
  const text = o.send;
  const msg = text === undefined ? undefined : encodeEcho(text); // a bad --send fails before the node starts
  const echo = new EchoReactor();
  const sentTo = new Map<string, string>(); // peer id → moniker
  // eslint-disable-next-line prefer-const -- the handlers defined before it is started read it
  let node: ExampleNode | undefined;
  let finished = false;
  const finish = (code: number) => {
    if (finished || !node) return;
    finished = true;
    void node.stop().then(() => process.exit(code));
  };
  echo.events.on('message', (t, from) => {
    out(`received ${JSON.stringify(t)} from ${from.nodeInfo.moniker}`);
    if (sentTo.has(from.id)) finish(0);
  });
  node = await startExample('echo', o, [echo]);
  if (msg === undefined) return;
  const greet = (p: Peer) =>
    void p.send(ECHO_CHANNEL, msg).then(
      (ok) => {
        if (!ok) return;
        sentTo.set(p.id, p.nodeInfo.moniker);
        out(`sent ${JSON.stringify(text)} to ${p.nodeInfo.moniker}`);
      },
      (err: Error) => process.stderr.write(`switchboard example echo: cannot send to ${p.nodeInfo.moniker}: ${err.message}\n`),
    );
  node.sw.peers.list().forEach(greet);
  node.sw.on('peer:add', greet);
  setTimeout(() => {
    const to = sentTo.size > 0 ? `from ${[...sentTo.values()].join(', ')}` : '(no peer connected)';
    const hint = text === 'foo' ? '' : ' (the echo reactor answers only "foo")';
    process.stderr.write(`switchboard example echo: no answer to ${JSON.stringify(text)} within ${o.timeout} ms ${to}${hint}\n`);
    finish(1);
  }, o.timeout).unref();
}

/** chat: stdin lines are said to the room; messages of others are printed as `<nick> text`; EOF leaves. */
async function runChat(o: ExampleOptions & { nick?: string }): Promise<void> {
  const chat = new ChatReactor({ nick: o.nick ?? o.moniker });
  chat.events.on('message', (m) => out(`<${m.nick}> ${m.text}`));
  // the nick is also the moniker peers show (`+ peer alice`) unless --moniker says otherwise
  const node = await startExample('chat', { ...o, moniker: o.moniker ?? o.nick }, [chat]);
  readLines(
    (line) => {
      try {
        chat.say(line);
      } catch (err) {
        process.stderr.write(`! ${(err as Error).message}\n`);
      }
    },
    () => void node.stop().then(() => process.exit(0)),
  );
}

const CHAIN_HELP = 'commands: tx <to> <amount> | mine [n] | status';

/**
 * chain: a toy proof-of-work node. stdin commands: `tx <to> <amount>`,
 * `mine [n]`, `status`. With `--home` the chain is kept in
 * `<home>/data/chain.msgpack` across restarts.
 */
async function runChain(o: ExampleOptions & { difficulty: number; mine?: boolean; account?: string; protocol: number }): Promise<void> {
  const path = o.home ? join(o.home, 'data', 'chain.msgpack') : undefined;
  const stored = path ? loadChain(path) : [];
  const chain = new ChainReactor({ difficulty: o.difficulty, blocks: stored, protocolVersion: o.protocol as 1 | 2 });
  if (path && stored.length > 0) {
    out(`loaded ${chain.tip.height} blocks from ${path}${chain.droppedOnLoad ? ` (dropped ${chain.droppedOnLoad} invalid)` : ''}`);
  }
  let saveTimer: NodeJS.Timeout | undefined;
  const save = () => {
    clearTimeout(saveTimer);
    saveTimer = undefined;
    if (path) saveChain(path, chain.blocks());
  };
  chain.events.on('tip', (b, c) => {
    const how = c.cause === 'mined' ? 'mined' : `${c.cause} from ${who(c.from)}`;
    out(`tip ${b.height} ${b.hash} ${b.txs.length} txs (${how}${c.reorgDepth ? `, replaced ${c.reorgDepth} blocks` : ''})`);
    if (path) saveTimer ??= setTimeout(save, 200);
  });
  chain.events.on('tx', (tx, hash, from) => out(`tx ${hash.slice(0, 16)} ${tx.from} -> ${tx.to} ${tx.amount} (${who(from)})`));
  chain.events.on('sync', (p, from, to) => out(`sync ${from}..${to} from ${p.nodeInfo.moniker}`));
  const node = await startExample('chain', o, [chain], {
    other: { [CHAIN_GENESIS_KEY]: chain.genesis.hash },
    peerFilters: [chainPeerFilter(chain.genesis.hash)],
    listening: () => `(difficulty ${chain.difficulty}, tip ${chain.tip.height} ${chain.tip.hash.slice(0, 16)})`,
    onStop: save,
  });
  const account = (o.account ?? node.sw.nodeInfo.moniker).replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 32) || 'anon';
  if (o.mine) chain.startMining();
  readLines((line) => {
    const [cmd, ...args] = line.split(/\s+/);
    const [to, amount] = args;
    try {
      if (cmd === 'tx' && args.length === 2 && to !== undefined) {
        const { added } = chain.submitTx({
          from: account,
          to,
          amount: Number(amount),
          nonce: Math.floor(Math.random() * 0x1_0000_0000),
        });
        if (!added) out('tx already known');
      } else if (cmd === 'mine' && args.length <= 1) {
        const n = args.length ? Number(args[0]) : 1;
        if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error('mine takes a count 1..10000');
        if (o.mine) throw new Error('already mining continuously (--mine)');
        void chain.mine(n);
      } else if (cmd === 'status') {
        out(`status height ${chain.tip.height} tip ${chain.tip.hash} mempool ${chain.pendingTxs().length} peers ${node.sw.peers.size}`);
      } else {
        out(`? ${CHAIN_HELP}`);
      }
    } catch (err) {
      process.stderr.write(`! ${(err as Error).message}\n`);
    }
  });
}

/** The `example` command group (registered by `lib/cli/index.ts`). */
export function exampleCommand(): Command {
  const ex = new Command('example').description('run an example reactor from reactors/examples/ (echo, chat, chain)');
  const common = (c: Command, network: ExampleName) =>
    c
      .option('--home <dir>', 'keep the node key, its listen address (and data) in this directory (default: a new key each run)')
      .option(
        '--listen <host:port>',
        `listen address; port 0 = any free port (default: where --home listened last, else 127.0.0.1:${EXAMPLE_PORTS[network]}, or a free port when that is taken)`,
      )
      .option('--peers <list>', 'comma-separated id@host:port to connect to and keep connected', list, [])
      .option('--network <name>', 'network name; peers must match', network)
      .option('--moniker <name>', 'node name shown to peers (default <example>-<id prefix>)')
      .option('--plaintext', 'disable encryption (testing only)')
      .addOption(
        new Option('--log-level <level>', 'pino log level (logs go to stderr)')
          .choices(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
          .default('warn'),
      );

  common(ex.command('echo').description('the smallest reactor: answers "foo" with "bar"'), 'echo')
    .option('--send <text>', 'send this text to every peer as it connects (try "foo"), print the first answer and exit 0')
    .option('--timeout <ms>', 'with --send: exit 1 when no answer came within this time', int(1, 3_600_000), 10_000)
    .action((o) => runEcho(o));

  common(ex.command('chat').description('a terminal chat room: stdin lines go to every node (flooded, de-duplicated); EOF leaves'), 'chat')
    .option('--nick <name>', 'your name in the room, and the moniker peers see unless --moniker is given (default the moniker)')
    .action((o) => runChat(o));

  common(ex.command('chain').description(`a toy proof-of-work blockchain node; stdin ${CHAIN_HELP}`), 'chain')
    .option('--difficulty <bits>', 'proof-of-work difficulty in leading zero bits (a network parameter)', int(0, 32), 20)
    .option('--mine', 'mine blocks continuously')
    .option('--account <name>', 'account name for transactions typed on stdin (default the moniker)')
    .option('--protocol <version>', 'highest range-sync protocol version to speak (1: batches of 32 blocks, 2: of 128)', int(1, 2), 2)
    .action((o) => runChain(o));
  return ex;
}
