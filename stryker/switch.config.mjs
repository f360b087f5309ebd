import { moduleConfig } from './module.mjs';

export default moduleConfig('switch', 'lib/switch.ts', [
  'test/switch.test.ts',
  'test/switch-errors.test.ts',
  'test/switch-limits.test.ts',
  'test/switch-operations.test.ts',
  'test/switch-start-order.test.ts',
  'test/switch-admission.test.ts',
  'test/switch-bans.test.ts',
  'test/switch-dial.test.ts',
  'test/switch-dispatch.test.ts',
  'test/switch-lifecycle.test.ts',
  'test/switch-logs.test.ts',
  'test/switch-removal.test.ts',
  'test/persistent-redial.test.ts',
  'test/transport-memory.test.ts',
  'test/reliability/idle-peers.test.ts',
  'test/reliability/handshake-admission.test.ts',
  'test/reliability/ip-ban.test.ts',
  'test/reliability/persistent-slot.test.ts',
]);
