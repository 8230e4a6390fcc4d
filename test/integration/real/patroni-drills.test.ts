/**
 * Drills against a real Patroni 3 + etcd + HAProxy cluster (Debian's packages, 127.0.0.1,
 * PostgreSQL as `postgres`), graded by an independent writer that writes through the same
 * endpoint every 20 ms and by the harness's own view of the cluster:
 * - the measured RTO lies within its reported bound of the outage the writer saw (from T0 to
 *   the writer's first acknowledged write after it), give or take the writer's own resolution;
 * - the lost-write window agrees with the writer's within one heartbeat interval;
 * - the old and new leader are named as the harness sees them;
 * - kill-primary aimed at the replica's data directory is refused with exit 2, nothing killed.
 * Without root or the packages the suite skips loudly; under DRILLBOOK_REQUIRE_REAL=1 it fails.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../../reports/run-record.js';
import { runDrill } from '../../../runners/engine.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';
import { IndependentWriter } from '../../helpers/real/independent-writer.js';
import { PatroniCluster } from '../../helpers/real/patroni-cluster.js';
import { describeReal } from '../../helpers/real/require-real.js';

const PASSWORD_ENV = 'DRILLBOOK_TEST_PATRONI_PASSWORD';
const HEARTBEAT_MS = 100;
const PROBES = { interval: '250ms', timeout: '1s', stableFor: 2, maxWait: '90s', heartbeat: { interval: `${HEARTBEAT_MS}ms`, warmup: '1s' } };

interface Graded {
  drill: string;
  truthRtoMs: number;
  measuredRtoMs: number;
  boundMs: number;
  /** How late the writer itself can see a resumption: its interval, or its timeout over its in-flight cap while connections hang. */
  writerResolutionMs: number;
  writerLost: number;
  writerWindowMs: number;
  drillLost: number;
  drillRpoMs: number;
}

const graded: Graded[] = [];

/** The writer's truth around T0: the outage that T0 falls in (or that starts after it), and what it lost. */
async function grade(drill: string, record: RunRecord, writer: IndependentWriter, leaderConnection: Parameters<IndependentWriter['missingAcknowledged']>[0]): Promise<Graded> {
  const t0Ms = Date.parse(record.t0!.at);
  const outage = writer
    .outages({ minGapMs: 200 })
    .find((o) => o.resumedAt !== undefined && o.resumedAt > t0Ms && (o.lastAckBefore?.ackAt ?? 0) < t0Ms + 5_000);
  expect(outage, `the writer saw no outage after T0 (${drill})`).toBeDefined();
  const { missing } = await writer.missingAcknowledged(leaderConnection);
  // The writer's lost window: from the newest acknowledged write that survived, before the
  // first lost one, to the last lost one.
  const acked = writer.acknowledged().sort((a, b) => a.sentAt - b.sentAt);
  const missingSeqs = new Set(missing.map((m) => m.seq));
  const firstMissing = missing.sort((a, b) => a.sentAt - b.sentAt)[0];
  const survivedBefore = firstMissing ? acked.filter((a) => a.sentAt < firstMissing.sentAt && !missingSeqs.has(a.seq)).at(-1) : undefined;
  const writerWindowMs = firstMissing && survivedBefore ? missing.at(-1)!.sentAt - survivedBefore.sentAt : 0;
  const g: Graded = {
    drill,
    truthRtoMs: outage!.resumedAt! - t0Ms,
    measuredRtoMs: record.measured.rto!.seconds * 1000,
    boundMs: record.measured.rto!.errorSeconds * 1000,
    writerResolutionMs: Math.max(writer.intervalMs, writer.writeTimeoutMs / writer.maxInFlight),
    writerLost: missing.length,
    writerWindowMs,
    drillLost: record.measured.rpo?.lostWrites ?? -1,
    drillRpoMs: (record.measured.rpo?.seconds ?? NaN) * 1000,
  };
  graded.push(g);
  return g;
}

function scenario(dir: string, name: string, spec: Record<string, unknown>): string {
  return writeScenario(dir, name, { type: 'failover', recovery: { action: 'none' }, probes: PROBES, ...spec });
}

describeReal(['postgres', 'patroni', 'etcd', 'haproxy'], 'drills against a real Patroni cluster', () => {
  const cluster = new PatroniCluster();
  let work: string;
  let evidenceDir: string;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-patroni-drills-'));
    evidenceDir = path.join(work, 'evidence');
    await cluster.start();
    process.env[PASSWORD_ENV] = cluster.details.superuser.password;
  }, 240_000);

  afterAll(async () => {
    delete process.env[PASSWORD_ENV];
    try {
      await cluster.stop();
    } finally {
      if (work) fs.rmSync(work, { recursive: true, force: true });
      // The figures for the report: truth vs measured vs bound per drill.
      for (const g of graded) console.log(`[patroni-drills] ${JSON.stringify(g)}`);
    }
  }, 120_000);

  const haproxyEndpoint = () => ({ host: cluster.details.haproxy.host, port: cluster.details.haproxy.port, password: { env: PASSWORD_ENV } });

  async function drillWithWriter(file: string, connection: Parameters<typeof IndependentWriter.create>[0]['connection'] = cluster.endpointConnection()) {
    const writer = await IndependentWriter.create({ connection });
    writer.start();
    try {
      await writer.waitForAcks(20);
      const result = await runDrill(await loadForRun(file), { evidenceDir, scratchRoot: work });
      await new Promise((r) => setTimeout(r, 500));
      return { ...result, writer };
    } finally {
      await writer.stop();
    }
  }

  it('kill-leader through HAProxy: RTO within its bound of the writer\'s outage, lost writes agree, leaders named', async () => {
    const { leader: before } = await cluster.waitHealthy();
    const file = scenario(path.join(work, 'kill'), 'patroni-kill-leader', {
      target: { driver: 'postgres', endpoint: haproxyEndpoint(), cluster: { patroni: { api: cluster.details.patroniApis } } },
      faults: [{ type: 'kill-leader' }],
    });
    const { record, exitCode, writer } = await drillWithWriter(file);
    expect(record.error, JSON.stringify(record.timeline.slice(-8))).toBeNull();
    expect(exitCode).toBe(0);
    const after = await cluster.waitLeader({ notName: before.name, timeoutMs: 60_000 });
    expect(record.topology?.before).toMatchObject({ name: before.name, host: before.host, port: before.port });
    expect(record.topology?.after).toMatchObject({ name: after.name, host: after.host, port: after.port });
    expect(record.topology!.after!.timeline).toBeGreaterThan(record.topology!.before!.timeline!);
    expect(record.topology!.leaderChanges.map((c) => c.to)).toContain(after.name);
    expect(record.t0!.action).toContain(before.name);
    const g = await grade('kill-leader via HAProxy', record, writer, cluster.connection(after));
    expect(Math.abs(g.measuredRtoMs - g.truthRtoMs), JSON.stringify(g)).toBeLessThanOrEqual(g.boundMs + g.writerResolutionMs);
    expect(Math.abs(g.drillRpoMs - g.writerWindowMs), JSON.stringify(g)).toBeLessThanOrEqual(HEARTBEAT_MS + g.writerResolutionMs);
    await cluster.waitHealthy({ timeoutMs: 120_000 });
  }, 300_000);

  it('switchover through HAProxy to a named replica: bound holds, leaders named, the old leader re-joins', async () => {
    const { leader: before, replicas } = await cluster.waitHealthy({ timeoutMs: 120_000 });
    const to = replicas[0]!.name;
    const file = scenario(path.join(work, 'switchover'), 'patroni-switchover', {
      target: { driver: 'postgres', endpoint: haproxyEndpoint(), cluster: { patroni: { api: cluster.details.patroniApis } } },
      faults: [{ type: 'switchover', to, rejoinWithin: '90s' }],
    });
    const { record, exitCode, writer } = await drillWithWriter(file);
    expect(record.error, JSON.stringify(record.timeline.slice(-8))).toBeNull();
    expect(exitCode).toBe(0);
    expect(record.topology?.before?.name).toBe(before.name);
    expect(record.topology?.after?.name).toBe(to);
    expect((await cluster.leader())?.name).toBe(to);
    const rejoin = record.checks.find((c) => c.type === 'rejoin');
    expect(rejoin, JSON.stringify(record.checks)).toMatchObject({ passed: true });
    const g = await grade('switchover via HAProxy', record, writer, cluster.connection(cluster.member(to)));
    expect(Math.abs(g.measuredRtoMs - g.truthRtoMs), JSON.stringify(g)).toBeLessThanOrEqual(g.boundMs + g.writerResolutionMs);
    expect(g.writerLost, 'a switchover loses no acknowledged write').toBe(0);
    expect(record.measured.rpo?.lostWrites).toBe(0);
    await cluster.waitHealthy({ timeoutMs: 120_000 });
  }, 300_000);

  it('kill-leader through a libpq multi-host endpoint (target_session_attrs=read-write), members as the cluster', async () => {
    const { leader: before } = await cluster.waitHealthy({ timeoutMs: 120_000 });
    const hosts = cluster.members.map((m) => `${m.host}:${m.port}`).join(',');
    const file = scenario(path.join(work, 'multi'), 'members-kill-leader', {
      target: {
        driver: 'postgres',
        endpoint: { host: hosts, targetSessionAttrs: 'read-write', password: { env: PASSWORD_ENV } },
        cluster: { members: cluster.members.map((m) => ({ name: m.name, host: m.host, port: m.port, dataDir: m.dataDir })) },
      },
      faults: [{ type: 'kill-leader' }],
    });
    const { record, exitCode, writer } = await drillWithWriter(file, cluster.memberConnections());
    expect(record.error, JSON.stringify(record.timeline.slice(-8))).toBeNull();
    expect(exitCode).toBe(0);
    const after = await cluster.waitLeader({ notName: before.name, timeoutMs: 60_000 });
    expect(record.topology?.source).toBe('members');
    expect(record.topology?.before?.name).toBe(before.name);
    expect(record.topology?.after?.name).toBe(after.name);
    const g = await grade('kill-leader via multi-host', record, writer, cluster.connection(after));
    expect(Math.abs(g.measuredRtoMs - g.truthRtoMs), JSON.stringify(g)).toBeLessThanOrEqual(g.boundMs + g.writerResolutionMs);
    expect(Math.abs(g.drillRpoMs - g.writerWindowMs), JSON.stringify(g)).toBeLessThanOrEqual(HEARTBEAT_MS + g.writerResolutionMs);
    await cluster.waitHealthy({ timeoutMs: 120_000 });
  }, 300_000);

  it('kill-primary aimed at the replica\'s data directory is refused with exit 2 and nothing is killed (finding 1)', async () => {
    const { leader, replicas } = await cluster.waitHealthy({ timeoutMs: 120_000 });
    const replica = replicas[0]!;
    const replicaPostmaster = cluster.postmaster(replica.name)!;
    const leaderPostmaster = cluster.postmaster(leader.name)!;
    const file = scenario(path.join(work, 'wrong-dir'), 'kill-primary-wrong-dir', {
      target: { driver: 'postgres', primary: { ...haproxyEndpoint(), dataDir: replica.dataDir } },
      faults: [{ type: 'kill-primary' }],
    });
    const { record, exitCode, refused } = await runDrill(await loadForRun(file), { evidenceDir, scratchRoot: work });
    expect(exitCode).toBe(2);
    expect(refused).toMatch(/standby|recovery|replica/);
    expect(record.t0).toBeNull();
    expect(record.outcome).toBe('aborted');
    expect(record.teardown.complete).toBe(true);
    expect(cluster.postmaster(replica.name)?.pid).toBe(replicaPostmaster.pid);
    expect(cluster.postmaster(leader.name)?.pid).toBe(leaderPostmaster.pid);
    expect((await cluster.leader())?.name).toBe(leader.name);
  }, 120_000);
});

describe('an endpoint that cannot be reached before T0 (finding 8)', () => {
  it('is refused with exit 2 naming the host, never exit 4', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-unresolvable-'));
    try {
      const file = scenario(path.join(work, 's'), 'unresolvable-endpoint', {
        target: { driver: 'postgres', endpoint: { host: 'pg-a.invalid:5432,pg-b.invalid:5433', targetSessionAttrs: 'read-write' }, cluster: { members: ['pg-a.invalid:5432', 'pg-b.invalid:5433'] } },
        faults: [{ type: 'kill-leader' }],
      });
      const { record, exitCode, refused } = await runDrill(await loadForRun(file), { evidenceDir: path.join(work, 'evidence'), scratchRoot: work });
      expect(exitCode).toBe(2);
      expect(refused).toContain('pg-a.invalid:5432');
      expect(refused).toContain('unknown host');
      expect(record.t0).toBeNull();
      expect(record.teardown.complete).toBe(true);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);
});
