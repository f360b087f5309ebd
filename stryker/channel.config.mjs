import { moduleConfig } from './module.mjs';

export default moduleConfig('channel', 'lib/conn/channel.ts', [
  'test/conn/channel-rules.test.ts',
  'test/conn/channel.test.ts',
  'test/conn/flow-control.test.ts',
  'test/conn/mconnection.test.ts',
  'test/conn/mconnection-rtt.test.ts',
  'test/conn/flush-stop.test.ts',
  'test/conn/rate-limit.test.ts',
]);
