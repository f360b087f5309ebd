import { moduleConfig } from './module.mjs';

export default moduleConfig('flow-rate', 'lib/conn/flow-rate.ts', ['test/conn/flow-rate.test.ts', 'test/conn/rate-limit.test.ts']);
