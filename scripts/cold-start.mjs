#!/usr/bin/env node
/**
 * Cold start, measured side by side: `node -e 0` against `drillbook validate` on the sample
 * plan and the two PostgreSQL drills: through bin/drillbook.js (its fast path), through the
 * full CLI's ES module bundle, and through tsc's dist/bin (what ran before any bundling).
 * Interleaved runs, medians reported, so a busy machine slows them all alike.
 * Usage: node scripts/cold-start.mjs [runs]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const samples = path.join(root, 'scenarios', 'samples');
const files = ['plan.yaml', 'orders-db-failover.yaml', 'orders-db-restore.yaml'].map((f) => path.join(samples, f));
const runs = Number(process.argv[2] ?? 15);

const viaMain = (entry) => [process.execPath, '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(entry)}); process.exitCode = await main(${JSON.stringify(['validate', ...files])});`];

export const COMMANDS = {
  'node -e 0': [process.execPath, '-e', '0'],
  // What users run: the launcher's fast path (CommonJS bundle + V8 code cache).
  'drillbook validate': [process.execPath, path.join(root, 'bin', 'drillbook.js'), 'validate', ...files],
  // The full CLI's ES module bundle, and tsc's output as it ran before any bundling.
  'ESM bundle (full CLI)': viaMain(path.join(root, 'dist', 'bundle', 'cli.js')),
  'tsc output (unbundled)': viaMain(path.join(root, 'dist', 'bin', 'cli.js')),
};

/**
 * Wall time, and CPU time (user + system, from GNU time when it is installed): on a machine
 * shared with other work the CPU time is the steadier figure of the two.
 */
const GNU_TIME = '/usr/bin/time';
const hasGnuTime = spawnSync(GNU_TIME, ['-f', '%U', 'true']).status === 0;

function once(argv) {
  const start = process.hrtime.bigint();
  const command = hasGnuTime ? [GNU_TIME, '-f', 'CPU %U %S', ...argv] : argv;
  const result = spawnSync(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${argv.join(' ')} exited ${result.status}: ${result.stderr}`);
  const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr.toString());
  return { wallMs, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The launcher takes its fast path only with a bundle at least as new as tsc's output. */
function assertBundleFresh() {
  const at = (f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : -1);
  const compiled = at(path.join(root, 'dist', 'bin', 'cli.js'));
  for (const f of ['validate.cjs', 'validate.cjs.cache', 'cli.js']) {
    if (at(path.join(root, 'dist', 'bundle', f)) < compiled) throw new Error(`dist/bundle/${f} is older than tsc's output (or missing): run \`npm run build\` first, or the figures measure the fallback`);
  }
}

export function measure(count = runs) {
  assertBundleFresh();
  const samples = Object.fromEntries(Object.keys(COMMANDS).map((k) => [k, []]));
  for (const argv of Object.values(COMMANDS)) once(argv); // warm the file cache
  for (let i = 0; i < count; i++) for (const [name, argv] of Object.entries(COMMANDS)) samples[name].push(once(argv));
  const base = samples['node -e 0'];
  const baseWall = median(base.map((s) => s.wallMs));
  const baseCpu = median(base.map((s) => s.cpuMs));
  return Object.entries(samples).map(([name, xs]) => {
    const wallMs = median(xs.map((s) => s.wallMs));
    const cpuMs = median(xs.map((s) => s.cpuMs));
    return { name, wallMs, cpuMs, wallRatio: wallMs / baseWall, cpuRatio: cpuMs / baseCpu };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`${'command'.padEnd(24)} ${'wall'.padStart(8)} ${'ratio'.padStart(6)} ${'CPU'.padStart(8)} ${'ratio'.padStart(6)}   (medians of ${runs})`);
  for (const r of measure()) console.log(`${r.name.padEnd(24)} ${`${r.wallMs.toFixed(0)} ms`.padStart(8)} ${`${r.wallRatio.toFixed(2)}×`.padStart(6)} ${`${r.cpuMs.toFixed(0)} ms`.padStart(8)} ${`${r.cpuRatio.toFixed(2)}×`.padStart(6)}`);
}
