// Mutation testing of the core with StrykerJS: `npm run mutation` (not in CI; CPU-heavy).
// Prints the mutation score per file (clear-text reporter); HTML and JSON reports go to reports/mutation/.
// Incremental: a rerun tests only the mutants whose code or covering tests changed since the last
// run (reports/stryker-incremental.json), so a rerun after a change is fast.
// One module at a time: npm run mutation -- --mutate lib/node-info.ts, or faster with only the test files
// that exercise it: npx stryker run stryker/<module>.config.mjs --concurrency 1 (see stryker/module.mjs).
// Equivalent survivors that a `// Stryker disable next-line` comment cannot mark alone: stryker/EQUIVALENTS.md.
// The test files are those that exercise the core in-process (no CLI child processes, no soak-style
// reliability runs), each run under tsx with Stryker's coverage hook (coverageAnalysis perTest: a mutant
// runs only the test files that cover it). Target: >= 80 % per file (thresholds.low).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  "packageManager": "npm",
  "testRunner": "tap",
  "tap": {
    "testFiles": [
      "test/conn/*.test.ts",
      "test/switch*.test.ts",
      "test/transport-*.test.ts",
      "test/node-info*.test.ts",
      "test/net-address.test.ts",
      "test/persistent-redial.test.ts",
      "test/protocol-vectors.test.ts",
      "test/reactors/pex/known-address.test.ts",
      "test/reactors/pex/pex-messages.test.ts",
      "test/reactors/pex/bucket-tables.test.ts",
      "test/reactors/pex/addrbook-file.test.ts",
      "test/reactors/pex/addrbook.test.ts",
      "test/reactors/pex/reactor*.test.ts",
      "test/reactors/pex/pex-rules.test.ts",
      "test/reactors/pex/network.test.ts"
    ],
    "nodeArgs": [
      "--import",
      "tsx",
      "-r",
      "{{hookFile}}",
      "{{testFile}}"
    ],
    "forceBail": true
  },
  "checkers": [
    "typescript"
  ],
  "tsconfigFile": "tsconfig.build.json",
  "typescriptChecker": {
    "prioritizePerformanceOverAccuracy": true
  },
  "mutate": [
    "lib/conn/**/*.ts",
    "lib/switch.ts",
    "lib/peer.ts",
    "lib/node-info.ts",
    "lib/transport-multiplex.ts",
    "lib/transport-tcp.ts",
    "reactors/pex/**/*.ts"
  ],
  "coverageAnalysis": "perTest",
  "incremental": true,
  "incrementalFile": "reports/stryker-incremental.json",
  "reporters": [
    "clear-text",
    "progress",
    "html",
    "json"
  ],
  "htmlReporter": {
    "fileName": "reports/mutation/mutation.html"
  },
  "jsonReporter": {
    "fileName": "reports/mutation/mutation.json"
  },
  "clearTextReporter": {
    "allowColor": false,
    "logTests": false,
    "reportMutants": true,
    "reportScoreTable": true
  },
  "concurrency": 2,
  "timeoutMS": 30000,
  "timeoutFactor": 2,
  "tempDirName": ".stryker-tmp",
  "thresholds": {
    "high": 90,
    "low": 80,
    "break": null
  }
};
