// What a test helper needs of tap's test object to clean up after itself:
// `t.teardown(fn)`. Helpers take this instead of tap's whole Test type, so a
// script (scripts/attack.ts) can pass its own.

/** Registers `fn` to run when the test ends (tap's `t.teardown`). */
export type Teardown = { teardown(fn: () => unknown): void };
