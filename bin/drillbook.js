#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ (npm install runs the build).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/bin/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('drillbook is not built: run `npm install` (or `npm run build`) in its directory first\n');
  process.exit(2);
}
// `drillbook --help | head`: a closed pipe ends the output, not with a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
const { main } = await import(cli.href);
const code = await main(process.argv.slice(2));
process.exitCode = code;
// Work is done; a driver socket still closing must not hold the exit code hostage.
setTimeout(() => process.exit(code), 2000).unref();
