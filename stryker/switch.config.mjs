import { moduleConfig } from './module.mjs';

export default moduleConfig('switch', 'lib/switch.ts', [
  'test/switch.test.ts',
  'test/switch-errors.test.ts',
  'test/switch-limits.test.ts',
  'test/switch-operations.test.ts',
  'test/switch-start-order.test.ts',
  'test/persistent-redial.test.ts',
  'test/transport-memory.test.ts',
  'test/reliability/idle-peers.test.ts',
  'test/reliability/handshake-admission.test.ts',
  'test/reliability/ip-ban.test.ts',
  'test/reliability/persistent-slot.test.ts',
]);
