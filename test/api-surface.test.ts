// The public root API is the list in README.md's "API" section: every name
// lib/index.ts exports (values and types, `export *` included) is listed
// there, and every name listed there is exported. The wire level
// (lib/conn/index.ts, `switchboard/conn`) shares no name with the root: one
// home per concept.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** Every name a module exports, types included, as the type checker resolves them. */
function exportedNames(file: string): { all: string[]; values: string[] } {
  const program = ts.createProgram([repo + file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(repo + file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`${file}: not a module`);
  const symbols = checker.getExportsOfModule(moduleSymbol);
  const isValue = (s: ts.Symbol): boolean => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return (target.flags & ts.SymbolFlags.Value) !== 0;
  };
  return {
    all: symbols.map((s) => s.name).sort(),
    values: symbols
      .filter(isValue)
      .map((s) => s.name)
      .sort(),
  };
}

/** The names README.md's API section lists for the root: the backticked names of the bullets after the line naming `lib/index.ts`. */
function readmeRootNames(): string[] {
  const readme = readFileSync(repo + 'README.md', 'utf8');
  const section = /^## API\n([\s\S]*?)^## /m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## API" section');
  const lines = section.split('\n');
  const intro = lines.findIndex((l) => l.includes('`lib/index.ts`'));
  if (intro < 0) throw new Error('the API section does not name lib/index.ts');
  const names: string[] = [];
  let i = intro + 1;
  while (i < lines.length && lines[i] === '') i++;
  for (; i < lines.length && lines[i]?.startsWith('- '); i++) {
    const line = lines[i] ?? '';
    const list = line.slice(line.indexOf(': ') + 2);
    for (const m of list.matchAll(/`([A-Za-z_$][\w$]*)`/g)) if (m[1] !== undefined) names.push(m[1]);
  }
  return names;
}

const root = exportedNames('lib/index.ts');
const listed = readmeRootNames();

t.test("README.md's API section lists exactly what lib/index.ts exports", async (t) => {
  t.ok(listed.length > 0, 'the section lists names');
  t.same(
    listed.filter((n, i) => listed.indexOf(n) !== i),
    [],
    'no name is listed twice',
  );
  t.same(
    root.all.filter((n) => !listed.includes(n)),
    [],
    'every export is listed',
  );
  t.same(
    listed.filter((n) => !root.all.includes(n)),
    [],
    'every listed name is exported',
  );
});

t.test('the runtime exports are the value exports the type checker sees', async (t) => {
  const mod = (await import('../lib/index.js')) as Record<string, unknown>;
  t.same(Object.keys(mod).sort(), root.values);
  t.ok(root.values.includes('Switch') && !root.values.includes('MConnection'), 'Switch is at the root, MConnection is not');
});

t.test('switchboard/conn shares no name with the root', async (t) => {
  const conn = exportedNames('lib/conn/index.ts');
  t.ok(conn.all.includes('MConnection') && conn.all.includes('PacketDecoder'), 'the wire level is exported there');
  t.same(
    conn.all.filter((n) => root.all.includes(n)),
    [],
  );
  const mod = (await import('../lib/conn/index.js')) as Record<string, unknown>;
  t.same(Object.keys(mod).sort(), conn.values);
});
