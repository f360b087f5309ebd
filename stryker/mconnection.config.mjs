import { moduleConfig } from './module.mjs';

// MConnection and the parts it is made of (each its own file, one concept each)
export default moduleConfig(
  'mconnection',
  [
    'lib/conn/mconnection.ts',
    'lib/conn/keepalive.ts',
    'lib/conn/scheduler.ts',
    'lib/conn/batch.ts',
    'lib/conn/window-updates.ts',
    'lib/conn/deadlines.ts',
    'lib/conn/connection-status.ts',
    'lib/conn/mconn-config.ts',
  ],
  [
    'test/conn/mconnection.test.ts',
    'test/conn/mconnection-send.test.ts',
    'test/conn/batch.test.ts',
    'test/conn/window-autotune.test.ts',
    'test/conn/scheduler.test.ts',
    'test/conn/deadlines.test.ts',
    'test/conn/window-updates.test.ts',
    'test/conn/keepalive.test.ts',
    'test/conn/mconn-config.test.ts',
    'test/conn/connection-status.test.ts',
    'test/conn/mconnection-rtt.test.ts',
    'test/conn/flow-control.test.ts',
    'test/conn/flush-stop.test.ts',
    'test/conn/rate-limit.test.ts',
    'test/conn/channel.test.ts',
    'test/conn/channel-rules.test.ts',
    'test/conn/packet.test.ts',
    'test/config.test.ts',
    'test/reliability/idle-peers.test.ts',
    'test/reliability/ping-flood.test.ts',
    'test/reliability/hostile-input.test.ts',
  ],
);
