/**
 * The environment for child processes that tests spawn: ours, with coverage
 * recording off in the child. tap's processinfo follows spawned processes,
 * and a child that records coverage of the same sources through tsx (another
 * transform than tap's) makes the coverage report of the whole run come out
 * empty now and then — and then the coverage thresholds fail the run.
 */
export function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' };
}
