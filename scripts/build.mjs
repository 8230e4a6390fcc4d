#!/usr/bin/env node
/**
 * The build after `tsc`: files generated from the compiled code that the package ships.
 * - schema/drillbook.schema.json: the JSON Schema editors load through the
 *   `# yaml-language-server: $schema=` line of the samples and of `drillbook init`'s files.
 * - dist/bundle/: the CLI bundled by esbuild, so a command starts by reading a few files
 *   instead of resolving and compiling hundreds (zod, yaml and commander are inlined; every
 *   other dependency stays external and is loaded only by the command that needs it, through
 *   the chunks esbuild splits at each dynamic import). bin/drillbook.js runs it when it is at
 *   least as new as tsc's dist/bin/cli.js, so a later `tsc` alone never runs stale code.
 * Run by `npm run build` (and so by `prepare` in a clone and `prepack` before `npm pack`).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { jsonSchema } = await import(new URL('../dist/scenarios/json-schema.js', import.meta.url).href);
fs.mkdirSync(path.join(root, 'schema'), { recursive: true });
fs.writeFileSync(path.join(root, 'schema', 'drillbook.schema.json'), `${JSON.stringify(jsonSchema(), null, 2)}\n`);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // A production install without dev dependencies: the tsc output alone still runs.
  process.stderr.write('esbuild is not installed: dist/bundle not built (the CLI runs from dist/bin)\n');
  process.exit(0);
}
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const INLINED = new Set(['commander', 'yaml', 'zod', 'cron']);
// zod re-exports all of its ~60 message locales (`z.locales`), which drillbook never uses: the
// bundle gets English only, as zod itself configures by default.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(build) {
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}node_modules${path.sep}zod${path.sep}`) ? { path: path.join(path.dirname(args.importer), '..', 'locales', 'index.js'), namespace: 'zod-locales' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(path.join(path.dirname(args.path), 'en.js'))};`,
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};
const external = Object.keys(pkg.dependencies).filter((name) => !INLINED.has(name)).flatMap((name) => [name, `${name}/*`]);
const outdir = path.join(root, 'dist', 'bundle');
fs.rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: { cli: path.join(root, 'bin', 'cli.ts') },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  chunkNames: 'chunks/[name]-[hash]',
  // Some bundled CommonJS code calls require(); give ESM chunks a real one.
  banner: { js: "import { createRequire as __drillbookCreateRequire } from 'node:module'; const require = __drillbookCreateRequire(import.meta.url);" },
  plugins: [zodEnglishOnly],
  // Smaller chunks compile faster at start; names are kept so error names and stack traces still read.
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
});

// The fast path of `validate` (see bin/validate-fast.ts): one CommonJS file the launcher runs
// with V8's code cache. Dynamic imports of external packages stay import() and are never
// reached by validate.
const validateBundle = path.join(outdir, 'validate.cjs');
await esbuild.build({
  entryPoints: [path.join(root, 'bin', 'validate-fast.ts')],
  outfile: validateBundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  plugins: [zodEnglishOnly],
  define: { 'import.meta.url': '__drillbookModuleUrl' },
  banner: { js: "const __drillbookModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  minify: true,
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
});
// The code cache: V8's compiled code for what validating the samples runs, written once here
// (the package directory may be read-only later). A different Node/V8 rejects it harmlessly.
const cacheRun = spawnSync(process.execPath, [path.join(root, 'bin', 'drillbook.js'), 'validate', path.join(root, 'scenarios', 'samples')], {
  env: { ...process.env, DRILLBOOK_WRITE_CODE_CACHE: '1' },
  encoding: 'utf8',
});
if (cacheRun.status !== 0 || !fs.existsSync(`${validateBundle}.cache`)) {
  process.stderr.write(`validate code cache not written (exit ${cacheRun.status}): ${cacheRun.stderr}\n`);
}
