#!/usr/bin/env node
// Thin launcher. The CLI is TypeScript compiled to dist/ (npm install runs the build) and
// bundled by esbuild into dist/bundle/ for a fast start. A bundle is used only when it is at
// least as new as tsc's output: after a plain `tsc` (no bundling) the fresh dist/bin runs.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const mtime = (url) => {
  try {
    return statSync(url).mtimeMs;
  } catch {
    return undefined;
  }
};
const compiledAt = mtime(new URL('../dist/bin/cli.js', import.meta.url));
const fresh = (url) => {
  const at = mtime(url);
  return at !== undefined && (compiledAt === undefined || at >= compiledAt);
};
const args = process.argv.slice(2);

// `drillbook --help | head`: a closed pipe ends the output, not with a stack trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

function finish(code) {
  process.exitCode = code;
  // Work is done; a driver socket still closing must not hold the exit code hostage.
  setTimeout(() => process.exit(code), 2000).unref();
}

// Fast path: plain `validate <paths...>` runs one CommonJS bundle with V8's code cache
// (Node 20 keeps none for ES modules). Anything with an option takes the full CLI.
const validateBundle = new URL('../dist/bundle/validate.cjs', import.meta.url);
if (args[0] === 'validate' && args.length > 1 && !args.some((a) => a.startsWith('-')) && fresh(validateBundle)) {
  const vm = await import('node:vm');
  const { Module } = await import('node:module');
  const file = fileURLToPath(validateBundle);
  const cacheFile = `${file}.cache`;
  const writeCache = process.env.DRILLBOOK_WRITE_CODE_CACHE === '1';
  let cachedData;
  try {
    if (!writeCache) cachedData = readFileSync(cacheFile);
  } catch {
    // no cache: V8 compiles as usual
  }
  const script = new vm.Script(Module.wrap(readFileSync(file, 'utf8')), { filename: file, cachedData, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, fileURLToPath(new URL('.', validateBundle)));
  const code = await module.exports.validateMain(args.slice(1));
  // Build time only (scripts/build.mjs): keep what this run compiled for later starts.
  if (writeCache) writeFileSync(cacheFile, script.createCachedData());
  finish(code);
} else {
  const bundled = new URL('../dist/bundle/cli.js', import.meta.url);
  const cli = fresh(bundled) ? bundled : compiledAt !== undefined ? new URL('../dist/bin/cli.js', import.meta.url) : undefined;
  if (!cli) {
    process.stderr.write('drillbook is not built: run `npm install` (or `npm run build`) in its directory first\n');
    process.exit(2);
  }
  const { main } = await import(cli.href);
  finish(await main(args));
}
