#!/usr/bin/env node
// Entry of the `switchboard` command. An installed package runs the compiled
// CLI in dist/ (built by `npm run build`, which `npm pack` and installs from a
// path or git URL run as `prepack`). A source checkout without dist/ runs the
// TypeScript source through tsx, a dev dependency, when it is installed.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli/index.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const root = fileURLToPath(new URL('..', import.meta.url));
    process.stderr.write(`switchboard: the compiled CLI (dist/cli/index.js) is missing: run \`npm run build\` in ${root}\n`);
    process.exit(1);
  }
  tsx.register();
  await import('../cli/index.ts');
}
