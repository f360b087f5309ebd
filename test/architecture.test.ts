// The layering DESIGN.md asks for, checked on the sources (and the size of a file: at most 600 lines): lib/ (the core) imports nothing from
// reactors/ or cli/ (the layers built on it), and no two lib/ files import each other through a
// cycle. `import type` counts: a type-only cycle still means neither file can be read alone.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = 'switchboard';

/**
 * Every module specifier of a TypeScript source: import and export-from declarations (type-only
 * ones included), side-effect imports, dynamic `import()`s and `require()`s — as TypeScript's own
 * scanner (`ts.preProcessFile`) finds them.
 */
function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** A relative specifier of `from` (a path under ROOT) as a path under ROOT: `./x.js` is `x.ts`. */
function resolveSpecifier(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const abs = resolve(ROOT, dirname(from), spec);
  const ts = abs.replace(/\.js$/, '.ts');
  return relative(ROOT, existsSync(ts) ? ts : abs)
    .split(sep)
    .join('/');
}

/** The first import cycle of `graph` (file → files it imports) as a path `a → b → … → a`, or undefined. DFS, three colours. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): string[] | undefined => {
    if (state.get(f) === 'done') return undefined;
    if (state.get(f) === 'open') return [...path.slice(path.indexOf(f)), f];
    state.set(f, 'open');
    path.push(f);
    for (const d of graph.get(f) ?? []) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of [...graph.keys()].sort()) {
    const c = visit(f);
    if (c) return c;
  }
  return undefined;
}

const libFiles = (readdirSync(join(ROOT, 'lib'), { recursive: true }) as string[])
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `lib/${f.split(sep).join('/')}`)
  .sort();

function libGraph(): Map<string, { spec: string; target: string | undefined }[]> {
  const g = new Map<string, { spec: string; target: string | undefined }[]>();
  for (const f of libFiles) {
    g.set(
      f,
      specifiersOf(readFileSync(join(ROOT, f), 'utf8')).map((spec) => ({ spec, target: resolveSpecifier(f, spec) })),
    );
  }
  return g;
}

t.test('the import scanner sees every kind of import, type-only ones included', async (t) => {
  const src = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import { type C } from './c.js';",
    "export { d } from './d.js';",
    "export type { E } from './e.js';",
    "export * from './f.js';",
    "import './g.js';",
    "const h = await import('./h.js');",
  ].join('\n');
  t.same(specifiersOf(src), ['./a.js', './b.js', './c.js', './d.js', './e.js', './f.js', './g.js', './h.js']);
  t.equal(resolveSpecifier('lib/switch.ts', './reactor.js'), 'lib/reactor.ts', 'a .js specifier is its .ts source');
  t.equal(resolveSpecifier('lib/switch.ts', '../reactors/pex/index.js'), 'reactors/pex/index.ts');
});

t.test('the cycle finder finds a cycle and only a cycle', async (t) => {
  t.same(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    undefined,
    'a chain is no cycle',
  );
  t.same(
    findCycle(
      new Map([
        ['a', ['b', 'c']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    undefined,
    'a diamond is no cycle',
  );
  t.same(
    findCycle(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
      ]),
    ),
    ['a', 'b', 'c', 'a'],
  );
  t.same(
    findCycle(
      new Map([
        ['x', ['a']],
        ['a', ['b']],
        ['b', ['a']],
      ]),
    ),
    ['a', 'b', 'a'],
    'the path starts where the cycle does',
  );
  t.same(findCycle(new Map([['a', ['a']]])), ['a', 'a'], 'a file importing itself');
});

t.test('lib/ imports nothing from reactors/ or cli/', async (t) => {
  t.ok(libFiles.length > 10, `${libFiles.length} files in lib/`);
  const upward: string[] = [];
  for (const [f, deps] of libGraph()) {
    for (const { spec, target } of deps) {
      const up = target !== undefined ? /^(reactors|cli)\//.test(target) : spec === PACKAGE || spec.startsWith(`${PACKAGE}/`);
      if (up) upward.push(`${f} imports ${spec}`);
    }
  }
  t.same(upward, [], 'no import from lib/ into the layers above it');
});

t.test('no import cycle among lib/ files (import type included)', async (t) => {
  const g = new Map<string, string[]>();
  for (const [f, deps] of libGraph())
    g.set(
      f,
      deps.flatMap((d) => (d.target?.startsWith('lib/') ? [d.target] : [])),
    );
  t.ok(
    [...g.values()].some((d) => d.length > 0),
    'the graph has edges',
  );
  const cycle = findCycle(g);
  t.same(cycle, undefined, cycle ? `import cycle: ${cycle.join(' → ')}` : 'no cycle');
});

t.test('no source file over 600 lines (one concept per file)', async (t) => {
  const MAX_LINES = 600;
  const files = ['lib', 'reactors', 'cli'].flatMap((d) =>
    (readdirSync(join(ROOT, d), { recursive: true }) as string[])
      .filter((f) => /\.(ts|js)$/.test(f))
      .map((f) => `${d}/${f.split(sep).join('/')}`),
  );
  t.ok(files.length > 50, `${files.length} source files`);
  const long = files
    .map((f) => ({ f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > MAX_LINES)
    .map(({ f, lines }) => `${f}: ${lines} lines`);
  t.same(long, [], `every file in lib/, reactors/ and cli/ has at most ${MAX_LINES} lines`);
});
