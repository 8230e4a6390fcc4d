/**
 * Proves the real-component harness (test/helpers/real) end to end, against Debian's packages:
 * a Patroni + etcd + HAProxy cluster that fails over when the leader's postmaster is SIGKILLed,
 * seen by the independent writer; a pgBackRest-archiving primary with full/incr backups and
 * pg_basebackup tars; a real Pushgateway; and every stop() leaving no process behind, checked
 * PID by PID. Without the packages or root these suites skip loudly; under
 * DRILLBOOK_REQUIRE_REAL=1 they fail.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { IndependentWriter } from '../../helpers/real/independent-writer.js';
import { PatroniCluster } from '../../helpers/real/patroni-cluster.js';
import { PgBackRestPrimary } from '../../helpers/real/pgbackrest-primary.js';
import { type ProcessRef, httpRequest, isRunning } from '../../helpers/real/processes.js';
import { Pushgateway, parseExposition } from '../../helpers/real/pushgateway.js';
import { binary, checkReal, describeReal, findBinary } from '../../helpers/real/require-real.js';

// Real clusters on a shared 2-core machine: these need more than the global defaults.
const START_MS = 120_000;
const DRILL_MS = 180_000;

function expectAllGone(before: ProcessRef[]): void {
  const alive = before.filter(isRunning);
  expect(alive.map((r) => `${r.pid} ${r.label}`)).toEqual([]);
}

async function queryOn<R extends pg.QueryResultRow>(config: pg.ClientConfig, sql: string): Promise<R[]> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describeReal(['patroni', 'etcd', 'haproxy'], 'real Patroni cluster (etcd + 2 × Patroni/PostgreSQL 15 + HAProxy)', () => {
  const cluster = new PatroniCluster();
  let work: string;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-harness-'));
    const info = await cluster.start();
    console.log(`Patroni cluster healthy in ${info.startupMs} ms ${JSON.stringify(info.startupPhases)}`);
  }, START_MS);
  afterAll(async () => {
    await cluster.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  }, START_MS);

  it('comes up healthy: one leader streaming to one replica, HAProxy routing to the leader', async () => {
    const info = cluster.details;
    expect(info.members).toHaveLength(2);
    expect(info.patroniApis).toEqual(info.members.map((m) => m.apiUrl));
    const { leader, replicas } = await cluster.waitHealthy();
    expect(replicas.map((r) => r.name)).toEqual(info.members.filter((m) => m.name !== leader.name).map((m) => m.name));
    expect(await cluster.haproxyUp('primary')).toEqual([leader.name]);
    const [through] = await cluster.queryEndpoint<{ port: number; recovery: boolean; version: string }>("SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery, current_setting('server_version_num') AS version");
    expect(through).toEqual({ port: leader.port, recovery: false, version: expect.stringMatching(/^15/) });
    const [replica] = await cluster.query<{ recovery: boolean }>(replicas[0]!, 'SELECT pg_is_in_recovery() AS recovery');
    expect(replica!.recovery).toBe(true);
    // The settings the failover tests rely on reached the servers.
    const settings = await cluster.query<{ name: string; setting: string }>(leader, "SELECT name, setting FROM pg_settings WHERE name IN ('wal_log_hints', 'synchronous_standby_names', 'listen_addresses')");
    expect(Object.fromEntries(settings.map((s) => [s.name, s.setting]))).toEqual({ wal_log_hints: 'on', synchronous_standby_names: '', listen_addresses: '127.0.0.1' });
    const config = JSON.parse((await httpRequest(`${leader.apiUrl}/config`)).body);
    expect(config).toMatchObject({ ttl: 10, loop_wait: 1, retry_timeout: 4, postgresql: { use_pg_rewind: true } });
    expect(config.master_start_timeout ?? config.primary_start_timeout).toBe(0);
  });

  it('a SIGKILL of the leader postmaster moves the leader; independent writers (through HAProxy, and multi-host read-write) see the outage and the resumption', async () => {
    const writer = await IndependentWriter.create({ connection: cluster.endpointConnection(), intervalMs: 20, logFile: path.join(work, 'writer.jsonl') });
    // A second client that connects like libpq's host=a,b target_session_attrs=read-write, no proxy.
    const direct = await IndependentWriter.create({ connection: cluster.memberConnections(), intervalMs: 20 });
    expect(direct.schema).toBe(writer.schema);
    const oldLeader = (await cluster.leader())!;
    writer.start();
    direct.start();
    let killAt = 0;
    let newLeaderName = '';
    try {
      await Promise.all([writer.waitForAcks(25), direct.waitForAcks(25)]);
      const postmaster = cluster.postmaster(oldLeader.name);
      expect(postmaster, 'the leader has a postmaster').toBeDefined();
      killAt = performance.timeOrigin + performance.now();
      process.kill(postmaster!.pid, 'SIGKILL');
      const newLeader = await cluster.waitLeader({ notName: oldLeader.name, timeoutMs: 60_000 });
      newLeaderName = newLeader.name;
      expect(newLeader.port).not.toBe(oldLeader.port);
      await Promise.all([writer.waitForAcks(50, 30_000), direct.waitForAcks(50, 30_000)]);
    } finally {
      await Promise.all([writer.stop(), direct.stop()]);
    }
    const newLeader = cluster.member(newLeaderName);

    for (const [name, w] of [
      ['haproxy', writer],
      ['multi-host', direct],
    ] as const) {
      // Client side: exactly one outage with failed writes, around the kill, that resumed on the new leader.
      const outages = w.outages().filter((o) => o.failedWrites > 0);
      expect(outages, `${name}: ${JSON.stringify(w.outages())}`).toHaveLength(1);
      const outage = outages[0]!;
      expect(outage.lastAckBefore!.serverPort).toBe(oldLeader.port);
      expect(outage.stoppedAt).toBeGreaterThan(killAt - 1_000);
      expect(outage.stoppedAt).toBeLessThan(killAt + 1_000);
      expect(outage.firstFailure!.sentAt).toBeGreaterThan(killAt - 1_000);
      expect(outage.resumedAt).toBeGreaterThan(killAt);
      expect(outage.firstAckAfter!.serverPort).toBe(newLeader.port);
      expect(outage.durationMs).toBeGreaterThan(100);
      expect(outage.durationMs).toBeLessThan(45_000);
      // Every acknowledgement after the resumption came from the new leader.
      const after = w.acknowledged().filter((r) => r.ackAt! >= outage.resumedAt!);
      expect(after.length).toBeGreaterThanOrEqual(50);
      expect(new Set(after.map((r) => r.serverPort))).toEqual(new Set([newLeader.port]));
      expect(w.records().filter((r) => r.newConnection).length).toBeGreaterThan(1); // it reconnected

      // Data side: what the new leader holds. With asynchronous replication a write acknowledged
      // just before the kill may be lost, but only one the old leader acknowledged, and never one
      // the new leader acknowledged.
      const report = await w.missingAcknowledged(cluster.connection(newLeader));
      expect(report.acknowledged).toBe(w.acknowledged().length);
      expect(report.found + report.missing.length).toBe(report.acknowledged);
      for (const lost of report.missing) {
        expect(lost.serverPort).toBe(oldLeader.port);
        expect(lost.ackAt!).toBeGreaterThan(killAt - 5_000);
      }
      console.log(
        `failover (${name} writer): outage ${outage.durationMs!.toFixed(0)} ms (kill → resumed ${(outage.resumedAt! - killAt).toFixed(0)} ms, last ack ${(outage.stoppedAt - killAt).toFixed(0)} ms after the kill), ${outage.failedWrites} failed writes, ${report.missing.length} acknowledged writes lost, ${w.skipped} ticks skipped, ${oldLeader.name} → ${newLeader.name}; errors ${JSON.stringify(w.errorKinds())}`,
      );
    }
    // Two writers, two runs, one table: each finds only its own rows.
    expect(writer.runId).not.toBe(direct.runId);
    // Its own log has one line per write plus start and stop.
    const lines = fs.readFileSync(path.join(work, 'writer.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(writer.records().length + 2);
    expect(JSON.parse(lines[1]!)).toMatchObject({ seq: expect.any(Number), sentAt: expect.any(Number) });

    // The old leader re-joins as a replica (crash recovery + pg_rewind) and the cluster is whole again.
    const healthy = await cluster.waitHealthy({ timeoutMs: 90_000 });
    expect(healthy.leader.name).toBe(newLeader.name);
    expect(healthy.replicas.map((r) => r.name)).toEqual([oldLeader.name]);
    await writer.dropSchema();
    expect(await cluster.queryEndpoint("SELECT 1 FROM pg_namespace WHERE nspname = 'independent_writer'")).toEqual([]);
  }, DRILL_MS);

  it('switchover() through the REST API moves the leader back to the node that led before', async () => {
    const before = await cluster.waitLeader();
    const candidate = cluster.members.find((m) => m.name !== before.name)!.name;
    const healthy = await cluster.switchover(candidate);
    expect(healthy.leader.name).toBe(candidate);
    expect(healthy.replicas.map((r) => r.name)).toEqual([before.name]);
    expect((await cluster.leader())!.name).toBe(candidate);
  }, DRILL_MS);

  it('stop() stops every process by PID and leaves no port or directory', async () => {
    const before = cluster.processes();
    const labels = before.map((p) => p.label);
    expect(labels).toEqual(expect.arrayContaining(['etcd', 'haproxy', 'patroni node1', 'patroni node2']));
    expect(labels.filter((l) => l.startsWith('postmaster of')).length).toBe(2);
    expect(before.length).toBeGreaterThan(10); // postmasters' children too
    const { root, haproxy, members, etcd } = cluster.details;
    const stopped = await cluster.stop();
    expect(stopped.length).toBeGreaterThanOrEqual(before.length - 2);
    expectAllGone([...before, ...stopped]);
    expect(fs.existsSync(root)).toBe(false);
    for (const port of [haproxy.port, haproxy.replicaPort, new URL(etcd.url).port, ...members.flatMap((m) => [m.port, new URL(m.apiUrl).port])]) {
      expect(await portAccepts(Number(port)), `port ${port}`).toBe(false);
    }
    expect(await cluster.stop()).toEqual([]); // idempotent
  }, START_MS);
});

describeReal('pgbackrest', 'real pgBackRest primary (PostgreSQL 15 archiving with pgBackRest)', () => {
  const primary = new PgBackRestPrimary({ archiveTimeout: '2s' });

  beforeAll(async () => {
    const info = await primary.start();
    console.log(`pgBackRest primary ready (stanza created, check passed) in ${info.startupMs} ms`);
  }, START_MS);
  afterAll(() => primary.stop(), START_MS);

  it('archives through pgbackrest archive-push and the cp archive at once', async () => {
    const { archiveCommand, walArchiveDir } = primary.details;
    const [row] = await primary.query<{ command: string; timeout: string; mode: string }>("SELECT current_setting('archive_command') AS command, current_setting('archive_timeout') AS timeout, current_setting('archive_mode') AS mode");
    expect(row).toEqual({ command: archiveCommand, timeout: '2s', mode: 'on' });
    expect(archiveCommand).toMatch(/pgbackrest .*archive-push %p/);
    const file = await primary.archiveCurrentWal();
    expect(fs.existsSync(path.join(walArchiveDir, file))).toBe(true);
    const [stanza] = await primary.info();
    expect(stanza!.archive[0]!.max! >= file).toBe(true);
  });

  it('a full backup, then an incremental one, appear in pgbackrest info', async () => {
    await primary.query('CREATE TABLE harness_rows AS SELECT g AS id FROM generate_series(1, 1000) g');
    const full = await primary.backup('full');
    expect(full.type).toBe('full');
    await primary.query('INSERT INTO harness_rows SELECT g FROM generate_series(1001, 2000) g');
    const incr = await primary.backup('incr');
    expect(incr.type).toBe('incr');
    expect(incr.prior).toBe(full.label);
    const [stanza] = await primary.info();
    expect(stanza!.name).toBe(primary.stanza);
    expect(stanza!.status.code).toBe(0);
    expect(stanza!.backup.map((b) => [b.label, b.type])).toEqual([
      [full.label, 'full'],
      [incr.label, 'incr'],
    ]);
    expect(full.info.size).toBeGreaterThan(1_000_000);
    expect(full.archive.start).toMatch(/^[0-9A-F]{24}$/);
    // gz is pgBackRest's default compression: the repo's files say so.
    const backupDir = path.join(primary.details.repoPath, 'backup', primary.stanza, full.label, 'pg_data');
    expect(fs.readdirSync(backupDir)).toContain('PG_VERSION.gz');

    // The backups restore: a bare `pgbackrest restore` of the latest set plus archived WAL,
    // started as a copy, holds every row committed before the WAL was archived.
    await primary.query('INSERT INTO harness_rows SELECT g FROM generate_series(2001, 2500) g');
    await primary.archiveCurrentWal();
    const target = primary.scratchDir('restore-latest');
    const restoreStarted = Date.now();
    await primary.pgbackrest(['restore', `--pg1-path=${target}`, '--archive-mode=off']);
    const restoreMs = Date.now() - restoreStarted;
    const copy = await primary.startCopy(target);
    console.log(`bare pgbackrest restore ${restoreMs} ms, then start + recovery ${copy.readyMs} ms`);
    try {
      const [row] = await primary.query<{ n: string }>('SELECT count(*) AS n FROM harness_rows');
      const [restored] = await queryOn<{ n: string; port: number }>(copy.connection, 'SELECT count(*) AS n, inet_server_port() AS port FROM harness_rows');
      expect(restored).toEqual({ n: row!.n, port: copy.port });
      expect(row!.n).toBe('2500');
    } finally {
      const before = [copy.ref];
      await copy.stop();
      expectAllGone(before);
    }
  }, DRILL_MS);

  it('archive_timeout can be changed at run time', async () => {
    await primary.setArchiveTimeout('3s');
    expect(primary.archiveTimeout).toBe('3s');
    const [row] = await primary.query<{ timeout: string }>("SELECT current_setting('archive_timeout') AS timeout");
    expect(row!.timeout).toBe('3s');
  });

  it('pg_basebackup: tar.gz (base + pg_wal) beside the cp WAL archive, and the other compressions and plain', async () => {
    const tarGz = await primary.pgBaseBackupTar({ compress: 'gzip', format: 'tar' });
    expect(tarGz.files).toEqual(expect.arrayContaining(['base.tar.gz', 'pg_wal.tar.gz', 'backup_manifest']));
    expect(tarGz).toMatchObject({ baseTar: 'base.tar.gz', walTar: 'pg_wal.tar.gz' });
    const listing = execFileSync('tar', ['-tzf', path.join(tarGz.dir, 'base.tar.gz')], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\n');
    expect(listing).toEqual(expect.arrayContaining(['PG_VERSION', 'backup_label', 'postgresql.conf']));
    expect(execFileSync('tar', ['-xzOf', path.join(tarGz.dir, 'base.tar.gz'), 'PG_VERSION'], { encoding: 'utf8' }).trim()).toBe('15');
    expect(tarGz.walArchiveDir).toBe(primary.details.walArchiveDir);
    const segment = await primary.archiveCurrentWal();
    expect(fs.readdirSync(tarGz.walArchiveDir)).toContain(segment);

    const lz4 = await primary.pgBaseBackupTar({ compress: 'lz4', format: 'tar' });
    // PostgreSQL 15 compresses the streamed WAL only with gzip: pg_wal.tar stays plain here.
    expect(lz4).toMatchObject({ baseTar: 'base.tar.lz4', walTar: 'pg_wal.tar' });
    expect(lz4.files).toEqual(expect.arrayContaining(['base.tar.lz4', 'pg_wal.tar']));
    const zstd = await primary.pgBaseBackupTar({ compress: 'zstd', format: 'tar' });
    expect(zstd).toMatchObject({ baseTar: 'base.tar.zst', walTar: 'pg_wal.tar' });
    if (checkReal('zstd').available) {
      const tar = execFileSync(binary('zstd'), ['-dc', path.join(zstd.dir, 'base.tar.zst')], { maxBuffer: 512 * 1024 * 1024 });
      expect(tar.includes(Buffer.from('PG_VERSION'))).toBe(true);
    }
    const plain = await primary.pgBaseBackupTar({ compress: 'none', format: 'plain' });
    expect(fs.readFileSync(path.join(plain.dir, 'PG_VERSION'), 'utf8').trim()).toBe('15');
    expect(fs.existsSync(path.join(plain.dir, 'backup_label'))).toBe(true);
    const plainLz4 = await primary.pgBaseBackupTar({ compress: 'lz4', format: 'plain' });
    expect(fs.existsSync(path.join(plainLz4.dir, 'backup_label'))).toBe(true);
  }, DRILL_MS);

  it('stop() stops the postmaster and its children by PID and removes everything', async () => {
    const before = primary.processes();
    expect(before.length).toBeGreaterThan(4);
    const { root, port } = primary.details;
    const stopped = await primary.stop();
    expectAllGone([...before, ...stopped]);
    expect(fs.existsSync(root)).toBe(false);
    expect(await portAccepts(port)).toBe(false);
  }, START_MS);
});

describeReal('pushgateway', 'real Prometheus Pushgateway', () => {
  const gateway = new Pushgateway();
  beforeAll(async () => {
    const info = await gateway.start();
    console.log(`pushgateway ready in ${info.startupMs} ms`);
  }, START_MS);
  afterAll(() => gateway.stop());

  it('accepts a push and serves it on /metrics', async () => {
    await gateway.push('drillbook_harness', '# TYPE drillbook_harness_rto_seconds gauge\ndrillbook_harness_rto_seconds{scenario="a \\"b\\""} 1.25\n', { grouping: { instance: 'ci' } });
    const text = await gateway.metrics();
    expect(text).toContain('drillbook_harness_rto_seconds');
    const [sample] = await gateway.samples('drillbook_harness_rto_seconds');
    expect(sample).toEqual({ name: 'drillbook_harness_rto_seconds', labels: { instance: 'ci', job: 'drillbook_harness', scenario: 'a "b"' }, value: 1.25 });
    expect(parseExposition(text).some((s) => s.name === 'push_time_seconds' && s.labels.job === 'drillbook_harness')).toBe(true);
    await gateway.wipe();
    expect(await gateway.samples('drillbook_harness_rto_seconds')).toEqual([]);
  });

  it('stop() stops it by PID', async () => {
    const before = gateway.processes();
    expect(before).toHaveLength(1);
    const { port } = gateway.details;
    await gateway.stop();
    expectAllGone(before);
    expect(await portAccepts(port)).toBe(false);
  });
});

it('require-real resolves binaries and names the package that is missing', () => {
  expect(findBinary('sh')).toMatch(/\/sh$/);
  expect(findBinary('drillbook-no-such-binary')).toBeUndefined();
  expect(() => binary('patronictl-no-such')).toThrow(/not installed/);
  if (!findBinary('haproxy')) expect(checkReal('haproxy').reasons.join()).toMatch(/haproxy: haproxy not found \(apt-get install haproxy\)/);
  expect(checkReal('patroni').reasons.every((r) => /^(patroni|postgres): /.test(r))).toBe(true);
});

it('the harness is independent of drillbook: nothing in test/helpers/real imports its code', () => {
  const dir = path.join(import.meta.dirname, '../../helpers/real');
  const repo = path.resolve(import.meta.dirname, '../../..');
  const violations: string[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const match of text.matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
      const specifier = match[1]!;
      if (!specifier.startsWith('.')) continue;
      const target = path.relative(repo, path.resolve(dir, specifier));
      if (!target.startsWith(path.join('test', 'helpers', 'real'))) violations.push(`${file} imports ${specifier}`);
    }
  }
  expect(violations).toEqual([]);
});
