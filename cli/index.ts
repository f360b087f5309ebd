/**
 * The `switchboard` command line (commander): `node`, `testnet`, `keygen`,
 * `show-node-id`. Run `switchboard --help`.
 *
 * @module
 */
import { Command, Option } from 'commander';
import { int, intList, list } from './options.js';
import { NodeKey } from '../lib/node-key.js';
import { cliErrorLine, isSystemError } from './errors.js';
import { NODE_DEFAULTS, nodeKeyPath, runNode } from './node.js';
import { runTestnet } from './testnet.js';
import { DEFAULT_CRAWL_PERIOD_MS, DEFAULT_ENSURE_PEERS_PERIOD_MS } from '../reactors/pex/index.js';
import { exampleCommand } from './examples.js';
import { runSimulateCommand } from './simulate.js';

/** Build the program (exported for tests). */
export function program(): Command {
  const p = new Command('switchboard').description('peer-to-peer nodes in the Tendermint/CometBFT style');
  const logLevel = () =>
    new Option('--log-level <level>', 'pino log level (logs go to stderr)')
      .choices(['trace', 'debug', 'info', 'warn', 'error', 'silent'])
      .default(NODE_DEFAULTS.logLevel);

  p.command('node')
    .description('run one node: a Switch with PEX and the gossip demo reactor')
    .option('--home <dir>', 'home directory (config/node_key.json, config/config.json, data/addrbook.json)', NODE_DEFAULTS.home)
    .option('--config <file>', 'JSON config {moniker, network, p2p} (default <home>/config/config.json if present)')
    .option('--listen <host:port>', 'listen address (default 0.0.0.0:26656)')
    .option('--external-address <host:port>', 'address to advertise to peers')
    .option('--persistent-peers <list>', 'comma-separated id@host:port to keep connected', list)
    .option('--seeds <list>', 'comma-separated id@host:port of seed nodes', list)
    .option('--seed-mode', 'run as a seed: crawl and answer address requests, then hang up')
    .option('--no-pex', 'do not run the PEX reactor')
    .option('--addr-book-lax', 'accept private and loopback addresses in the address book (local networks)')
    .option(
      '--ensure-peers-period <ms>',
      `how often PEX looks for more peers (default ${DEFAULT_ENSURE_PEERS_PERIOD_MS})`,
      int(100, 86_400_000),
    )
    .option(
      '--crawl-period <ms>',
      `seed mode: how often the seed crawls its address book (default ${DEFAULT_CRAWL_PERIOD_MS})`,
      int(100, 86_400_000),
    )
    .option('--max-inbound <n>', 'inbound peer limit (default 40)', int(0, 10000))
    .option('--max-outbound <n>', 'outbound peer limit (default 10)', int(0, 10000))
    .option('--network <name>', 'network name; peers must match (default switchboard)')
    .option('--moniker <name>', 'human-readable node name (default the host name)')
    .option('--say <text>', 'gossip this text once at start')
    .option('--metrics <port>', 'serve Prometheus metrics on 127.0.0.1:<port>/metrics', int(1, 65535))
    .option('--plaintext', 'disable encryption (testing only)')
    .addOption(logLevel())
    .addOption(new Option('--log-format <format>', 'log format').choices(['pretty', 'json']).default('pretty'))
    .action(async (o) => {
      const p2p: Record<string, unknown> = {
        listenAddress: o.listen,
        externalAddress: o.externalAddress,
        persistentPeers: o.persistentPeers,
        seeds: o.seeds,
        seedMode: o.seedMode,
        pex: o.pex === false ? false : undefined,
        routabilityStrict: o.addrBookLax ? false : undefined,
        ensurePeersPeriodMs: o.ensurePeersPeriod,
        crawlPeriodMs: o.crawlPeriod,
        maxNumInboundPeers: o.maxInbound,
        maxNumOutboundPeers: o.maxOutbound,
        plaintext: o.plaintext,
      };
      for (const k of Object.keys(p2p)) if (p2p[k] === undefined) delete p2p[k];
      await runNode({ ...o, p2p });
    });

  p.command('testnet')
    .description('start a local network on 127.0.0.1: a seed plus nodes that find each other through PEX and gossip a greeting each')
    .option('--nodes <n>', 'number of node processes, the seed included', int(3, 64), 6)
    .option(
      '--base-port <port>',
      'port of node0; node i uses base+i (0: any free ports, address books emptied at start)',
      int(0, 65000),
      26656,
    )
    .option('--home <dir>', "directory for the nodes' homes", '.testnet')
    .option('--network <name>', 'network name', 'testnet')
    .option('--plaintext', 'disable encryption (testing only)', false)
    .option('--ui [port]', 'serve a live view of the network on http://127.0.0.1:<port>/ (default 26600)', int(0, 65535))
    .option('--ui-port <port>', 'port of the live view, 0 = any free port (implies --ui)', int(0, 65535))
    .addOption(logLevel())
    .action(async (o) => {
      process.exitCode = await runTestnet(o);
    });

  p.command('keygen')
    .description(
      'create a node key in <home>/config/node_key.json and print its ID; if a key is there already, print its ID in an error and exit 1 (never overwrites)',
    )
    .option('--home <dir>', 'home directory', NODE_DEFAULTS.home)
    .action((o: { home: string }) => {
      const path = nodeKeyPath(o.home);
      const key = NodeKey.generate();
      try {
        key.save(path); // flag 'wx': never overwrites an existing key
      } catch (err) {
        if (!isSystemError(err) || err.code !== 'EEXIST') throw err;
        throw new Error(
          `${existingKey(path)}; keygen never overwrites a key: use another --home, or move the file away to make a new node ID`,
          { cause: err },
        );
      }
      process.stdout.write(`${key.id}\n`);
    });

  p.command('show-node-id')
    .description('print the node ID of the key in <home>/config/node_key.json')
    .option('--home <dir>', 'home directory', NODE_DEFAULTS.home)
    .action((o: { home: string }) => {
      const path = nodeKeyPath(o.home);
      let key: NodeKey;
      try {
        key = NodeKey.load(path);
      } catch (err) {
        if (!isSystemError(err) || err.code !== 'ENOENT') throw err;
        throw new Error(`there is no node key at ${path}: run \`switchboard keygen --home ${o.home}\` to create one`, { cause: err });
      }
      process.stdout.write(`${key.id}\n`);
    });
  p.command('simulate')
    .description('run N nodes (PEX + gossip) in one process over in-memory links and report convergence and gossip propagation')
    .option('--nodes <n>', 'nodes, seeds included', int(3, 5000), 20)
    .option('--seeds <k>', 'seed nodes', int(1, 100), 3)
    .option('--seed <n>', "PRNG seed of the links' jitter", int(0, 2 ** 31 - 1), 1)
    .option('--latency <ms>', 'one-way link latency (ms)', int(0, 60_000), 50)
    .option('--jitter <ms>', 'link jitter (ms)', int(0, 60_000), 10)
    .option('--bandwidth <bytes/s>', 'link bandwidth (bytes/s), 0 unlimited', int(0, 2 ** 31 - 1), 0)
    .option('--secret', 'run SecretConnection on every link', false)
    .option('--max-outbound <n>', 'outbound peer limit of every node', int(1, 1000), 10)
    .addOption(
      new Option('--scenario <name>', 'what happens after convergence').choices(['none', 'churn', 'partition', 'stall']).default('none'),
    )
    .option('--timeout <ms>', 'deadline of each phase (ms)', int(100, 3_600_000), 60_000)
    .option('--svg <file>', 'where to write the plot', 'simulate.svg')
    .option('--json', 'print the report as JSON (no table, no plot)', false)
    .option('--scale <list>', 'run each node count (e.g. 100,300,1000) in its own process; report growth per node', intList(3, 5000))
    .action(async (o) => {
      process.exitCode = await runSimulateCommand(o);
    });

  p.addCommand(exampleCommand());
  oneLineUsageErrors(p);
  return p;
}

/** What is at `path`, where keygen found a file: a key and its ID, or a file that is not a valid key. */
function existingKey(path: string): string {
  try {
    return `a node key already exists at ${path} (node ID ${NodeKey.load(path).id})`;
  } catch {
    return `a file already exists at ${path}, and it is not a valid node key`;
  }
}

/**
 * Usage errors (unknown option or command, bad option value) print one line
 * (commander's message with its "did you mean" suggestion) and a pointer to
 * `--help`, not the whole help; on `cmd` and every subcommand.
 */
function oneLineUsageErrors(cmd: Command, parents = ''): void {
  const name = `${parents}${cmd.name()}`;
  cmd
    .showSuggestionAfterError()
    .showHelpAfterError(`run \`${name} --help\` for the ${cmd.commands.length > 0 ? 'commands' : 'options'}`)
    .configureOutput({
      outputError: (str, write) =>
        write(
          `${str
            .trim()
            .replace(/^error: /, 'switchboard: ')
            .replace(/\s*\n\s*\(Did you mean/g, ' (did you mean')
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    });
  for (const c of cmd.commands) oneLineUsageErrors(c, `${name} `);
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`switchboard: ${cliErrorLine(err)}\n`);
    process.exit(1);
  });
