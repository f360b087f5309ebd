// `switchboard testnet` with 6 node processes: every node reaches its outbound target (or connects to
// every other node) through PEX, and the converged network stays quiet (≤ 1 connection per node per minute).
import t from 'tap';
import { checkQuiet, runTestnet } from '../../helpers/testnet.js';

t.test('6 node processes converge through PEX, then stay quiet for 10 s', { timeout: 110_000 }, async (t) => {
  // 10 of the testnet's 1 s ensurePeers rounds, as the 20-node test (20 s cost the 5-minute suite 10 s more)
  const quietMs = 10_000;
  const r = await runTestnet(t, 6, quietMs);
  checkQuiet(t, r, 6, 2, quietMs);
});
