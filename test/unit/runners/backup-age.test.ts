/**
 * Backup freshness against `spec.testPolicy."<tier>".maxBackupAge` (issue 12, SOC 2 A1.2).
 * Ages are made from times the test chooses; the plan goes through the real schema.
 */
import { describe, expect, it } from 'vitest';
import { assessBackupAge, type BackupRecord } from '../../../runners/restore/backup-age.js';
import { severityRule } from '../../../runners/engine.js';
import { ContinuityPlan } from '../../../scenarios/schema.js';

const T0 = Date.parse('2026-12-01T09:00:00Z');
const HOUR = 3_600;

const plan = (testPolicy: unknown, severity?: unknown) =>
  ContinuityPlan.parse({
    apiVersion: 'drillbook.dev/v1',
    kind: 'ContinuityPlan',
    metadata: { name: 'acme', version: '2026.3' },
    spec: { systems: [{ name: 'orders-db', tier: 1, rto: '30s', rpo: '5s', owner: 'dba@acme.example' }], testPolicy, ...(severity ? { severity } : {}) },
  });

/** A backup that stopped `hoursBefore` hours before T0 and took 20 minutes. */
const backup = (hoursBefore: number): BackupRecord => {
  const stopped = T0 - hoursBefore * HOUR * 1_000;
  return {
    source: 'pgbackrest',
    label: '20261130-070000F',
    startedAt: new Date(stopped - 20 * 60_000).toISOString(),
    stoppedAt: new Date(stopped).toISOString(),
    ageAtT0Seconds: (T0 - stopped) / 1_000,
    sizeBytes: 1_234_567_890,
  };
};

describe('assessBackupAge', () => {
  const policy = plan({ '1': { 'parallel-restore': '90d', maxBackupAge: '26h' }, '2': { maxBackupAge: '7d' } });

  it('passes a backup inside the maximum, and one exactly at it', () => {
    expect(assessBackupAge(backup(25), policy, 1)).toEqual({
      assessment: { tier: 1, maxBackupAge: '26h', maxBackupAgeSeconds: 26 * HOUR, ageAtT0Seconds: 25 * HOUR, withinPolicy: true },
    });
    expect(assessBackupAge(backup(26), policy, 1).finding).toBeUndefined();
  });

  it('finds a backup older than the tier allows, with SOC 2 A1.2 wording and the tier\'s severity', () => {
    const { assessment, finding } = assessBackupAge(backup(31.5), policy, 1);
    expect(assessment).toMatchObject({ ageAtT0Seconds: 31.5 * HOUR, withinPolicy: false });
    expect(finding).toMatchObject({ kind: 'backup-too-old', class: 'backup-too-old', severity: 'P1', title: 'Backup older than the tier allows' });
    expect(finding!.detail).toBe(
      'the pgbackrest backup 20261130-070000F (stopped 2026-11-30T01:30:00.000Z) was 1 d 8 h old at T0, over the tier 1 maximum of 26h (spec.testPolicy."1".maxBackupAge) by 5 h 30 m; ' +
        'SOC 2 A1.2: backups are taken often enough to recover within the objectives, and an older backup means more WAL to replay, or more data lost without it',
    );
    expect(finding!.correctiveAction).toMatch(/no backup newer than 26h/);
    // Tier 2: its own maximum, and P2 by default.
    expect(assessBackupAge(backup(8 * 24), policy, 2).finding?.severity).toBe('P2');
    expect(assessBackupAge(backup(6 * 24), policy, 2).finding).toBeUndefined();
  });

  it('follows the plan\'s severity rules for backup-too-old', () => {
    const strict = plan({ '3': { maxBackupAge: '1d' } }, { P1: { dueInDays: 3, for: ['backup-too-old'] } });
    expect(assessBackupAge(backup(30), strict, 3).finding?.severity).toBe('P3');
    expect(assessBackupAge(backup(30), strict, 3, severityRule(strict.spec.severity)).finding?.severity).toBe('P1');
  });

  it('has no finding when the tier sets no maximum', () => {
    expect(assessBackupAge(backup(1_000), policy, 3)).toEqual({
      assessment: { tier: 3, maxBackupAge: null, maxBackupAgeSeconds: null, ageAtT0Seconds: 1_000 * HOUR, withinPolicy: null },
    });
    expect(assessBackupAge(backup(1_000), plan(undefined), 1).finding).toBeUndefined();
  });

  it('finds an unknown age when a maximum is set, since freshness is then not shown', () => {
    const unknown = { ...backup(1), ageAtT0Seconds: null, stoppedAt: null };
    const { assessment, finding } = assessBackupAge(unknown, policy, 1);
    expect(assessment.withinPolicy).toBeNull();
    expect(finding).toMatchObject({ kind: 'backup-too-old', severity: 'P3', title: 'Backup age not established' });
    expect(finding!.detail).toContain('pgbackrest backup 20261130-070000F could not be established');
    expect(assessBackupAge({ ...backup(1), ageAtT0Seconds: Number.NaN }, policy, 1).finding?.title).toBe('Backup age not established');
  });
});
