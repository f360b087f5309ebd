// The PEX wire codec and the address-book entry (reactors/pex/messages.ts, known-address.ts),
// mutated against the few fast test files that exercise them (their own unit tests first), so a run takes
// minutes instead of the whole PEX suite's. Run: npx stryker run stryker/pex-core.config.mjs --concurrency 1
import { moduleConfig } from './module.mjs';

export default moduleConfig(
  'pex-core',
  ['reactors/pex/known-address.ts', 'reactors/pex/messages.ts'],
  [
    'test/reactors/pex/known-address.test.ts',
    'test/reactors/pex/pex-messages.test.ts',
    'test/reactors/pex/addrbook.test.ts',
    'test/reactors/pex/reactor-messages.test.ts',
    'test/reactors/pex/pex-rules.test.ts',
    'test/protocol-vectors.test.ts',
  ],
);
