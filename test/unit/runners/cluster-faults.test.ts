/**
 * The cluster faults as `validate` and `plan` see them (the real drills are in
 * test/integration/real/patroni-drills.test.ts): they need target.cluster, switchover needs
 * Patroni's REST API, a leader command template names only known placeholders and is filled
 * with shell-quoted values.
 */
import { describe, expect, it } from 'vitest';
import { fillLeaderCommand } from '../../../runners/drivers/postgres/fault-target.js';
import { postgresDriver } from '../../../runners/drivers/postgres/driver.js';
import { scenarioChecks } from '../../../runners/registry.js';
import { clusterDrill, loadScenarioText } from '../scenarios/files.js';

const drill = (target: string, faults: string) => clusterDrill(target, faults);

const PATRONI = `    driver: postgres
    cluster: { patroni: { api: [ "http://pg1:8008" ] } }
    endpoint: { host: haproxy.internal, port: 5000, password: { env: PGPASSWORD } }`;
const MEMBERS = `    driver: postgres
    cluster: { members: [ "pg1:5432", "pg2:5432" ] }
    endpoint: { host: "pg1:5432,pg2:5432", targetSessionAttrs: read-write }`;
const FIXED = `    driver: postgres
    primary: { host: pg1, port: 5432, dataDir: /var/lib/postgresql/15/main }`;

describe('cluster faults in validate and plan', () => {
  it('accepts kill-leader, pause-leader and switchover on a Patroni cluster, and plans them without touching anything', async () => {
    const { errors, loaded } = await loadScenarioText(
      drill(PATRONI, '[ { type: kill-leader, rejoinWithin: 2m }, { type: pause-leader, duration: 5s }, { type: switchover, to: pg2 } ]'),
      undefined,
      [scenarioChecks],
    );
    expect(errors).toEqual([]);
    const plan = postgresDriver.plan(loaded!);
    expect(plan.map((p) => p.action).join('\n')).toMatch(/SIGKILL the postmaster and backends of the member leading at T0[^\n]*re-joins as a replica within 2m/);
    expect(plan.map((p) => p.action).join('\n')).toContain('freeze every process of the member leading at T0 for 5s');
    expect(plan.map((p) => p.action).join('\n')).toContain('Patroni switchover (POST /switchover) from the leader at T0 to pg2');
    expect(plan[0]!.touches).toContain('haproxy.internal:5000');
    expect(plan[0]!.touches).toContain('leader from Patroni http://pg1:8008');
  });

  it('refuses leader faults on a fixed primary, and switchover without the Patroni REST API', async () => {
    const fixed = await loadScenarioText(drill(FIXED, '[ { type: kill-leader } ]'), undefined, [scenarioChecks]);
    expect(fixed.errors.map((e) => `${e.path}: ${e.message}`)).toContainEqual(expect.stringMatching(/^spec\.faults\[0\]\.type: kill-leader needs target\.cluster/));
    const members = await loadScenarioText(drill(MEMBERS, '[ { type: switchover } ]'), undefined, [scenarioChecks]);
    expect(members.errors.map((e) => e.message)).toContainEqual(expect.stringContaining("switchover goes through Patroni's REST API"));
    const okMembers = await loadScenarioText(drill(MEMBERS, '[ { type: kill-leader } ]'), undefined, [scenarioChecks]);
    expect(okMembers.errors).toEqual([]);
  });

  it('refuses an unknown placeholder in a leader command', async () => {
    const { errors } = await loadScenarioText(drill(PATRONI, '[ { type: kill-leader, command: "ssh {hots} pkill postgres" } ]'), undefined, [scenarioChecks]);
    expect(errors.map((e) => e.message)).toContainEqual(expect.stringContaining('unknown placeholder {hots}'));
  });

  it('fills a leader command with shell-quoted values', () => {
    expect(fillLeaderCommand('ssh {host} sudo pkill -{signal} -f "postgres -D {dataDir}" # {leader}:{port}', { leader: "pg-1's", host: '10.0.0.1', port: 5432, signal: 'KILL', dataDir: '/var/lib/pg data' })).toBe(
      `ssh 10.0.0.1 sudo pkill -KILL -f "postgres -D '/var/lib/pg data'" # 'pg-1'\\''s':5432`,
    );
  });
});

describe('the report of a cluster drill', () => {
  it('names the leader before and after and every change seen', async () => {
    const { renderMarkdown, renderHtml } = await import('../../../reports/render.js');
    const { makeProbes, makeRunRecord } = await import('../../helpers/run-record-fixture.js');
    const record = makeRunRecord();
    record.topology = {
      source: 'patroni',
      before: { name: 'node1', host: '127.0.0.1', port: 25432, timeline: 1 },
      after: { name: 'node2', host: '127.0.0.1', port: 25433, timeline: 2 },
      leaderChanges: [
        { at: '2026-12-01T10:00:01.000Z', from: 'node1', to: null, timeline: null },
        { at: '2026-12-01T10:00:03.000Z', from: null, to: 'node2', timeline: 2 },
      ],
    };
    const markdown = renderMarkdown(record, { probes: makeProbes() });
    expect(markdown).toContain('node1 (127.0.0.1:25432, timeline 1) — from Patroni REST API /cluster');
    expect(markdown).toContain('node2 (127.0.0.1:25433, timeline 2)');
    expect(markdown).toContain('2026-12-01T10:00:01.000Z: node1 → none; 2026-12-01T10:00:03.000Z: none → node2');
    expect(renderHtml(record, { probes: makeProbes() })).toContain('Leader after recovery');
    expect(renderMarkdown(makeRunRecord(), { probes: makeProbes() })).not.toContain('Leader before T0');
  });
});
