import { moduleConfig } from './module.mjs';

// lib/transport.ts holds only the Transport interface (no mutants); the logic the issue meant by it
// (handshake admission, upgrade, TCP listen/dial) lives in these two files.
export default moduleConfig(
  'transport',
  ['lib/transport-multiplex.ts', 'lib/transport-tcp.ts'],
  [
    'test/transport-multiplex.test.ts',
    'test/transport-tcp.test.ts',
    'test/transport-unix.test.ts',
    'test/switch-admission.test.ts',
    'test/switch-errors.test.ts',
    'test/switch-dial.test.ts',
    'test/switch-lifecycle.test.ts',
    'test/reliability/handshake-admission.test.ts',
  ],
);
