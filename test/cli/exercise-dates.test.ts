/**
 * A replayed tabletop is dated when it was conducted (finding 5): run.json's start and end
 * come from the answers file (`conductedAt`, answer `at` times) and the replay is recorded
 * beside them (`replayedAt`); remediation due dates and coverage's "last run" use the conduct
 * time. Also: run.json records the environment class and the scenario rationale.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';

const PLAN = path.join(REPO_ROOT, 'test/fixtures/exercises/plan.yaml');
const TABLETOP = path.join(REPO_ROOT, 'test/fixtures/exercises/outage-tabletop.yaml');
const CONDUCTED = '2026-11-20T14:00:00.000Z';
const LAST_ANSWER = '2026-11-20T15:10:00.000Z';

let tmp: string;
beforeAll(() => {
  tmp = sharedTempDir('exercise-dates');
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function answers(extra: Record<string, unknown> = {}): string {
  const file = path.join(tmp, `answers-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      apiVersion: 'drillbook.dev/v1',
      kind: 'ExerciseAnswers',
      metadata: { name: 'paper-session' },
      spec: {
        scenario: TABLETOP,
        facilitator: 'Fay',
        attendance: { Ann: true, Bob: true, Cy: true },
        injects: {
          alarm: { at: '2026-11-20T14:05:00Z', items: { page: { status: 'done', took: '4m', at: '2026-11-20T14:09:00Z' }, status: { status: 'done' } } },
          'dba-gone': { items: { restore: { status: 'missed', coveredBy: 'Ann', note: 'nobody knew the restore steps', at: LAST_ANSWER } } },
        },
        ratings: { detect: { rating: 'P' }, recover: { rating: 'U' } },
        ...extra,
      },
    }),
  );
  return file;
}

const runOf = (evidence: string): { dir: string; record: RunRecord } => {
  const dir = fs.readdirSync(evidence).map((d) => path.join(evidence, d)).find((d) => fs.existsSync(path.join(d, 'run.json')))!;
  return { dir, record: JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord };
};

describe('replayed exercise dates', () => {
  it('dates the run at its conduct time, records the replay beside it, and bases due dates and coverage on the conduct time', async () => {
    const evidence = path.join(tmp, 'evidence-conducted');
    const before = Date.now();
    const result = await runCli(['run', TABLETOP, '--answers', answers({ conductedAt: '2026-11-20T14:00:00Z' }), '--evidence', evidence]);
    expect(result.code, result.stderr).toBe(1); // a U rating and a missed item are findings
    const { dir, record } = runOf(evidence);
    expect(record.startedAt).toBe(CONDUCTED);
    expect(record.endedAt).toBe(LAST_ANSWER);
    expect(Date.parse(record.replayedAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(record.replayEndedAt!)).toBeGreaterThanOrEqual(Date.parse(record.replayedAt!));
    // The plan's SLA days count from the conduct, not the replay: P1 7 days, P2 30 days.
    const dues = Object.fromEntries(record.remediation.map((item) => [item.severity, item.due]));
    expect(dues.P1).toBe('2026-11-27');
    expect(dues.P2).toBe('2026-12-20');
    // The environment class and the (absent) rationale are recorded.
    expect(record.environmentClass).toBe('non-production');
    expect(record.rationale).toBeNull();
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain(`${CONDUCTED} → ${LAST_ANSWER}`);
    expect(html).toMatch(/Replayed \(UTC\)<\/th><td>20\d\d-\d\d-\d\dT[^<]* → [^<]*: a recorded session replayed from its answers file; the dates above are when it was conducted/);

    // coverage: the last run is the conduct day, and its age counts from it.
    const plan = path.join(tmp, 'coverage-plan.yaml');
    fs.writeFileSync(plan, fs.readFileSync(PLAN, 'utf8'));
    const coverage = await runCli(['coverage', '--plan', plan, '--evidence', evidence, '--format', 'csv']);
    const [header, ...rows] = coverage.stdout.trimEnd().split('\r\n').map((line) => line.split(','));
    const tabletop = rows.find((cells) => cells[header!.indexOf('type')] === 'tabletop')!;
    expect(tabletop[header!.indexOf('last_run_started_at')]).toBe(CONDUCTED);
  });

  it('without conductedAt, the earliest answer time starts the session; without any time, the replay dates it and says so', async () => {
    const timed = path.join(tmp, 'evidence-timed');
    await runCli(['run', TABLETOP, '--answers', answers(), '--evidence', timed]);
    expect(runOf(timed).record.startedAt).toBe('2026-11-20T14:05:00.000Z');

    const untimed = path.join(tmp, 'evidence-untimed');
    const file = path.join(tmp, 'untimed.yaml');
    const doc = YAML.parse(fs.readFileSync(answers(), 'utf8')) as { spec: { injects: Record<string, { at?: string; items: Record<string, { at?: string }> }> } };
    for (const inject of Object.values(doc.spec.injects)) {
      delete inject.at;
      for (const item of Object.values(inject.items)) delete item.at;
    }
    fs.writeFileSync(file, YAML.stringify(doc));
    await runCli(['run', TABLETOP, '--answers', file, '--evidence', untimed]);
    const { dir, record } = runOf(untimed);
    expect(record.startedAt).toBe(record.replayedAt);
    expect(fs.readFileSync(path.join(dir, 'report.md'), 'utf8')).toContain('the answers file gives no conduct time, so the exercise is dated at the replay');
  });
});
