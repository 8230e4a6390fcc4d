/**
 * Drills against a real Patroni 3 + etcd + HAProxy cluster (Debian's packages, 127.0.0.1,
 * PostgreSQL as `postgres`), graded by an independent writer that writes through the same
 * endpoint every 20 ms and by the harness's own view of the cluster:
 * - the measured RTO lies within its reported bound of the writer's truth: between the last
 *   write that failed and the first write of the writer's stable run (every write sent in the
 *   next 2 s acknowledged). Not its first lucky write: while HAProxy still has the dead leader
 *   UP beside the new one, it routes clients to either at random (seen in its own log: the truth
 *   starts no earlier than HAProxy had stopped routing to the dead leader, `haproxyRoutedMs`);
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
import { loadForRun } from '../../helpers/drill-files.js';
import { type Graded, HEARTBEAT_MS, type HaproxyRouting, PATRONI_PASSWORD_ENV, drillWithWriter as drill, gradeAgainstWriter, haproxyEndpoint as haproxy, patroniScenario as scenario } from '../../helpers/patroni-trial.js';
import type { IndependentWriter } from '../../helpers/real/independent-writer.js';
import { PatroniCluster } from '../../helpers/real/patroni-cluster.js';
import { describeReal } from '../../helpers/real/require-real.js';

const PASSWORD_ENV = PATRONI_PASSWORD_ENV;
const graded: Graded[] = [];

async function grade(name: string, record: RunRecord, writer: IndependentWriter, leader: Parameters<IndependentWriter['missingAcknowledged']>[0], haproxy?: HaproxyRouting): Promise<Graded> {
  const g = await gradeAgainstWriter(name, record, writer, leader, haproxy);
  graded.push(g);
  return g;
}


/**
 * Within the bound of the truth, strictly. While HAProxy has the dead leader and the new one
 * both UP, one probe attempt in the window could land on the new leader and be taken for the
 * recovery (once 279 ms early against a 262 ms bound in CI); the confirming attempts started
 * at once after such a candidate now reach the dead leader too and break it (probe-loop.ts).
 */
function expectWithinBound(g: Graded): void {
  expect(g.withinBound, JSON.stringify(g)).toBe(true);
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

  const haproxyEndpoint = () => haproxy(cluster);
  const drillWithWriter = (file: string, connection: Parameters<typeof drill>[1] = cluster.endpointConnection()) => drill(file, connection, { evidenceDir, scratchRoot: work });

  it('kill-leader through HAProxy: RTO within its bound of the truth, lost writes agree, leaders named', async () => {
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
    const g = await grade('kill-leader via HAProxy', record, writer, cluster.connection(after), { states: cluster.haproxyLog().states, oldLeader: before.name, newLeader: after.name });
    expectWithinBound(g);
    expect(Math.abs(g.drillRpoMs - g.writerWindowMs), JSON.stringify(g)).toBeLessThanOrEqual(HEARTBEAT_MS + g.writerResolutionMs);
    await cluster.waitHealthy({ timeoutMs: 120_000 });
  }, 300_000);

  it('switchover through HAProxy to a named replica: RTO within its bound of the truth, leaders named, the old leader re-joins', async () => {
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
    const g = await grade('switchover via HAProxy', record, writer, cluster.connection(cluster.member(to)), { states: cluster.haproxyLog().states, oldLeader: before.name, newLeader: to });
    expectWithinBound(g);
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
    expect(g.withinBound, JSON.stringify(g)).toBe(true);
    expect(Math.abs(g.drillRpoMs - g.writerWindowMs), JSON.stringify(g)).toBeLessThanOrEqual(HEARTBEAT_MS + g.writerResolutionMs);
    await cluster.waitHealthy({ timeoutMs: 120_000 });
  }, 300_000);

  it('pause-leader through HAProxy: the leader is frozen and resumed, RTO within its bound, nothing lost, no leader change', async () => {
    const { leader: before } = await cluster.waitHealthy({ timeoutMs: 120_000 });
    const file = scenario(path.join(work, 'pause'), 'patroni-pause-leader', {
      target: { driver: 'postgres', endpoint: haproxyEndpoint(), cluster: { patroni: { api: cluster.details.patroniApis } } },
      faults: [{ type: 'pause-leader', duration: '3s' }],
    });
    const { record, exitCode, writer } = await drillWithWriter(file);
    expect(record.error, JSON.stringify(record.timeline.slice(-8))).toBeNull();
    expect(exitCode).toBe(0);
    expect(record.teardown.undos.find((u) => u.description.startsWith('SIGCONT the paused leader'))?.status, JSON.stringify(record.teardown.undos)).toMatch(/done|settled/);
    const paused = Number(record.timeline.find((e) => e.event.startsWith('fault ended'))?.detail?.pausedMs);
    expect(paused).toBeGreaterThanOrEqual(2_900);
    // ttl 10 outlives a 3 s freeze: the same leader before and after.
    expect(record.topology?.before?.name).toBe(before.name);
    expect(record.topology?.after?.name).toBe(before.name);
    const g = await grade('pause-leader via HAProxy', record, writer, cluster.connection(before));
    expect(g.withinBound, JSON.stringify(g)).toBe(true);
    expect(g.writerLost, 'a pause loses no acknowledged write').toBe(0);
    expect(record.measured.rpo?.lostWrites).toBe(0);
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
