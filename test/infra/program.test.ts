/**
 * The Pulumi program under `pulumi.runtime.setMocks` (no Pulumi CLI, no cloud): the real
 * entry point `infra/index.ts` runs against the fixture scenarios in test/fixtures/infra, and
 * every resource it registers is captured with its inputs. Pulumi's runtime is global, so all
 * Pulumi tests live in this one file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scenarioChecks } from '../../runners/registry.js';
import { Diagnostics } from '../../scenarios/diagnostics.js';
import { validatePaths } from '../../scenarios/load.js';
import { drillPolicyDocument, rdsNeeds, type PolicyDocument } from '../../infra/iam.js';
import { createDrillbookInfra, cronJobName, sameSystemSameTime } from '../../infra/program.js';
import { deriveRbac, findWildcards, PERMISSIONS, type PermissionTable, type PolicyRule } from '../../infra/rbac.js';
import { readScenarioDirectory, type ScheduledScenario } from '../../infra/scenarios.js';
import { InfraError, readSettings, type InfraSettings } from '../../infra/settings.js';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/infra');
const OIDC_PROVIDER = 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC123';
const KMS_KEY = 'arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555';
/** The scheduled scenarios of the fixture directory, by file (payments-partition.yaml has no schedule). */
const SCHEDULED: Record<string, { name: string; schedule: string; timeZone: string | undefined }> = {
  'catalog-restore.yaml': { name: 'catalog-restore', schedule: '0 5 * * 3', timeZone: undefined },
  'checkout-pod-delete.yaml': { name: 'checkout-pod-delete', schedule: '0 3 * * 1', timeZone: 'Europe/Berlin' },
  'checkout-scale.yaml': { name: 'checkout-scale', schedule: '30 2 1 * *', timeZone: 'UTC' },
  'node-drain.yaml': { name: 'checkout-node-drain', schedule: '15 4 * * 0', timeZone: 'America/New_York' },
  'orders-rds-failover.yaml': { name: 'orders-rds-failover', schedule: '0 7 * * 2', timeZone: 'Europe/London' },
  'orders-rds-restore.yaml': { name: 'orders-rds-restore', schedule: '0 6 1 * *', timeZone: 'Europe/Berlin' },
};

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

let registered: Registered[] = [];

/** Pulumi's `examples/testing-unit-ts` helper: the value of an Output, once known. */
function unwrap<T>(output: pulumi.Output<T> | T): Promise<T> {
  return pulumi.Output.isInstance(output) ? new Promise((resolve) => (output as pulumi.Output<T>).apply(resolve)) : Promise.resolve(output);
}

const ofType = (type: string) => registered.filter((resource) => resource.type === type);
const one = (type: string) => {
  const found = ofType(type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};

/** The assertion every RBAC test goes through: fails naming each `*` it finds. */
function expectNoWildcards(rules: PolicyRule[]): void {
  expect(findWildcards(rules)).toEqual([]);
}

let program: Record<string, unknown>;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, any> = { ...args.inputs, arn: `arn:aws:mock:::${args.type}/${args.name}` };
        if (args.type === 'aws:s3/bucket:Bucket') state.bucket = args.inputs.bucket ?? `${args.inputs.bucketPrefix}20261126`;
        if (args.type === 'aws:iam/role:Role') state.name = `${args.name}-role`;
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        if (args.token === 'aws:index/getCallerIdentity:getCallerIdentity') return { accountId: '123456789012', arn: 'arn:aws:iam::123456789012:user/ci', userId: 'ci' };
        if (args.token === 'aws:index/getRegion:getRegion') return { region: 'eu-west-1', name: 'eu-west-1' };
        if (args.token === 'aws:index/getPartition:getPartition') return { partition: 'aws', dnsSuffix: 'amazonaws.com' };
        return args.inputs;
      },
    },
    'drillbook',
    'test',
  );
  pulumi.runtime.setAllConfig({
    'drillbook:scenariosDir': FIXTURES,
    'drillbook:image': 'ghcr.io/acme/drillbook:0.1.0',
    'drillbook:evidencePrefix': 'prod/drills',
    'drillbook:retentionDays': '730',
    'drillbook:kmsKeyArn': KMS_KEY,
    'drillbook:oidcProviderArn': OIDC_PROVIDER,
    'drillbook:successfulJobsHistoryLimit': '2',
    'drillbook:failedJobsHistoryLimit': '4',
    'drillbook:resources': JSON.stringify({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } }),
    'drillbook:secretEnv': JSON.stringify({ PGPASSWORD: { secret: 'orders-db', key: 'password' } }),
  });
  program = await import('../../infra/index.js');
  // Every exported output depends on the resources behind it; once they are known, all of
  // them have been registered with the mock.
  for (const value of Object.values(program)) await unwrap(value as pulumi.Output<unknown>);
});

describe('the fixture scenarios', () => {
  it('are valid drillbook files, so the program is tested on what users really write', async () => {
    const diagnostics = new Diagnostics();
    const checked = await validatePaths([FIXTURES], diagnostics, { checks: [scenarioChecks] });
    expect(diagnostics.hasErrors(), diagnostics.format()).toBe(false);
    expect(checked.filter((file) => file.kind === 'Scenario')).toHaveLength(Object.keys(SCHEDULED).length + 1);
  });
});

describe('RBAC derived from the scheduled scenarios', () => {
  const roleRules = () => ofType('kubernetes:rbac.authorization.k8s.io/v1:Role').map((role) => role.inputs);
  const clusterRules = (): PolicyRule[] => one('kubernetes:rbac.authorization.k8s.io/v1:ClusterRole').inputs.rules;
  const rulesIn = (namespace: string): PolicyRule[] =>
    roleRules().find((role) => role.metadata.namespace === namespace)?.rules ?? [];
  const verbsOf = (rules: PolicyRule[], apiGroup: string, resource: string) =>
    rules.find((rule) => rule.apiGroups.includes(apiGroup) && rule.resources.includes(resource))?.verbs;

  it('has no * in any verb, resource or apiGroup', () => {
    const all = [...roleRules().flatMap((role) => role.rules as PolicyRule[]), ...clusterRules()];
    expect(all.length).toBeGreaterThan(5);
    expectNoWildcards(all);
  });

  it('the same assertion fails on a deliberately bad mapping', () => {
    const bad: PermissionTable = {
      ...PERMISSIONS,
      faults: { ...PERMISSIONS.faults, 'pod-delete': { why: 'too lazy to list verbs', grants: [{ apiGroup: '', resource: 'pods', verbs: ['*'], scope: 'namespace' }] } },
    };
    const badRules: PolicyRule[] = [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }, { apiGroups: ['*'], resources: ['pods/*'], verbs: ['get'] }];
    expect(() => expectNoWildcards(badRules)).toThrow();
    expect(findWildcards(badRules)).toEqual(['rule 0: verbs contains "*"', 'rule 1: apiGroups contains "*"', 'rule 1: resources contains "pods/*"']);
    // The program itself refuses to deploy such a mapping.
    const podDelete: ScheduledScenario = scenario({ faults: [{ type: 'pod-delete', namespaces: ['shop'], settings: {} }] });
    expect(() => deriveRbac([podDelete], bad)).toThrow(/refusing RBAC with wildcards: rule 0: verbs contains "\*"/);
  });

  it('grants in the fault namespace exactly the verbs its faults and readiness probes need', () => {
    expect(roleRules().map((role) => role.metadata.namespace).sort()).toEqual(['drillbook', 'shop', 'velero']);
    const shop = rulesIn('shop');
    expect(verbsOf(shop, '', 'pods')).toEqual(['delete', 'get', 'list', 'watch']);
    expect(verbsOf(shop, 'apps', 'deployments')).toEqual(['get', 'list', 'patch', 'watch']);
    expect(verbsOf(shop, 'apps', 'deployments/scale')).toEqual(['get', 'patch']);
    // node-drain evicts only pods of its declared namespace: evictions and PDB reads stay namespaced.
    expect(verbsOf(shop, '', 'pods/eviction')).toEqual(['create']);
    expect(verbsOf(shop, 'policy', 'poddisruptionbudgets')).toEqual(['get', 'list']);
    // pod-delete confirms the deleted pods left the Service endpoints.
    expect(verbsOf(shop, 'discovery.k8s.io', 'endpointslices')).toEqual(['list']);
    expect(shop).toHaveLength(6);
    // network-partition is used only by a scenario without a schedule: nothing is granted for it.
    const everything = [...roleRules().flatMap((role) => role.rules as PolicyRule[]), ...clusterRules()];
    expect(everything.some((rule) => rule.resources.includes('networkpolicies'))).toBe(false);
    expect(rulesIn('payments')).toEqual([]);
  });

  it("grants in drillbook's namespace only what the system Leases need: get, create, update on leases, nothing else", () => {
    expect(rulesIn('drillbook')).toEqual([{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] }]);
    // Nowhere else, and never delete/list/watch (a Lease is released by clearing its holder, not deleted).
    const everything = [...roleRules().flatMap((role) => role.rules as PolicyRule[]), ...clusterRules()];
    expect(everything.filter((rule) => rule.resources.includes('leases'))).toHaveLength(1);
    expect(clusterRules().some((rule) => rule.apiGroups.includes('coordination.k8s.io'))).toBe(false);
    // Every scheduled scenario needs it, whatever its driver (the RDS and PostgreSQL CronJobs too).
    const derived = deriveRbac([scenario({ name: 'rds-only', driver: 'rds', faults: [] })], PERMISSIONS, { leaseNamespace: 'drills' });
    expect(derived.namespaced).toEqual([{ namespace: 'drills', rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'], neededBy: ['system lease (rds-only)'] }] }]);
    expect(deriveRbac([], PERMISSIONS, { leaseNamespace: 'drills' }).namespaced).toEqual([]);
  });

  it('gives every CronJob the Lease namespace and its own pod name as holder identity', () => {
    for (const job of ofType('kubernetes:batch/v1:CronJob')) {
      const env = job.inputs.spec.jobTemplate.spec.template.spec.containers[0].env;
      expect(env).toContainEqual({ name: 'DRILLBOOK_COORDINATION', value: 'kubernetes' });
      expect(env).toContainEqual({ name: 'DRILLBOOK_LEASE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
      expect(env).toContainEqual({ name: 'DRILLBOOK_HOLDER_IDENTITY', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    }
  });

  it('grants Velero restores in the Velero namespace only', () => {
    const velero = rulesIn('velero');
    expect(verbsOf(velero, 'velero.io', 'restores')).toEqual(['create', 'delete', 'get', 'list', 'watch']);
    expect(verbsOf(velero, 'velero.io', 'backups')).toEqual(['get', 'list']);
    // The restore log and results, fetched before the Restore (and with it, them) is deleted.
    expect(verbsOf(velero, 'velero.io', 'downloadrequests')).toEqual(['create', 'delete', 'get']);
    expect(velero).toHaveLength(3);
  });

  it('puts only cluster-scoped resources and read-only pod/deployment access in the ClusterRole', () => {
    const cluster = clusterRules();
    expect(verbsOf(cluster, '', 'nodes')).toEqual(['get', 'list', 'patch']);
    expect(verbsOf(cluster, '', 'namespaces')).toEqual(['delete', 'get']);
    expect(verbsOf(cluster, '', 'pods')).toEqual(['get', 'list', 'watch']);
    expect(verbsOf(cluster, 'apps', 'deployments')).toEqual(['get', 'list', 'watch']);
    // The copy's volumes outlive its namespace: reclaimed (PVs) and deleted (VolumeSnapshotContents) at teardown.
    expect(verbsOf(cluster, '', 'persistentvolumes')).toEqual(['get', 'list', 'patch']);
    expect(verbsOf(cluster, 'snapshot.storage.k8s.io', 'volumesnapshotcontents')).toEqual(['delete', 'get', 'list']);
    expect(cluster).toHaveLength(6);
    // Writes in the ClusterRole touch only cluster-scoped resources; namespaced ones are read-only there.
    const clusterScoped = new Set(['nodes', 'namespaces', 'persistentvolumes', 'volumesnapshotcontents']);
    for (const rule of cluster) {
      if (!rule.resources.every((resource) => clusterScoped.has(resource))) {
        expect(rule.verbs.every((verb) => ['get', 'list', 'watch'].includes(verb)), rule.resources.join()).toBe(true);
      }
    }
    const binding = one('kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding').inputs;
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'drillbook', namespace: 'drillbook' }]);
  });

  it('needs no ClusterRole when the scheduled faults are all namespaced', () => {
    const derived = deriveRbac([
      scenario({ faults: [{ type: 'pod-delete', namespaces: ['shop'], settings: {} }] }),
      scenario({ name: 'scale', faults: [{ type: 'deployment-scale', namespaces: [], settings: {} }], targetNamespaces: ['shop'] }),
    ]);
    expect(derived.cluster).toEqual([]);
    expect(derived.namespaced.map((role) => role.namespace)).toEqual(['shop']);
  });

  it('binds every Role to the drillbook ServiceAccount in its own namespace', () => {
    const bindings = ofType('kubernetes:rbac.authorization.k8s.io/v1:RoleBinding').map((binding) => binding.inputs);
    expect(bindings.map((binding) => binding.metadata.namespace).sort()).toEqual(['drillbook', 'shop', 'velero']);
    for (const binding of bindings) {
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'drillbook-drills' });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'drillbook', namespace: 'drillbook' }]);
    }
  });

  it('refuses a Kubernetes fault it has no permissions for, and a namespaced fault without a namespace', () => {
    expect(() => deriveRbac([scenario({ faults: [{ type: 'pod-explode', namespaces: ['shop'], settings: {} }] })])).toThrow(
      /no permissions are known for the Kubernetes fault "pod-explode" \(known: pod-delete, deployment-scale, node-drain, network-partition\)/,
    );
    expect(() => deriveRbac([scenario({ faults: [{ type: 'pod-delete', namespaces: [], settings: {} }] })])).toThrow(/names no namespace/);
  });
});

describe('CronJobs', () => {
  const cronJobs = () => ofType('kubernetes:batch/v1:CronJob').map((job) => job.inputs);

  it('one per scheduled scenario, with its schedule and time zone, Forbid and the history limits', async () => {
    const jobs = cronJobs();
    expect(jobs).toHaveLength(Object.keys(SCHEDULED).length);
    const evidenceUri = await unwrap(program.evidenceUri as pulumi.Output<string>);
    expect(evidenceUri).toBe('s3://drillbook-evidence-20261126/prod/drills');
    for (const [file, expected] of Object.entries(SCHEDULED)) {
      const job = jobs.find((candidate) => candidate.metadata.name === `drill-${expected.name}`);
      expect(job, file).toBeDefined();
      expect(job!.metadata.namespace).toBe('drillbook');
      expect(job!.spec.schedule).toBe(expected.schedule);
      expect(job!.spec.timeZone).toBe(expected.timeZone);
      expect(job!.spec.concurrencyPolicy).toBe('Forbid');
      expect(job!.spec.successfulJobsHistoryLimit).toBe(2);
      expect(job!.spec.failedJobsHistoryLimit).toBe(4);
      const pod = job!.spec.jobTemplate.spec.template.spec;
      expect(pod.serviceAccountName).toBe('drillbook');
      expect(pod.restartPolicy).toBe('Never');
      expect(job!.spec.jobTemplate.spec.backoffLimit).toBe(0);
      const container = pod.containers[0];
      expect(container.image).toBe('ghcr.io/acme/drillbook:0.1.0');
      expect([...container.command, ...container.args]).toEqual(['drillbook', 'run', `/scenarios/${file}`, '--evidence', evidenceUri]);
      expect(container.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } });
      expect(container.env).toContainEqual({ name: 'PGPASSWORD', valueFrom: { secretKeyRef: { name: 'orders-db', key: 'password' } } });
      expect(pod.volumes).toContainEqual({ name: 'scenarios', configMap: { name: 'drillbook-scenarios' } });
    }
    expect(await unwrap(program.cronJobs as pulumi.Output<unknown[]>)).toHaveLength(Object.keys(SCHEDULED).length);
  });

  it('ships every drillbook file of the directory (scenarios and their plan) in the ConfigMap, and nothing else', () => {
    const configMap = one('kubernetes:core/v1:ConfigMap').inputs;
    expect(Object.keys(configMap.data).sort()).toEqual([...Object.keys(SCHEDULED), 'payments-partition.yaml', 'plan.yaml'].sort());
    expect(configMap.data['plan.yaml']).toContain('kind: ContinuityPlan');
  });

  it('warns when two scenarios would drill one system at the same time', () => {
    const a = scenario({ name: 'a', system: 'orders-db', cron: '0 3 * * 1' });
    const b = scenario({ name: 'b', system: 'orders-db', cron: '0 3 * * 1' });
    const c = scenario({ name: 'c', system: 'orders-db', cron: '0 3 * * 1', timezone: 'Europe/Berlin' });
    expect(sameSystemSameTime([a, b, c])).toEqual([
      'a and b drill the system orders-db at the same time ("0 3 * * 1" UTC); give them different schedules so they do not overlap',
    ]);
  });

  it('keeps CronJob names within the 52 characters Kubernetes allows, stably', () => {
    const long = 'a'.repeat(63);
    expect(cronJobName(long)).toHaveLength(52);
    expect(cronJobName(long)).toBe(cronJobName(long));
    expect(cronJobName(`${'a'.repeat(62)}b`)).not.toBe(cronJobName(long));
  });
});

describe('evidence bucket', () => {
  it('has Object Lock on in COMPLIANCE mode with the configured retention, and versioning', () => {
    expect(one('aws:s3/bucket:Bucket').inputs.objectLockEnabled).toBe(true);
    const lock = one('aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration').inputs;
    expect(lock.objectLockEnabled).toBe('Enabled');
    expect(lock.rule.defaultRetention).toEqual({ mode: 'COMPLIANCE', days: 730 });
    expect(one('aws:s3/bucketVersioning:BucketVersioning').inputs.versioningConfiguration.status).toBe('Enabled');
  });

  it('blocks public access on all four settings', () => {
    const block = one('aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').inputs;
    expect(block).toMatchObject({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
  });

  it('is encrypted with the configured KMS key, and denies requests without TLS', () => {
    const encryption = one('aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration').inputs;
    expect(encryption.rules[0].applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: 'aws:kms', kmsMasterKeyId: KMS_KEY });
    const policy = JSON.parse(one('aws:s3/bucketPolicy:BucketPolicy').inputs.policy);
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
  });
});

describe('IAM', () => {
  const policy = (): PolicyDocument => JSON.parse(one('aws:iam/policy:Policy').inputs.policy);
  const statement = (sid: string) => {
    const found = policy().Statement.find((candidate) => candidate.Sid === sid);
    expect(found, sid).toBeDefined();
    return found!;
  };

  it('allows the RDS fault actions only on resources tagged drillbook:drill=true', () => {
    const disrupt = statement('DisruptOnlyTaggedDrillTargets');
    expect(disrupt.Action).toEqual(['rds:FailoverDBCluster', 'rds:RebootDBInstance']);
    expect(disrupt.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/drillbook:drill': 'true' } });
  });

  it('restores only from tagged sources into copies that the request tags, and deletes only drillbook copies', () => {
    expect(statement('RestoreFromTaggedSources').Condition).toEqual({ StringEquals: { 'aws:ResourceTag/drillbook:drill': 'true' } });
    const create = statement('CreateOnlyTaggedDrillCopies');
    expect(create.Condition).toEqual({
      StringEquals: { 'aws:RequestTag/drillbook:drill': 'true' },
      'ForAllValues:StringLike': { 'aws:TagKeys': ['drillbook:*'] },
    });
    expect(create.Resource).toEqual(['arn:aws:rds:eu-west-1:123456789012:db:drillbook-*', 'arn:aws:rds:eu-west-1:123456789012:cluster:drillbook-*']);
    const remove = statement('DeleteOnlyDrillCopies');
    // Finding 15: DeleteDBCluster is also authorised on the copy's cluster snapshots (automated ones are rds:<id>-…).
    expect(remove.Resource).toEqual([
      ...create.Resource,
      'arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:drillbook-*',
      'arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:rds:drillbook-*',
    ]);
    expect(remove.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/drillbook:drill': 'true' } });
    // No other statement may delete.
    for (const other of policy().Statement.filter((candidate) => candidate.Sid !== 'DeleteOnlyDrillCopies')) {
      expect(other.Action.some((action) => /Delete/.test(action)), other.Sid).toBe(false);
    }
  });

  it('every statement that is not read-only carries a condition or is confined to named resources', () => {
    for (const entry of policy().Statement) {
      if (entry.Resource.includes('*')) expect(entry.Action.every((action) => /^rds:(Describe|List)/.test(action)), entry.Sid).toBe(true);
    }
    expect(statement('WriteEvidenceUnderPrefix')).toMatchObject({
      Action: ['s3:PutObject', 's3:PutObjectRetention'],
      Resource: ['arn:aws:s3:::drillbook-evidence-20261126/prod/drills/*'],
    });
    // Reads: only the shared chain's objects and the register head; listing only ledger/.
    expect(statement('ReadLedgerHead')).toMatchObject({
      Action: ['s3:GetObject'],
      Resource: ['arn:aws:s3:::drillbook-evidence-20261126/prod/drills/ledger/*', 'arn:aws:s3:::drillbook-evidence-20261126/prod/drills/remediation.jsonl'],
    });
    // The system lock objects, which the CronJobs take beside the Lease (outside runners take only them).
    expect(statement('ReadSystemLocks')).toMatchObject({ Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::drillbook-evidence-20261126/prod/drills/locks/*'] });
    expect(statement('ListLedgerOnly')).toMatchObject({
      Action: ['s3:ListBucket'],
      Resource: ['arn:aws:s3:::drillbook-evidence-20261126'],
      Condition: { StringLike: { 's3:prefix': ['prod/drills/ledger/*'] } },
    });
  });

  it('lets only the drillbook ServiceAccount assume the IRSA role, which the ServiceAccount names', async () => {
    const trust = JSON.parse(one('aws:iam/role:Role').inputs.assumeRolePolicy);
    expect(trust.Statement[0].Condition.StringEquals).toEqual({
      'oidc.eks.eu-west-1.amazonaws.com/id/ABC123:sub': 'system:serviceaccount:drillbook:drillbook',
      'oidc.eks.eu-west-1.amazonaws.com/id/ABC123:aud': 'sts.amazonaws.com',
    });
    const serviceAccount = one('kubernetes:core/v1:ServiceAccount').inputs;
    expect(serviceAccount.metadata.annotations['eks.amazonaws.com/role-arn']).toBe(await unwrap(program.irsaRoleArn as pulumi.Output<string>));
  });

  it('lets S3 use the bucket key for the evidence it writes, and nothing else of KMS', () => {
    expect(statement('EncryptEvidenceWithBucketKey')).toEqual({
      Sid: 'EncryptEvidenceWithBucketKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: [KMS_KEY],
      Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } },
    });
  });

  it('lets RDS create the KMS grant a restore of a CMK-encrypted source needs, only through RDS in the region (finding 11)', () => {
    expect(statement('RestoreEncryptedSourcesThroughRds')).toEqual({
      Sid: 'RestoreEncryptedSourcesThroughRds',
      Effect: 'Allow',
      Action: ['kms:CreateGrant', 'kms:DescribeKey'],
      Resource: ['arn:aws:kms:eu-west-1:123456789012:key/*'],
      Condition: { StringEquals: { 'kms:ViaService': 'rds.eu-west-1.amazonaws.com' } },
    });
    // Only restores need it: a failover-only schedule gets no KMS grant.
    const failoverOnly = drillPolicyDocument(
      { partition: 'aws', region: 'eu-west-1', accountId: '123456789012', bucketName: 'b', evidencePrefix: 'p', copyNamePrefix: 'drillbook-' },
      rdsNeeds([scenario({ driver: 'rds', type: 'failover', faults: [{ type: 'rds-failover', namespaces: [], settings: {} }] })]),
    );
    expect(failoverOnly.Statement.flatMap((entry) => entry.Action).filter((action) => action.startsWith('kms:'))).toEqual([]);
  });

  it('has no RDS statements at all when no scheduled scenario uses RDS', () => {
    const document = drillPolicyDocument(
      { partition: 'aws', region: 'eu-west-1', accountId: '123456789012', bucketName: 'b', evidencePrefix: 'p', copyNamePrefix: 'drillbook-' },
      rdsNeeds([scenario({ faults: [{ type: 'pod-delete', namespaces: ['shop'], settings: {} }] })]),
    );
    expect(document.Statement.map((entry) => entry.Sid)).toEqual(['WriteEvidenceUnderPrefix', 'ReadLedgerHead', 'ReadSystemLocks', 'ListLedgerOnly']);
  });
});

describe('a second program: defaults and refusals', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'drillbook-infra-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const settingsFor = (scenariosDir: string, extra: Record<string, string> = {}): InfraSettings =>
    readSettings({ get: (key) => ({ scenariosDir, image: 'drillbook:test', ...extra })[key] });

  it('encrypts with AES256 and has no IRSA role or ClusterRole by default', async () => {
    await writeFile(path.join(dir, 'plan.yaml'), 'apiVersion: drillbook.dev/v1\nkind: ContinuityPlan\nmetadata: { name: p, version: 1 }\nspec: { systems: [] }\n');
    await writeFile(
      path.join(dir, 'drill.yaml'),
      [
        'apiVersion: drillbook.dev/v1',
        'kind: Scenario',
        'metadata: { name: web-pods, system: web, environment: staging }',
        'spec:',
        '  type: failover',
        '  plan: plan.yaml',
        '  schedule: { cron: "*/30 * * * *" }',
        '  target: { driver: kubernetes }',
        '  faults: [ { type: pod-delete, namespace: web, maxPods: 1 } ]',
      ].join('\n'),
    );
    const settings = settingsFor(dir);
    expect(settings).toMatchObject({ namespace: 'drillbook', retentionDays: 400, evidencePrefix: 'drills', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 5 });
    registered = [];
    const infra = createDrillbookInfra(settings, await readScenarioDirectory(dir));
    await unwrap(infra.evidenceUri);
    await Promise.all(infra.cronJobs.map((job) => unwrap(job.urn)));
    await unwrap(infra.drillPolicy.urn);
    expect(infra.clusterRole).toBeUndefined();
    expect(infra.irsaRole).toBeUndefined();
    expect(one('aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration').inputs.rules[0].applyServerSideEncryptionByDefault).toEqual({ sseAlgorithm: 'AES256' });
    expect(one('aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration').inputs.rule.defaultRetention).toEqual({ mode: 'COMPLIANCE', days: 400 });
    expect(ofType('kubernetes:rbac.authorization.k8s.io/v1:ClusterRole')).toEqual([]);
    expect(one('kubernetes:batch/v1:CronJob').inputs.spec.schedule).toBe('*/30 * * * *');
  });

  it('reports every bad stack setting at once, by key', () => {
    let error: unknown;
    try {
      readSettings({ get: (key) => ({ retentionDays: '0', namespace: 'Drill_Book', resources: '{"requests":{"cpu":"lots"}}', secretEnv: '{"PGPASSWORD":"hunter2"}' })[key] });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InfraError);
    const message = (error as Error).message;
    for (const expected of [
      'drillbook:scenariosDir: is required',
      'drillbook:image: is required',
      'drillbook:namespace: "Drill_Book" is not a Kubernetes namespace name',
      'drillbook:retentionDays: must be a whole number from 1 to 36500, got "0"',
      'drillbook:resources.requests.cpu: "lots" is not a Kubernetes quantity',
      'drillbook:secretEnv.PGPASSWORD: must be { secret: <Secret name>, key: <key in it> }',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('refuses a schedule a CronJob cannot keep, naming the file and line', async () => {
    const bad = await mkdtemp(path.join(dir, 'bad-'));
    await writeFile(
      path.join(bad, 'drill.yaml'),
      'apiVersion: drillbook.dev/v1\nkind: Scenario\nmetadata: { name: d, system: s, environment: staging }\nspec:\n  type: failover\n  schedule: { cron: "30 0 3 * * *", timezone: Mars/Olympus }\n',
    );
    await expect(readScenarioDirectory(bad)).rejects.toThrow(/drill\.yaml:6: spec\.schedule\.cron: "30 0 3 \* \* \*" starts at second 30/);
  });

  it('refuses kubeconfig and context in a scheduled Kubernetes drill: the CronJob has only the in-cluster context', async () => {
    const local = await mkdtemp(path.join(dir, 'local-'));
    await writeFile(
      path.join(local, 'drill.yaml'),
      [
        'apiVersion: drillbook.dev/v1',
        'kind: Scenario',
        'metadata: { name: web-pods, system: web, environment: staging }',
        'spec:',
        '  type: failover',
        '  schedule: { cron: "*/30 * * * *" }',
        '  target:',
        '    driver: kubernetes',
        '    kubeconfig: ./staging.kubeconfig',
        '    context: staging',
        '  faults: [ { type: pod-delete, namespace: web, maxPods: 1 } ]',
      ].join('\n'),
    );
    const error = await readScenarioDirectory(local).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InfraError);
    expect((error as Error).message).toMatch(/drill\.yaml:9: spec\.target\.kubeconfig: a scheduled Kubernetes drill runs in its CronJob with the in-cluster service account \(context inClusterContext/);
    expect((error as Error).message).toMatch(/drill\.yaml:10: spec\.target\.context: .*remove context/);
  });

  it('refuses to schedule a production drill unattended unless the stack confirms it', async () => {
    const prod = await mkdtemp(path.join(dir, 'prod-'));
    await writeFile(path.join(prod, 'plan.yaml'), 'apiVersion: drillbook.dev/v1\nkind: ContinuityPlan\nmetadata: { name: p, version: 1 }\nspec: { systems: [] }\n');
    await writeFile(
      path.join(prod, 'drill.yaml'),
      'apiVersion: drillbook.dev/v1\nkind: Scenario\nmetadata: { name: orders-prod, system: s, environment: production }\nspec:\n  type: failover\n  plan: plan.yaml\n  schedule: { cron: "0 4 * * 1" }\n  target: { driver: rds }\n  faults: [ { type: rds-failover } ]\n',
    );
    const directory = await readScenarioDirectory(prod);
    expect(() => createDrillbookInfra(settingsFor(prod), directory)).toThrow(/orders-prod runs in production: list it in drillbook:confirmProduction/);
    expect(() => settingsFor(prod, { confirmProduction: '["orders-prod"]' })).toThrow(/drillbook:approver: is required/);

    registered = [];
    const infra = createDrillbookInfra(settingsFor(prod, { confirmProduction: '["orders-prod"]', approver: 'Ana Ruiz' }), directory);
    await Promise.all(infra.cronJobs.map((job) => unwrap(job.urn)));
    const args = one('kubernetes:batch/v1:CronJob').inputs.spec.jobTemplate.spec.template.spec.containers[0].args;
    expect(args.slice(-4)).toEqual(['--confirm', 'orders-prod', '--approver', 'Ana Ruiz']);
  });
});

function scenario(overrides: Partial<ScheduledScenario>): ScheduledScenario {
  return {
    name: 'drill',
    file: 'drill.yaml',
    system: 'web',
    environment: 'staging',
    type: 'failover',
    driver: 'kubernetes',
    cron: '0 3 * * 1',
    timezone: undefined,
    faults: [],
    target: { driver: 'kubernetes' },
    targetNamespaces: [],
    ...overrides,
  };
}
