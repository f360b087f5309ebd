import { moduleConfig } from './module.mjs';

export default moduleConfig('frame', 'lib/conn/frame.ts', [
  'test/conn/frame.test.ts',
  'test/conn/secret-connection.test.ts',
  'test/conn/secret-connection-vectors.test.ts',
]);
