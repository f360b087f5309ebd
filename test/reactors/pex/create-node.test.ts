// createNode's checks and wiring beyond node.test.ts: the book path, parseNodeConfig(null), and the
// loggers the book and PEX get from the node's logger.
import t from 'tap';
import { join } from 'node:path';
import { NodeKey } from '../../../lib/node-key.js';
import { createNode, parseNodeConfig } from '../../../reactors/pex/index.js';
import { LogRecorder } from '../../helpers/mem-switch.js';

t.test('an empty or non-string addrBookPath is refused as a missing one; parseNodeConfig(null) gives the defaults', async (t) => {
  const nodeKey = NodeKey.generate();
  for (const addrBookPath of ['', 5 as never]) {
    t.throws(() => createNode({ nodeKey, addrBookPath }), {
      code: 'ERR_INVALID_ARGUMENT',
      message: /addrBookPath is required when pex is on/,
    });
  }
  t.same(parseNodeConfig(null), parseNodeConfig({}));
  t.same(parseNodeConfig(), parseNodeConfig({}));
});

t.test('createNode with a logger: the book logs as { module: "addrbook" }, PEX as { reactor: "pex" }', async (t) => {
  const logs = new LogRecorder();
  const node = createNode({
    nodeKey: NodeKey.generate(),
    config: { listenAddress: '127.0.0.1:0', routabilityStrict: false, ensurePeersPeriodMs: 600_000 },
    addrBookPath: join(t.testdir(), 'addrbook.json'),
    logger: logs.logger,
  });
  t.teardown(() => node.stop());
  await node.start();
  // the Switch gives the book our address before PEX starts; PEX's first round runs at start
  t.match(logs.withMsg('address book: added our address'), [{ module: 'addrbook', addr: node.switch.listenAddr.toString() }]);
  t.match(logs.withMsg('pex: ensure peers'), [{ reactor: 'pex', numToDial: 10 }]);
});
