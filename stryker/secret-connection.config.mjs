import { moduleConfig } from './module.mjs';

export default moduleConfig('secret-connection', 'lib/conn/secret-connection.ts', [
  'test/conn/secret-connection.test.ts',
  'test/conn/secret-connection-vectors.test.ts',
  'test/conn/secret-connection-stream.test.ts',
  'test/conn/frame.test.ts',
  'test/conn/handshake.test.ts',
]);
