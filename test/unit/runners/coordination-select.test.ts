/** Which system lock `drillbook run` takes, from the environment and the evidence location. */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CoordinationSettingError, coordinationFor } from '../../../runners/coordination/select.js';
import type { LoadedScenario } from '../../../scenarios/load.js';
import { loadForRun, writeScenario } from '../../helpers/drill-files.js';

const local = { kind: 'local' as const, dir: '/tmp/evidence' };
const s3 = { kind: 's3' as const, bucket: 'acme-evidence', prefix: 'drills' };
const steps = [{ id: 'x', title: 'Do it', owner: 'operator', expected: '1m', command: 'true' }];
let walk: LoadedScenario;
let waitWalk: LoadedScenario;
let sample: LoadedScenario;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-select-'));
  walk = await loadForRun(writeScenario(dir, 'walk', { type: 'simulation', steps }));
  waitWalk = await loadForRun(writeScenario(dir, 'walk-wait', { type: 'simulation', steps, schedule: { cron: '0 3 * * *', overlap: 'wait' } }));
  sample = await loadForRun(path.resolve('scenarios/samples/lose-primary-region-walkthrough.yaml'));
});

describe('coordinationFor', () => {
  it('auto: no shared lock for local evidence outside a cluster; the S3 lock object for s3:// evidence', async () => {
    expect(await coordinationFor(walk, local, {})).toBeUndefined();
    const chosen = await coordinationFor(walk, s3, { DRILLBOOK_HOLDER_IDENTITY: 'ci-7', AWS_REGION: 'us-east-1' });
    expect(chosen?.backend).toMatchObject({ kind: 's3-lock-object', name: 's3://acme-evidence/drills/locks/orders-db.json', identity: 'ci-7', ttlMs: 30_000 });
    expect(chosen?.overlap).toBe('skip');
  });

  it("takes the scenario's overlap policy, which DRILLBOOK_OVERLAP overrides; durations tune the lock", async () => {
    expect((await coordinationFor(waitWalk, s3, { AWS_REGION: 'us-east-1' }))?.overlap).toBe('wait');
    const tuned = await coordinationFor(waitWalk, s3, { AWS_REGION: 'us-east-1', DRILLBOOK_OVERLAP: 'skip', DRILLBOOK_LOCK_TTL: '10s', DRILLBOOK_LOCK_POLL: '500ms', DRILLBOOK_LOCK_MAX_WAIT: '2h' });
    expect(tuned).toMatchObject({ overlap: 'skip', pollMs: 500, maxWaitMs: 7_200_000, backend: { ttlMs: 10_000 } });
  });

  it('a tabletop takes no lock: it disrupts nothing', async () => {
    // The sample walkthrough runs commands, so it takes one; the same drill as a tabletop does not.
    expect((await coordinationFor(sample, s3, { AWS_REGION: 'us-east-1' }))?.backend.kind).toBe('s3-lock-object');
    const asTabletop = { ...sample, scenario: { ...sample.scenario, spec: { ...sample.scenario.spec, type: 'tabletop' } } } as LoadedScenario;
    expect(await coordinationFor(asTabletop, s3, { AWS_REGION: 'us-east-1' })).toBeUndefined();
  });

  it('refuses settings it cannot use, each with what to write instead', async () => {
    await expect(coordinationFor(walk, local, { DRILLBOOK_COORDINATION: 'etcd' })).rejects.toThrow(/DRILLBOOK_COORDINATION=etcd: use auto, kubernetes, s3 or none/);
    await expect(coordinationFor(walk, local, { DRILLBOOK_OVERLAP: 'sometimes' })).rejects.toThrow(/DRILLBOOK_OVERLAP=sometimes: use skip or wait/);
    await expect(coordinationFor(walk, s3, { DRILLBOOK_LOCK_TTL: 'soon' })).rejects.toThrow(CoordinationSettingError);
    await expect(coordinationFor(walk, local, { DRILLBOOK_COORDINATION: 's3' })).rejects.toThrow(/needs --evidence s3:/);
    await expect(coordinationFor(walk, local, { DRILLBOOK_COORDINATION: 'none' })).resolves.toBeUndefined();
  });

  it('in a cluster: the Lease in the named namespace, plus the S3 lock object with s3:// evidence', async () => {
    const lease = await coordinationFor(walk, local, { KUBERNETES_SERVICE_HOST: '10.0.0.1', DRILLBOOK_LEASE_NAMESPACE: 'drillbook', DRILLBOOK_HOLDER_IDENTITY: 'pod-1' });
    expect(lease?.backend).toMatchObject({ kind: 'kubernetes-lease', name: 'Lease drillbook/drillbook-system-orders-db', identity: 'pod-1' });
    const both = await coordinationFor(walk, s3, { KUBERNETES_SERVICE_HOST: '10.0.0.1', DRILLBOOK_LEASE_NAMESPACE: 'drillbook', AWS_REGION: 'us-east-1' });
    expect(both?.backend).toMatchObject({ kind: 'kubernetes-lease+s3-lock-object', name: 'Lease drillbook/drillbook-system-orders-db and s3://acme-evidence/drills/locks/orders-db.json' });
  });
});
