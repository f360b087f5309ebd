// P2PConfig validation: every problem at once, at its full path, with a
// "did you mean" for near-miss keys.
import t from 'tap';
import { z } from 'zod';
import { DEFAULT_P2P_CONFIG, P2PConfigSchema, parseP2PConfig } from '../lib/config.js';
import { DEFAULT_MCONN_CONFIG } from '../lib/conn/mconn-config.js';
import { parseConfig } from '../lib/parse-config.js';
import { InvalidArgumentError } from '../lib/errors.js';

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError && err.code === 'ERR_INVALID_ARGUMENT') return err.message;
    throw err;
  }
  throw new Error('did not throw');
};

t.test('a valid config gets every default', async (t) => {
  const c = parseP2PConfig({ maxNumInboundPeers: 3, mconn: { sendRate: 100 } });
  t.equal(c.maxNumInboundPeers, 3);
  t.equal(c.maxNumOutboundPeers, DEFAULT_P2P_CONFIG.maxNumOutboundPeers);
  t.same(c.mconn, { ...DEFAULT_MCONN_CONFIG, sendRate: 100 }, 'the MConnection group gets its defaults too');
});

t.test('one typo: its key, and the key it was meant to be', async (t) => {
  t.equal(
    messageOf(() => parseP2PConfig({ maxNumInboundPeer: 5 })),
    'invalid p2p config: maxNumInboundPeer: unknown key (did you mean maxNumInboundPeers?)',
  );
});

t.test('every problem of every nesting level in one message, each at its full path', async (t) => {
  const msg = messageOf(() =>
    parseP2PConfig({ listenAdress: '0.0.0.0:1', dialTimeoutMs: -5, persistentPeers: [7], mconn: { sendRat: 1, pongTimeoutMs: 'soon' } }),
  );
  t.match(msg, /^invalid p2p config: /);
  const problems = msg.slice('invalid p2p config: '.length).split('; ').sort();
  t.same(problems, [
    'dialTimeoutMs: Too small: expected number to be >0',
    'listenAdress: unknown key (did you mean listenAddress?)',
    'mconn.pongTimeoutMs: expected number, received string',
    'mconn.sendRat: unknown key (did you mean sendRate?)',
    'persistentPeers[0]: expected string, received number',
  ]);
  t.notMatch(msg, /\n/, 'one line');
});

t.test('the suggestion ignores case, _ and - (CometBFT names), and swapped letters count as one edit', async (t) => {
  t.match(
    messageOf(() => parseP2PConfig({ max_num_inbound_peers: 5 })),
    'max_num_inbound_peers: unknown key (did you mean maxNumInboundPeers?)',
  );
  t.match(
    messageOf(() => parseP2PConfig({ PLAINTEXT: true })),
    'PLAINTEXT: unknown key (did you mean plaintext?)',
  );
  t.match(
    messageOf(() => parseP2PConfig({ mconn: { sendRaet: 1 } })),
    'mconn.sendRaet: unknown key (did you mean sendRate?)',
  );
});

t.test('a key near no known key gets no suggestion', async (t) => {
  t.equal(
    messageOf(() => parseP2PConfig({ colour: 'blue' })),
    'invalid p2p config: colour: unknown key',
  );
  t.equal(
    messageOf(() => parseP2PConfig({ px: true })),
    'invalid p2p config: px: unknown key',
    'too short to guess',
  );
});

t.test('inside a larger schema (a config file), a p2p typo is reported at p2p.<key>, with the other levels', async (t) => {
  const file = z.object({ moniker: z.string().optional(), p2p: P2PConfigSchema.optional() }).strict();
  const msg = messageOf(() =>
    parseConfig(file, { monikr: 'x', p2p: { maxNumInboundPeer: 1, mconn: { sendRat: 1 } } }, 'invalid config file /x.json'),
  );
  t.match(msg, /^invalid config file \/x\.json: /);
  t.match(msg, 'p2p.maxNumInboundPeer: unknown key (did you mean maxNumInboundPeers?)');
  t.match(msg, 'p2p.mconn.sendRat: unknown key (did you mean sendRate?)');
  t.match(msg, 'monikr: unknown key (did you mean moniker?)');
  t.notMatch(msg, /\(top level\)|\(root\)/);
});

t.test('a config that is not an object says so at the top level', async (t) => {
  t.equal(
    messageOf(() => parseP2PConfig(5)),
    'invalid p2p config: (top level): expected object, received number',
  );
});

t.test('hostile keys: quoted and shortened, the message stays one line; at most 20 problems are listed', async (t) => {
  const msg = messageOf(() => parseP2PConfig({ 'a\nb\u0000': 1, ['x'.repeat(10_000)]: 1 }));
  t.notOk(msg.includes('\n') || msg.includes('\u0000'), 'no newline or NUL in the message');
  t.match(msg, '["a\\nb\\u0000"]: unknown key');
  t.ok(msg.length < 300, `long keys are shortened (${msg.length} characters)`);
  const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`unknown${i}`, i]));
  const msg2 = messageOf(() => parseP2PConfig(many));
  t.equal(msg2.split('; ').length, 21, '20 problems and a count');
  t.match(msg2, /; and 10 more$/);
});
