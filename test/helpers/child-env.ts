/**
 * How tests start TypeScript child processes (the CLI, example nodes).
 *
 * By default a child runs under tsx with coverage recording off: tsx is a
 * different transform of the same sources than tap's, and a child recording
 * coverage through it made the merged report come out empty now and then.
 *
 * With `{ coverage: true }` (to both {@link tsImport} and {@link childEnv}) a
 * child loads TypeScript through tap's own loader (the `@tapjs/typescript`
 * import the test process runs with) and keeps tap's processinfo
 * environment, so it records V8 coverage of the same transformed sources and
 * tap merges it into the run's report: that is how cli/, which runs only as
 * child processes, is counted. tap's loader costs about 4× the CPU of tsx per
 * process start, so the tests opt in where a few processes cover the CLI
 * (`switchboard node`, the small commands), not in the
 * many-process tests. Outside tap, children always run under tsx.
 */

/** Node arguments that load TypeScript in a child: tap's loader with `coverage` under tap, else tsx. */
export function tsImport(opts: { coverage?: boolean } = {}): string[] {
  const tap = opts.coverage ? process.execArgv.filter((a) => /^--import=.*@tapjs[\\/]typescript[\\/]/.test(a)) : [];
  return tap.length > 0 ? [...tap, '--enable-source-maps'] : ['--import', 'tsx'];
}

/** The environment for a child: ours, with coverage recording off unless `coverage` (see {@link tsImport}). */
export function childEnv(opts: { coverage?: boolean } = {}): NodeJS.ProcessEnv {
  return opts.coverage ? { ...process.env } : { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' };
}
