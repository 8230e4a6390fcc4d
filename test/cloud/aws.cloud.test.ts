/**
 * The RDS samples against a real AWS account (opt-in: docs/cloud-e2e.md). Runs only with
 * DRILLBOOK_CLOUD_AWS=1 and the variables test/cloud/gate.ts lists; otherwise every test is
 * skipped and nothing in AWS is touched. The instance must carry drillbook:drill=true
 * (checked read-only before anything else), the copy goes into the subnet group and security
 * group given, and the suite always ends with `drillbook recover` (journals and the RDS orphan
 * sweep), then checks that no copy of these runs is left.
 */
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsGate } from './gate.js';
import { runSample, sweep } from './run-sample.js';

const gate = awsGate(process.env);
const env = process.env;
const instance = env.DRILLBOOK_CLOUD_RDS_INSTANCE ?? '';
const sql = () => ({
  user: env.DRILLBOOK_CLOUD_RDS_USER ?? 'drillbook',
  database: env.DRILLBOOK_CLOUD_RDS_DATABASE ?? 'orders',
  password: { env: 'ORDERS_DB_PASSWORD' },
  ...(env.DRILLBOOK_CLOUD_RDS_HOST ? { host: env.DRILLBOOK_CLOUD_RDS_HOST } : {}),
  ...(env.DRILLBOOK_CLOUD_RDS_PORT ? { port: Number(env.DRILLBOOK_CLOUD_RDS_PORT) } : {}),
});

describe.skipIf(!gate.enabled)('RDS samples on a real AWS account', () => {
  const client = new RDSClient({});

  beforeAll(async () => {
    const found = (await client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: instance }))).DBInstances?.[0];
    const tagged = found?.TagList?.some((t) => t.Key === 'drillbook:drill' && t.Value === 'true');
    if (!tagged) throw new Error(`DB instance ${instance} is not tagged drillbook:drill=true: the cloud suite drills only resources tagged for drills`);
  });

  afterAll(async () => {
    const problems = await sweep();
    const left = ((await client.send(new DescribeDBInstancesCommand({}))).DBInstances ?? []).filter((i) => i.DBInstanceIdentifier?.startsWith(`drillbook-${instance.slice(0, 30)}`) && i.DBInstanceStatus !== 'deleting');
    expect(problems).toEqual([]);
    expect(left.map((i) => i.DBInstanceIdentifier)).toEqual([]);
  }, 60 * 60_000);

  it('orders-rds-failover.yaml: a forced Multi-AZ failover, RTO from the client', async () => {
    const { record } = await runSample('orders-rds-failover.yaml', (spec) => {
      spec.target = { ...(spec.target as object), instance, production: sql() };
    });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(record.measured.rto?.seconds).toBeGreaterThan(0);
    expect(record.teardown.complete).toBe(true);
  }, 25 * 60_000);

  it('orders-rds-restore.yaml: point-in-time restore into an isolated copy, deleted and verified', async () => {
    const { record } = await runSample('orders-rds-restore.yaml', (spec) => {
      const target = spec.target as { copy: Record<string, unknown> };
      spec.target = {
        ...target,
        instance,
        production: sql(),
        copy: {
          ...target.copy,
          subnetGroup: env.DRILLBOOK_CLOUD_RDS_SUBNET_GROUP,
          securityGroups: [env.DRILLBOOK_CLOUD_RDS_SECURITY_GROUP],
          // Reaching the copy from here: through the endpoint RDS reports, or a tunnel.
          probe: { ...sql(), ...(env.DRILLBOOK_CLOUD_RDS_COPY_HOST ? { host: env.DRILLBOOK_CLOUD_RDS_COPY_HOST, port: Number(env.DRILLBOOK_CLOUD_RDS_COPY_PORT ?? 5432) } : { host: undefined, port: undefined }) },
        },
      };
    });
    expect(record.outcome, record.error ?? JSON.stringify(record.findings)).toBe('passed');
    expect(record.restoredCopy?.deletion?.verification.every((v) => v.passed)).toBe(true);
    expect(record.teardown.complete).toBe(true);
  }, 120 * 60_000);
});
