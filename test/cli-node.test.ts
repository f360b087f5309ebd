// `switchboard node`: config file, flags on top, metrics endpoint, config errors.
import { childEnv, tsImport } from './helpers/child-env.js';
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/net.js';
import { startNodeProcess } from './helpers/processes.js';
import { startSwitch } from './helpers/switches.js';
import { sleep } from './helpers/time.js';

const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));
const run = promisify(execFile);

t.test('the config file sets the node up, flags override it, and --metrics serves Prometheus text', async (t) => {
  const home = t.testdir();
  const [filePort, flagPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(home, 'node.json');
  writeFileSync(
    config,
    JSON.stringify({
      moniker: 'from-file',
      network: 'filenet',
      p2p: { listenAddress: `127.0.0.1:${filePort}`, maxNumOutboundPeers: 3, pex: false, seeds: [], routabilityStrict: false },
    }),
  );
  // four persistent peers on the file's network: the file's outbound limit (3) must leave one out
  const peers = await Promise.all([0, 1, 2, 3].map(() => startSwitch(t, { network: 'filenet' })));
  const persistent = peers.map((p) => p.sw.listenAddr.toString()).join(',');
  const n = await startNodeProcess(t, [
    '--home',
    home,
    '--config',
    config,
    '--listen',
    `127.0.0.1:${flagPort}`,
    '--metrics',
    String(metricsPort),
    '--persistent-peers',
    persistent,
  ]);
  t.match(n.addr, new RegExp(`@127\\.0\\.0\\.1:${flagPort}$`), 'the flag wins over the file');
  t.ok(
    n.lines.some((l) => l.startsWith('from-file ')),
    'moniker from the file',
  );
  const metrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    t.equal(res.status, 200);
    return res.text();
  };
  // wait (bounded: 10 s) until the node has refused a dial for the limit and its other dials completed
  const settled = (m: string) => /dials_total\{outcome="ERR_TOO_MANY_PEERS"\} [1-9]/.test(m) && /dials_total\{outcome="ok"\} 3\n/.test(m);
  let text = await metrics();
  for (let i = 0; i < 200 && !settled(text); i++) {
    await sleep(50);
    text = await metrics();
  }
  t.match(text, /switchboard_p2p_dials_total\{outcome="ERR_TOO_MANY_PEERS"\} [1-9]/, 'a dial past the limit was refused');
  t.match(
    text,
    /switchboard_p2p_peers\{direction="outbound"\} 3\n/,
    'maxNumOutboundPeers 3 from the file: three of the four persistent peers',
  );
  t.match(text, /switchboard_p2p_peers\{direction="inbound"\} 0/);
  t.equal(peers.filter((p) => p.sw.peers.has(n.id)).length, 3, 'and three of them have the node as a peer');
  // the network from the file: a node on another network refuses it, naming the node's network
  const other = await startSwitch(t, { network: 'test' });
  await t.rejects(
    other.sw.dialPeerWithAddress(n.addr),
    { code: 'ERR_INCOMPATIBLE_PEER', message: /network "filenet"/ },
    'the node is on network "filenet"',
  );
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
});

t.test('a config file with an unknown or invalid field stops the node with a clear error', async (t) => {
  const home = t.testdir();
  const config = join(home, 'bad.json');
  writeFileSync(config, JSON.stringify({ p2p: { maxNumInboundPeers: -1, listenAdress: 'typo' } }));
  const err = await run(process.execPath, [...tsImport({ coverage: true }), cli, 'node', '--home', home, '--config', config], {
    env: childEnv({ coverage: true }),
  }).catch((e: { code: number; stderr: string }) => e);
  t.equal((err as { code: number }).code, 1);
  t.match(
    (err as { stderr: string }).stderr,
    /ERR_INVALID_ARGUMENT: invalid config file .*bad\.json: .*p2p\.maxNumInboundPeers: Too small.*p2p\.listenAdress: unknown key \(did you mean listenAddress\?\)/,
  );
  writeFileSync(config, JSON.stringify({ p2p: { addrBookStrict: false } }));
  const renamed = await run(process.execPath, ['--import', 'tsx', cli, 'node', '--home', home, '--config', config], {
    env: childEnv(),
  }).catch((e: { stderr: string }) => e);
  t.match(
    (renamed as { stderr: string }).stderr,
    /addrBookStrict.*routabilityStrict/,
    'the old name of routabilityStrict is refused, naming the new one',
  );
  writeFileSync(config, '{"p2p":');
  const err2 = await run(process.execPath, [...tsImport({ coverage: true }), cli, 'node', '--home', home, '--config', config], {
    env: childEnv({ coverage: true }),
  }).catch((e: { stderr: string }) => e);
  t.match((err2 as { stderr: string }).stderr, /not valid JSON/);
});
