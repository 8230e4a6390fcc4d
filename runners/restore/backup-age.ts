/**
 * Backup freshness (SOC 2 A1.2: backups exist and are current enough to recover within the
 * objectives). The plan may set, per tier, the oldest a backup may be when a drill restores
 * it: `spec.testPolicy."<tier>".maxBackupAge`. A drill that restores an older backup has a
 * `backup-too-old` finding: the backup that would be used in a real recovery is not as
 * recent as the plan says, and every hour of age is WAL the restore has to replay (or data
 * lost where there is no WAL archive).
 *
 * Pure: the backup record (SPEC v1.1 `backup`) and the plan in, an assessment out. The
 * engine adds the finding to the run's findings (with an id) and the assessment to the
 * record.
 */
import { formatDuration, parseDuration } from '../../scenarios/duration.js';
import type { ContinuityPlan, FindingClass } from '../../scenarios/schema.js';
import type { BackupAgeRecord, BackupRecord, Finding, Severity } from '../../reports/run-record.js';

/** The backup record and its assessment are the run record's own (SPEC v1.1 `backup`, `backupAge`). */
export type { BackupRecord };
export type BackupAgeAssessment = BackupAgeRecord;

export type BackupAgeFinding = Omit<Finding, 'id'> & { kind: 'backup-too-old'; class: Extract<FindingClass, 'backup-too-old'> };

type SeverityFor = (finding: FindingClass, fallback: Severity) => Severity;

/**
 * The backup's age at T0 against its tier's `maxBackupAge`. Returns the assessment, and a
 * finding when the backup is older than the policy allows, or when a policy exists but the
 * age could not be established (freshness is then not shown). `severityFor` is the plan's
 * `spec.severity` rules (runners/engine.ts `severityRule`); by default the severity follows
 * the tier as for a missed target (tier 1 P1, tier 2 P2, else P3), and an unknown age is P3.
 */
export function assessBackupAge(
  backup: BackupRecord,
  plan: Pick<ContinuityPlan, 'spec'>,
  tier: number,
  severityFor: SeverityFor = (_, fallback) => fallback,
): { assessment: BackupAgeAssessment; finding?: BackupAgeFinding } {
  const maxBackupAge = plan.spec.testPolicy?.[String(tier) as '1' | '2' | '3' | '4']?.maxBackupAge ?? null;
  const maxMs = maxBackupAge === null ? undefined : parseDuration(maxBackupAge);
  const age = typeof backup.ageAtT0Seconds === 'number' && Number.isFinite(backup.ageAtT0Seconds) ? backup.ageAtT0Seconds : null;
  const maxSeconds = maxMs === undefined ? null : maxMs / 1_000;
  const assessment: BackupAgeAssessment = {
    tier,
    maxBackupAge,
    maxBackupAgeSeconds: maxSeconds,
    ageAtT0Seconds: age,
    withinPolicy: maxSeconds === null || age === null ? null : age <= maxSeconds,
  };
  if (maxSeconds === null || maxBackupAge === null) return { assessment };

  const where = `spec.testPolicy."${tier}".maxBackupAge`;
  const which = `${backup.source} backup ${backup.label}${backup.stoppedAt ? ` (stopped ${backup.stoppedAt})` : ''}`;
  if (age === null) {
    return {
      assessment,
      finding: {
        kind: 'backup-too-old',
        class: 'backup-too-old',
        severity: severityFor('backup-too-old', 'P3'),
        title: 'Backup age not established',
        detail: `the age at T0 of the ${which} could not be established, so the tier ${tier} maximum of ${maxBackupAge} (${where}) is not shown to be met (SOC 2 A1.2: backups are current enough to meet the recovery objectives)`,
        correctiveAction: 'Make the backup tool report when the backup stopped (backup_label or the repository\'s info), and re-run the drill',
      },
    };
  }
  if (age <= maxSeconds) return { assessment };
  const fallback: Severity = tier <= 1 ? 'P1' : tier === 2 ? 'P2' : 'P3';
  return {
    assessment,
    finding: {
      kind: 'backup-too-old',
      class: 'backup-too-old',
      severity: severityFor('backup-too-old', fallback),
      title: 'Backup older than the tier allows',
      detail:
        `the ${which} was ${formatDuration(age * 1_000)} old at T0, over the tier ${tier} maximum of ${maxBackupAge} (${where}) by ${formatDuration((age - maxSeconds) * 1_000)}; ` +
        'SOC 2 A1.2: backups are taken often enough to recover within the objectives, and an older backup means more WAL to replay, or more data lost without it',
      correctiveAction: `Find why no backup newer than ${maxBackupAge} existed (schedule, failed or skipped backups, retention, the drill picking an old set), fix it, and re-run the drill on a current backup`,
    },
  };
}
