/**
 * The opt-in cloud suite's gate (test/cloud/gate.ts): without its variables it names every
 * missing one and runs nothing; with them it states each run's resources, cost and duration
 * before anything runs. The suite itself (test/cloud/) never runs under `npm test`.
 */
import { describe, expect, it } from 'vitest';
import { announcement, awsGate, k8sGate } from '../cloud/gate.js';

const AWS_ENV = {
  DRILLBOOK_CLOUD_AWS: '1',
  AWS_REGION: 'eu-west-1',
  AWS_PROFILE: 'drill-sandbox',
  DRILLBOOK_CLOUD_RDS_INSTANCE: 'drill-orders',
  DRILLBOOK_CLOUD_RDS_SUBNET_GROUP: 'drill-isolated',
  DRILLBOOK_CLOUD_RDS_SECURITY_GROUP: 'sg-0abc',
  ORDERS_DB_PASSWORD: 'not-printed',
};

describe('cloud suite gate', () => {
  it('runs nothing without DRILLBOOK_CLOUD_AWS / DRILLBOOK_CLOUD_K8S, and says so', () => {
    expect(awsGate({}).enabled).toBe(false);
    expect(k8sGate({}).enabled).toBe(false);
    const text = announcement({});
    expect(text).toContain('AWS: not run — set DRILLBOOK_CLOUD_AWS=1');
    expect(text).toContain('Kubernetes: not run — set DRILLBOOK_CLOUD_K8S=1');
    expect(text).toContain('nothing runs: no cloud resource is touched (exit 0)');
  });

  it('names every missing variable once opted in', () => {
    const gate = awsGate({ DRILLBOOK_CLOUD_AWS: '1' });
    expect(gate.enabled).toBe(false);
    expect(gate.missing.map((m) => m.split(' ')[0])).toEqual(['AWS_REGION', 'AWS', 'DRILLBOOK_CLOUD_RDS_INSTANCE', 'DRILLBOOK_CLOUD_RDS_SUBNET_GROUP', 'DRILLBOOK_CLOUD_RDS_SECURITY_GROUP', 'ORDERS_DB_PASSWORD']);
    const k8s = k8sGate({ DRILLBOOK_CLOUD_K8S: '1', KUBECONFIG: '/nope/kubeconfig' }, () => false);
    expect(k8s.missing[0]).toBe('KUBECONFIG (/nope/kubeconfig does not exist)');
  });

  it('states duration, cost and resources of every run up front, and never a secret', () => {
    expect(awsGate(AWS_ENV).enabled).toBe(true);
    const text = announcement(AWS_ENV);
    expect(text).toMatch(/orders-rds-failover\.yaml: 3–10 min/);
    expect(text).toMatch(/orders-rds-restore\.yaml: 20–60 min .*\$0\.10–0\.20 .*db\.t4g\.medium/);
    expect(text).toContain('ending with teardown and the orphan sweep');
    expect(text).not.toContain('not-printed');
    expect(text).not.toContain('nothing runs');
  });
});
