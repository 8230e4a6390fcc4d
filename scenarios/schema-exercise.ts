/**
 * The exercise part of the Scenario language: tabletop exercises (objectives, modules of
 * timed injects with checklists, a "key person unavailable" inject) and walkthroughs
 * (runbook steps, each a command or a manual action), plus the answers file that records a
 * facilitated session so it can be replayed (paper exercises, CI).
 */
import { z } from 'zod';
import { Duration, PositiveDuration, Timeout } from './primitives.js';

const Id = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase id (a-z, 0-9, -)');

export const ChecklistItem = z.strictObject({
  id: Id,
  action: z.string().min(1).describe('The action the team is expected to take'),
  role: z.string().min(1).describe('The role responsible (a participant role)'),
  timeLimit: PositiveDuration.optional().describe('Expected within this long after the inject'),
});

export const KeyPersonUnavailable = z.strictObject({
  role: z.string().min(1).describe('This role is unavailable from this inject to the end of the exercise'),
  reason: z.string().optional(),
});

export const Inject = z.strictObject({
  id: Id,
  title: z.string().min(1),
  at: Duration.default('0s').describe('Exercise time at which the facilitator delivers it'),
  situation: z.string().min(1).describe('The situation update read to the participants'),
  questions: z.array(z.string().min(1)).default([]),
  checklist: z.array(ChecklistItem).default([]),
  keyPersonUnavailable: KeyPersonUnavailable.optional(),
});

export const ExerciseModule = z.strictObject({
  id: Id,
  title: z.string().min(1),
  injects: z.array(Inject).min(1),
});

export const Objective = z.strictObject({
  id: Id,
  text: z.string().min(1),
  capability: z.string().optional().describe('Capability exercised, e.g. "operational coordination"'),
});

export const RunbookStep = z
  .strictObject({
    id: Id,
    title: z.string().min(1),
    owner: z.string().min(1).describe('The role that performs the step'),
    expected: Duration.describe('How long the runbook says the step takes'),
    command: z.string().min(1).optional().describe('Run through the shell; exit code and output go into the evidence'),
    manual: z.string().min(1).optional().describe('An action a person performs; the operator confirms it with a note'),
    undo: z.string().min(1).optional().describe('Shell command that reverses the step; journaled before the step runs'),
    timeout: Timeout.default('5m'),
    continueOnFailure: z.boolean().default(false),
  })
  .refine((step) => Boolean(step.command) !== Boolean(step.manual), {
    message: 'a step is either a `command` or a `manual` action (exactly one of them)',
  });

// ---------------------------------------------------------------- answers

export const ItemStatus = z.enum(['done', 'partial', 'missed'], { error: 'must be done, partial or missed' });
export const Rating = z.enum(['P', 'S', 'M', 'U'], {
  error: 'a rating is P (performed without challenges), S (some challenges), M (major challenges) or U (unable to be performed)',
});
const Severity = z.enum(['P1', 'P2', 'P3', 'P4']);

export const ItemAnswer = z.strictObject({
  status: ItemStatus,
  note: z.string().optional(),
  took: Duration.optional().describe('How long the team took (compared with the item timeLimit)'),
  coveredBy: z.string().optional().describe('Who covered an item whose role was unavailable'),
  at: z.iso.datetime({ offset: true }).optional(),
});

export const InjectAnswer = z.strictObject({
  discussion: z.string().optional(),
  items: z.record(z.string(), ItemAnswer).default({}),
  at: z.iso.datetime({ offset: true }).optional(),
});

export const Improvement = z.strictObject({
  observation: z.string().min(1),
  analysis: z.string().optional().describe('Root cause'),
  correctiveAction: z.string().optional(),
  owner: z.string().optional(),
  severity: Severity.optional(),
});

export const StepAnswer = z.strictObject({
  status: z.enum(['done', 'failed'], { error: 'must be done or failed' }),
  note: z.string().optional(),
  took: Duration.optional().describe('How long the step took'),
  at: z.iso.datetime({ offset: true }).optional(),
});

export const ExerciseAnswers = z.strictObject({
  apiVersion: z.literal('drillbook.dev/v1'),
  kind: z.literal('ExerciseAnswers'),
  metadata: z.strictObject({ name: z.string().min(1), description: z.string().optional() }),
  spec: z.strictObject({
    scenario: z.string().min(1).describe('The scenario these answers belong to, relative to this file'),
    facilitator: z.string().min(1),
    conductedAt: z.iso.datetime({ offset: true }).optional().describe('When the session took place (paper exercises)'),
    attendance: z.record(z.string(), z.boolean()).default({}).describe('participant name: present'),
    injects: z.record(z.string(), InjectAnswer).default({}),
    ratings: z.record(z.string(), z.strictObject({ rating: Rating, note: z.string().optional() })).default({}),
    steps: z.record(z.string(), StepAnswer).default({}),
    hotwash: z
      .strictObject({ strengths: z.array(z.string().min(1)).default([]), improvements: z.array(Improvement).default([]) })
      .default({ strengths: [], improvements: [] }),
  }),
});
export type ExerciseAnswers = z.infer<typeof ExerciseAnswers>;
