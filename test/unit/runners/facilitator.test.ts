/** Answers are journaled as they are given; a resumed session is served the journaled ones first. */
import { describe, expect, it } from 'vitest';
import { JournaledFacilitator, ReplayFacilitator } from '../../../runners/exercise/facilitator.js';
import type { ExerciseAnswers } from '../../../scenarios/schema.js';

const answers = {
  apiVersion: 'drillbook.dev/v1',
  kind: 'ExerciseAnswers',
  metadata: { name: 'a' },
  spec: {
    scenario: 'x.yaml',
    facilitator: 'Fay',
    attendance: { Ann: true },
    injects: { alarm: { items: { page: { status: 'done', at: '2026-11-20T14:05:00Z' }, status: { status: 'missed' } } } },
    ratings: {},
    steps: {},
    hotwash: { strengths: [], improvements: [] },
  },
} as unknown as ExerciseAnswers;

const inject = { id: 'alarm', title: 'Alarm', at: '0s', situation: 's', questions: [], checklist: [] };
const item = (id: string) => ({ id, action: id, role: 'sre' });

describe('JournaledFacilitator', () => {
  it('journals each answer with its time: the recorded one from a paper session, else now', async () => {
    const journal: { key: string; value: unknown; at: string }[] = [];
    const f = new JournaledFacilitator(new ReplayFacilitator(answers), (key, value, at) => journal.push({ key, value, at }), new Map(), () => '2026-11-26T10:00:00.000Z');
    await f.item(inject, item('page'), { unavailableSince: undefined });
    await f.item(inject, item('status'), { unavailableSince: undefined });
    expect(journal.map((j) => [j.key, j.at])).toEqual([
      ['injects.alarm.items.page', '2026-11-20T14:05:00.000Z'],
      ['injects.alarm.items.status', '2026-11-26T10:00:00.000Z'],
    ]);
    expect(f.answeredAt.get('injects.alarm.items.page')).toBe('2026-11-20T14:05:00.000Z');
  });

  it('serves answers journaled by an interrupted session without asking again', async () => {
    const asked: string[] = [];
    const inner = new ReplayFacilitator(answers);
    const spy = Object.assign(Object.create(inner) as ReplayFacilitator, {
      item: async (...args: Parameters<ReplayFacilitator['item']>) => {
        asked.push(args[1].id);
        return inner.item(...args);
      },
    });
    const prior = new Map([['injects.alarm.items.page', { value: { status: 'partial', note: 'typed before Ctrl+C' }, at: '2026-11-26T09:00:00.000Z' }]]);
    const journal: string[] = [];
    const f = new JournaledFacilitator(spy, (key) => journal.push(key), prior, () => '2026-11-26T10:00:00.000Z');
    expect(await f.item(inject, item('page'), { unavailableSince: undefined })).toEqual({ status: 'partial', note: 'typed before Ctrl+C' });
    await f.item(inject, item('status'), { unavailableSince: undefined });
    expect(asked).toEqual(['status']);
    expect(journal).toEqual(['injects.alarm.items.status']);
    expect(f.answeredAt.get('injects.alarm.items.page')).toBe('2026-11-26T09:00:00.000Z');
  });
});
