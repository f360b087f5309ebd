/**
 * The `switchboard` command line (commander): `node`, `testnet`, `keygen`,
 * `show-node-id`. Run `switchboard --help`.
 *
 * @module
 */
import { Command, InvalidArgumentError as CommanderArgError, Option } from 'commander';
import { join } from 'node:path';
import { NodeKey } from '../node-key.js';
import { NODE_DEFAULTS, nodeKeyPath, runNode } from './node.js';
import { runTestnet } from './testnet.js';

function int(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CommanderArgError(`must be an integer ${min}..${max}`);
    return n;
  };
}

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Build the program (exported for tests). */
export function program(): Command {
  const p = new Command('switchboard').description('peer-to-peer nodes in the Tendermint/CometBFT style').showHelpAfterError();
  const logLevel = () => new Option('--log-level <level>', 'pino log level (logs go to stderr)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default(NODE_DEFAULTS.logLevel);

  p.command('node')
    .description('run one node (a Switch with the gossip demo reactor)')
    .option('--home <dir>', 'home directory (key in config/, data in data/)', NODE_DEFAULTS.home)
    .option('--listen <host:port>', 'listen address', NODE_DEFAULTS.listen)
    .option('--external-address <host:port>', 'address to advertise to peers')
    .option('--persistent-peers <list>', 'comma-separated id@host:port to keep connected', list, [])
    .option('--network <name>', 'network name; peers must match', NODE_DEFAULTS.network)
    .option('--moniker <name>', 'human-readable node name', NODE_DEFAULTS.moniker)
    .option('--say <text>', 'gossip this text once at start')
    .option('--max-inbound <n>', 'inbound peer limit (default 40)', int(0, 10000))
    .option('--max-outbound <n>', 'outbound peer limit (default 10)', int(0, 10000))
    .option('--plaintext', 'disable encryption (testing only)', false)
    .addOption(logLevel())
    .action(async (o) => {
      await runNode(o);
    });

  p.command('testnet')
    .description('start a local network of node processes on 127.0.0.1 and gossip a greeting from each')
    .option('--nodes <n>', 'number of nodes', int(1, 64), 4)
    .option('--base-port <port>', 'port of node0; node i uses base+i (0: any free ports)', int(0, 65000), 26656)
    .option('--home <dir>', 'directory for the nodes\' homes', '.testnet')
    .option('--network <name>', 'network name', 'testnet')
    .option('--plaintext', 'disable encryption (testing only)', false)
    .addOption(logLevel())
    .action(async (o) => {
      process.exitCode = await runTestnet(o);
    });

  p.command('keygen')
    .description('create a node key in <home>/config/node_key.json (refuses to overwrite) and print its ID')
    .option('--home <dir>', 'home directory', NODE_DEFAULTS.home)
    .action((o: { home: string }) => {
      const path = nodeKeyPath(o.home);
      const key = NodeKey.generate();
      key.save(path); // flag 'wx': never overwrites an existing key
      process.stdout.write(`${key.id}\n`);
    });

  p.command('show-node-id')
    .description('print the node ID of the key in <home>/config/node_key.json')
    .option('--home <dir>', 'home directory', NODE_DEFAULTS.home)
    .action((o: { home: string }) => {
      process.stdout.write(`${NodeKey.load(join(o.home, 'config', 'node_key.json')).id}\n`);
    });
  return p;
}

program()
  .parseAsync(process.argv)
  .catch((err: Error & { code?: string }) => {
    process.stderr.write(`switchboard: ${err.code ? `${err.code}: ` : ''}${err.message}\n`);
    process.exit(1);
  });
