/**
 * What a restore drill may and may not see (SPEC v1.1, issue 12), against Debian's
 * PostgreSQL 15 and pgBackRest:
 * - a command source replays only the WAL production had archived at T0 (the test lists the
 *   `cp` archive itself at T0, and the independent writer's writes after T0 must be absent);
 * - the heartbeat warm-up is lengthened until production's archiver has a heartbeat in the
 *   archive, so the RPO is established where a short warm-up would leave it a lower bound;
 * - a copy that breaks mid-way (the test breaks it, and knows when) stops the drill within
 *   a second or two, with the FATAL/PANIC line in the error, the timeline and the report.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ProgressListener } from '../../../runners/context.js';
import { runDrill } from '../../../runners/engine.js';
import type { RunRecord, TimelineEvent } from '../../../reports/run-record.js';
import { runCli } from '../../helpers/cli.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { IndependentWriter } from '../../helpers/real/independent-writer.js';
import { PgBackRestPrimary } from '../../helpers/real/pgbackrest-primary.js';
import { describeReal } from '../../helpers/real/require-real.js';

const DRILL_MS = 240_000;
const PASSWORD_ENV = 'DRILLBOOK_TEST_RESTORE_T0_PW';
const SEGMENT = /^[0-9A-F]{24}$/;

function event(record: RunRecord, name: string | RegExp): TimelineEvent | undefined {
  return record.timeline.find((e) => (typeof name === 'string' ? e.event === name : name.test(e.event)));
}

function reportText(runDir: string): string {
  return fs.readdirSync(runDir).filter((f) => /\.(md|html)$/.test(f)).map((f) => fs.readFileSync(path.join(runDir, f), 'utf8')).join('\n');
}

describeReal(['postgres', 'pgbackrest'], 'restore drills see only what the archive held at T0, and stop when the copy breaks (real PostgreSQL 15)', () => {
  const primary = new PgBackRestPrimary({ archiveTimeout: '1s' });
  let work: string;
  let writer: IndependentWriter;

  beforeAll(async () => {
    const info = await primary.start();
    work = primary.scratchDir('work');
    fs.chmodSync(work, 0o755);
    process.env[PASSWORD_ENV] = info.superuser.password;
    await primary.query('CREATE TABLE customers (id bigserial PRIMARY KEY, email text NOT NULL)');
    await primary.query("INSERT INTO customers (email) SELECT 'person' || g || '@example.test' FROM generate_series(1, 3000) g");
    await primary.backup('full');
    writer = await IndependentWriter.started({ connection: primary.connection(), intervalMs: 20 });
  }, 240_000);

  afterAll(async () => {
    await writer?.stop().catch(() => undefined);
    delete process.env[PASSWORD_ENV];
    await primary.stop();
  }, 120_000);

  const pgbackrestRestore = () => `pgbackrest --config=${primary.details.configFile} --stanza=${primary.stanza} restore --pg1-path={dataDir} --archive-mode=off`;

  function scenario(name: string, backup: Record<string, unknown>, options: { warmup?: string; checks?: unknown[]; keep?: boolean } = {}): string {
    return writeScenario(path.join(work, name), name, {
      type: 'parallel-restore',
      target: {
        driver: 'postgres',
        primary: { host: '127.0.0.1', port: primary.details.port, user: 'postgres', database: 'postgres', password: { env: PASSWORD_ENV } },
        backup,
        runAs: 'postgres',
      },
      restore: { restoreTo: 'latest', masking: 'none: synthetic test data', ...(options.keep ? { keep: '1h', reason: 'the test reads the copy' } : {}) },
      probes: { interval: '100ms', timeout: '1s', stableFor: 1, maxWait: '2m', heartbeat: { interval: '100ms', warmup: options.warmup ?? '3s' } },
      checks: options.checks ?? [{ type: 'row-count', name: 'customers match the source', table: 'customers', key: 'id', compareWithSource: true, min: 3000 }],
      guardrails: { maxDuration: '5m' },
    });
  }

  /** The writer's view of the copy: lost writes up to T0, the RPO it sees, and writes after T0 found in it. */
  async function writerTruth(record: RunRecord): Promise<{ rpoSeconds: number; afterT0Present: number; afterT0Acked: number }> {
    const t0 = Date.parse(record.t0!.at);
    const copy = { ...primary.connection(), port: record.restoredCopy!.port };
    const before = await writer.missingAcknowledged(copy, { between: [0, t0] });
    const present = writer.acknowledged().filter((w) => w.sentAt <= t0 && !before.missing.some((m) => m.seq === w.seq));
    const after = await writer.missingAcknowledged(copy, { between: [t0 + 1, Number.MAX_SAFE_INTEGER] });
    return { rpoSeconds: Math.max(0, (t0 - Math.max(...present.map((w) => w.sentAt))) / 1000), afterT0Present: after.found, afterT0Acked: after.acknowledged };
  }

  async function destroyCopy(record: RunRecord): Promise<void> {
    const dataDir = record.restoredCopy!.location.split(' on ')[0]!;
    const { stopServer } = await import('../../../runners/drivers/postgres/server.js');
    await stopServer(dataDir);
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }

  it(
    'a command source replays only the WAL production had archived at T0: no write after T0 is in the copy, and the RPO agrees with the writer',
    async () => {
      const archive = primary.details.walArchiveDir;
      let atT0: string[] = [];
      // The test's own listing of the archive at the instant T0 is recorded (synchronously, in the listener).
      const listener: ProgressListener = { event: (e) => void (e.event.startsWith('T0:') && (atT0 = fs.readdirSync(archive).filter((n) => SEGMENT.test(n)).sort())) };
      const file = scenario('command-limited', { command: { restore: pgbackrestRestore(), restoreCommand: `cp ${archive}/%f "%p"` } }, { keep: true });
      const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-command-limited'), scratchRoot: work, listener });
      const record = result.record;
      expect(record.outcome, record.error ?? '').toBe('passed');
      const limit = event(record, 'WAL limited to what production had archived at T0')!;
      expect(limit, JSON.stringify(record.timeline.map((e) => e.event))).toBeDefined();
      const newest = String(limit.detail!.newestArchived);
      // Read just before T0: the archive as listed at T0 holds it, and at most one segment more.
      expect(atT0).toContain(newest);
      expect(atT0.filter((n) => n > newest).length).toBeLessThanOrEqual(1);
      expect(record.restoredCopy!.safety!.restoreCommand).toMatch(/^grep -qxF "%f" .*archive-at-t0\.list && cp /);
      expect(record.restoredCopy!.safety!.walLimit).toMatch(new RegExp(`through ${newest}, the newest production's archiver reported archived just before T0`));
      // The limit mattered: production went on archiving after T0, and none of it reached the copy.
      const later = fs.readdirSync(archive).filter((n) => SEGMENT.test(n) && n > newest);
      expect(later.length).toBeGreaterThan(0);
      const truth = await writerTruth(record);
      expect(truth.afterT0Acked).toBeGreaterThan(10);
      expect(truth.afterT0Present).toBe(0);
      expect(record.measured.rpo!.lowerBoundOnly).toBe(false);
      expect(Math.abs(record.measured.rpo!.seconds - truth.rpoSeconds), `drill ${record.measured.rpo!.seconds} s vs writer ${truth.rpoSeconds} s`).toBeLessThan(0.25);
      console.log(`command source limited to ${newest} (archive at T0: ${atT0.at(-1)}; ${later.length} segments archived later): RPO ${record.measured.rpo!.seconds} s, writer ${truth.rpoSeconds.toFixed(3)} s`);
      await destroyCopy(record);
    },
    DRILL_MS,
  );

  it(
    'lengthens a 200 ms warm-up until production archived a heartbeat (archive_timeout 4s), so the RPO is established and agrees with the writer',
    async () => {
      await primary.setArchiveTimeout('4s');
      try {
        const file = scenario('warmup', { pgbackrest: { stanza: primary.stanza, config: primary.details.configFile } }, { warmup: '200ms', keep: true });
        const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-warmup'), scratchRoot: work });
        const record = result.record;
        expect(record.outcome, record.error ?? '').toBe('passed');
        const warmup = event(record, 'heartbeat warm-up covers an archive cycle')!;
        expect(warmup, JSON.stringify(record.timeline.map((e) => e.event))).toBeDefined();
        expect(Number(warmup.detail!.lengthenedByMs)).toBeGreaterThan(0);
        expect(Number(warmup.detail!.lengthenedByMs)).toBeLessThan(2 * 4_000 + 10_000);
        // T0 came after the lengthened warm-up, not after 200 ms of heartbeats.
        const steady = event(record, 'steady state confirmed')!;
        expect(Date.parse(record.t0!.at) - Date.parse(steady.at)).toBeGreaterThanOrEqual(Number(warmup.detail!.lengthenedByMs) - 50);
        expect(record.dataIntegrity.notes.some((n) => /^heartbeat warm-up: heartbeat warm-up lengthened from 200ms by .*archive_timeout = 4s/.test(n)), record.dataIntegrity.notes.join('\n')).toBe(true);
        // The ground truth: the copy holds heartbeats, and the writer sees the same loss window.
        expect(record.measured.rpo!.lowerBoundOnly).toBe(false);
        const truth = await writerTruth(record);
        expect(Math.abs(record.measured.rpo!.seconds - truth.rpoSeconds), `drill ${record.measured.rpo!.seconds} s vs writer ${truth.rpoSeconds} s`).toBeLessThan(0.25);
        await destroyCopy(record);
      } finally {
        await primary.setArchiveTimeout('1s');
      }
    },
    DRILL_MS,
  );

  it(
    'a copy whose startup process dies during WAL replay, after it accepted connections, stops the drill within seconds with its FATAL line',
    async () => {
      // WAL to replay after the backup: a new segment per step, each fetched slowly below.
      for (let i = 0; i < 12; i++) {
        await primary.query(`INSERT INTO customers (email) SELECT 'replay${i}-' || g || '@example.test' FROM generate_series(1, 50) g`);
        await primary.archiveCurrentWal();
      }
      const trigger = path.join(work, 'break-replay.trigger');
      fs.rmSync(trigger, { force: true });
      // Exit status > 125 from restore_command is fatal to PostgreSQL's startup process.
      const restoreCommand = `test -f ${trigger} && exit 130; sleep 0.4; cp ${primary.details.walArchiveDir}/%f "%p"`;
      let brokeAt: number | undefined;
      const listener: ProgressListener = {
        // The copy answered a connection while still in recovery (a read-only write probe): break it now.
        probe: (a) => {
          if (brokeAt === undefined && a.probe.includes('restored') && !a.ok && /read-only/.test(a.error ?? '')) {
            fs.writeFileSync(trigger, '');
            brokeAt = Date.now();
          }
        },
      };
      const file = scenario('break-replay', { command: { restore: pgbackrestRestore(), restoreCommand } });
      const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-break-replay'), scratchRoot: work, listener });
      const ended = Date.now();
      const record = result.record;
      expect(brokeAt, 'the copy never accepted a connection during recovery').toBeDefined();
      expect(record.outcome).toBe('failed');
      expect(record.error).toMatch(/postmaster exited: .*FATAL: +could not restore file .* from archive: child process exited with exit code 130/);
      const exited = event(record, 'restored copy exited')!;
      // restore_command runs every ~0.4 s, the postmaster is checked every 100 ms.
      expect(Date.parse(exited.at) - brokeAt!).toBeLessThan(2_000);
      expect(ended - brokeAt!).toBeLessThan(15_000); // teardown included; not probes.maxWait (2 min)
      expect(event(record, 'endpoint ready')).toBeUndefined();
      expect(record.attachments).toContain('attachments/restored-copy.log');
      const runJson = JSON.parse(fs.readFileSync(path.join(result.runDir, 'run.json'), 'utf8')) as RunRecord;
      expect(runJson.attachments).toContain('attachments/restored-copy.log');
      expect(reportText(result.runDir)).toMatch(/FATAL: +could not restore file/);
    },
    DRILL_MS,
  );

  it(
    'a copy that crashes during its data checks, after it was promoted and answered writes, stops the drill within seconds with its PANIC line',
    async () => {
      let brokeAt: number | undefined;
      let breaking: Promise<void> | undefined;
      let copyPort: number | undefined;
      const listener: ProgressListener = {
        event: (e) => {
          if (e.event === 'restored copy started') copyPort = Number(e.detail!.port);
          // Ready and answering writes: while the slow check runs, remove pg_control and checkpoint.
          if (e.event === 'endpoint ready' && !breaking)
            breaking = (async () => {
              const dataDir = fs.readdirSync(work).map((d) => path.join(work, d, 'data')).find((d) => fs.existsSync(path.join(d, 'postmaster.pid')) && fs.readFileSync(path.join(d, 'postmaster.pid'), 'utf8').split('\n')[3] === String(copyPort))!;
              await new Promise((r) => setTimeout(r, 500));
              fs.rmSync(path.join(dataDir, 'global', 'pg_control'));
              brokeAt = Date.now();
              const client = new pg.Client({ ...primary.connection(), port: copyPort });
              client.on('error', () => undefined); // the server it talks to is about to crash
              await client.connect();
              await client.query('CHECKPOINT').catch(() => undefined);
              await client.end().catch(() => undefined);
            })();
        },
      };
      const file = scenario('break-checks', { pgbackrest: { stanza: primary.stanza, config: primary.details.configFile } }, {
        checks: [{ type: 'sql', name: 'a slow check', query: 'SELECT count(*) FROM pg_sleep(20)', expect: 1 }],
      });
      const result = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence-break-checks'), scratchRoot: work, listener });
      const ended = Date.now();
      await breaking;
      const record = result.record;
      expect(brokeAt, 'the copy never became ready').toBeDefined();
      expect(record.outcome).toBe('failed');
      expect(record.error).toMatch(/postmaster exited: .*PANIC: +could not open file .*pg_control/);
      const exited = event(record, 'restored copy exited')!;
      expect(exited.phase).toBe('verify');
      expect(Date.parse(exited.at) - brokeAt!).toBeLessThan(1_500);
      // The 20 s check was not waited for: the drill stopped when the copy died.
      expect(ended - brokeAt!).toBeLessThan(10_000);
      expect(event(record, /^step failed: the restored copy's postmaster exited: .*PANIC/)).toBeDefined();
      expect(record.attachments).toContain('attachments/restored-copy.log');
      expect(reportText(result.runDir)).toMatch(/PANIC: +could not open file/);
    },
    DRILL_MS,
  );

  it(
    'the CLI prints the FATAL line of a copy that died during WAL replay, and exits 1 within seconds of the break',
    async () => {
      // The test's own restore_command wrapper breaks recovery at its 4th call and writes down when.
      const dir = path.join(work, 'cli-break');
      fs.mkdirSync(dir, { recursive: true, mode: 0o777 });
      fs.chmodSync(dir, 0o777);
      const count = path.join(dir, 'calls');
      const brokeFile = path.join(dir, 'broke-at');
      const restoreCommand = `n=$(cat ${count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${count}; if [ $n -ge 4 ]; then [ -f ${brokeFile} ] || date +%s%3N > ${brokeFile}; exit 130; fi; cp ${primary.details.walArchiveDir}/%f "%p"`;
      const file = scenario('cli-break', { command: { restore: pgbackrestRestore(), restoreCommand } });
      const result = await runCli(['run', file, '--evidence', path.join(work, 'evidence-cli-break')], { cwd: work, env: { TMPDIR: work, [PASSWORD_ENV]: process.env[PASSWORD_ENV]! } });
      const ended = Date.now();
      expect(fs.existsSync(brokeFile), `${result.stdout}\n${result.stderr}`).toBe(true);
      const brokeAt = Number(fs.readFileSync(brokeFile, 'utf8').trim());
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(1);
      expect(`${result.stdout}\n${result.stderr}`).toMatch(/problem: the restored copy's postmaster exited: .*FATAL: +could not restore file .* from archive: child process exited with exit code 130/);
      // The process ended (teardown and evidence sealing included) within seconds of the break, not after probes.maxWait.
      expect(ended - brokeAt).toBeLessThan(20_000);
    },
    DRILL_MS,
  );
});
