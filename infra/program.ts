/**
 * The drillbook deployment: scheduled drills run as Kubernetes CronJobs under a
 * least-privilege ServiceAccount, and their evidence lands in an S3 bucket nobody can quietly
 * edit (versioning + Object Lock in COMPLIANCE mode, no public access, encrypted, TLS only).
 * `index.ts` reads the stack settings and the scenario directory and calls this.
 */
import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { drillPolicyDocument, irsaTrustPolicy, rdsNeeds } from './iam.js';
import { deriveRbac, policyRules, type DerivedRbac } from './rbac.js';
import type { ScenarioDirectory, ScheduledScenario } from './scenarios.js';
import { InfraError, type InfraSettings } from './settings.js';

export const SERVICE_ACCOUNT_NAME = 'drillbook';
export const RBAC_NAME = 'drillbook-drills';
export const SCENARIOS_CONFIGMAP = 'drillbook-scenarios';
export const SCENARIOS_MOUNT = '/scenarios';
/** CronJob names are at most 52 characters (the controller appends an 11-character suffix to Jobs). */
const MAX_CRONJOB_NAME = 52;

export interface CronJobSummary {
  scenario: string;
  file: string;
  cronJob: string;
  schedule: string;
  timeZone: string | undefined;
}

export interface DrillbookInfra {
  namespace: k8s.core.v1.Namespace;
  serviceAccount: k8s.core.v1.ServiceAccount;
  roles: k8s.rbac.v1.Role[];
  roleBindings: k8s.rbac.v1.RoleBinding[];
  clusterRole: k8s.rbac.v1.ClusterRole | undefined;
  clusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding | undefined;
  scenarios: k8s.core.v1.ConfigMap;
  cronJobs: k8s.batch.v1.CronJob[];
  bucket: aws.s3.Bucket;
  bucketVersioning: aws.s3.BucketVersioning;
  objectLock: aws.s3.BucketObjectLockConfiguration;
  encryption: aws.s3.BucketServerSideEncryptionConfiguration;
  publicAccessBlock: aws.s3.BucketPublicAccessBlock;
  bucketPolicy: aws.s3.BucketPolicy;
  drillPolicy: aws.iam.Policy;
  irsaRole: aws.iam.Role | undefined;
  irsaAttachment: aws.iam.RolePolicyAttachment | undefined;
  rbac: DerivedRbac;
  cronJobSummaries: CronJobSummary[];
  /** `s3://bucket/prefix`, resolved only once the bucket is locked down (the CronJobs use it). */
  evidenceUri: pulumi.Output<string>;
}

export function createDrillbookInfra(settings: InfraSettings, directory: ScenarioDirectory): DrillbookInfra {
  checkProductionScenarios(settings, directory.scheduled);
  for (const warning of sameSystemSameTime(directory.scheduled)) void pulumi.log.warn(warning);
  // The CronJobs run in drillbook's namespace, and take their system's Lease there.
  const rbac = deriveRbac(directory.scheduled, undefined, { leaseNamespace: settings.namespace });

  // ------------------------------------------------------------------ evidence bucket
  const bucket = new aws.s3.Bucket(
    'evidence',
    {
      ...(settings.evidenceBucketName ? { bucket: settings.evidenceBucketName } : { bucketPrefix: 'drillbook-evidence-' }),
      objectLockEnabled: true,
      forceDestroy: false,
      tags: { 'drillbook:purpose': 'evidence' },
    },
    // Evidence outlives the stack: `pulumi destroy` leaves the bucket (Object Lock would refuse anyway).
    { retainOnDelete: true },
  );
  const bucketVersioning = new aws.s3.BucketVersioning('evidence', {
    bucket: bucket.id,
    versioningConfiguration: { status: 'Enabled' },
  });
  const objectLock = new aws.s3.BucketObjectLockConfiguration(
    'evidence',
    {
      bucket: bucket.id,
      objectLockEnabled: 'Enabled',
      rule: { defaultRetention: { mode: 'COMPLIANCE', days: settings.retentionDays } },
    },
    { dependsOn: [bucketVersioning] },
  );
  const encryption = new aws.s3.BucketServerSideEncryptionConfiguration('evidence', {
    bucket: bucket.id,
    rules: [
      settings.kmsKeyArn
        ? { applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: settings.kmsKeyArn }, bucketKeyEnabled: true }
        : { applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } },
    ],
  });
  const publicAccessBlock = new aws.s3.BucketPublicAccessBlock('evidence', {
    bucket: bucket.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  const bucketPolicy = new aws.s3.BucketPolicy(
    'evidence',
    {
      bucket: bucket.id,
      policy: bucket.arn.apply((arn) =>
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'DenyInsecureTransport',
              Effect: 'Deny',
              Principal: '*',
              Action: 's3:*',
              Resource: [arn, `${arn}/*`],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        }),
      ),
    },
    // S3 refuses a bucket policy while the public access block is being changed.
    { dependsOn: [publicAccessBlock] },
  );
  const evidenceUri = pulumi
    .all([bucket.bucket, objectLock.id, encryption.id, publicAccessBlock.id, bucketPolicy.id])
    .apply(([name]) => `s3://${name}/${settings.evidencePrefix}`);

  // ------------------------------------------------------------------ IAM
  const partition = aws.getPartitionOutput().partition;
  const region = aws.getRegionOutput().region;
  const accountId = aws.getCallerIdentityOutput().accountId;
  const needs = rdsNeeds(directory.scheduled);
  const drillPolicy = new aws.iam.Policy('drills', {
    description: 'drillbook scheduled drills: RDS drill actions on resources tagged drillbook:drill=true, evidence upload',
    policy: pulumi
      .all([partition, region, accountId, bucket.bucket])
      .apply(([partitionName, regionName, account, bucketName]) =>
        JSON.stringify(
          drillPolicyDocument(
            { partition: partitionName, region: regionName, accountId: account, bucketName, evidencePrefix: settings.evidencePrefix, copyNamePrefix: settings.copyNamePrefix, kmsKeyArn: settings.kmsKeyArn },
            needs,
          ),
        ),
      ),
  });
  let irsaRole: aws.iam.Role | undefined;
  let irsaAttachment: aws.iam.RolePolicyAttachment | undefined;
  if (settings.oidcProviderArn) {
    irsaRole = new aws.iam.Role('drills', {
      description: 'Assumed by the drillbook ServiceAccount (IRSA)',
      assumeRolePolicy: JSON.stringify(irsaTrustPolicy(settings.oidcProviderArn, settings.namespace, SERVICE_ACCOUNT_NAME)),
    });
    irsaAttachment = new aws.iam.RolePolicyAttachment('drills', { role: irsaRole.name, policyArn: drillPolicy.arn });
  }

  // ------------------------------------------------------------------ Kubernetes
  const labels = { 'app.kubernetes.io/name': 'drillbook', 'app.kubernetes.io/managed-by': 'pulumi' };
  const namespace = new k8s.core.v1.Namespace('drillbook', { metadata: { name: settings.namespace, labels } });
  const inNamespace = { dependsOn: [namespace] };
  const serviceAccount = new k8s.core.v1.ServiceAccount(
    'drillbook',
    {
      metadata: {
        name: SERVICE_ACCOUNT_NAME,
        namespace: settings.namespace,
        labels,
        ...(irsaRole ? { annotations: { 'eks.amazonaws.com/role-arn': irsaRole.arn } } : {}),
      },
      // Drills talk to the API with these credentials only through the client library.
      automountServiceAccountToken: true,
    },
    inNamespace,
  );
  const subject = { kind: 'ServiceAccount', name: SERVICE_ACCOUNT_NAME, namespace: settings.namespace };

  const roles: k8s.rbac.v1.Role[] = [];
  const roleBindings: k8s.rbac.v1.RoleBinding[] = [];
  for (const { namespace: target, rules } of rbac.namespaced) {
    // The target namespaces belong to the workloads under drill and exist already; only the
    // drillbook namespace is created here.
    const options = target === settings.namespace ? inNamespace : {};
    const role = new k8s.rbac.v1.Role(`drills-${target}`, { metadata: { name: RBAC_NAME, namespace: target, labels }, rules: policyRules(rules) }, options);
    roles.push(role);
    roleBindings.push(
      new k8s.rbac.v1.RoleBinding(
        `drills-${target}`,
        {
          metadata: { name: RBAC_NAME, namespace: target, labels },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: RBAC_NAME },
          subjects: [subject],
        },
        { dependsOn: [role, ...(target === settings.namespace ? [namespace] : [])] },
      ),
    );
  }
  let clusterRole: k8s.rbac.v1.ClusterRole | undefined;
  let clusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding | undefined;
  if (rbac.cluster.length > 0) {
    clusterRole = new k8s.rbac.v1.ClusterRole('drills', { metadata: { name: RBAC_NAME, labels }, rules: policyRules(rbac.cluster) });
    clusterRoleBinding = new k8s.rbac.v1.ClusterRoleBinding(
      'drills',
      {
        metadata: { name: RBAC_NAME, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: RBAC_NAME },
        subjects: [subject],
      },
      { dependsOn: [clusterRole] },
    );
  }

  const scenarios = new k8s.core.v1.ConfigMap(
    'scenarios',
    {
      metadata: { name: SCENARIOS_CONFIGMAP, namespace: settings.namespace, labels },
      data: Object.fromEntries(directory.files.map((file) => [file.name, file.content])),
    },
    inNamespace,
  );

  const env: k8s.types.input.core.v1.EnvVar[] = [
    // The image's root filesystem is read-only: staging of evidence and any temp files go to /tmp.
    { name: 'TMPDIR', value: '/tmp' },
    { name: 'HOME', value: '/tmp' },
    // One drill per system across runners: the system's Lease in the pod's own namespace, held
    // as the pod (runners/coordination/select.ts).
    { name: 'DRILLBOOK_COORDINATION', value: 'kubernetes' },
    { name: 'DRILLBOOK_LEASE_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'DRILLBOOK_HOLDER_IDENTITY', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ...(settings.env.AWS_REGION === undefined ? [{ name: 'AWS_REGION', value: region }] : []),
    ...Object.entries(settings.env).map(([name, value]) => ({ name, value })),
    ...Object.entries(settings.secretEnv).map(([name, ref]) => ({ name, valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key } } })),
  ];

  const cronJobSummaries: CronJobSummary[] = [];
  const cronJobs = directory.scheduled.map((scenario) => {
    const name = cronJobName(scenario.name);
    cronJobSummaries.push({ scenario: scenario.name, file: scenario.file, cronJob: name, schedule: scenario.cron, timeZone: scenario.timezone });
    const args = [
      'run',
      `${SCENARIOS_MOUNT}/${scenario.file}`,
      '--evidence',
      evidenceUri,
      ...(settings.confirmProduction.includes(scenario.name) ? ['--confirm', scenario.name, '--approver', settings.approver ?? ''] : []),
    ];
    return new k8s.batch.v1.CronJob(
      `drill-${scenario.name}`,
      {
        metadata: { name, namespace: settings.namespace, labels: { ...labels, 'drillbook.dev/scenario': scenario.name } },
        spec: {
          schedule: scenario.cron,
          ...(scenario.timezone ? { timeZone: scenario.timezone } : {}),
          // Never two runs of one drill at once; a run that is still going skips the next slot.
          concurrencyPolicy: 'Forbid',
          successfulJobsHistoryLimit: settings.successfulJobsHistoryLimit,
          failedJobsHistoryLimit: settings.failedJobsHistoryLimit,
          // A slot missed by more than this (controller down) is recorded by Kubernetes as missed, not run late.
          startingDeadlineSeconds: 600,
          jobTemplate: {
            metadata: { labels: { ...labels, 'drillbook.dev/scenario': scenario.name } },
            spec: {
              // A failed drill is a finding, not something to retry blindly: re-running a
              // failover straight away would disrupt the system again.
              backoffLimit: 0,
              template: {
                metadata: { labels: { ...labels, 'drillbook.dev/scenario': scenario.name } },
                spec: {
                  serviceAccountName: SERVICE_ACCOUNT_NAME,
                  restartPolicy: 'Never',
                  // Room for SIGTERM handling: the drill aborts and runs its undos before exiting.
                  terminationGracePeriodSeconds: 300,
                  securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
                  containers: [
                    {
                      name: 'drillbook',
                      image: settings.image,
                      command: settings.command,
                      workingDir: '/tmp',
                      args,
                      env,
                      resources: settings.resources,
                      securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                      volumeMounts: [
                        { name: 'scenarios', mountPath: SCENARIOS_MOUNT, readOnly: true },
                        { name: 'tmp', mountPath: '/tmp' },
                      ],
                    },
                  ],
                  volumes: [
                    { name: 'scenarios', configMap: { name: SCENARIOS_CONFIGMAP } },
                    { name: 'tmp', emptyDir: {} },
                  ],
                },
              },
            },
          },
        },
      },
      { dependsOn: [namespace, serviceAccount, scenarios, ...roleBindings, ...(clusterRoleBinding ? [clusterRoleBinding] : [])] },
    );
  });

  return {
    namespace,
    serviceAccount,
    roles,
    roleBindings,
    clusterRole,
    clusterRoleBinding,
    scenarios,
    cronJobs,
    bucket,
    bucketVersioning,
    objectLock,
    encryption,
    publicAccessBlock,
    bucketPolicy,
    drillPolicy,
    irsaRole,
    irsaAttachment,
    rbac,
    cronJobSummaries,
    evidenceUri,
  };
}

/** `drill-<scenario>`, shortened with a stable hash when the scenario name is long. */
export function cronJobName(scenarioName: string): string {
  const name = `drill-${scenarioName}`;
  if (name.length <= MAX_CRONJOB_NAME) return name;
  let hash = 0;
  for (const char of scenarioName) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  const suffix = hash.toString(36).padStart(7, '0').slice(0, 7);
  return `${name.slice(0, MAX_CRONJOB_NAME - 8).replace(/-+$/, '')}-${suffix}`;
}

/**
 * `concurrencyPolicy: Forbid` keeps one scenario from overlapping itself; two scenarios of
 * one system are separate CronJobs, kept apart by the system's Lease (one of them skips or
 * waits, by its overlap policy). The same schedule for both is almost certainly a mistake.
 */
export function sameSystemSameTime(scheduled: readonly ScheduledScenario[]): string[] {
  const bySlot = new Map<string, string[]>();
  for (const scenario of scheduled) {
    const slot = `${scenario.system}|${scenario.cron}|${scenario.timezone ?? 'UTC'}`;
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), scenario.name]);
  }
  return [...bySlot.entries()]
    .filter(([, names]) => names.length > 1)
    .map(([slot, names]) => {
      const [system, cron, zone] = slot.split('|');
      return `${names.join(' and ')} drill the system ${system} at the same time ("${cron}" ${zone}); give them different schedules so they do not overlap`;
    });
}

/** A production drill refuses to run without `--confirm`; scheduling one unattended must be a stack decision. */
function checkProductionScenarios(settings: InfraSettings, scheduled: readonly ScheduledScenario[]): void {
  const unconfirmed = scheduled.filter((scenario) => scenario.environment === 'production' && !settings.confirmProduction.includes(scenario.name));
  const unknown = settings.confirmProduction.filter((name) => !scheduled.some((scenario) => scenario.name === name));
  const problems = [
    ...unconfirmed.map(
      (scenario) =>
        `${scenario.file}: ${scenario.name} runs in production: list it in drillbook:confirmProduction (with drillbook:approver) to schedule it unattended`,
    ),
    ...unknown.map((name) => `drillbook:confirmProduction: ${name} is not a scheduled scenario in ${settings.scenariosDir}`),
  ];
  if (problems.length > 0) throw new InfraError(problems.join('\n'));
}

