// PEX's outbound dialing and seed-mode crawl with their settings (reactors/pex/dialer.ts, crawler.ts,
// params.ts, options.ts, peer-state.ts), mutated against the fast in-process test files that exercise
// them (no network test files), so a run takes minutes instead of the whole PEX suite's.
// Run: npx stryker run stryker/pex-dial.config.mjs --concurrency 1
import { moduleConfig } from './module.mjs';

export default moduleConfig(
  'pex-dial',
  [
    'reactors/pex/dialer.ts',
    'reactors/pex/crawler.ts',
    'reactors/pex/params.ts',
    'reactors/pex/options.ts',
    'reactors/pex/peer-state.ts',
  ],
  [
    'test/reactors/pex/dialer.test.ts',
    'test/reactors/pex/crawler.test.ts',
    'test/reactors/pex/options.test.ts',
    'test/reactors/pex/params.test.ts',
    'test/reactors/pex/reactor.test.ts',
    'test/reactors/pex/pex-rules.test.ts',
    'test/reactors/pex/reactor-messages.test.ts',
    'test/reactors/pex/node.test.ts',
  ],
);
