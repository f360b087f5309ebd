// The address book itself (reactors/pex/addrbook.ts: what enters, bans, picks, selections, load),
// mutated against the fast in-process test files that use an AddrBook (its own unit tests first),
// not the network, node and child-process tests.
// Run: npx stryker run stryker/pex-addrbook.config.mjs --concurrency 1
import { moduleConfig } from './module.mjs';

export default moduleConfig('pex-addrbook', 'reactors/pex/addrbook.ts', [
  'test/reactors/pex/addrbook.test.ts',
  'test/reactors/pex/addrbook-rules.test.ts',
  'test/reactors/pex/reactor-messages.test.ts',
]);
