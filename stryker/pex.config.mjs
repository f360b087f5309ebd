import { moduleConfig } from './module.mjs';

export default moduleConfig('pex', 'reactors/pex/*.ts', [
  'test/reactors/pex/known-address.test.ts',
  'test/reactors/pex/pex-messages.test.ts',
  'test/reactors/pex/bucket-tables.test.ts',
  'test/reactors/pex/addrbook-file.test.ts',
  'test/reactors/pex/addrbook.test.ts',
  'test/reactors/pex/dialer.test.ts',
  'test/reactors/pex/crawler.test.ts',
  'test/reactors/pex/options.test.ts',
  'test/reactors/pex/params.test.ts',
  'test/reactors/pex/reactor.test.ts',
  'test/reactors/pex/reactor-messages.test.ts',
  'test/reactors/pex/pex-rules.test.ts',
  'test/reactors/pex/network.test.ts',
  'test/reactors/pex/node.test.ts',
  'test/reliability/ip-ban.test.ts',
]);
