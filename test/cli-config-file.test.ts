// In-process checks of the CLI's config-file reading and error lines (the
// child-process tests in cli-errors.test.ts check what a user sees).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readConfigFile, resolveNodeConfig } from '../cli/node.js';
import { cliErrorLine } from '../cli/errors.js';
import { DEFAULT_MCONN_CONFIG } from '../lib/conn/mconn-config.js';
import { RejectedError } from '../lib/errors.js';

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not throw');
};

t.test('a valid file is returned as written; flags override it and defaults fill the rest', async (t) => {
  const dir = t.testdir({ 'c.json': JSON.stringify({ moniker: 'm', p2p: { maxNumInboundPeers: 3, mconn: { sendRate: 9 } } }) });
  const path = join(dir, 'c.json');
  t.same(readConfigFile(path), { moniker: 'm', p2p: { maxNumInboundPeers: 3, mconn: { sendRate: 9 } } });
  const cfg = resolveNodeConfig({
    home: dir,
    config: path,
    logLevel: 'silent',
    logFormat: 'json',
    p2p: { maxNumInboundPeers: 4, mconn: { recvRate: 1 } },
  });
  t.equal(cfg.moniker, 'm');
  t.equal(cfg.p2p.maxNumInboundPeers, 4, 'the flag wins');
  t.same(cfg.p2p.mconn, { ...DEFAULT_MCONN_CONFIG, sendRate: 9, recvRate: 1 }, 'mconn merged field by field, defaults filled');
});

t.test('JSON errors: what and where (line, column), never the bytes', async (t) => {
  const dir = t.testdir();
  const cases: [string | Buffer, string][] = [
    ['{"p2p":', 'the file ends inside a JSON value at line 1, column 8'],
    ['{"a":1,}', 'expected double-quoted property name at line 1, column 8'],
    ['{"a":1}\nx', 'unexpected text after the JSON value at line 2, column 1'],
    ['{\n "a": [1,2,,3]\n}', 'unexpected character at line 2, column 12'],
    [Buffer.from([0x7b, 0x0a, 0xff, 0xfe]), "expected property name or '}' at line 2, column 1 (not UTF-8 text: not a text file?)"],
    [Buffer.from([0x1b, 0x5b, 0x32, 0x4a]), 'unexpected character at line 1, column 1 (byte 0x1b: not a text file?)'],
    ['hello', 'unexpected character at line 1, column 1'],
  ];
  for (const [i, [content, want]] of cases.entries()) {
    const path = join(dir, `${i}.json`);
    writeFileSync(path, content);
    t.equal(
      messageOf(() => readConfigFile(path)),
      `config file ${path} is not valid JSON: ${want}`,
      JSON.stringify(readFileSync(path, 'latin1')),
    );
  }
});

t.test('not an object, too large, missing, a directory: one line naming the file', async (t) => {
  const dir = t.testdir({ 'arr.json': '[1]', 'big.json': ' '.repeat((1 << 20) + 1), sub: {} });
  t.equal(
    messageOf(() => readConfigFile(join(dir, 'arr.json'))),
    `config file ${join(dir, 'arr.json')} must hold a JSON object {"moniker", "network", "p2p"}`,
  );
  t.equal(
    messageOf(() => readConfigFile(join(dir, 'big.json'))),
    `config file ${join(dir, 'big.json')} is larger than 1 MiB: is it the right file?`,
  );
  t.equal(
    messageOf(() => readConfigFile(join(dir, 'nope.json'))),
    `config file ${join(dir, 'nope.json')} does not exist (check the path given to --config)`,
  );
  t.equal(
    messageOf(() => readConfigFile(join(dir, 'sub'))),
    `config file ${join(dir, 'sub')} is a directory: --config takes a JSON file`,
  );
  mkdirSync(join(dir, 'f'));
  writeFileSync(join(dir, 'f', 'x'), '');
  t.equal(
    messageOf(() => readConfigFile(join(dir, 'f', 'x', 'c.json'))),
    `config file ${join(dir, 'f', 'x', 'c.json')} cannot be read: not a directory`,
  );
  // a FIFO is refused at once: a blocking open would hang the node until a writer appeared
  t.equal(spawnSync('mkfifo', [join(dir, 'fifo.json')]).status, 0, 'mkfifo (coreutils) made a FIFO');
  t.equal(
    messageOf(() => readConfigFile(join(dir, 'fifo.json'))),
    `config file ${join(dir, 'fifo.json')} is not a regular file (a FIFO or device?): --config takes a JSON file`,
  );
});

t.test('cliErrorLine: the code once, system errors as "cannot <op> <what>: <why>"', async (t) => {
  t.equal(cliErrorLine(new RejectedError('ERR_BANNED', 'banned')), 'ERR_BANNED: banned');
  const fsErr = messageOf(() => readFileSync('/nonexistent-dir/x'));
  t.match(fsErr, /^ENOENT/, 'Node puts the code in the message');
  let caught: unknown;
  try {
    readFileSync('/nonexistent-dir/x');
  } catch (err) {
    caught = err;
  }
  t.equal(cliErrorLine(caught), 'cannot open /nonexistent-dir/x: no such file or directory');
  const a = createServer();
  await new Promise<void>((r) => a.listen(0, '127.0.0.1', r));
  t.teardown(() => a.close());
  const port = (a.address() as { port: number }).port;
  const b = createServer();
  const err = await new Promise<unknown>((resolve) => b.once('error', resolve).listen(port, '127.0.0.1'));
  t.equal(
    cliErrorLine(err),
    `cannot listen on 127.0.0.1:${port}: address already in use (another process listens there: pick another port)`,
  );
  t.equal(cliErrorLine(new Error('plain')), 'plain');
  t.equal(cliErrorLine('a string'), 'a string');
});
