// The address book's bucket tables and its crash-safe file (reactors/pex/bucket-tables.ts,
// addrbook-file.ts), mutated against the fast in-process test files that exercise them (the book's
// own unit tests first), not the slow network and node tests.
// Run: npx stryker run stryker/pex-book.config.mjs --concurrency 1
import { moduleConfig } from './module.mjs';

export default moduleConfig(
  'pex-book',
  ['reactors/pex/bucket-tables.ts', 'reactors/pex/addrbook-file.ts'],
  [
    'test/reactors/pex/bucket-tables.test.ts',
    'test/reactors/pex/addrbook-file.test.ts',
    'test/reactors/pex/addrbook.test.ts',
    'test/reactors/pex/reactor-messages.test.ts',
    'test/reactors/pex/pex-rules.test.ts',
  ],
);
