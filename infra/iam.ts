/**
 * The IAM policy of the drill runner: the RDS actions the scheduled RDS scenarios need, only
 * on resources tagged for drills (`drillbook:drill = true`); restores only into copies named
 * with the copy prefix and tagged on creation; deletes only of those copies (and their
 * cluster snapshots); the KMS grant RDS needs to restore a source encrypted with a
 * customer-managed key, only through RDS; read-only
 * Describe calls; and writing evidence under the bucket prefix. Pure data, so tests and the
 * docs can read it without Pulumi.
 */
import { faultsOf } from '../runners/faults/registry.js';
import type { ScheduledScenario } from './scenarios.js';

export const DRILL_TAG_KEY = 'drillbook:drill';
export const DRILL_TAG_VALUE = 'true';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

export interface PolicyContext {
  partition: string;
  region: string;
  accountId: string;
  bucketName: string;
  evidencePrefix: string;
  copyNamePrefix: string;
  /** The bucket's SSE-KMS key, when it has one: writing an object needs a data key from it. */
  kmsKeyArn?: string | undefined;
}

/** RDS fault type → the mutating actions it and its undo call: the `iam` of each RDS fault module (runners/faults/). */
export const RDS_FAULT_ACTIONS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(faultsOf('rds').map((fault) => [fault.type, fault.iam] as const));

export const RDS_DESCRIBE_ACTIONS = [
  'rds:DescribeDBInstances',
  'rds:DescribeDBClusters',
  'rds:DescribeDBSnapshots',
  'rds:DescribeDBClusterSnapshots',
  'rds:DescribeDBSubnetGroups',
  'rds:DescribeEvents',
] as const;

export const RDS_RESTORE_ACTIONS = [
  'rds:RestoreDBInstanceToPointInTime',
  'rds:RestoreDBInstanceFromDBSnapshot',
  'rds:RestoreDBClusterToPointInTime',
  'rds:RestoreDBClusterFromSnapshot',
] as const;

/** What the scheduled RDS scenarios do: their fault actions, and whether any restores a copy. */
export function rdsNeeds(scenarios: readonly ScheduledScenario[]): { faultActions: string[]; restores: boolean; any: boolean } {
  const actions = new Set<string>();
  let restores = false;
  let any = false;
  for (const scenario of scenarios) {
    if (scenario.driver !== 'rds') continue;
    any = true;
    if (scenario.type === 'parallel-restore') restores = true;
    for (const fault of scenario.faults) for (const action of RDS_FAULT_ACTIONS[fault.type] ?? []) actions.add(action);
  }
  return { faultActions: [...actions].sort(), restores, any };
}

export function drillPolicyDocument(context: PolicyContext, needs: ReturnType<typeof rdsNeeds>): PolicyDocument {
  const { partition, region, accountId, copyNamePrefix } = context;
  const rds = (type: string, name: string) => `arn:${partition}:rds:${region}:${accountId}:${type}:${name}`;
  const taggedForDrills = { StringEquals: { [`aws:ResourceTag/${DRILL_TAG_KEY}`]: DRILL_TAG_VALUE } };
  const requestTagsForDrills = {
    StringEquals: { [`aws:RequestTag/${DRILL_TAG_KEY}`]: DRILL_TAG_VALUE },
    'ForAllValues:StringLike': { 'aws:TagKeys': ['drillbook:*'] },
  };
  const copies = [rds('db', `${copyNamePrefix}*`), rds('cluster', `${copyNamePrefix}*`)];

  const statements: PolicyStatement[] = [
    {
      Sid: 'WriteEvidenceUnderPrefix',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:PutObjectRetention'],
      Resource: [`arn:${partition}:s3:::${context.bucketName}/${context.evidencePrefix}/*`],
    },
    {
      // The shared ledger chain (reports/evidence/s3-ledger.ts): a runner reads the last line
      // to chain to it, and the register's head to anchor it. Nothing else is read.
      Sid: 'ReadLedgerHead',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: [
        `arn:${partition}:s3:::${context.bucketName}/${context.evidencePrefix}/ledger/*`,
        `arn:${partition}:s3:::${context.bucketName}/${context.evidencePrefix}/remediation.jsonl`,
      ],
    },
    {
      // One drill per system across runners (runners/coordination/both-locks.ts): a CronJob
      // reads its system's S3 lock object (written under the prefix, above) to take it.
      Sid: 'ReadSystemLocks',
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: [`arn:${partition}:s3:::${context.bucketName}/${context.evidencePrefix}/locks/*`],
    },
    {
      Sid: 'ListLedgerOnly',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [`arn:${partition}:s3:::${context.bucketName}`],
      Condition: { StringLike: { 's3:prefix': [`${context.evidencePrefix}/ledger/*`] } },
    },
  ];
  if (context.kmsKeyArn) {
    statements.push({
      Sid: 'EncryptEvidenceWithBucketKey',
      Effect: 'Allow',
      // Decrypt: reading the ledger head (ReadLedgerHead) of SSE-KMS objects.
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: [context.kmsKeyArn],
      Condition: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
    });
  }
  if (needs.any) {
    statements.push({ Sid: 'DescribeReadOnly', Effect: 'Allow', Action: [...RDS_DESCRIBE_ACTIONS], Resource: ['*'] });
  }
  if (needs.faultActions.length > 0) {
    statements.push({
      Sid: 'DisruptOnlyTaggedDrillTargets',
      Effect: 'Allow',
      Action: needs.faultActions,
      Resource: [rds('db', '*'), rds('cluster', '*')],
      Condition: taggedForDrills,
    });
  }
  if (needs.restores) {
    statements.push(
      {
        // The source of a restore (instance, cluster or snapshot) must be tagged for drills.
        Sid: 'RestoreFromTaggedSources',
        Effect: 'Allow',
        Action: [...RDS_RESTORE_ACTIONS],
        Resource: [rds('db', '*'), rds('cluster', '*'), rds('snapshot', '*'), rds('cluster-snapshot', '*')],
        Condition: taggedForDrills,
      },
      {
        // The copy: named with the copy prefix, and the request must tag it for drills
        // (RDS also authorises rds:AddTagsToResource for tags given on creation).
        Sid: 'CreateOnlyTaggedDrillCopies',
        Effect: 'Allow',
        Action: [...RDS_RESTORE_ACTIONS, 'rds:CreateDBInstance', 'rds:AddTagsToResource'],
        Resource: copies,
        Condition: requestTagsForDrills,
      },
      {
        // Referenced, not changed: the isolated subnet group, security groups, option and
        // parameter groups the copy is placed in.
        Sid: 'PlaceCopiesInDeclaredNetwork',
        Effect: 'Allow',
        Action: [...RDS_RESTORE_ACTIONS, 'rds:CreateDBInstance'],
        Resource: [rds('subgrp', '*'), rds('secgrp', '*'), rds('og', '*'), rds('pg', '*'), rds('cluster-pg', '*')],
      },
      {
        // DeleteDBCluster is authorised on the cluster and on its cluster snapshots (the
        // automated ones are named rds:<cluster id>-…). They carry the drill tag only because
        // the copy is created with CopyTagsToSnapshot: RDS tags automated snapshots with
        // nothing else.
        Sid: 'DeleteOnlyDrillCopies',
        Effect: 'Allow',
        Action: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
        Resource: [...copies, rds('cluster-snapshot', `${copyNamePrefix}*`), rds('cluster-snapshot', `rds:${copyNamePrefix}*`)],
        Condition: taggedForDrills,
      },
      {
        // A source encrypted with a customer-managed KMS key: RDS creates the copy's grant on
        // the key on the caller's behalf (kms:CreateGrant) after reading it (kms:DescribeKey).
        // Whether a source uses one is known only at run time, so every restore gets this,
        // confined to requests RDS makes in this region. AWS-managed keys (aws/rds) need none.
        Sid: 'RestoreEncryptedSourcesThroughRds',
        Effect: 'Allow',
        Action: ['kms:CreateGrant', 'kms:DescribeKey'],
        Resource: [`arn:${partition}:kms:${region}:${accountId}:key/*`],
        Condition: { StringEquals: { 'kms:ViaService': `rds.${region}.amazonaws.com` } },
      },
    );
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** Trust policy of the IRSA role: only the drillbook ServiceAccount of this cluster may assume it. */
export function irsaTrustPolicy(oidcProviderArn: string, namespace: string, serviceAccount: string): object {
  const issuer = oidcProviderArn.slice(oidcProviderArn.indexOf(':oidc-provider/') + ':oidc-provider/'.length);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: oidcProviderArn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
            [`${issuer}:aud`]: 'sts.amazonaws.com',
          },
        },
      },
    ],
  };
}
