/**
 * A complete, realistic RunRecord for report and evidence tests: a failover drill of a
 * tier-1 PostgreSQL database in staging, recovered in 12.34 s against a 900 s target, with a
 * restored copy of data that was destroyed and verified afterwards.
 */
import type { ProbeAttempt, RunRecord } from '../../reports/run-record.js';

const RUN_START_MS = Date.parse('2026-11-26T17:00:00.123Z');
/** T0 (the fault) is 5 s after the run started, on the monotonic clock. */
const T0_MONO = 5_000;
const RECOVERED_AFTER_T0_MS = 12_340;

function wallAt(mono: number): string {
  return new Date(RUN_START_MS + mono).toISOString();
}

/** Objects (even nullable ones) may be given in part; arrays are given whole. */
export type DeepPartial<T> = T extends unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/**
 * Probe attempts every 250 ms from 1 s to 20 s of the run: the recovery probe fails from
 * just after T0 until it recovers, a steady-state probe stays green throughout.
 */
export function makeProbes(): ProbeAttempt[] {
  const attempts: ProbeAttempt[] = [];
  for (let mono = 1_000; mono <= 20_000; mono += 250) {
    const sinceT0 = mono - T0_MONO;
    const down = sinceT0 >= 200 && sinceT0 < RECOVERED_AFTER_T0_MS;
    const latencyMs = down ? 3 : 4 + (mono % 7);
    const attempt: ProbeAttempt = {
      probe: 'recovery-write',
      startedAt: wallAt(mono),
      startMono: mono,
      endMono: mono + latencyMs,
      ok: !down,
      latencyMs,
    };
    if (down) attempt.error = 'connect ECONNREFUSED 127.0.0.1:54329, "primary" is down';
    attempts.push(attempt);
    if (mono % 1_000 === 0) {
      attempts.push({ probe: 'steady-state-read', startedAt: wallAt(mono + 5), startMono: mono + 5, endMono: mono + 7, ok: true, latencyMs: 2 });
    }
  }
  return attempts;
}

const copyDeletion = {
  what: 'restored PostgreSQL data directory',
  location: 'drill-runner-01:/var/lib/drillbook/restore-7f3c2a91',
  destroyedAt: wallAt(29_500),
  verification: [
    { check: 'data directory no longer exists', passed: true },
    { check: 'port 54331 refuses connections', passed: true },
  ],
};

/** The first run of the remediation tests: orders-db on 1 November 2026, RTO missed. */
export const FIRST_FAILING_RUN = {
  runId: 'aaaa1111-0000-4000-8000-000000000001',
  startedAt: '2026-11-01T10:00:00.000Z',
  endedAt: '2026-11-01T10:05:00.000Z',
  verdict: { rto: 'missed' },
} as const satisfies DeepPartial<RunRecord>;

export function makeRunRecord(overrides: DeepPartial<RunRecord> = {}): RunRecord {
  const probes = makeProbes();
  const base: RunRecord = {
    schema: 'drillbook.dev/run/v1',
    runId: '7f3c2a91-4b6e-4d1a-9c2f-0e8d5b6a1c34',
    outcome: 'passed',
    scenario: {
      name: 'orders-db-failover',
      file: 'scenarios/samples/orders-db-failover.yaml',
      sha256: 'a3f1c9e2b7d4058e6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70',
      description: 'Kill the orders primary and promote the standby',
    },
    plan: { name: 'acme-continuity', version: '2026.3', file: 'scenarios/samples/plan.yaml', sha256: 'b4e2d0f3c8e5169f7a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081' },
    system: { name: 'orders-db', tier: 1, owner: 'team-payments' },
    environment: 'staging',
    type: 'failover',
    objective: 'Show that the orders database fails over to its standby within the tier-1 RTO without losing acknowledged writes beyond the RPO.',
    scope: 'orders-db primary and standby in staging; application traffic simulated by the recovery probe.',
    startedAt: wallAt(0),
    endedAt: wallAt(31_000),
    timeSource: 'system clock (chrony, synchronised, offset 0.4 ms); durations from the monotonic clock',
    operator: 'ana.sre@example.com',
    approver: null,
    tool: { name: 'drillbook', version: '0.1.0', node: 'v20.20.2' },
    host: 'drill-runner-01',
    participants: [
      { name: 'Ana Silva', role: 'drill lead (SRE)', present: true },
      { name: 'Ben Okafor', role: 'database owner', present: true },
      { name: 'Chloé Martin', role: 'continuity manager', present: false },
    ],
    targets: { rtoSeconds: 900, rpoSeconds: 60, source: 'plan' },
    measured: {
      rto: {
        seconds: 12.34,
        errorSeconds: 0.26,
        method: 'first of 3 consecutive successful writes through the recovery endpoint',
        recoveredAt: wallAt(T0_MONO + RECOVERED_AFTER_T0_MS),
        probeInterval: 0.25,
        stableFor: 2,
        phases: [
          { name: 'detected', at: wallAt(T0_MONO + 200), secondsAfterT0: 0.2 },
          { name: 'action issued', at: wallAt(T0_MONO + 1_100), secondsAfterT0: 1.1 },
          { name: 'endpoint ready', at: wallAt(T0_MONO + 11_900), secondsAfterT0: 11.9 },
          { name: 'data checks passed', at: wallAt(T0_MONO + 14_800), secondsAfterT0: 14.8 },
        ],
      },
      rpo: {
        seconds: 0.4,
        errorSeconds: 0.1,
        lostWrites: 3,
        method: 'newest acknowledged heartbeat present on the promoted standby',
        heartbeatInterval: 0.1,
        acknowledged: 48,
        newestPresentSeq: 45,
        newestPresentAt: wallAt(T0_MONO - 400),
        missingSeqs: [46, 47, 48],
        lowerBoundOnly: false,
      },
    },
    verdict: { rto: 'met', rpo: 'met', rtoMarginSeconds: 887.66, rpoMarginSeconds: 59.6 },
    t0: { at: wallAt(T0_MONO), mono: T0_MONO, action: 'stop the primary (immediate shutdown)' },
    target: { driver: 'postgres', description: 'PostgreSQL 16 primary + streaming standby', endpoints: { primary: '127.0.0.1:54329', standby: '127.0.0.1:54330' } },
    faults: [{ type: 'postgres.stop-primary', description: 'immediate shutdown of the primary' }],
    timeline: [
      { at: wallAt(0), mono: 0, event: 'run started', phase: 'prepare' },
      { at: wallAt(1_000), mono: 1_000, event: 'steady state confirmed', phase: 'steady-state' },
      { at: wallAt(T0_MONO), mono: T0_MONO, event: 'T0: primary stopped', phase: 'disrupt', detail: { signal: 'immediate' } },
      { at: wallAt(T0_MONO + 200), mono: T0_MONO + 200, event: 'failure detected by recovery probe', phase: 'recover' },
      { at: wallAt(T0_MONO + 1_100), mono: T0_MONO + 1_100, event: 'promote standby issued', phase: 'recover' },
      { at: wallAt(T0_MONO + RECOVERED_AFTER_T0_MS), mono: T0_MONO + RECOVERED_AFTER_T0_MS, event: 'recovered', phase: 'recover' },
      { at: wallAt(T0_MONO + 14_800), mono: T0_MONO + 14_800, event: 'data checks passed', phase: 'verify' },
      { at: wallAt(30_000), mono: 30_000, event: 'teardown complete', phase: 'teardown' },
    ],
    probeSummary: { attempts: probes.length, failures: probes.filter((p) => !p.ok).length, file: 'probes.csv' },
    checks: [
      { name: 'orders row count', type: 'row-count', passed: true, expected: '>= 10000', actual: '10412' },
      { name: 'orders checksum', type: 'checksum', passed: true, expected: 'md5 of orders(id, total) matches primary at T0', actual: '9e107d9d372bb6826bd81d3542a419d6', detail: 'computed over 10412 rows' },
    ],
    dataIntegrity: { restorePoint: '2026-11-26T16:59:58.000Z', backup: 'base backup 2026-11-26T03:00:00Z (pg_basebackup, 1.2 GB)', notes: ['WAL replayed up to 0/3A000060'] },
    restoredCopy: {
      location: 'drill-runner-01:/var/lib/drillbook/restore-7f3c2a91',
      port: 54331,
      access: 'drill operator only (bound to 127.0.0.1, password from env PGPASSWORD)',
      masking: 'none (staging data contains no personal data)',
      restorePoint: '2026-11-26T16:59:58.000Z',
      baseBackup: 'base backup 2026-11-26T03:00:00Z',
      kept: null,
      deletion: copyDeletion,
    },
    observations: {
      strengths: ['Standby promotion was issued 1.1 s after T0 by automation.'],
      improvements: ['Three acknowledged writes were lost: consider synchronous replication for orders.'],
    },
    findings: [
      { id: 'F-1', title: 'Acknowledged writes lost on failover', kind: 'missed-target', severity: 'P3', detail: '3 heartbeats acknowledged before T0 were missing on the standby.' },
    ],
    remediation: [
      { id: 'R-2026-001', findingId: 'F-1', correctiveAction: 'Re-run the drill after the fix', title: 'Evaluate synchronous_commit=remote_apply for orders', severity: 'P3', owner: 'team-payments', due: '2027-01-25', status: 'open' },
    ],
    teardown: {
      complete: true,
      undos: [
        { id: 2, description: 'drop restored copy at port 54331', status: 'done', at: wallAt(29_500), by: 'run' },
        { id: 1, description: 'restart the stopped primary as a standby', status: 'done', at: wallAt(29_900), by: 'run' },
      ],
      deletions: [copyDeletion],
      recoveredBy: null,
    },
    abort: null,
    error: null,
    attachments: [],
    signoff: { status: 'pending', reviewer: null, decision: null },
  };
  return deepMerge(base, overrides);
}

/** Objects merge key by key; arrays and everything else replace. */
function deepMerge<T>(base: T, override: unknown): T {
  if (override === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(override)) return override as T;
  const result: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) {
    result[key] = deepMerge((base as Record<string, unknown>)[key], value);
  }
  return result as T;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
