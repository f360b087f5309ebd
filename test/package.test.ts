// The newcomer path: the package as `npm pack` makes it, installed into an
// application of its own with no build step, then imported, type-checked
// against the shipped .d.ts, run, and its command run from node_modules/.bin.
// The docs' complete files (fenced blocks whose first line is
// `// file: <name>`) are checked from the installed copies: README.md's
// app.mjs is run, docs/writing-a-reactor.md's files are type-checked.
//
// The pack runs on a copy of this checkout (its node_modules linked), so the
// build that `prepare` runs never touches this checkout's dist/. npm installs
// the tarball's dependencies with --prefer-offline (from the npm cache where it
// can); the dev tools the app's type check needs (@types/node, tap) are linked
// from this checkout instead of installed.
import t from 'tap';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv } from './helpers/child-env.js';

t.setTimeout(300_000); // a build, an npm install and two type checks on a shared CPU

const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

/** Our environment without npm's script variables (`npm test` sets npm_config_* and npm_package_*). */
function env(): NodeJS.ProcessEnv {
  const e = childEnv();
  for (const k of Object.keys(e)) if (/^npm_/i.test(k)) delete e[k];
  return e;
}

/** Runs a command; resolves with stdout, rejects with its exit code, stdout and stderr. */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: env(), timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed (${err.code ?? err.signal}):\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'switchboard-package-')));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

// a copy of the checkout without build output and caches (docs/api stays when present: `files` must leave it out)
const copy = join(tmp, 'switchboard');
const skip = new Set([
  'node_modules',
  '.git',
  'dist',
  '.tap',
  'coverage',
  '.testnet',
  '.stryker-tmp',
  'reports',
  join('benchmarks', 'results'),
]);
cpSync(repo, copy, { recursive: true, filter: (src) => !skip.has(relative(repo, src)) });
symlinkSync(join(repo, 'node_modules'), join(copy, 'node_modules'));

type PackResult = { filename: string; files: { path: string }[] };
const [packed] = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', tmp], copy)) as PackResult[];
if (!packed) throw new Error('npm pack printed no result');
const tarball = join(tmp, packed.filename);
const files = packed.files.map((f) => f.path);

const app = join(tmp, 'app');
mkdirSync(app);
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'newcomer-app', version: '1.0.0', private: true, type: 'module' }));
await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
const installed = join(app, 'node_modules', 'switchboard');
// what the app's developer would `npm install --save-dev`
mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
symlinkSync(join(repo, 'node_modules', '@types', 'node'), join(app, 'node_modules', '@types', 'node'));
symlinkSync(join(repo, 'node_modules', 'tap'), join(app, 'node_modules', 'tap'));

/** A markdown file's complete files: fenced blocks whose first line is `// file: <name>`. */
function completeFiles(markdown: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  for (const [, name, text] of markdown.matchAll(/^```[a-z]*\n\/\/ file: (\S+)\n([\s\S]*?)^```$/gm))
    if (name !== undefined && text !== undefined) out.push({ name, text });
  return out;
}

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    types: ['node'],
    skipLibCheck: true,
  },
};

t.test('the tarball holds the build, the bin, the guides and the licence, and no sources, tests or benchmarks', async (t) => {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
    exports: Record<string, string | Record<string, string>>;
    bin: Record<string, string>;
  };
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e)));
  targets.push(...Object.values(pkg.bin));
  for (const target of targets) t.ok(files.includes(target.replace(/^\.\//, '')), `exported ${target} is in the tarball`);
  for (const f of [
    'LICENSE',
    'README.md',
    'dist/cli/index.js',
    'dist/cli/ui/page.html',
    'dist/cli/ui/page.css',
    'dist/cli/ui/page.js',
    'docs/writing-a-reactor.md',
    'docs/operations.md',
    'docs/PROTOCOL.md',
  ])
    t.ok(files.includes(f), `${f} is in the tarball`);
  t.same(
    files.filter((f) => !/^(dist|docs|bin)\//.test(f) && !['LICENSE', 'README.md', 'package.json'].includes(f)),
    [],
    'nothing outside dist/, docs/, bin/ and the three top-level files',
  );
  t.same(
    files.filter((f) => f.startsWith('docs/api/')),
    [],
    'no generated API reference',
  );
  t.same(
    files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    [],
    'no TypeScript sources',
  );
  t.match(
    readFileSync(join(installed, 'LICENSE'), 'utf8'),
    /Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/,
  );
  t.notOk(existsSync(join(app, 'node_modules', 'tsx')), 'tsx is not installed with the package');
});

t.test('an app imports switchboard, switchboard/reactors/pex, switchboard/testing and switchboard/conn', async (t) => {
  const out = await run(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const root = await import('switchboard');
       const pex = await import('switchboard/reactors/pex');
       const testing = await import('switchboard/testing');
       const conn = await import('switchboard/conn');
       console.log(JSON.stringify([typeof root.Switch, typeof root.BaseReactor, typeof pex.PEXReactor, typeof pex.AddrBook, typeof testing.startSwitchPair, typeof testing.peerAdded, typeof conn.MConnection, typeof conn.decodePacket, typeof root.MConnection]));`,
    ],
    app,
  );
  t.same(
    JSON.parse(out),
    ['function', 'function', 'function', 'function', 'function', 'function', 'function', 'function', 'undefined'],
    'the wire level is switchboard/conn, not the root',
  );
});

t.test('a TypeScript app type-checks against the shipped .d.ts', async (t) => {
  const dir = join(app, 'typed');
  mkdirSync(dir);
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...TSCONFIG, include: ['*.ts'] }));
  writeFileSync(
    join(dir, 'app.ts'),
    `import { BaseReactor, NodeKey, Switch, SwitchboardError, parseP2PConfig, type ChannelDescriptor, type Envelope } from 'switchboard';
import { AddrBook, PEXReactor } from 'switchboard/reactors/pex';
import { peerAdded, startSwitchPair, type SwitchPair } from 'switchboard/testing';

class Hello extends BaseReactor {
  constructor() { super('hello'); }
  getChannels(): ChannelDescriptor[] { return [{ id: 0x60, sendQueueCapacity: 4 }]; }
  override receive({ src, message }: Envelope): void { src.trySend(0x60, message); }
}
const sw = new Switch({ nodeKey: NodeKey.generate(), nodeInfo: { network: 'app' }, config: { listenAddress: '127.0.0.1:0' } });
sw.addReactor(new Hello());
sw.addReactor(new PEXReactor(new AddrBook('addrbook.json'), {}));
sw.on('peer:add', (peer) => void peer.send(0x60, Buffer.from('hi')));
export async function main(): Promise<number> {
  await sw.start();
  const pair: SwitchPair = await startSwitchPair({ a: [new Hello()], b: [new Hello()] });
  const peer = await peerAdded(pair.a, pair.b.nodeKey.id, { timeoutMs: 1000 });
  await pair.stop();
  const e: SwitchboardError = new SwitchboardError('ERR_DIAL', 'x');
  // the shipped types are real, not \`any\` (as they would be if a .d.ts or a dependency's types failed to resolve):
  // @ts-expect-error: a node key is not a string
  new Switch({ nodeKey: 'not a key' });
  // @ts-expect-error: the config's types come from zod schemas: a peer limit is a number
  const limit: string = parseP2PConfig({}).maxNumInboundPeers;
  // @ts-expect-error: addReactor takes the reactor alone (its name is its own)
  sw.addReactor('hello', new Hello());
  // @ts-expect-error: a reactor has a name
  sw.addReactor({ getChannels: () => [], receive: () => {} });
  void limit;
  return peer.id.length + e.code.length;
}
`,
  );
  await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], dir);
  t.pass('tsc --noEmit: no errors');
});

t.test(
  "the README's minimal app runs: two Switches on 127.0.0.1 exchange a message through a custom reactor (plain JavaScript)",
  async (t) => {
    const readme = readFileSync(join(installed, 'README.md'), 'utf8');
    const blocks = completeFiles(readme);
    t.same(
      blocks.map((b) => b.name),
      ['app.mjs'],
      'the README shows one complete file',
    );
    writeFileSync(join(app, 'app.mjs'), blocks[0]?.text ?? ''); // none: the run below fails
    t.equal(
      (await run(process.execPath, ['app.mjs'], app, 60_000)).trim(),
      'bob answered HELLO',
      'the answer arrives and the app exits by itself',
    );
  },
);

t.test('the switchboard command runs from node_modules/.bin as plain JavaScript', async (t) => {
  const bin = join(app, 'node_modules', '.bin', 'switchboard');
  const help = await run(bin, ['--help'], app);
  for (const cmd of ['node', 'testnet', 'keygen', 'show-node-id', 'example'])
    t.match(help, new RegExp(`^\\s+${cmd}\\b`, 'm'), `--help lists ${cmd}`);
  const home = join(tmp, 'home');
  const id = (await run(bin, ['keygen', '--home', home], app)).trim();
  t.match(id, /^[0-9a-f]{40}$/);
  t.ok(existsSync(join(home, 'config', 'node_key.json')));
  t.equal((await run(bin, ['show-node-id', '--home', home], app)).trim(), id);
});

t.test("the guide's complete files type-check in the app against the installed package", async (t) => {
  const guide = readFileSync(join(installed, 'docs', 'writing-a-reactor.md'), 'utf8');
  t.notMatch(guide, /test\/helpers|\.\.\/lib\//, 'the guide points at nothing a dependency user cannot import');
  const blocks = completeFiles(guide);
  t.same(
    blocks.map((b) => b.name).sort(),
    ['echo-codec.ts', 'echo-reactor.ts', 'echo.test.ts', 'main.ts', 'tsconfig.json'],
    'the complete files the guide shows',
  );
  const dir = join(app, 'guide');
  mkdirSync(dir);
  for (const b of blocks) {
    t.notOk(b.name.includes(sep) || b.name.includes('/'), `${b.name} is a plain file name`);
    for (const [, spec] of b.text.matchAll(/from '([^']+)'/g)) {
      t.match(
        spec,
        /^(switchboard|switchboard\/testing|switchboard\/reactors\/pex|switchboard\/conn|node:[a-z]+|\.\/[a-z-.]+\.js|@msgpack\/msgpack|tap)$/,
        `${b.name} imports ${spec}: the package, node, its own files or an npm package`,
      );
    }
    writeFileSync(join(dir, b.name), b.text);
  }
  await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--noEmit'], dir);
  t.pass('tsc --noEmit over the guide: no errors');
});
