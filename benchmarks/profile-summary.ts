/**
 * Summarise V8 CPU profiles (`.cpuprofile`, from `node --cpu-prof`): the
 * functions with the most self time, and self time by file and by
 * category (GC, idle, Node internals, lib/, ...).
 *
 * When a `window.json` (`{ startUs, endUs }` on the hrtime clock, which V8's
 * profile timestamps share) lies next to a profile, only the samples inside
 * that window count — the benchmark's measured interval, without start-up.
 * In a directory of `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`
 * files only the main thread's (thread 0) is read: with `--import tsx`
 * the module loader runs in a worker thread that writes its own profile.
 *
 * CLI: `npx tsx benchmarks/profile-summary.ts <file-or-dir>... [--top N]`.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The parts of a .cpuprofile this script reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function's self time. */
export interface ProfileEntry {
  name: string;
  location: string;
  selfMs: number;
  selfPct: number;
}

/** Summary of one profile. */
export interface ProfileSummary {
  /** The profile's name: its directory for `CPU.*` files, else its file name. */
  file: string;
  /** Sampled time (ms), within the window when there is one. */
  totalMs: number;
  /** True when cut to a `window.json`. */
  windowed: boolean;
  top: ProfileEntry[];
  /** Self time (%) by file, largest first. */
  files: [string, number][];
  /** Self time (%) by category. */
  categories: [string, number][];
}

const ROOT = new URL('..', import.meta.url).href;

function shortUrl(url: string): string {
  if (url.startsWith(ROOT)) return url.slice(ROOT.length);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.replace(/^file:\/\//, '');
}

function category(name: string, url: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program (native, unattributed)';
  if (url.startsWith('node:')) return 'Node internals (streams, net, crypto wrappers)';
  if (url.includes('/node_modules/')) return 'dependencies';
  if (url.includes('/lib/')) return 'switchboard lib/';
  if (url.includes('/benchmarks/')) return 'benchmark code';
  if (url === '') return 'native / builtins';
  return 'other';
}

const CPU_FILE = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/;

function readWindow(path: string): { startUs: number; endUs: number } | undefined {
  const f = join(dirname(path), 'window.json');
  if (!existsSync(f)) return undefined;
  const w = JSON.parse(readFileSync(f, 'utf8')) as { startUs: number; endUs: number };
  return Number.isFinite(w.startUs) && Number.isFinite(w.endUs) ? w : undefined;
}

/** Summarise the profile at `path`, keeping the `top` functions with most self time. */
export function summarizeProfile(path: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const win = readWindow(path);
  const self = new Map<number, number>(); // node id -> µs
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  if (samples.length > 0 && deltas.length === samples.length) {
    // the time until the next sample belongs to this sample
    const avg = (p.endTime - p.startTime) / samples.length;
    let t = p.startTime;
    for (let i = 0; i < samples.length; i++) {
      t += deltas[i]!;
      if (win && (t < win.startUs || t > win.endUs)) continue;
      const d = i + 1 < deltas.length ? deltas[i + 1]! : avg;
      self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + Math.max(0, d));
    }
  } else {
    const total = p.endTime - p.startTime;
    const hits = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
    for (const n of p.nodes) self.set(n.id, ((n.hitCount ?? 0) * total) / hits);
  }
  const byFn = new Map<string, ProfileEntry>();
  const byFile = new Map<string, number>();
  const byCat = new Map<string, number>();
  let totalUs = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName || '(anonymous)';
    const file = url ? shortUrl(url) : '';
    // line numbers of tsx-compiled files refer to the compiled code: show them for Node's own files only
    const location = file && url.startsWith('node:') ? `${file}:${lineNumber + 1}` : file;
    const key = `${name}@${location}`;
    const e = byFn.get(key) ?? { name, location, selfMs: 0, selfPct: 0 };
    e.selfMs += us / 1000;
    byFn.set(key, e);
    const fileKey = file || name;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
    const cat = category(name, url);
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
  }
  const pct = (us: number) => (totalUs > 0 ? (100 * us) / totalUs : 0);
  const entries = [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const e of entries) e.selfPct = pct(e.selfMs * 1000);
  return {
    file: CPU_FILE.test(basename(path)) ? basename(dirname(path)) : basename(path),
    totalMs: totalUs / 1000,
    windowed: win !== undefined,
    top: entries,
    files: [...byFile.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([f, us]) => [f, pct(us)]),
    categories: [...byCat.entries()].sort((a, b) => b[1] - a[1]).map(([c, us]) => [c, pct(us)]),
  };
}

/** Markdown rendering of summaries (also readable in a terminal). */
export function renderProfileSummaries(list: ProfileSummary[]): string {
  const out: string[] = [];
  for (const s of list) {
    out.push(`#### ${s.file} (${Math.round(s.totalMs)} ms sampled${s.windowed ? ' in the measured window' : ', whole process'})`, '');
    out.push('| self % | self ms | function | location |', '|---:|---:|---|---|');
    for (const e of s.top) out.push(`| ${e.selfPct.toFixed(1)} | ${e.selfMs.toFixed(0)} | \`${e.name}\` | ${e.location} |`);
    out.push('', `By category: ${s.categories.map(([c, v]) => `${c} ${v.toFixed(1)} %`).join(' · ')}`, '');
    out.push(`By file: ${s.files.map(([f, v]) => `${f} ${v.toFixed(1)} %`).join(' · ')}`, '');
  }
  return out.join('\n');
}

/**
 * The .cpuprofile files at `paths`: files as given; directories searched
 * three levels deep, skipping worker-thread `CPU.*` profiles. Sorted by path.
 */
export function findProfiles(paths: string[], depth = 3): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (!statSync(p).isDirectory()) {
      out.push(p);
      continue;
    }
    for (const f of readdirSync(p)) {
      const full = join(p, f);
      if (statSync(full).isDirectory()) {
        if (depth > 1) out.push(...findProfiles([full], depth - 1));
      } else if (f.endsWith('.cpuprofile')) {
        const m = CPU_FILE.exec(f);
        if (!m || m[1] === '0') out.push(full);
      }
    }
  }
  return out.sort();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const topN = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 15;
  if (args.length === 0) {
    console.error('usage: npx tsx benchmarks/profile-summary.ts <file.cpuprofile | dir>... [--top N]');
    process.exit(2);
  }
  console.log(renderProfileSummaries(findProfiles(args).map((f) => summarizeProfile(f, topN))));
}
