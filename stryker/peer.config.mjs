import { moduleConfig } from './module.mjs';

export default moduleConfig('peer', 'lib/peer.ts', [
  'test/peer.test.ts',
  'test/switch.test.ts',
  'test/switch-errors.test.ts',
  'test/switch-limits.test.ts',
  'test/switch-operations.test.ts',
  'test/switch-start-order.test.ts',
  'test/transport-memory.test.ts',
  'test/reliability/idle-peers.test.ts',
  'test/reliability/hostile-input.test.ts',
]);
