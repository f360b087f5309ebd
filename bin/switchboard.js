#!/usr/bin/env node
// Entry of the `switchboard` command. An installed package runs the compiled
// CLI in dist/ (built by the `prepare` script: npm pack, npm ci, and installs
// from git or a directory run it). A source checkout runs the TypeScript
// source through tsx (a dev dependency) when tsx is installed, so a dist/ from
// an earlier build never runs stale code there; without tsx, it runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../cli/index.ts', import.meta.url);
const built = new URL('../dist/cli/index.js', import.meta.url);
let tsx;
if (existsSync(source)) {
  try {
    tsx = await import('tsx/esm/api');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
}
if (tsx) {
  tsx.register();
  await import(source.href);
} else if (existsSync(built)) {
  await import(built.href);
} else {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`switchboard: the compiled CLI (dist/cli/index.js) is missing: run \`npm run build\` in ${root}\n`);
  process.exit(1);
}
