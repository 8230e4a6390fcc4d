/** A scheduled drill that another runner's drill kept from running (or made wait) shows so in the schedule history. */
import { describe, expect, it } from 'vitest';
import { type RunCoordination, requestedCoordination } from '../../../reports/coordination-record.js';
import type { RunRecord } from '../../../reports/run-record.js';
import { addEntry, finishEntry } from '../../../runners/scheduler/history.js';
import { emptyState } from '../../../runners/scheduler/state.js';

const job = { key: 'a.yaml', file: '/d/a.yaml', scenario: 'orders-walk', system: 'orders-db', scheduledFor: Date.parse('2026-12-01T03:00:00Z'), caughtUp: false };
const coordination = (over: Partial<RunCoordination>): RunCoordination => ({
  ...requestedCoordination({ lock: 'kubernetes-lease', name: 'Lease drillbook/drillbook-system-orders-db', holder: 'pod-b', overlap: 'skip', requestedAt: '2026-12-01T03:00:01.000Z' }),
  acquiredAt: '2026-12-01T03:00:01.000Z',
  ...over,
});
const record = (c: RunCoordination, outcome: RunRecord['outcome']) => ({ runId: 'r1', outcome, coordination: c }) as RunRecord;

describe('schedule history of runs coordinated across runners', () => {
  it('a child that skipped for another runner is recorded as skipped, with the reason from its run.json', () => {
    const state = emptyState();
    const entry = addEntry(state, job, 'running', Date.parse('2026-12-01T03:00:00Z'));
    const c = coordination({ result: 'skipped', acquiredAt: null, reason: 'the system is being drilled by pod-a (drill orders-failover), which holds Lease drillbook/drillbook-system-orders-db; overlap: skip' });
    finishEntry(entry, { exitCode: 2, signal: null, record: record(c, 'aborted') }, Date.parse('2026-12-01T03:00:03Z'));
    expect(entry).toMatchObject({ status: 'skipped', exitCode: 2, outcome: 'aborted', runId: 'r1', endedAt: '2026-12-01T03:00:03.000Z' });
    expect(entry.reason).toMatch(/drilled by pod-a .* \(Lease drillbook\/drillbook-system-orders-db, another runner\)$/);
  });

  it('a child that waited for another runner is a run, with the wait and whom it waited for', () => {
    const entry = addEntry(emptyState(), job, 'running', 0);
    const c = coordination({ overlap: 'wait', waitedSeconds: 42.4, heldBy: [{ identity: 'ci-42', scenario: 'orders-restore', firstSeenAt: 'x', lastSeenAt: 'y', expiresAt: null }] });
    finishEntry(entry, { exitCode: 0, signal: null, record: record(c, 'passed') }, 1000);
    expect(entry).toMatchObject({ status: 'ran', waitedSeconds: 42, outcome: 'passed' });
    expect(entry.reason).toBe('waited for ci-42 (Lease drillbook/drillbook-system-orders-db, another runner)');
  });

  it('a plain run is a run', () => {
    const entry = addEntry(emptyState(), job, 'running', 0);
    finishEntry(entry, { exitCode: 1, signal: null, record: { runId: 'r2', outcome: 'failed' } as RunRecord }, 1000);
    expect(entry).toMatchObject({ status: 'ran', outcome: 'failed' });
    expect(entry.reason).toBeUndefined();
    expect(entry.waitedSeconds).toBeUndefined();
  });
});
