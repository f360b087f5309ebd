// A Stryker config for one core module: the main config (../stryker.config.mjs) with `mutate` set to
// that module and `tap.testFiles` to the test files that exercise it in-process, so a run does not
// spend minutes on test files that cannot kill its mutants. The score is then a lower bound of the
// whole suite's. Each module keeps its own incremental file and reports (reports/<name>/), so runs
// of different modules do not overwrite each other.
// Run: npx stryker run stryker/<name>.config.mjs --concurrency 1
import base from '../stryker.config.mjs';

/**
 * @param {string} name short name (reports/<name>/…)
 * @param {string | string[]} file the module, or the modules, to mutate
 * @param {string[]} testFiles the test files that exercise it
 * @returns {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export function moduleConfig(name, file, testFiles) {
  return {
    ...base,
    mutate: Array.isArray(file) ? file : [file],
    tap: { ...base.tap, testFiles },
    // a mutant that makes a test hang costs this plus twice the test's own time, not 30 s
    timeoutMS: 5000,
    incrementalFile: `reports/${name}/stryker-incremental.json`,
    htmlReporter: { fileName: `reports/${name}/mutation.html` },
    jsonReporter: { fileName: `reports/${name}/mutation.json` },
  };
}
