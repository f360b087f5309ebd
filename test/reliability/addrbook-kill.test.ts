/**
 * kill -9 in the middle of AddrBook saves: a child process adds addresses
 * and saves in a loop and is SIGKILLed at random moments. After every kill
 * the book file loads cleanly (no corrupt file, no fallback to the backup)
 * and holds every address of the last completed save. `npm run soak` runs
 * the same loop 200 times; here a shorter run keeps `npm test` fast.
 */
import t from 'tap';
import { addrBookKillLoop } from './addrbook-crash.js';

const KILLS = Number(process.env.SWITCHBOARD_ADDRBOOK_KILLS ?? 40);

t.test(`AddrBook survives ${KILLS} SIGKILLs in the middle of saves`, async (t) => {
  const r = await addrBookKillLoop({ dir: t.testdir(), kills: KILLS });
  t.comment(
    `${r.kills} kills (${r.midSave} between an add and its completed save), ${r.saves} saves completed, last save held ${r.lastSaved} addresses, ` +
      `${r.tempFilesLeft} temp files left by kills, ${(r.ms / 1000).toFixed(1)} s (${r.bundled ? 'bundled child' : 'child under tsx'})`,
  );
  t.equal(r.kills, KILLS, 'every round ended in a SIGKILL');
  t.same(r.problems, [], 'every reload loaded cleanly and lost nothing that a completed save held');
  t.ok(r.tempFilesLeft <= 2, `load clears the temp files of killed saves (${r.tempFilesLeft} left by the last kill)`);
  t.ok(r.midSave > KILLS / 4, `kills landed in the middle of adding/saving (${r.midSave} of ${r.kills})`);
  t.ok(r.lastSaved > 0, 'saves completed between kills');
});
