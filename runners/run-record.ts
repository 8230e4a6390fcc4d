/**
 * The RunRecord of one drill: its skeleton (known before anything runs; the journal keeps
 * it for `recover`) and its completion from what the runner measured, with the findings
 * policy (findings.ts) applied.
 */
import os from 'node:os';
import type { DeletionRecord, ProbeAttempt, RestoredCopyRecord, RunRecord, TimelineEvent } from '../reports/run-record.js';
import { RUN_RECORD_SCHEMA } from '../reports/run-record.js';
import { parseDuration } from '../scenarios/duration.js';
import type { LoadedScenario } from '../scenarios/load.js';
import { assessBackupAge } from './restore/backup-age.js';
import { deriveFindings, observe, outcomeOf, remediationFor, severityRule } from './findings.js';
import type { DrillResult } from './measured-drill.js';
import { toolInfo } from './tool.js';
import { measureVerdicts } from './verdicts.js';

/** The parts of the RunRecord known before anything runs; the journal keeps them for `recover`. */
export function recordSkeleton(loaded: LoadedScenario, runId: string, startedAt: string, options: { operator?: string | undefined; approver?: string | null | undefined }): RunRecord {
  const { scenario, plan, system } = loaded;
  const spec = scenario.spec;
  const targetRto = spec.targets?.rto ?? system.rto;
  const targetRpo = spec.targets?.rpo ?? system.rpo;
  return {
    schema: RUN_RECORD_SCHEMA,
    runId,
    outcome: 'aborted',
    scenario: { name: scenario.metadata.name, file: loaded.file, sha256: loaded.sha256, ...(scenario.metadata.description ? { description: scenario.metadata.description } : {}) },
    plan: { name: plan.metadata.name, version: plan.metadata.version, file: loaded.planFile, sha256: loaded.planSha256 },
    system: { name: system.name, tier: system.tier, owner: system.owner },
    environment: scenario.metadata.environment,
    environmentClass: loaded.environmentClass,
    type: spec.type,
    objective: spec.objective ?? `Verify that ${system.name} recovers within its RTO (${targetRto}) and RPO (${targetRpo}) by a ${spec.type} test.`,
    scope: spec.scope ?? `${system.name} (${scenario.metadata.environment})`,
    rationale: spec.rationale ?? null,
    ...(spec.verifies && spec.verifies.length > 0 ? { verifies: [...spec.verifies] } : {}),
    startedAt,
    endedAt: startedAt,
    timeSource: `system clock of ${os.hostname()} (UTC); durations from the monotonic clock`,
    operator: options.operator ?? os.userInfo().username,
    approver: options.approver ?? null,
    tool: toolInfo(),
    host: os.hostname(),
    participants: spec.participants.map((p) => ({ name: p.name, role: p.role, present: p.present })),
    targets: {
      rtoSeconds: (parseDuration(targetRto) ?? 0) / 1000,
      rpoSeconds: (parseDuration(targetRpo) ?? 0) / 1000,
      source: spec.targets?.rto || spec.targets?.rpo ? 'scenario' : 'plan',
    },
    measured: { rto: null, rpo: null },
    verdict: { rto: 'not-measured', rpo: 'not-measured', rtoMarginSeconds: null, rpoMarginSeconds: null },
    t0: null,
    target: { driver: spec.target?.driver ?? 'none', description: '', endpoints: {} },
    faults: [],
    timeline: [],
    probeSummary: { attempts: 0, failures: 0, file: 'probes.csv' },
    checks: [],
    dataIntegrity: { restorePoint: null, backup: null, notes: [] },
    restoredCopy: null,
    observations: { strengths: [], improvements: [] },
    findings: [],
    remediation: [],
    teardown: { complete: false, undos: [], deletions: [], recoveredBy: null },
    abort: null,
    error: null,
    attachments: [],
    signoff: { status: 'pending', reviewer: null, decision: null },
  };
}

export interface Completion {
  result: DrillResult;
  abort: RunRecord['abort'];
  error: string | null;
  timeline: TimelineEvent[];
  probes: ProbeAttempt[];
  endedAt: string;
  teardown: RunRecord['teardown'];
  /** Files written under attachments/ during the run (listed in run.json). */
  attachments?: string[];
}

export function completeRecord(skeleton: RunRecord, done: Completion, loaded: Pick<LoadedScenario, 'plan'> | undefined): RunRecord {
  const { result } = done;
  const record: RunRecord = {
    ...skeleton,
    endedAt: done.endedAt,
    measured: { rto: result.rto, rpo: result.rpo },
    t0: result.t0 ? { at: result.t0.at, mono: result.t0.mono, action: result.t0.action } : null,
    target: { driver: skeleton.target.driver, description: result.targetDescription, endpoints: result.endpoints },
    faults: result.faults,
    timeline: done.timeline,
    probeSummary: { attempts: done.probes.length, failures: done.probes.filter((p) => !p.ok).length, file: 'probes.csv' },
    checks: result.checks,
    dataIntegrity: { restorePoint: result.integrity.restorePoint, backup: result.integrity.backup, notes: result.integrity.notes },
    restoredCopy: result.restoredCopy ? withDeletion(result.restoredCopy, done.teardown.deletions) : null,
    teardown: done.teardown,
    abort: done.abort,
    error: done.error ?? result.failure,
    participants: result.attendance ? skeleton.participants.map((p) => ({ ...p, present: result.attendance![p.name] ?? false })) : skeleton.participants,
    exercise: result.exercise,
    walkthrough: result.walkthrough,
    ...(result.disruption ? { disruption: result.disruption } : {}),
    attachments: done.attachments ? [...done.attachments].sort() : skeleton.attachments,
    ...(result.topology ? { topology: result.topology } : {}),
  };
  const verdicts = measureVerdicts(record);
  record.verdict = verdicts;
  const severity = loaded?.plan.spec.severity;
  const findings = deriveFindings(record, severityRule(severity));
  // SOC 2 A1.2: the backup restored, and its age at T0 against the tier's maxBackupAge.
  const backup = record.restoredCopy?.backup;
  if (backup) {
    record.backup = backup;
    if (loaded) {
      const { assessment, finding } = assessBackupAge(backup, loaded.plan, record.system.tier, severityRule(severity));
      record.backupAge = assessment;
      if (finding) findings.push({ id: `F-${findings.length + 1}`, ...finding });
    }
  }
  record.findings = findings;
  record.remediation = remediationFor(findings, record, severity);
  record.observations = observe(record, result);
  record.outcome = outcomeOf(record);
  return record;
}


/** The copy's record, with how its destruction was verified once teardown did it. */
function withDeletion(copy: RestoredCopyRecord, deletions: DeletionRecord[]): RestoredCopyRecord {
  const deletion = deletions.find((d) => d.what === 'restored copy');
  return deletion ? { ...copy, deletion } : copy;
}

