// The PEX reactor and createNode (reactors/pex/reactor.ts, node.ts), mutated against the in-process
// test files that exercise them: the reactor on a fake Switch and a real book (reactor-host, fast, so
// first: a mutant runs its covering files in this order and stops at the first that fails), over
// loopback (reactor, pex-rules, network), its constructor, createNode, the Switch's start order with
// PEX and the IP ban of a PEX abuser. No test file that spawns child processes.
// Run: npx stryker run stryker/pex-reactor.config.mjs --concurrency 1
import { moduleConfig } from './module.mjs';

export default moduleConfig(
  'pex-reactor',
  ['reactors/pex/reactor.ts', 'reactors/pex/node.ts'],
  [
    'test/reactors/pex/reactor-host.test.ts',
    'test/reactors/pex/create-node.test.ts',
    'test/reactors/pex/reactor.test.ts',
    'test/reactors/pex/reactor-messages.test.ts',
    'test/reactors/pex/pex-rules.test.ts',
    'test/reactors/pex/network.test.ts',
    'test/reactors/pex/node.test.ts',
    'test/reliability/ip-ban.test.ts',
    'test/switch-start-order.test.ts',
  ],
);
