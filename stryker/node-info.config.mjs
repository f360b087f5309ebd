import { moduleConfig } from './module.mjs';

export default moduleConfig('node-info', 'lib/node-info.ts', [
  'test/node-info-bounds.test.ts',
  'test/node-info.test.ts',
  'test/node-info-rules.test.ts',
  'test/protocol-vectors.test.ts',
]);
