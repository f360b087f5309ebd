// `switchboard testnet` with 20 node processes started from one seed: every node reaches its outbound
// target (or connects to every other node) through PEX, and the converged network stays quiet.
import t from 'tap';
import { checkQuiet, runTestnet } from '../../helpers/testnet.js';

t.test(
  '20 node processes (a seed and 19 nodes that know only the seed) converge, then stay quiet for 10 s',
  { timeout: 110_000 },
  async (t) => {
    const quietMs = 10_000; // short: the file must finish within tap's 120 s per file under load
    const r = await runTestnet(t, 20, quietMs);
    checkQuiet(t, r, 20, 9, quietMs);
  },
);
