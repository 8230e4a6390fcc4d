/**
 * The language parts of issue 11: a PostgreSQL target that names a cluster (Patroni REST API
 * or members) and the endpoint clients use (a libpq host list or URI with
 * targetSessionAttrs), `probes.stableFor` as a count or a duration, and warnings for
 * settings that have no effect. Each is reproduced through the loader as `validate` sees it.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostics } from '../../../scenarios/diagnostics.js';
import { jsonSchema } from '../../../scenarios/json-schema.js';
import { normalizeStableFor } from '../../../scenarios/stable-for.js';
import { KillLeaderFault, PauseLeaderFault, SwitchoverFault } from '../../../scenarios/schema-patroni.js';
import { clusterDrill, loadScenarioText } from './files.js';

const drill = (target: string, extra = '') => clusterDrill(target, undefined, extra);

const PATRONI_TARGET = `    driver: postgres
    cluster:
      patroni: { api: [ "http://pg1:8008", "http://pg2:8008" ] }
    endpoint:
      host: pg1.internal:5432,pg2.internal:5433
      targetSessionAttrs: read-write
      user: app
      password: { env: PGPASSWORD }`;

const warnings = (diagnostics: Diagnostics) => diagnostics.all.filter((d) => d.severity === 'warning');

describe('a cluster target', () => {
  it('accepts a Patroni cluster with a multi-host endpoint', async () => {
    const { errors, loaded, diagnostics } = await loadScenarioText(drill(PATRONI_TARGET));
    expect(errors).toEqual([]);
    expect(warnings(diagnostics)).toEqual([]);
    const target = loaded!.scenario.spec.target as { cluster: unknown; endpoint: unknown };
    expect(target.cluster).toEqual({ patroni: { api: ['http://pg1:8008', 'http://pg2:8008'], timeout: '5s' } });
    expect(target.endpoint).toMatchObject({ host: 'pg1.internal:5432,pg2.internal:5433', targetSessionAttrs: 'read-write' });
  });

  it('accepts members as host:port or with a local data directory, and an endpoint URI', async () => {
    const target = `    driver: postgres
    cluster:
      members: [ "10.0.0.1:5432", { host: 10.0.0.2, port: 5433, name: pg-b, dataDir: /var/lib/postgresql/15/main } ]
    endpoint: { url: "postgresql://app@10.0.0.1:5432,10.0.0.2:5433/orders?target_session_attrs=primary", password: { env: PGPASSWORD } }`;
    const { errors, loaded } = await loadScenarioText(drill(target));
    expect(errors).toEqual([]);
    expect((loaded!.scenario.spec.target as { cluster: { members: unknown[] } }).cluster.members[1]).toEqual({ host: '10.0.0.2', port: 5433, name: 'pg-b', dataDir: '/var/lib/postgresql/15/main' });
  });

  it('needs the endpoint clients use, and exactly one way of finding the leader', async () => {
    const noEndpoint = await loadScenarioText(drill(`    driver: postgres\n    cluster: { patroni: { api: [ "http://pg1:8008" ] } }`));
    expect(noEndpoint.errors).toEqual([expect.objectContaining({ path: 'spec.target.cluster', line: 9, message: expect.stringContaining('a cluster needs target.endpoint') })]);
    const both = await loadScenarioText(drill(`${PATRONI_TARGET}\n    primary: { port: 5432 }`.replace('      patroni: {', '      members: [ "pg1:5432" ]\n      patroni: {')));
    expect(both.errors.map((e) => [e.path, e.message])).toEqual([
      ['spec.target.cluster', 'a cluster is named by exactly one of patroni (its REST API) or members'],
      ['spec.target.primary', 'target.primary names a fixed server, but with target.cluster the leader is found at run time'],
    ]);
    const notHttp = await loadScenarioText(drill(PATRONI_TARGET.replace('"http://pg1:8008"', '"pg1:8008"')));
    expect(notHttp.errors).toEqual([expect.objectContaining({ path: 'spec.target.cluster.patroni.api[0]' })]);
  });

  it('points at a bad host list or an inline password in the endpoint, without repeating the secret', async () => {
    const badList = await loadScenarioText(drill(PATRONI_TARGET.replace('pg1.internal:5432,pg2.internal:5433', 'pg1.internal:5432,,pg2.internal:5433')));
    expect(badList.errors).toEqual([expect.objectContaining({ path: 'spec.target.endpoint.host', line: 12, message: expect.stringContaining('remove the extra comma') })]);
    const inline = await loadScenarioText(drill(`    driver: postgres\n    cluster: { members: [ "pg1:5432" ] }\n    endpoint: { url: "postgresql://app:hunter2@pg1:5432/orders" }`));
    expect(inline.errors).toEqual([expect.objectContaining({ path: 'spec.target.endpoint.url', message: expect.stringContaining('secrets are never inline') })]);
    expect(JSON.stringify(inline.diagnostics.all)).not.toContain('hunter2');
  });

  it("refuses a host list in a fixed server's host (finding 8: it passed validate, then run failed with ENOTFOUND)", async () => {
    const { errors } = await loadScenarioText(drill(`    driver: postgres\n    primary: { host: "pg1:5432,pg2:5432", port: 5432 }`));
    expect(errors).toEqual([expect.objectContaining({ path: 'spec.target.primary.host', message: expect.stringContaining('goes into target.endpoint.host') })]);
  });

  it('warns when several hosts are listed without targetSessionAttrs', async () => {
    const { errors, diagnostics } = await loadScenarioText(drill(PATRONI_TARGET.replace('      targetSessionAttrs: read-write\n', '')));
    expect(errors).toEqual([]);
    expect(warnings(diagnostics)).toEqual([expect.objectContaining({ path: 'spec.target.endpoint', message: expect.stringContaining('2 hosts and no targetSessionAttrs'), hint: expect.stringContaining('read-write') })]);
  });
});

describe('probes.stableFor', () => {
  it('takes a duration and gives runners the successes that span it', async () => {
    const { errors, loaded } = await loadScenarioText(drill(PATRONI_TARGET, '  probes: { interval: 250ms, stableFor: 5s }\n'));
    expect(errors).toEqual([]);
    expect(loaded!.scenario.spec.probes).toMatchObject({ stableFor: 20, stableForDuration: '5s', interval: '250ms' });
    const count = await loadScenarioText(drill(PATRONI_TARGET, '  probes: { stableFor: 3 }\n'));
    expect(count.loaded!.scenario.spec.probes.stableFor).toBe(3);
    expect(count.loaded!.scenario.spec.probes).not.toHaveProperty('stableForDuration');
    const defaulted = await loadScenarioText(drill(PATRONI_TARGET));
    expect(defaulted.loaded!.scenario.spec.probes.stableFor).toBe(2);
  });

  it('normalizes counts and durations, rounding a partial interval up', () => {
    expect(normalizeStableFor(2, 250)).toEqual({ successes: 2 });
    expect(normalizeStableFor('5s', 250)).toEqual({ successes: 20, duration: '5s', durationMs: 5000 });
    expect(normalizeStableFor('1s', 300)).toMatchObject({ successes: 4 });
    expect(normalizeStableFor('10ms', 250)).toMatchObject({ successes: 1 });
  });

  it('refuses what is neither, and warns about a hold shorter than one interval', async () => {
    for (const bad of ['101', '"5 s"', '"0s"', '-1']) {
      const { errors } = await loadScenarioText(drill(PATRONI_TARGET, `  probes: { stableFor: ${bad} }\n`));
      expect(errors.map((e) => e.path), bad).toEqual(['spec.probes.stableFor']);
    }
    const short = await loadScenarioText(drill(PATRONI_TARGET, '  probes: { interval: 500ms, stableFor: 200ms }\n'));
    expect(short.errors).toEqual([]);
    expect(warnings(short.diagnostics)).toEqual([expect.objectContaining({ path: 'spec.probes.stableFor', message: expect.stringContaining('shorter than one probe interval (500ms)') })]);
  });
});

describe('settings that have no effect are warned about', () => {
  it('recovery.timeout and recovery.after with action none (finding 7)', async () => {
    const scenario = drill(PATRONI_TARGET).replace('recovery: { action: none }', 'recovery: { action: none, timeout: 90s, after: 5s }');
    const { errors, loaded, diagnostics } = await loadScenarioText(scenario);
    expect(errors).toEqual([]);
    expect(loaded).toBeDefined(); // a warning does not stop the drill
    expect(warnings(diagnostics)).toEqual([
      expect.objectContaining({ path: 'spec.recovery.timeout', line: 17, message: expect.stringContaining('recovery.timeout has no effect with action none'), hint: expect.stringContaining('probes.maxWait') }),
      expect.objectContaining({ path: 'spec.recovery.after', message: expect.stringContaining('no effect with action none') }),
    ]);
    expect(diagnostics.format()).toMatch(/drill\.yaml:17:\d+: spec\.recovery\.timeout: warning: recovery\.timeout has no effect/);
  });

  it('a recovery command that never runs, a restore in a failover, a workload without the sandbox', async () => {
    const scenario = drill(`${PATRONI_TARGET}\n    workload: { ordersPerSecond: 5 }`, '  restore: { restoreTo: latest }\n').replace('recovery: { action: none }', 'recovery: { action: promote, command: "patronictl failover" }');
    const { diagnostics } = await loadScenarioText(scenario);
    expect(warnings(diagnostics).map((w) => w.path).sort()).toEqual(['spec.recovery.command', 'spec.restore', 'spec.target.workload']);
  });

  it('stays quiet for settings that do take effect', async () => {
    const scenario = drill(PATRONI_TARGET).replace('recovery: { action: none }', 'recovery: { action: command, command: "patronictl failover --force", timeout: 90s, after: 1s }');
    const { diagnostics } = await loadScenarioText(scenario);
    expect(warnings(diagnostics)).toEqual([]);
  });
});

describe('published schema and pending fault shapes', () => {
  it('the JSON Schema offers cluster, endpoint and stableFor as a count or a duration', () => {
    const text = JSON.stringify(jsonSchema('Scenario'));
    for (const word of ['targetSessionAttrs', 'patroni', 'members', 'read-write']) expect(text).toContain(word);
    expect(text).toMatch(/"stableFor":\{[^}]*"anyOf"/);
  });

  it('kill-leader, pause-leader and switchover parse, and refuse unknown placeholders or a pause without its undo', () => {
    expect(KillLeaderFault.parse({ type: 'kill-leader', command: 'ssh {host} sudo pkill -{signal} -f "postgres -D {dataDir}"' })).toMatchObject({ signal: 'SIGKILL', timeout: '60s' });
    expect(KillLeaderFault.safeParse({ type: 'kill-leader', command: 'ssh {hots} kill' }).error?.issues[0]?.message).toContain('unknown placeholder {hots}');
    expect(PauseLeaderFault.safeParse({ type: 'pause-leader', duration: '3s', command: 'ssh {host} pkill -STOP postgres' }).error?.issues[0]).toMatchObject({ path: ['resumeCommand'] });
    expect(PauseLeaderFault.parse({ type: 'pause-leader', duration: '3s' })).toEqual({ type: 'pause-leader', duration: '3s', timeout: '60s' });
    expect(SwitchoverFault.parse({ type: 'switchover', to: 'pg-b', rejoinWithin: '2m' })).toEqual({ type: 'switchover', to: 'pg-b', timeout: '60s', rejoinWithin: '2m' });
  });
});
