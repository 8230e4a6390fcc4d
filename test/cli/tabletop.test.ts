/**
 * A tabletop facilitated live in a real pseudo-terminal, replayed from an answers file, and
 * interrupted then resumed: the run record and the AAR/IP must hold exactly what was typed.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../reports/run-record.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { sharedTempDir } from '../helpers/pg-cluster.js';
import { KEY, type PtySession, startPty } from '../helpers/pty.js';

const SCENARIO = path.join(REPO_ROOT, 'test/fixtures/exercises/outage-tabletop.yaml');

/** What the test types, and the same session as an answers file. */
const SESSION = {
  facilitator: 'Fay Facilitator',
  absent: 'Cy',
  alarmDiscussion: 'paged within minutes',
  page: { status: 'done', took: '4m' },
  status: { status: 'partial', note: 'status page was late' },
  restore: { status: 'missed', coveredBy: 'Ann', note: 'nobody knew the restore steps' },
  ratings: { detect: { rating: 'P' }, recover: { rating: 'U', note: 'no DBA, no restore' } },
  strengths: ['fast paging'],
  improvement: { observation: 'only one person can restore', correctiveAction: 'train a second engineer', owner: 'ann@example.com' },
};

function answersYaml(): string {
  return YAML.stringify({
    apiVersion: 'drillbook.dev/v1',
    kind: 'ExerciseAnswers',
    metadata: { name: 'outage-tabletop-replay' },
    spec: {
      scenario: SCENARIO,
      facilitator: SESSION.facilitator,
      attendance: { Ann: true, Bob: true, Cy: false },
      injects: {
        alarm: { discussion: SESSION.alarmDiscussion, items: { page: SESSION.page, status: SESSION.status } },
        'dba-gone': { items: { restore: SESSION.restore } },
      },
      ratings: SESSION.ratings,
      hotwash: { strengths: SESSION.strengths, improvements: [SESSION.improvement] },
    },
  });
}

/** Types the first part of the session: facilitator, attendance, the first inject. */
async function firstInject(s: PtySession): Promise<void> {
  await s.answer('Facilitator', `${SESSION.facilitator}${KEY.enter}`);
  // Everyone is checked; Cy is third: move down twice and uncheck.
  await s.answer('Who is present?', `${KEY.down}${KEY.down}${KEY.space}${KEY.enter}`);
  await s.answer('Discussion notes', `${SESSION.alarmDiscussion}${KEY.enter}`);
  await s.answer('Page the DBA', KEY.enter); // done
  await s.answer('Time the team took', `${SESSION.page.took}${KEY.enter}`);
  await s.answer('Note (optional)', KEY.enter);
  await s.answer('Post a status page update', `${KEY.down}${KEY.enter}`); // partial
  await s.answer('Note (optional)', `${SESSION.status.note}${KEY.enter}`);
}

async function restOfSession(s: PtySession): Promise<void> {
  await s.answer('Discussion notes', KEY.enter);
  await s.answer('Restore from backup', `${KEY.down}${KEY.down}${KEY.enter}`); // missed
  await s.answer('who covered this?', `${SESSION.restore.coveredBy}${KEY.enter}`);
  await s.answer('Note (optional)', `${SESSION.restore.note}${KEY.enter}`);
  await s.answer('Rate objective "Detect', KEY.enter); // P
  await s.answer('Why', KEY.enter);
  await s.answer('Rate objective "Recover', `${KEY.down}${KEY.down}${KEY.down}${KEY.enter}`); // U
  await s.answer('Why', `${SESSION.ratings.recover.note}${KEY.enter}`);
  await s.answer('Strength', `${SESSION.strengths[0]}${KEY.enter}`);
  await s.answer('Strength', KEY.enter);
  await s.answer('Area for improvement', `${SESSION.improvement.observation}${KEY.enter}`);
  await s.answer('Corrective action', `${SESSION.improvement.correctiveAction}${KEY.enter}`);
  await s.answer('Owner', `${SESSION.improvement.owner}${KEY.enter}`);
  await s.answer('Area for improvement', KEY.enter);
}

function readRun(evidence: string, name = 'outage-tabletop'): { dir: string; record: RunRecord } {
  const dirs = fs.readdirSync(evidence).filter((d) => d.includes(name) && fs.existsSync(path.join(evidence, d, 'run.json')));
  expect(dirs).toHaveLength(1);
  const dir = path.join(evidence, dirs[0]!);
  return { dir, record: JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord };
}

/** The AAR/IP content that must not depend on how the answers arrived (no times, no ids). */
function aarContent(record: RunRecord) {
  const exercise = record.exercise!;
  return {
    participants: record.participants,
    facilitator: exercise.facilitator,
    objectives: exercise.objectives.map(({ ratedAt: _ratedAt, ...rest }) => rest),
    injects: exercise.injects.map(({ presentedAt: _presentedAt, items, ...rest }) => ({ ...rest, items: items.map(({ answeredAt: _answeredAt, ...item }) => item) })),
    unavailableRoles: exercise.unavailableRoles,
    hotwash: exercise.hotwash,
    observations: record.observations,
    findings: record.findings,
    remediation: record.remediation.map(({ id: _id, ...rest }) => rest),
    outcome: record.outcome,
  };
}

function aarSection(html: string): string {
  const section = html.slice(html.indexOf('<section id="aar">'), html.indexOf('<section id="findings">'));
  // Times (UTC instants, dates), run ids and item ids differ between two sessions by nature.
  return section
    // A replay says when it was replayed, beside the conduct time (a live session has no such row).
    .replace(/<tr><th>Replayed \(UTC\)<\/th><td>[^<]*<\/td><\/tr>/g, '')
    .replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z/g, '<time>')
    .replace(/\d{4}-\d{2}-\d{2}/g, '<date>')
    .replace(/REM-[0-9a-f]{8}/g, 'REM-<id>')
    .replace(/Sessions<\/th><td>[^<]*/g, 'Sessions</th><td>')
    .replace(/Facilitator<\/th><td>[^<]*/g, 'Facilitator</th><td>')
    .replace(/<tr><th>Answers file<\/th><td>[^<]*<\/td><\/tr>/g, '')
    .replace(/Dates \(UTC\)<\/th><td>[^<]*/g, 'Dates</th><td>');
}

describe('tabletop facilitation', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = sharedTempDir('tabletop-cli');
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a live session in a terminal is recorded as typed, and its replay gives the same AAR/IP', async () => {
    const live = path.join(tmp, 'live');
    const session = startPty(['run', SCENARIO, '--evidence', live]);
    await firstInject(session);
    await restOfSession(session);
    const { code, screen } = await session.done;
    expect(code, screen).toBe(1); // an objective rated U and a missed item: findings, exit 1

    const { dir, record } = readRun(live);
    expect(record.type).toBe('tabletop');
    expect(record.exercise!.mode).toBe('live');
    expect(record.exercise!.facilitator).toBe(SESSION.facilitator);
    expect(record.participants.find((p) => p.name === 'Cy')!.present).toBe(false);
    expect(record.participants.filter((p) => p.present).map((p) => p.name)).toEqual(['Ann', 'Bob']);
    const items = record.exercise!.injects.flatMap((i) => i.items);
    expect(items.map((i) => [i.id, i.status])).toEqual([['page', 'done'], ['status', 'partial'], ['restore', 'missed']]);
    expect(items[0]!.tookSeconds).toBe(240);
    expect(items[1]!.note).toBe(SESSION.status.note);
    expect(items[2]).toMatchObject({ coveredBy: 'Ann', roleUnavailable: true, note: SESSION.restore.note });
    expect(record.exercise!.injects[0]!.discussion).toBe(SESSION.alarmDiscussion);
    expect(record.exercise!.objectives.map((o) => [o.id, o.rating, o.note])).toEqual([['detect', 'P', null], ['recover', 'U', SESSION.ratings.recover.note]]);
    expect(record.exercise!.hotwash).toEqual({ strengths: SESSION.strengths, improvements: [{ ...SESSION.improvement, analysis: null, severity: null }] });
    // Every answer carries its UTC time, in the order given.
    const times = items.map((i) => Date.parse(i.answeredAt));
    expect(times.every((t, i) => Number.isFinite(t) && (i === 0 || t >= times[i - 1]!))).toBe(true);
    // Findings for the partial and missed items, the U rating and the area for improvement.
    expect(record.findings.map((f) => [f.kind, f.severity])).toEqual([
      ['checklist-item', 'P3'],
      ['checklist-item', 'P2'],
      ['objective-rating', 'P1'],
      ['improvement', 'P3'],
    ]);
    expect(record.remediation.find((r) => r.title.startsWith('Area for improvement'))).toMatchObject({ owner: SESSION.improvement.owner, correctiveAction: SESSION.improvement.correctiveAction });
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    for (const text of [SESSION.facilitator, SESSION.status.note, SESSION.restore.note, 'covered by Ann', SESSION.improvement.correctiveAction, 'unable to be performed']) expect(html).toContain(text);

    // The same session replayed from an answers file.
    const answersFile = path.join(tmp, 'session.answers.yaml');
    fs.writeFileSync(answersFile, answersYaml());
    const replayEvidence = path.join(tmp, 'replay');
    const replay = await runCli(['run', SCENARIO, '--answers', answersFile, '--evidence', replayEvidence]);
    expect(replay.code, replay.stderr).toBe(1);
    const replayed = readRun(replayEvidence);
    expect(replayed.record.exercise!.mode).toBe('answers');
    expect(aarContent(replayed.record)).toEqual(aarContent(record));
    expect(aarSection(fs.readFileSync(path.join(replayed.dir, 'report.html'), 'utf8')).replace(/replayed from a recorded answers file/, 'MODE')).toBe(
      aarSection(html).replace(/facilitated live at a terminal/, 'MODE'),
    );
  });

  it('Ctrl+C pauses the session with every answer kept, and --resume finishes it', async () => {
    const evidence = path.join(tmp, 'paused');
    const first = startPty(['run', SCENARIO, '--evidence', evidence]);
    await firstInject(first);
    await first.answer('Discussion notes', KEY.ctrlC);
    const paused = await first.done;
    expect(paused.code, paused.screen).toBe(3);
    expect(paused.screen).toContain('exercise PAUSED');
    const runId = /--resume ([0-9a-f]{8})/.exec(paused.screen)![1]!;
    const [runDir] = fs.readdirSync(evidence).filter((d) => d.includes('outage-tabletop'));
    expect(fs.existsSync(path.join(evidence, runDir!, 'manifest.json'))).toBe(false);
    const journal = fs.readFileSync(path.join(evidence, runDir!, 'journal.jsonl'), 'utf8');
    expect(journal).toContain(SESSION.status.note);
    // recover leaves a paused tabletop alone.
    const recovered = await runCli(['recover', '--evidence', evidence]);
    expect(recovered.stdout).toContain('paused tabletop exercise');

    const second = startPty(['run', SCENARIO, '--evidence', evidence, '--resume', runId]);
    await restOfSession(second);
    const resumed = await second.done;
    expect(resumed.code, resumed.screen).toBe(1);
    // The second session asked only what the first had not answered.
    expect(resumed.screen).not.toContain('Who is present?');
    expect(resumed.screen).not.toContain('Page the DBA');
    const { record } = readRun(evidence);
    expect(record.runId.startsWith(runId)).toBe(true);
    const items = record.exercise!.injects.flatMap((i) => i.items);
    expect(items.map((i) => [i.id, i.status, i.note])).toEqual([
      ['page', 'done', null],
      ['status', 'partial', SESSION.status.note],
      ['restore', 'missed', SESSION.restore.note],
    ]);
    expect(record.exercise!.facilitator).toBe(SESSION.facilitator);
    expect(record.participants.find((p) => p.name === 'Cy')!.present).toBe(false);
    expect(record.exercise!.sessions).toHaveLength(2);
    expect(record.exercise!.sessions[0]!.endedAt).not.toBeNull();
    // Answers from the first session keep their original times.
    expect(Date.parse(items[1]!.answeredAt)).toBeLessThan(Date.parse(record.exercise!.sessions[1]!.startedAt));
    const verify = await runCli(['verify', evidence]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
