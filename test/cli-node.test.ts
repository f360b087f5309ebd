// `switchboard node`: config file, flags on top, metrics endpoint, config errors.
import { childEnv } from './helpers/child-env.js';
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startNodeProcess } from './helpers/processes.js';

const cli = fileURLToPath(new URL('../cli/index.ts', import.meta.url));
const run = promisify(execFile);

t.test('the config file sets the node up, flags override it, and --metrics serves Prometheus text', async (t) => {
  const home = t.testdir();
  const [filePort, flagPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const config = join(home, 'node.json');
  writeFileSync(config, JSON.stringify({ moniker: 'from-file', network: 'filenet', p2p: { listenAddress: `127.0.0.1:${filePort}`, maxNumOutboundPeers: 3, pex: false, seeds: [], routabilityStrict: false } }));
  const n = await startNodeProcess(t, ['--home', home, '--config', config, '--listen', `127.0.0.1:${flagPort}`, '--metrics', String(metricsPort)]);
  t.match(n.addr, new RegExp(`@127\\.0\\.0\\.1:${flagPort}$`), 'the flag wins over the file');
  t.ok(n.lines.some((l) => l.startsWith('from-file ')), 'moniker from the file');
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
  t.equal(res.status, 200);
  t.match(await res.text(), /switchboard_p2p_peers\{direction="inbound"\} 0/);
  t.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
});

t.test('a config file with an unknown or invalid field stops the node with a clear error', async (t) => {
  const home = t.testdir();
  const config = join(home, 'bad.json');
  writeFileSync(config, JSON.stringify({ p2p: { maxNumInboundPeers: -1, listenAdress: 'typo' } }));
  const err = await run(process.execPath, ['--import', 'tsx', cli, 'node', '--home', home, '--config', config], { env: childEnv() }).catch((e: { code: number; stderr: string }) => e);
  t.equal((err as { code: number }).code, 1);
  t.match((err as { stderr: string }).stderr, /ERR_INVALID_ARGUMENT: invalid config file .*bad\.json: .*p2p\.maxNumInboundPeers: Too small.*p2p\.listenAdress: unknown key \(did you mean listenAddress\?\)/);
  writeFileSync(config, JSON.stringify({ p2p: { addrBookStrict: false } }));
  const renamed = await run(process.execPath, ['--import', 'tsx', cli, 'node', '--home', home, '--config', config], { env: childEnv() }).catch((e: { stderr: string }) => e);
  t.match((renamed as { stderr: string }).stderr, /addrBookStrict.*routabilityStrict/, 'the old name of routabilityStrict is refused, naming the new one');
  writeFileSync(config, '{"p2p":');
  const err2 = await run(process.execPath, ['--import', 'tsx', cli, 'node', '--home', home, '--config', config], { env: childEnv() }).catch((e: { stderr: string }) => e);
  t.match((err2 as { stderr: string }).stderr, /not valid JSON/);
});
