import { moduleConfig } from './module.mjs';

export default moduleConfig('handshake', 'lib/conn/handshake.ts', [
  'test/conn/secret-connection.test.ts',
  'test/conn/secret-connection-vectors.test.ts',
  'test/conn/handshake.test.ts',
]);
