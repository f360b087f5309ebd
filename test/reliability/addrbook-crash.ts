// The AddrBook crash loop, shared by test/reliability/addrbook-kill.test.ts
// (a short run) and `npm run soak` (200 kills): a child process adds
// addresses and saves in a loop; we SIGKILL it at a random moment, reload
// the file with AddrBook and check that it loads cleanly and holds every
// address of the last completed save — a kill loses at most what was added
// since then. The child is bundled once with esbuild (tsx's own dependency)
// so each start costs a plain `node` start; without esbuild it runs under tsx.
import { childEnv, tsImport } from '../helpers/child-env.js';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AddrBook } from '../../reactors/pex/addrbook.js';
import { bookAddr } from './fixtures/addrbook-addrs.js';
import { sleep } from '../helpers/time.js';

const WRITER = fileURLToPath(new URL('./fixtures/addrbook-writer.ts', import.meta.url));

/** How to start the writer child: a bundled CommonJS file for plain node, or the TypeScript under tsx. */
export async function writerCommand(outDir: string): Promise<{ args: string[]; bundled: boolean }> {
  try {
    const esbuild = await import('esbuild');
    const out = join(outDir, 'addrbook-writer.cjs');
    await esbuild.build({
      entryPoints: [WRITER],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: out,
      logLevel: 'silent',
    });
    return { args: [out], bundled: true };
  } catch {
    return { args: [...tsImport(), WRITER], bundled: false };
  }
}

export interface KillLoopResult {
  kills: number;
  /** Kills that landed after an `add` and before its `saved` (in the middle of adding or saving). */
  midSave: number;
  /** Saves completed in all. */
  saves: number;
  /** One past the highest address index a completed save held. */
  lastSaved: number;
  /** Loads that failed, lost a saved address, found too many, warned, or fell back to the .bak. */
  problems: string[];
  /** write-file-atomic temp files left behind by kills (never read by the book). */
  tempFilesLeft: number;
  bundled: boolean;
  ms: number;
}

/**
 * Run `kills` rounds: start the writer on `<dir>/addrbook.json`, SIGKILL it
 * 0..`maxKillDelayMs` ms after it began its first add, then check the file.
 * Never throws for a failed check: everything wrong goes to `problems`.
 */
export async function addrBookKillLoop(opts: {
  dir: string;
  kills: number;
  maxKillDelayMs?: number;
  random?: () => number;
  onRound?: (i: number, r: KillLoopResult) => void;
}): Promise<KillLoopResult> {
  const started = performance.now();
  const file = join(opts.dir, 'addrbook.json');
  const random = opts.random ?? Math.random;
  const maxDelay = opts.maxKillDelayMs ?? 60;
  const { args, bundled } = await writerCommand(opts.dir);
  const r: KillLoopResult = { kills: 0, midSave: 0, saves: 0, lastSaved: 0, problems: [], tempFilesLeft: 0, bundled, ms: 0 };
  let next = 0; // first index the next child adds
  let lastAdd = 0; // one past the highest index any child started to add
  // indices a completed save held: [from, to) per child (what a child added after its last save is legitimately lost)
  const savedRanges: [number, number][] = [];
  for (let i = 0; i < opts.kills; i++) {
    const child = spawn(process.execPath, [...args, file, String(next)], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | string | null>((res) => child.once('exit', (code, sig) => res(sig ?? code)));
    let ready = false;
    let last = '';
    let firstAdd!: () => void;
    const addedP = new Promise<void>((res) => (firstAdd = res));
    void exited.then(() => firstAdd());
    const from = next;
    let saved = from;
    const readyP = new Promise<void>((res) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        last = line;
        const [word, n] = line.split(' ');
        if (word === 'ready') {
          ready = true;
          res();
        } else if (word === 'add') {
          lastAdd = Math.max(lastAdd, Number(n));
          firstAdd();
        } else if (word === 'saved') {
          saved = Math.max(saved, Number(n));
          r.saves++;
        }
      });
      void exited.then(() => res());
    });
    await readyP;
    if (!ready) {
      r.problems.push(`round ${i}: the writer exited before loading the book: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      break;
    }
    // The fault: a kill at a random moment of the add/save loop. The delay starts at the child's first
    // "add", so a slow child start (a loaded machine) cannot make every kill land before any save began.
    await addedP;
    await sleep(random() * maxDelay);
    child.kill('SIGKILL');
    const how = await exited;
    // stdout is a pipe: drain what the child wrote before it died
    if (!child.stdout.closed) await new Promise((res) => child.stdout.once('close', res));
    if (how !== 'SIGKILL') r.problems.push(`round ${i}: the writer exited by itself (${how}): ${stderr.trim()}`);
    r.kills++;
    if (last.startsWith('add ')) r.midSave++;
    if (saved > from) {
      savedRanges.push([from, saved]);
      r.lastSaved = saved;
    }
    next = lastAdd;

    // reload and check
    const warnings: string[] = [];
    const book = new AddrBook(file, {
      routabilityStrict: true,
      logger: { warn: (o, m) => void warnings.push(`${m ?? ''} ${JSON.stringify(o)}`), info() {}, debug() {} },
    });
    try {
      book.load();
    } catch (err) {
      r.problems.push(`round ${i}: load threw ${(err as Error).message}`);
      continue;
    }
    if (warnings.length) r.problems.push(`round ${i}: load warned: ${warnings.join('; ')}`);
    let missing = 0;
    let held = 0;
    for (const [a, b] of savedRanges) for (let k = a; k < b; k++, held++) if (!book.hasAddress(bookAddr(k))) missing++;
    if (missing) r.problems.push(`round ${i}: ${missing} of the ${held} addresses completed saves held are missing`);
    if (book.size() > lastAdd) r.problems.push(`round ${i}: the book holds ${book.size()} addresses but only ${lastAdd} were ever added`);
    opts.onRound?.(i, r);
  }
  r.tempFilesLeft = readdirSync(opts.dir).filter(
    (f) => f.startsWith('addrbook.json.') && f !== 'addrbook.json.bak' && !f.includes('.corrupt-'),
  ).length;
  const corrupt = readdirSync(opts.dir).filter((f) => f.includes('.corrupt-'));
  if (corrupt.length) r.problems.push(`files moved aside as corrupt: ${corrupt.join(', ')}`);
  r.ms = performance.now() - started;
  return r;
}
