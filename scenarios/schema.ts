/**
 * The drillbook language, v1: the single source of truth for ContinuityPlan and Scenario
 * files. The JSON Schema (`drillbook schema`) is generated from these definitions, and the
 * loader maps every zod issue back to a file position. Objects are strict so a misspelt key
 * is an error with a "did you mean" hint rather than a silently ignored setting.
 */
import { z } from 'zod';
import { DnsLabel, Duration, PositiveDuration, SecretRef, Timeout } from './primitives.js';
import { KubernetesFaults, KubernetesTarget } from './schema-kubernetes.js';
import { ExerciseAnswers, ExerciseModule, Objective, RunbookStep } from './schema-exercise.js';
import { RdsFaults, RdsTarget } from './schema-rds.js';
import { PatroniFaults } from './schema-patroni.js';
import { EnvironmentDeclarations } from './environments.js';
import { Masking } from './masking.js';
import { EndpointSyntaxError, TARGET_SESSION_ATTRS, parseEndpoint } from './pg-endpoint.js';
import { normalizeStableFor } from './stable-for.js';
import { parseDuration } from './duration.js';

export { Duration, DURATION_PATTERN, PositiveDuration, SecretRef, Timeout } from './primitives.js';

export const API_VERSION = 'drillbook.dev/v1';

const Metadata = z.strictObject({
  name: DnsLabel,
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});

// ---------------------------------------------------------------- ContinuityPlan

export const TestType = z.enum(['tabletop', 'simulation', 'parallel-restore', 'failover']);
export type TestType = z.infer<typeof TestType>;

export const PlanSystem = z.strictObject({
  name: DnsLabel,
  description: z.string().optional(),
  tier: z.number().int().min(1).max(4),
  rto: PositiveDuration,
  rpo: Duration.describe('Zero (no acknowledged write may be lost) is a valid target'),
  owner: z.string().min(1),
  dependsOn: z.array(z.string()).optional(),
});

/**
 * What a tier requires: for each test type, the longest time between two runs (coverage), and
 * `maxBackupAge`, the oldest a backup restored by a drill may be at T0 (SOC 2 A1.2; an older
 * one is a `backup-too-old` finding).
 */
const TierPolicy = z.strictObject({
  ...Object.fromEntries(TestType.options.map((type) => [type, PositiveDuration.optional()])) as Record<TestType, z.ZodOptional<typeof PositiveDuration>>,
  maxBackupAge: PositiveDuration.optional().describe('The oldest a restored backup may be at T0, e.g. 26h (older is a finding)'),
});
export type TierPolicy = z.infer<typeof TierPolicy>;

/** The test types a tier policy requires and the longest time allowed between their runs (maxBackupAge is not a test type). */
export function requiredTests(policy: TierPolicy | undefined): [TestType, string][] {
  return TestType.options.flatMap((type) => (policy?.[type] ? [[type, policy[type]] as [TestType, string]] : []));
}

/** The kinds of finding a plan's severity rules can name. */
export const FindingClass = z.enum([
  'missed-target',
  'failed-check',
  'failed-step',
  'aborted',
  'teardown',
  'checklist-partial',
  'checklist-missed',
  'checklist-late',
  'rating-M',
  'rating-U',
  'improvement',
  'walkthrough-over-rto',
  'backup-too-old',
]);
export type FindingClass = z.infer<typeof FindingClass>;

export const ContinuityPlan = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ContinuityPlan'),
  metadata: z.strictObject({
    name: DnsLabel,
    version: z
      .union([z.string().trim().min(1), z.number()])
      .transform(String)
      .describe('The plan revision; run records and remediation closes name it (e.g. "2026.3")'),
    owner: z.string().optional(),
    description: z.string().optional(),
  }),
  spec: z.strictObject({
    systems: z.array(PlanSystem).min(1),
    environments: EnvironmentDeclarations.optional(),
    // partialRecord: zod 4's record with enum keys demands every key, but a plan lists only
    // the tiers it has a policy for.
    testPolicy: z.partialRecord(z.enum(['1', '2', '3', '4']), TierPolicy).optional(),
    severity: z
      .partialRecord(
        z.enum(['P1', 'P2', 'P3', 'P4']),
        z.strictObject({
          dueInDays: z.number().int().positive(),
          for: z
            .array(FindingClass)
            .optional()
            .describe('Findings that get this severity (otherwise drillbook\'s defaults apply)'),
        }),
      )
      .optional(),
  }),
});
export type ContinuityPlan = z.infer<typeof ContinuityPlan>;

// ---------------------------------------------------------------- PostgreSQL target

export const PgEndpoint = z.strictObject({
  host: z
    .string()
    .refine((host) => !host.includes(','), 'one host here: a libpq host list (`h1:5432,h2:5433`) goes into target.endpoint.host, with targetSessionAttrs')
    .default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  database: z.string().default('postgres'),
  user: z.string().default('postgres'),
  password: SecretRef.optional(),
  dataDir: z
    .string()
    .optional()
    .describe('Data directory on this host; lets process faults find the postmaster'),
});
export type PgEndpoint = z.infer<typeof PgEndpoint>;

/**
 * What clients use (SPEC v1.1): a proxy (HAProxy, PgBouncer), a DNS name, or a libpq
 * multi-host list tried the way libpq tries it. The text is checked by the same parser
 * that connects (scenarios/pg-endpoint.ts), so `validate` points at a bad list.
 */
export const PgClientEndpoint = z
  .strictObject({
    host: z.string().min(1).optional().describe('One host, or a libpq host list: `pg1:5432,pg2:5432` (IPv6 in brackets)'),
    port: z.number().int().min(1).max(65535).optional().describe('Port of the hosts written without one (default 5432)'),
    url: z
      .string()
      .min(1)
      .optional()
      .describe('Instead of host/port: a libpq URI `postgresql://user@h1:5432,h2:5432/db?target_session_attrs=read-write` (never a password)'),
    database: z.string().optional().describe('Default postgres'),
    user: z.string().optional().describe('Default postgres'),
    password: SecretRef.optional(),
    targetSessionAttrs: z
      .enum(TARGET_SESSION_ATTRS)
      .optional()
      .describe('As libpq target_session_attrs: read-write (transaction_read_only off), primary (not in recovery) or any (default)'),
  })
  .superRefine((endpoint, ctx) => {
    try {
      parseEndpoint(endpoint);
    } catch (error) {
      if (!(error instanceof EndpointSyntaxError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message, path: [endpoint.url !== undefined ? 'url' : endpoint.host !== undefined ? 'host' : 'host'] });
    }
  });
export type PgClientEndpoint = z.infer<typeof PgClientEndpoint>;

/** A member of `target.cluster.members`: `host:port`, or an object that also names its data directory here. */
export const PgClusterMember = z.union(
  [
    z.string().min(1).describe('host:port of a member (credentials come from target.endpoint)'),
    z.strictObject({
      name: z.string().min(1).optional().describe('How evidence names the member (default host:port)'),
      host: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(5432),
      dataDir: z.string().optional().describe("The member's data directory, when it runs on this host (kill-leader, pause-leader)"),
    }),
  ],
  { error: 'a member is `host:port` or { host, port, name?, dataDir? }' },
);
export type PgClusterMember = z.infer<typeof PgClusterMember>;

/** A cluster whose leader moves: the leader is found at run time (SPEC v1.1). */
export const PgCluster = z
  .strictObject({
    patroni: z
      .strictObject({
        api: z.array(z.url({ protocol: /^https?$/ })).min(1).describe('Patroni REST APIs (any member; the first that answers is asked), e.g. http://pg1:8008'),
        username: z.string().min(1).optional().describe('restapi.authentication user, when the REST API asks for one (switchover)'),
        password: SecretRef.optional(),
        timeout: Timeout.default('5s').describe('One REST API request gives up after this long'),
      })
      .optional()
      .describe('The leader comes from GET /cluster of the Patroni REST API'),
    members: z.array(PgClusterMember).min(1).optional().describe('The leader is the member not in recovery'),
  })
  .refine((cluster) => (cluster.patroni === undefined) !== (cluster.members === undefined), {
    message: 'a cluster is named by exactly one of patroni (its REST API) or members',
  });
export type PgCluster = z.infer<typeof PgCluster>;

/**
 * Where a parallel restore's data comes from (SPEC v1.1 "Backups people have"): exactly one
 * of pgbackrest, basebackup, command, or the v1 pair baseBackupDir + walArchiveDir. Paths are
 * relative to the scenario file.
 */
const PgBackRestBackup = z.strictObject({
  pgbackrest: z.strictObject({
    stanza: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a pgBackRest stanza name').describe('pgBackRest stanza'),
    config: z.string().min(1).optional().describe('pgbackrest.conf (default: pgBackRest\'s own)'),
    set: z.string().regex(/^[0-9]{8}-[0-9]{6}F(_[0-9]{8}-[0-9]{6}[DI])?$/, 'a pgBackRest backup label such as 20261201-093000F or 20261201-093000F_20261201-120000I').optional().describe('Backup set to restore (default: the newest)'),
    repo: z.number().int().min(1).max(256).optional().describe('Repository number (pgBackRest --repo)'),
  }),
});
const BaseBackupFiles = z.strictObject({
  basebackup: z.strictObject({
    path: z.string().min(1).describe('pg_basebackup output: a plain data directory, a directory holding base.tar[.gz|.lz4|.zst] (and pg_wal.tar…), or the base tar itself'),
    walArchiveDir: z.string().min(1).describe('The WAL archive (what archive_command writes; .gz/.lz4/.zst segments are decompressed)'),
  }),
});
const CommandBackup = z.strictObject({
  command: z.strictObject({
    restore: z.string().min(1).describe('Shell command that lays the base backup into {dataDir} (WAL-G backup-fetch, Barman …)'),
    restoreCommand: z.string().min(1).describe('PostgreSQL restore_command fetching one WAL file (%f into %p); must only read the archive'),
  }),
});
const DirectoryBackup = z.strictObject({
  baseBackupDir: z.string().describe('A base backup: a data directory copy with its backup_label'),
  walArchiveDir: z.string().describe('The WAL archive (what archive_command writes)'),
});
export const PostgresBackup = z.union([PgBackRestBackup, BaseBackupFiles, CommandBackup, DirectoryBackup], {
  error: 'target.backup takes exactly one of: pgbackrest { stanza, config?, set?, repo? }, basebackup { path, walArchiveDir }, command { restore, restoreCommand }, or baseBackupDir + walArchiveDir',
});
export type PostgresBackup = z.infer<typeof PostgresBackup>;

export const PostgresTarget = z.strictObject({
  driver: z.literal('postgres'),
  sandbox: z
    .boolean()
    .default(false)
    .describe('Build the production stand-in (primary, standby, WAL archive, workload) in a temporary directory'),
  workload: z
    .strictObject({ ordersPerSecond: z.number().positive().max(1000).default(20), seedOrders: z.number().int().min(0).default(2000) })
    .optional()
    .describe('Sandbox only: the steady synthetic write workload'),
  primary: PgEndpoint.optional(),
  standby: PgEndpoint.optional(),
  endpoint: PgClientEndpoint.optional().describe('What clients use (proxy, DNS name or libpq host list); with cluster, where probes and heartbeats go'),
  cluster: PgCluster.optional().describe('A cluster whose leader moves, instead of a fixed primary'),
  backup: PostgresBackup.optional(),
  binDir: z.string().optional().describe('PostgreSQL binaries for restored copies; defaults to the embedded ones'),
  runAs: z.string().optional().describe('OS user that owns restored copies when drillbook runs as root'),
});
export type PostgresTarget = z.infer<typeof PostgresTarget>;

export const Target = z.discriminatedUnion('driver', [PostgresTarget, RdsTarget, KubernetesTarget], {
  error: 'unknown driver: supported drivers are postgres, rds and kubernetes',
});
export type Target = z.infer<typeof Target>;

// ---------------------------------------------------------------- faults, recovery, probes, checks

const CommandFault = z.strictObject({
  type: z.literal('command'),
  command: z.string().min(1).describe('Shell command that causes the disruption'),
  undo: z.string().optional().describe('Shell command that reverses it; registered before the fault runs'),
  timeout: Timeout.default('60s'),
});
const KillPrimaryFault = z.strictObject({
  type: z.literal('kill-primary'),
  signal: z.enum(['SIGKILL', 'SIGQUIT', 'SIGTERM']).default('SIGKILL'),
});
const PausePrimaryFault = z.strictObject({
  type: z.literal('pause-primary'),
  duration: Timeout.describe('How long every process of the primary stays frozen (SIGSTOP … SIGCONT)'),
});
/** The fault shapes by the driver they apply to: the union below and its error message come from this one list. */
const FAULTS_BY_DRIVER = {
  postgres: [CommandFault, KillPrimaryFault, PausePrimaryFault, ...PatroniFaults],
  rds: RdsFaults,
  kubernetes: KubernetesFaults,
} as const;

/** "a, b (postgres), c (rds), d or e (kubernetes)": every fault type, read from its schema. */
function faultTypesText(): string {
  const groups = Object.entries(FAULTS_BY_DRIVER).map(([driver, faults]) => ({ driver, types: faults.map((fault) => fault.shape.type.value) }));
  return groups
    .map(({ driver, types }, index) => {
      const last = index === groups.length - 1 && types.length > 1 ? `${types.slice(0, -1).join(', ')} or ${types.at(-1)}` : types.join(', ');
      return `${last} (${driver})`;
    })
    .join(', ');
}

export const Fault = z.discriminatedUnion('type', [...FAULTS_BY_DRIVER.postgres, ...FAULTS_BY_DRIVER.rds, ...FAULTS_BY_DRIVER.kubernetes], {
  error: `unknown fault type: use ${faultTypesText()}`,
});
export type Fault = z.infer<typeof Fault>;

export const Recovery = z.strictObject({
  action: z
    .enum(['promote', 'command', 'none'])
    .describe('promote: pg_promote() on the standby; command: your own (e.g. patronictl); none: the system heals itself'),
  command: z.string().optional(),
  after: Duration.default('0s').describe('Wait this long after detection before acting (operator reaction time)'),
  timeout: Timeout.default('60s'),
});
export type Recovery = z.infer<typeof Recovery>;

export const Probes = z
  .strictObject({
    interval: PositiveDuration.default('250ms'),
    timeout: Timeout.default('2s').describe('One probe attempt gives up after this long'),
    stableFor: z
      .union([z.number().int().min(0).max(100), Timeout], { error: 'stableFor is a count (0 to 100 further successes) or a duration such as 5s' })
      .default(2)
      .describe('Further consecutive successes a recovery needs (a count), or how long it must hold (a duration, e.g. 5s)'),
    maxWait: PositiveDuration.default('5m').describe('Give up measuring recovery after this long (the drill fails)'),
    endpoint: z
      .enum(['primary', 'standby', 'restored'])
      .optional()
      .describe('Where the recovery probe writes; defaults by type (failover with promotion: standby)'),
    heartbeat: z
      .strictObject({
        interval: PositiveDuration.default('100ms'),
        warmup: PositiveDuration.default('2s').describe('Heartbeats written before T0'),
      })
      .default({ interval: '100ms', warmup: '2s' }),
  })
  // Runners read a count; a duration becomes the successes that span it at this interval
  // (scenarios/stable-for.ts), and what was written stays beside it for the evidence.
  .transform(({ stableFor, ...probes }) => {
    const normalized = normalizeStableFor(stableFor, parseDuration(probes.interval) ?? 250);
    return { ...probes, stableFor: normalized.successes, ...(normalized.duration === undefined ? {} : { stableForDuration: normalized.duration }) };
  });
export type Probes = z.infer<typeof Probes>;

const RowCountCheck = z.strictObject({
  type: z.literal('row-count'),
  name: z.string().min(1),
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be a plain (optionally schema-qualified) table name'),
  min: z.number().int().min(0).optional(),
  compareWithSource: z.boolean().default(false).describe('Parallel restore: equal to the source up to the restore point'),
  key: z.string().optional().describe('Monotonic key column bounding the comparison (e.g. id)'),
});
const ChecksumCheck = z.strictObject({
  type: z.literal('checksum'),
  name: z.string().min(1),
  table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be a plain (optionally schema-qualified) table name'),
  key: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).describe('Monotonic key column: the copy and the source are compared up to its maximum in the copy'),
  columns: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)).min(1),
});
const SqlCheck = z.strictObject({
  type: z.literal('sql'),
  name: z.string().min(1),
  query: z.string().min(1),
  expect: z.union([z.string(), z.number(), z.boolean()]).transform(String).describe('Expected value of the first column of the first row'),
});
export const Check = z.discriminatedUnion('type', [RowCountCheck, ChecksumCheck, SqlCheck], {
  error: 'unknown check type: use row-count, checksum or sql',
});
export type Check = z.infer<typeof Check>;

export const Restore = z.strictObject({
  restoreTo: z
    .union([z.literal('latest'), z.iso.datetime({ offset: true })])
    .default('latest')
    .describe('latest, or an ISO 8601 time to recover to'),
  keep: Duration.optional().describe('Keep the restored copy this long after the run (needs a reason)'),
  reason: z.string().optional().describe('Why the copy is kept (recorded in evidence)'),
  masking: Masking.optional(),
  access: z.string().optional().describe('Who could reach the copy (recorded in evidence)'),
  port: z.number().int().min(1024).max(65535).optional().describe('PostgreSQL copies: the 127.0.0.1 port the copy listens on (refused if taken)'),
  portRange: z
    .string()
    .regex(/^[0-9]{4,5}-[0-9]{4,5}$/, 'a port range such as 25432-25499')
    .refine((r) => { const [a, b] = r.split('-').map(Number) as [number, number]; return a >= 1024 && b <= 65535 && a <= b; }, 'from ≤ to, within 1024-65535')
    .optional()
    .describe('PostgreSQL copies: the first free 127.0.0.1 port of this range (e.g. 25432-25499)'),
});

/** Something that must stay healthy during the drill; when it fails, the drill aborts and rolls back. */
export const AbortCondition = z
  .strictObject({
    name: z.string().min(1),
    http: z
      .strictObject({ url: z.string().url(), status: z.number().int().min(100).max(599).default(200) })
      .optional(),
    tcp: z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).optional(),
    sql: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535),
        database: z.string().default('postgres'),
        user: z.string().default('postgres'),
        password: SecretRef.optional(),
        query: z.string().default('select 1'),
      })
      .optional(),
    command: z.string().min(1).optional().describe('Healthy while it exits 0'),
    failures: z.number().int().min(1).max(100).default(2).describe('Consecutive failures that trip the abort'),
    timeout: Timeout.default('2s'),
  })
  .refine((c) => [c.http, c.tcp, c.sql, c.command].filter(Boolean).length === 1, {
    message: 'an abort condition has exactly one of http, tcp, sql or command',
  });
export type AbortCondition = z.infer<typeof AbortCondition>;

export const Guardrails = z.strictObject({
  maxDuration: PositiveDuration.default('15m').describe('Abort and roll back when the drill runs longer'),
  abortIf: z.array(AbortCondition).default([]).describe('Checked every probe interval during the drill'),
});

/** The small scale rationale levels are given on (SOC 2 A1.3: threat likelihood and magnitude). */
export const RiskLevel = z.enum(['low', 'medium', 'high']);
export type RiskLevel = z.infer<typeof RiskLevel>;

/** Why this drill: the threat it rehearses, how likely it is and how much it would hurt. */
export const Rationale = z.strictObject({
  threat: z.string().trim().min(1).describe('The threat or event the drill rehearses, e.g. "ransomware encrypts the primary database"'),
  likelihood: RiskLevel.describe('How likely the threat is: low, medium or high'),
  impact: RiskLevel.describe('How much it would hurt (magnitude): low, medium or high'),
  notes: z.string().optional(),
});
export type Rationale = z.infer<typeof Rationale>;

export const Participant = z.strictObject({ name: z.string().min(1), role: z.string().min(1), present: z.boolean().default(true) });

// spec.schedule (cron, timezone, overlap and missed-run policies) lives in schema-schedule.ts.
import { Schedule } from './schema-schedule.js';
export { Schedule };

export const Scenario = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Scenario'),
  metadata: Metadata.extend({
    system: z.string().min(1).describe('A system of the plan'),
    environment: z.string().min(1).describe('production, staging, sandbox, … (printed prominently in evidence)'),
  }),
  spec: z.strictObject({
    type: TestType,
    plan: z.string().min(1).describe('Path to the ContinuityPlan, relative to this file'),
    objective: z.string().optional(),
    scope: z.string().optional(),
    rationale: Rationale.optional().describe('Threat, likelihood and impact (required for production-class drills)'),
    verifies: z
      .array(DnsLabel)
      .optional()
      .describe('Other scenarios (metadata.name) this drill re-tests: a run of it may close their remediation items as verified'),
    targets: z.strictObject({ rto: PositiveDuration.optional(), rpo: Duration.optional() }).optional(),
    schedule: Schedule.optional(),
    participants: z.array(Participant).default([]),
    target: Target.optional(),
    faults: z.array(Fault).default([]),
    recovery: Recovery.optional(),
    probes: Probes.default({ interval: '250ms', timeout: '2s', stableFor: 2, maxWait: '5m', heartbeat: { interval: '100ms', warmup: '2s' } }),
    checks: z.array(Check).default([]),
    restore: Restore.optional(),
    guardrails: Guardrails.default({ maxDuration: '15m', abortIf: [] }),
    objectives: z.array(Objective).default([]).describe('Tabletop: what the exercise sets out to show'),
    modules: z.array(ExerciseModule).default([]).describe('Tabletop: modules of timed injects'),
    steps: z.array(RunbookStep).default([]).describe('Simulation (walkthrough): the runbook steps'),
  }),
});
export type Scenario = z.infer<typeof Scenario>;
export type ScenarioSpec = Scenario['spec'];

export const DOCUMENT_KINDS = { Scenario, ContinuityPlan, ExerciseAnswers } as const;
export { ExerciseAnswers } from './schema-exercise.js';
export type DocumentKind = keyof typeof DOCUMENT_KINDS;
