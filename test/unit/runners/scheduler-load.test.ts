/**
 * Which files of a directory `drillbook schedule` runs: valid scenarios with spec.schedule;
 * every bad file is reported with its located problems and the others still load.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { directorySignature, loadScheduledScenarios } from '../../../runners/scheduler/load.js';
import { writeScenario } from '../../helpers/drill-files.js';

const FAILOVER = {
  type: 'failover',
  target: { driver: 'postgres', sandbox: true },
  faults: [{ type: 'kill-primary' }],
  recovery: { action: 'promote' },
};

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-schedule-load-'));
  writeScenario(dir, 'nightly', { ...FAILOVER, schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin', overlap: 'wait' } });
  writeScenario(dir, 'unscheduled', FAILOVER);
  writeScenario(dir, 'typo', { ...FAILOVER, schedule: { cron: '0 4 * * *' }, tragets: { rto: '30s' } });
  writeScenario(dir, 'shorthand', { ...FAILOVER, schedule: { cron: '@daily' } });
  writeScenario(dir, 'never', { ...FAILOVER, schedule: { cron: '0 0 30 2 *' } });
  fs.mkdirSync(path.join(dir, 'team-b'));
  writeScenario(path.join(dir, 'team-b'), 'nightly', { ...FAILOVER, schedule: { cron: '0 5 * * *' } });
  fs.writeFileSync(path.join(dir, 'configmap.yaml'), stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('loading the scheduled directory', () => {
  it('keeps the valid scheduled scenarios and reports each bad file with located errors', async () => {
    const set = await loadScheduledScenarios(dir, Date.parse('2026-06-01T00:00:00Z'));
    expect(set.scenarios.map((s) => [s.key, s.name, s.system, s.schedule])).toEqual([
      ['nightly.yaml', 'nightly', 'orders-db', { cron: '0 3 * * *', timezone: 'Europe/Berlin', overlap: 'wait', missed: 'record' }],
    ]);
    expect(set.unscheduled).toEqual(['unscheduled.yaml']);
    const problems = Object.fromEntries(set.invalid.map((i) => [path.relative(dir, i.file), i.problems]));
    expect(Object.keys(problems).sort()).toEqual(['never.yaml', 'shorthand.yaml', path.join('team-b', 'nightly.yaml'), 'typo.yaml']);
    expect(problems['typo.yaml']).toMatch(/typo\.yaml:\d+:\d+: spec\.tragets: unknown key `tragets`/);
    expect(problems['shorthand.yaml']).toMatch(/shorthand\.yaml:\d+:\d+: spec\.schedule\.cron: the shorthand `@daily` is not supported: write the 5 or 6 fields, e\.g\. `0 0 \* \* \*`/);
    expect(problems['never.yaml']).toMatch(/never\.yaml:\d+:\d+: spec\.schedule\.cron: this schedule never fires/);
    expect(problems[path.join('team-b', 'nightly.yaml')]).toMatch(/metadata\.name: the scenario name `nightly` is already scheduled by/);
  });

  it('changes its signature when a file changes, appears or goes', async () => {
    const before = await directorySignature(dir);
    expect(await directorySignature(dir)).toBe(before);
    const file = path.join(dir, 'unscheduled.yaml');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    const touched = await directorySignature(dir);
    expect(touched).not.toBe(before);
    writeScenario(dir, 'added', FAILOVER);
    const added = await directorySignature(dir);
    expect(added).not.toBe(touched);
    fs.rmSync(path.join(dir, 'added.yaml'));
    expect(await directorySignature(dir)).not.toBe(added);
  });
});
