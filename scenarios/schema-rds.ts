/**
 * The RDS driver's part of the Scenario language: its target settings and its faults.
 * Credentials and region come from the standard AWS provider chain (environment, profile,
 * SSO, instance role), never from the scenario; SQL passwords are secret references.
 */
import { z } from 'zod';
import { PositiveDuration, SecretRef } from './primitives.js';

const AwsIdentifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9-]{0,62}$/, 'must be an RDS identifier: a letter, then letters, digits or hyphens (at most 63)');

/** A SQL endpoint drillbook can reach from where it runs (directly, or through a tunnel). */
export const RdsSqlEndpoint = z.strictObject({
  host: z.string().min(1).optional().describe('Host to connect to; defaults to the endpoint address RDS reports (a tunnel may override it)'),
  port: z.number().int().min(1).max(65535).optional().describe('Port; defaults to the endpoint port RDS reports'),
  database: z.string().default('postgres'),
  user: z.string().default('postgres'),
  password: SecretRef.optional(),
});
export type RdsSqlEndpoint = z.infer<typeof RdsSqlEndpoint>;

export const RdsCopy = z.strictObject({
  snapshot: z
    .string()
    .min(1)
    .optional()
    .describe('Restore from this snapshot (`latest`: the newest available one of the source); absent: point in time (spec.restore.restoreTo)'),
  subnetGroup: z.string().min(1).describe('The isolated DB subnet group the copy is created in'),
  securityGroups: z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'must be a VPC security group id (sg-…)')).min(1).describe('VPC security groups of the copy'),
  instanceClass: z.string().optional().describe('DB instance class of the copy (cluster copies need one for their member instance)'),
  probe: RdsSqlEndpoint.describe('Where the recovery probe and the data checks reach the copy'),
});
export type RdsCopy = z.infer<typeof RdsCopy>;

export const RdsTarget = z.strictObject({
  driver: z.literal('rds'),
  instance: AwsIdentifier.optional().describe('DB instance identifier (a Multi-AZ instance for failover; the source of a restore)'),
  cluster: AwsIdentifier.optional().describe('DB cluster identifier (Aurora or Multi-AZ DB cluster)'),
  production: RdsSqlEndpoint.optional().describe('The production SQL endpoint (writer): steady-state and failover probes, heartbeat writer, source of comparing checks'),
  standby: RdsSqlEndpoint.optional().describe('Another SQL endpoint the service fails over to (probes.endpoint: standby)'),
  copy: RdsCopy.optional().describe('parallel-restore: where and how the copy is created'),
  pollInterval: PositiveDuration.default('10s').describe('Longest pause between RDS Describe calls while waiting (backoff starts at 1s)'),
});
export type RdsTarget = z.infer<typeof RdsTarget>;

const RdsFailoverFault = z.strictObject({
  type: z.literal('rds-failover'),
  targetInstance: AwsIdentifier.optional().describe('Cluster failover only: the reader to promote'),
});
const RdsRebootFault = z.strictObject({
  type: z.literal('rds-reboot'),
});
const RdsStopFault = z.strictObject({
  type: z.literal('rds-stop'),
});

/** Fault shapes this driver adds to spec.faults (discriminated by `type`). */
export const RdsFaults = [RdsFailoverFault, RdsRebootFault, RdsStopFault] as const;
export type RdsFault = z.infer<(typeof RdsFaults)[number]>;
