// The CLI's errors, in child processes: each is one line on stderr that
// names the thing (file, key, address, option) and the fix, and exit code 1.
import { childEnv } from './helpers/child-env.js';
import t from 'tap';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));

/** Run the CLI, expecting it to fail: its exit code, stdout and stderr. */
function fails(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { env: childEnv(), timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return reject(new Error(`switchboard ${args.join(' ')} succeeded: ${stdout}`));
      resolve({ code: typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

/** The node command on a fresh home, with nothing that dials out. */
const nodeArgs = (home: string, ...more: string[]) => [
  'node',
  '--home',
  home,
  '--no-pex',
  '--log-level',
  'silent',
  '--listen',
  '127.0.0.1:0',
  ...more,
];

t.test('--config naming a missing file, a directory: the file and what is wrong, the code once', async (t) => {
  const home = t.testdir({ adir: {} });
  const missing = join(home, 'missing.json');
  const r = await fails(nodeArgs(home, '--config', missing));
  t.equal(r.code, 1);
  t.equal(r.stderr, `switchboard: ERR_INVALID_ARGUMENT: config file ${missing} does not exist (check the path given to --config)\n`);
  const dir = join(home, 'adir');
  t.equal(
    (await fails(nodeArgs(home, '--config', dir))).stderr,
    `switchboard: ERR_INVALID_ARGUMENT: config file ${dir} is a directory: --config takes a JSON file\n`,
  );
});

t.test('a binary or broken config file: its name and the JSON error position, never its bytes', async (t) => {
  const home = t.testdir();
  const bin = join(home, 'bin.json');
  writeFileSync(bin, Buffer.from([0x00, 0x9f, 0x41, 0x42, 0x43, 0x1b, 0x5b, 0x32, 0x4a]));
  const r = await fails(nodeArgs(home, '--config', bin));
  t.equal(
    r.stderr,
    `switchboard: ERR_INVALID_ARGUMENT: config file ${bin} is not valid JSON: unexpected character at line 1, column 1 (byte 0x00: not a text file?)\n`,
  );
  const broken = join(home, 'broken.json');
  writeFileSync(broken, '{\n  "moniker": "x",\n  "p2p": { "pex": tru }\n}\n');
  t.equal(
    (await fails(nodeArgs(home, '--config', broken))).stderr,
    `switchboard: ERR_INVALID_ARGUMENT: config file ${broken} is not valid JSON: unexpected character at line 3, column 22\n`,
  );
});

t.test('a config file with typos at two levels: every bad key at its full path in one line, with suggestions', async (t) => {
  const home = t.testdir();
  const config = join(home, 'typos.json');
  writeFileSync(config, JSON.stringify({ monikr: 'x', p2p: { maxNumInboundPeer: 3, maxNumOutboundPeers: -1, mconn: { sendRat: 1 } } }));
  const { stderr } = await fails(nodeArgs(home, '--config', config));
  t.match(
    stderr,
    new RegExp(`^switchboard: ERR_INVALID_ARGUMENT: invalid config file ${config.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: [^\\n]+\\n$`),
    'one line naming the file',
  );
  const problems = stderr.trim().split(': ').slice(3).join(': ').split('; ').sort();
  t.same(problems, [
    'monikr: unknown key (did you mean moniker?)',
    'p2p.maxNumInboundPeer: unknown key (did you mean maxNumInboundPeers?)',
    'p2p.maxNumOutboundPeers: Too small: expected number to be >=0',
    'p2p.mconn.sendRat: unknown key (did you mean sendRate?)',
  ]);
});

t.test('a port in use: ERR_LISTEN naming the address and the fix', async (t) => {
  const home = t.testdir();
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const r = await fails(['node', '--home', home, '--no-pex', '--log-level', 'silent', '--listen', `127.0.0.1:${port}`]);
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    `switchboard: ERR_LISTEN: cannot listen on 127.0.0.1:${port}: the address is in use (another node running? pick another listen port, or port 0 for any free one)\n`,
  );
});

t.test('show-node-id without a key says where it looked and to run keygen', async (t) => {
  const home = t.testdir();
  const r = await fails(['show-node-id', '--home', home]);
  t.equal(r.code, 1);
  t.equal(
    r.stderr,
    `switchboard: there is no node key at ${join(home, 'config', 'node_key.json')}: run \`switchboard keygen --home ${home}\` to create one\n`,
  );
});

t.test('keygen over an existing key exits 1 and names the key and its node ID; over another file says it is not a key', async (t) => {
  const home = t.testdir();
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', cli, 'keygen', '--home', home], { env: childEnv() }, (err, stdout) =>
      err ? reject(err) : resolve({ stdout }),
    ),
  );
  const id = stdout.trim();
  const path = join(home, 'config', 'node_key.json');
  const r = await fails(['keygen', '--home', home]);
  t.equal(r.code, 1);
  t.equal(r.stdout, '', 'nothing on stdout: scripts do not mistake it for a new ID');
  t.equal(
    r.stderr,
    `switchboard: a node key already exists at ${path} (node ID ${id}); keygen never overwrites a key: use another --home, or move the file away to make a new node ID\n`,
  );
  const other = t.testdir({ config: { 'node_key.json': 'not a key' } });
  const r2 = await fails(['keygen', '--home', other]);
  t.match(
    r2.stderr,
    `switchboard: a file already exists at ${join(other, 'config', 'node_key.json')}, and it is not a valid node key; keygen never overwrites`,
  );
});

t.test('option errors: one line (with a suggestion for a near miss) and where the help is, not the whole help', async (t) => {
  const bad = await fails(['node', '--max-inbound', 'lots']);
  t.equal(bad.code, 1);
  t.equal(
    bad.stderr,
    "switchboard: option '--max-inbound <n>' argument 'lots' is invalid. Expected an integer 0..10000.\nrun `switchboard node --help` for the options\n",
  );
  t.equal(
    (await fails(['node', '--listn', '127.0.0.1:0'])).stderr,
    "switchboard: unknown option '--listn' (did you mean --listen?)\nrun `switchboard node --help` for the options\n",
  );
  t.equal(
    (await fails(['nod'])).stderr,
    "switchboard: unknown command 'nod' (did you mean node?)\nrun `switchboard --help` for the commands\n",
  );
  t.equal(
    (await fails(['example', 'echo', '--sned', 'foo'])).stderr,
    "switchboard: unknown option '--sned' (did you mean --send?)\nrun `switchboard example echo --help` for the options\n",
  );
});
