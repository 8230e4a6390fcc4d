/**
 * The driver pointed at an existing self-managed PostgreSQL (here, servers the test starts):
 * user-supplied fault and recovery commands with their output captured, secrets masked in
 * everything the drill records, and a parallel restore from a real base backup + WAL archive
 * whose copy is destroyed and the destruction verified.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBaseBackup } from '../../runners/drivers/postgres/backup.js';
import { connect } from '../../runners/drivers/postgres/server.js';
import { runDrill } from '../../runners/engine.js';
import { outstandingDeferred } from '../../runners/deferred.js';
import { runDueDeferred } from '../../runners/recover.js';
import { verifyBundle } from '../../reports/evidence.js';
import { databaseUser, isPortFree, processesMentioning } from '../../runners/system.js';
import { loadForRun, writeScenario } from '../helpers/drill-files.js';
import { EXIT_CODES } from '../../runners/engine.js';
import { COUNTED_OUTCOMES } from '../../reports/coverage.js';
import { readProbes } from '../../reports/evidence-files.js';
import { type TestCluster, sharedTempDir, startTestCluster } from '../helpers/pg-cluster.js';

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('an existing PostgreSQL server', () => {
  let cluster: TestCluster;
  let work: string;

  beforeAll(async () => {
    cluster = await startTestCluster({ archive: true });
    work = sharedTempDir('drillbook-existing-');
  });
  afterAll(async () => {
    await cluster?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs command faults and recovery, captures their output and masks secrets', async () => {
    const pidFile = path.join(cluster.primary.dataDir, 'postmaster.pid');
    const file = writeScenario(path.join(work, 'commands'), 'command-failover', {
      type: 'failover',
      target: { driver: 'postgres', primary: { port: cluster.primary.port, password: { env: cluster.passwordEnv } } },
      faults: [{ type: 'command', command: `echo "connecting with $${cluster.passwordEnv}"; kill -STOP $(head -1 ${pidFile})`, undo: `kill -CONT $(head -1 ${pidFile})` }],
      recovery: { action: 'command', command: `kill -CONT $(head -1 ${pidFile})`, after: '500ms' },
      probes: { interval: '100ms', timeout: '400ms', stableFor: 2, maxWait: '30s', heartbeat: { interval: '100ms', warmup: '300ms' } },
    });
    const evidence = path.join(work, 'evidence-commands');
    const result = await runDrill(await loadForRun(file), { evidenceDir: evidence, scratchRoot: work });
    expect(result.record.outcome, result.record.error ?? '').toBe('passed');
    const captured = fs.readFileSync(path.join(result.runDir, 'attachments', 'fault-command.txt'), 'utf8');
    expect(captured).toContain('connecting with [secret]');
    for (const f of filesUnder(evidence)) expect(fs.readFileSync(f, 'utf8'), f).not.toContain(cluster.password);
    // Detection (first failed probe) comes before the recovery command, which comes before recovery.
    const phases = result.record.measured.rto!.phases.map((p) => p.secondsAfterT0);
    expect(phases).toEqual([...phases].sort((a, b) => a - b));
    expect(result.record.measured.rto!.seconds).toBeGreaterThanOrEqual(0.5);
  });

  it('restores a base backup + WAL archive into a copy that matches the source, then destroys it', async () => {
    const admin = await connect(cluster.primary);
    const backupDir = path.join(work, 'base-backup');
    try {
      await admin.query('CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, amount_cents int NOT NULL)');
      await admin.query("INSERT INTO orders (customer, amount_cents) SELECT 'c' || g, g FROM generate_series(1, 5000) g");
      await takeBaseBackup(admin, cluster.primary.dataDir, backupDir, databaseUser());
      await admin.query("INSERT INTO orders (customer, amount_cents) SELECT 'late' || g, g FROM generate_series(1, 1000) g");
      await admin.query('SELECT pg_switch_wal()');
    } finally {
      await admin.end();
    }
    const target = {
      driver: 'postgres',
      primary: { port: cluster.primary.port, password: { env: cluster.passwordEnv } },
      backup: { baseBackupDir: backupDir, walArchiveDir: cluster.archiveDir },
    };
    const file = writeScenario(path.join(work, 'restore'), 'existing-restore', {
      type: 'parallel-restore',
      target,
      restore: { restoreTo: 'latest', masking: 'none: synthetic test data' },
      probes: { interval: '100ms', stableFor: 1, maxWait: '60s', heartbeat: { interval: '100ms', warmup: '3s' } },
      checks: [
        { type: 'row-count', name: 'orders up to the restore point', table: 'orders', key: 'id', compareWithSource: true, min: 6000 },
        { type: 'checksum', name: 'orders checksum', table: 'orders', key: 'id', columns: ['id', 'customer', 'amount_cents'] },
      ],
    });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-restore'), scratchRoot: work });
    const { record } = result;
    expect(record.outcome, record.error ?? JSON.stringify(record.checks)).toBe('passed');
    expect(record.checks.map((c) => c.passed)).toEqual([true, true]);
    expect(Number(record.checks[0]!.actual)).toBeGreaterThanOrEqual(6000);
    const copy = record.restoredCopy!;
    expect(copy.masking).toBe('none: synthetic test data');
    expect(copy.deletion!.verification.every((v) => v.passed)).toBe(true);
    expect(await isPortFree(copy.port)).toBe(true);
    expect(fs.readdirSync(work).filter((d) => d.startsWith('drillbook-restore-'))).toEqual([]);
    expect(processesMentioning(path.join(work, 'drillbook-restore-'))).toEqual([]);
    expect(record.measured.rpo!.lowerBoundOnly).toBe(false);
    // The copy is another server by design: no "server changed behind" production's endpoint.
    expect(record.measured.rto!.identityChanges ?? [], JSON.stringify(record.measured.rto!.identityChanges)).toEqual([]);

    // Point in time: a batch committed after the target must not be in the copy.
    const source = await connect(cluster.primary);
    let target2: string;
    try {
      target2 = (await source.query<{ at: string }>("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at")).rows[0]!.at;
      await new Promise((r) => setTimeout(r, 300));
      await source.query("INSERT INTO orders (customer, amount_cents) SELECT 'after-target' || g, g FROM generate_series(1, 500) g");
      await source.query('SELECT pg_switch_wal()');
    } finally {
      await source.end();
    }
    await new Promise((r) => setTimeout(r, 1500)); // archive_timeout 1s: the segment reaches the archive
    const pitrFile = writeScenario(path.join(work, 'pitr'), 'existing-pitr', {
      type: 'parallel-restore',
      target,
      restore: { restoreTo: target2 },
      probes: { interval: '100ms', stableFor: 1, maxWait: '60s', heartbeat: { interval: '100ms', warmup: '200ms' } },
      checks: [{ type: 'sql', name: 'nothing committed after the target', query: "SELECT count(*) FROM orders WHERE customer LIKE 'after-target%'", expect: 0 }],
    });
    const pitr = await runDrill(await loadForRun(pitrFile), { evidenceDir: path.join(work, 'evidence-restore'), scratchRoot: work });
    expect(pitr.record.outcome, pitr.record.error ?? JSON.stringify(pitr.record.checks)).toBe('passed');
    expect(pitr.record.restoredCopy!.restorePoint).toBe(target2);
    expect(pitr.record.measured.rpo).toBeNull();

    // A declared keep: the copy outlives the run until its deadline, then `recover` destroys
    // it and records the verified deletion in the deferred register.
    const evidence = path.join(work, 'evidence-keep');
    const keepFile = writeScenario(path.join(work, 'keep'), 'existing-keep', {
      type: 'parallel-restore',
      target,
      restore: { restoreTo: 'latest', keep: '15s', reason: 'forensic comparison by the DBA team' },
      probes: { interval: '100ms', stableFor: 1, maxWait: '60s', heartbeat: { interval: '100ms', warmup: '3s' } },
    });
    const kept = await runDrill(await loadForRun(keepFile), { evidenceDir: evidence, scratchRoot: work });
    expect(kept.exitCode, kept.record.error ?? '').toBe(0);
    expect(kept.record.teardown.undos.find((u) => u.description.startsWith('destroy the restored copy'))?.status).toBe('deferred');
    const keptPort = kept.record.restoredCopy!.port;
    expect(await isPortFree(keptPort), 'the kept copy is still serving').toBe(false);
    expect((await runDueDeferred(evidence)).map((d) => d.status)).toEqual(['kept']);
    const [entry] = outstandingDeferred(evidence);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(entry!.notBefore) - Date.now() + 50)));
    const due = await runDueDeferred(evidence);
    expect(due.map((d) => d.status)).toEqual(['done']);
    expect(await isPortFree(keptPort)).toBe(true);
    expect(fs.readdirSync(work).filter((d) => d.startsWith('drillbook-restore-'))).toEqual([]);
    const register = fs.readFileSync(path.join(evidence, 'deferred.jsonl'), 'utf8');
    expect(register).toMatch(/"t":"done".*"verification"/);
    expect(await runDueDeferred(evidence)).toEqual([]);
    expect((await verifyBundle(kept.runDir)).ok).toBe(true);

    // The source kept running and the drill left nothing in it: its schema is gone.
    const check = await connect(cluster.primary);
    try {
      const { rows } = await check.query(`SELECT to_regnamespace('drillbook') IS NULL AS gone`);
      expect(rows[0].gone).toBe(true);
    } finally {
      await check.end();
    }
  });

  it('calls a drill whose fault had no observable effect inconclusive, and leaves no trace', async () => {
    const file = writeScenario(path.join(work, 'no-effect'), 'no-effect', {
      type: 'failover',
      target: { driver: 'postgres', primary: { port: cluster.primary.port, password: { env: cluster.passwordEnv } } },
      faults: [{ type: 'command', command: 'true' }],
      recovery: { action: 'none' },
      probes: { interval: '100ms', timeout: '400ms', stableFor: 2, maxWait: '10s', heartbeat: { interval: '100ms', warmup: '300ms' } },
    });
    const schemaGone = async () => {
      const client = await connect(cluster.primary);
      try {
        return (await client.query(`SELECT to_regnamespace('drillbook') IS NULL AS gone`)).rows[0].gone as boolean;
      } finally {
        await client.end();
      }
    };
    expect(await schemaGone()).toBe(true);
    const { record, runDir } = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-no-effect'), scratchRoot: work });
    expect(record.outcome, record.error ?? '').toBe('inconclusive');
    expect(EXIT_CODES[record.outcome]).toBe(1);
    expect(record.verdict.rto).toBe('inconclusive');
    expect(record.disruption).toMatchObject({ observed: false });
    expect(record.findings.map((f) => f.title)).toContain('The fault had no observable effect');
    expect(COUNTED_OUTCOMES.has(record.outcome)).toBe(false);
    // Every attempt before and after T0 succeeded; the probes ran through the fault without a gap.
    const attempts = await readProbes(runDir);
    expect(attempts.every((a) => a.ok)).toBe(true);
    const starts = attempts.filter((a) => a.probe === 'observe:primary').map((a) => a.startMono).sort((a, b) => a - b);
    expect(starts.some((m) => m < record.t0!.mono) && starts.some((m) => m > record.t0!.mono)).toBe(true);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeLessThan(100 + 60);

    // Leave no trace: the schema was created once for the run, and dropped (verified) at teardown.
    expect(record.timeline.filter((e) => e.event.startsWith('created schema drillbook'))).toHaveLength(1);
    const deletion = record.teardown.deletions.find((d) => d.what.startsWith('schema drillbook'));
    expect(deletion?.verification.every((v) => v.passed)).toBe(true);
    expect(await schemaGone()).toBe(true);

    // A schema that existed before the run is kept, with what was in it; only what the run added goes.
    const admin = await connect(cluster.primary);
    await admin.query('CREATE SCHEMA drillbook; CREATE TABLE drillbook.keep_me (x int)');
    try {
      const again = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-no-effect'), scratchRoot: work });
      expect(again.record.teardown.complete).toBe(true);
      const { rows } = await admin.query(`SELECT to_regclass('drillbook.keep_me') IS NOT NULL AS kept, to_regclass('drillbook.heartbeat') IS NULL AS hb_gone, to_regclass('drillbook.probe') IS NULL AS probe_gone`);
      expect(rows[0]).toEqual({ kept: true, hb_gone: true, probe_gone: true });
      expect(again.record.teardown.deletions.map((d) => d.what).join()).toMatch(/drillbook\.heartbeat, drillbook\.probe \(created by this run\)/);
    } finally {
      await admin.query('DROP SCHEMA drillbook CASCADE');
      await admin.end();
    }
  });
});

describe('guardrails', () => {
  let cluster: TestCluster;
  let work: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    work = sharedTempDir('drillbook-guardrail-');
  });
  afterAll(async () => {
    await cluster?.destroy();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('aborts a drill that outlives maxDuration and undoes its fault', async () => {
    const file = writeScenario(path.join(work, 'slow'), 'too-slow', {
      type: 'failover',
      target: { driver: 'postgres', primary: { port: cluster.primary.port, password: { env: cluster.passwordEnv }, dataDir: cluster.primary.dataDir } },
      faults: [{ type: 'pause-primary', duration: '60s' }],
      recovery: { action: 'none' },
      probes: { interval: '100ms', timeout: '300ms', stableFor: 1, maxWait: '2m', heartbeat: { interval: '100ms', warmup: '200ms' } },
      guardrails: { maxDuration: '3s' },
    });
    const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
    expect(result.exitCode).toBe(3);
    expect(result.record.outcome).toBe('aborted');
    expect(result.record.abort?.reason).toMatch(/maxDuration 3s/);
    expect(result.record.teardown.undos.find((u) => u.description.startsWith('SIGCONT'))?.status).toBe('done');
    // The paused server answers again: the undo really ran.
    const client = await connect(cluster.primary, 2_000);
    await client.query('SELECT 1');
    await client.end();
  });
});
