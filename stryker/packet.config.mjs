import { moduleConfig } from './module.mjs';

export default moduleConfig('packet', 'lib/conn/packet.ts', [
  'test/conn/packet.test.ts',
  'test/protocol-vectors.test.ts',
  'test/conn/mconnection.test.ts',
  'test/conn/flow-control.test.ts',
]);
