// createNode: one config object gives a Switch, an AddrBook and a PEXReactor; the Switch alone refuses PEX settings.
import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NodeKey } from '../../../lib/node-key.js';
import { Switch } from '../../../lib/switch.js';
import {
  createNode,
  DEFAULT_CRAWL_PERIOD_MS,
  DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS,
  parseNodeConfig,
  PEX_CHANNEL,
} from '../../../reactors/pex/index.js';
import { peerAdded, RecordingReactor } from '../../helpers/switches.js';

t.test('createNode wires PEX and the AddrBook from the config, then the app reactors', async (t) => {
  const dir = t.testdir();
  const seedKey = NodeKey.generate();
  const app = new RecordingReactor([{ id: 0x40 }], 'app');
  const node = createNode({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'n', moniker: 'alice' },
    config: {
      listenAddress: '127.0.0.1:0',
      seeds: [`${seedKey.id}@127.0.0.1:9`],
      routabilityStrict: false,
      ensurePeersPeriodMs: 600_000,
      crawlPeriodMs: 7_000,
      minTimeBetweenCrawlsMs: 9_000,
      maxNumOutboundPeers: 3,
    },
    addrBookPath: join(dir, 'data', 'addrbook.json'),
    reactors: [app],
  });
  t.teardown(() => node.stop());
  t.equal(node.book?.routabilityStrict, false, 'routabilityStrict reaches the book');
  t.same(node.pex?.seeds.map(String), [`${seedKey.id}@127.0.0.1:9`], 'seeds reach PEX');
  t.equal(node.pex?.settings.ensurePeersPeriodMs, 600_000);
  t.equal(node.pex?.settings.crawlPeriodMs, 7_000, 'the seed-mode crawl period reaches PEX');
  t.equal(node.pex?.settings.minTimeBetweenCrawlsMs, 9_000);
  t.equal(node.pex?.seedMode, false);
  t.equal(node.switch.config.maxNumOutboundPeers, 3, 'the Switch gets its part');
  t.notOk('seeds' in node.switch.config, 'and only its part');
  t.equal(node.switch.reactor('pex'), node.pex, 'PEX is registered as "pex"');
  t.equal(node.switch.reactor('app'), app, 'the app reactor too');
  await node.start();
  t.same(node.switch.nodeInfo.channels, [PEX_CHANNEL, 0x40], 'both channels are announced');

  // a second node with PEX on talks PEX to it
  const other = createNode({
    nodeKey: NodeKey.generate(),
    nodeInfo: { network: 'n' },
    config: { listenAddress: '127.0.0.1:0', routabilityStrict: false, ensurePeersPeriodMs: 600_000 },
    addrBookPath: join(dir, 'b.json'),
  });
  t.teardown(() => other.stop());
  await other.start();
  const added = peerAdded(node.switch, other.switch.nodeKey.id);
  await other.switch.dialPeerWithAddress(node.switch.listenAddr);
  await added;
  t.ok(node.book?.hasAddress(other.switch.listenAddr), 'the inbound peer’s address went into the book');
  await node.stop();
  t.ok(existsSync(join(dir, 'data', 'addrbook.json')), 'stopping saved the book at addrBookPath');
});

t.test('defaults: PEX on with strict routability and the reactor’s 30 s period; pex: false builds a bare Switch', async (t) => {
  const cfg = parseNodeConfig({});
  t.equal(cfg.pex, true);
  t.equal(cfg.routabilityStrict, true);
  t.equal(cfg.seedMode, false);
  t.same(cfg.seeds, []);
  t.equal(cfg.ensurePeersPeriodMs, DEFAULT_ENSURE_PEERS_PERIOD_MS, 'one default, the reactor’s');
  t.equal(cfg.crawlPeriodMs, DEFAULT_CRAWL_PERIOD_MS);
  t.equal(cfg.minTimeBetweenCrawlsMs, DEFAULT_MIN_TIME_BETWEEN_CRAWLS_MS);
  t.equal(cfg.maxNumOutboundPeers, 10, 'and the Switch defaults');
  const bare = createNode({ nodeKey: NodeKey.generate(), config: { pex: false, listenAddress: '127.0.0.1:0' } });
  t.equal(bare.pex, undefined);
  t.equal(bare.book, undefined);
  t.equal(bare.switch.reactor('pex'), undefined);
});

t.test('bad input is a typed error naming the field', async (t) => {
  const nodeKey = NodeKey.generate();
  t.throws(() => createNode({ nodeKey, config: {} }), { code: 'ERR_INVALID_ARGUMENT', message: /addrBookPath is required when pex is on/ });
  t.throws(() => parseNodeConfig({ ensurePeersPeriodMs: 0 }), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /invalid p2p config: ensurePeersPeriodMs/,
  });
  t.throws(() => parseNodeConfig({ seeds: 'x' }), { code: 'ERR_INVALID_ARGUMENT', message: /seeds/ });
  t.throws(
    () => parseNodeConfig({ maxNumInboundPeers: -1, seedMode: 'yes' }),
    { code: 'ERR_INVALID_ARGUMENT', message: /maxNumInboundPeers.*seedMode/ },
    'Switch and PEX errors in one message',
  );
  t.throws(
    () => parseNodeConfig({ listenAdress: 'x' }),
    { code: 'ERR_INVALID_ARGUMENT', message: /listenAdress/ },
    'unknown keys are refused',
  );
  t.throws(() => parseNodeConfig({ addrBookStrict: false }), { message: /routabilityStrict/ }, 'the old name points to the new one');
  t.throws(() => parseNodeConfig([]), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => createNode({ nodeKey, config: { pex: true, seeds: ['not an address'] }, addrBookPath: join(t.testdir(), 'a.json') }), {
    code: 'ERR_INVALID_ADDRESS',
  });
});

t.test('a Switch refuses PEX settings, saying where they belong', async (t) => {
  const nodeKey = NodeKey.generate();
  for (const key of ['pex', 'seeds', 'seedMode', 'routabilityStrict', 'ensurePeersPeriodMs', 'crawlPeriodMs', 'minTimeBetweenCrawlsMs']) {
    t.throws(() => new Switch({ nodeKey, config: { [key]: key === 'seeds' ? [] : true } as never }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: new RegExp(`\`${key}\` is a PEX setting.*createNode\\(\\) or PEXReactor`),
    });
  }
});
