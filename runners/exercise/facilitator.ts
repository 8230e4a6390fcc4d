/**
 * Where exercise answers come from. A live session asks people at a terminal (bin/ has the
 * prompt-based facilitator); a replay reads a recorded answers file. Either way every answer
 * is journaled (fsynced) the moment it is given, and a resumed session is served the
 * journaled answers first, so an interrupted exercise loses nothing that was typed.
 */
import type { ExerciseAnswers } from '../../scenarios/schema.js';
import type { Scenario } from '../../scenarios/schema.js';

type Spec = Scenario['spec'];
export type InjectDef = Spec['modules'][number]['injects'][number];
export type ItemDef = InjectDef['checklist'][number];
export type ObjectiveDef = Spec['objectives'][number];
export type StepDef = Spec['steps'][number];
export type ItemAnswer = NonNullable<ExerciseAnswers['spec']['injects'][string]['items'][string]>;
export type Improvement = ExerciseAnswers['spec']['hotwash']['improvements'][number];
export type RatingAnswer = ExerciseAnswers['spec']['ratings'][string];
export type StepAnswer = ExerciseAnswers['spec']['steps'][string];

/** One question the session asks; `key` is where the answer lives in an answers file. */
export interface Facilitator {
  readonly mode: 'live' | 'answers';
  facilitatorName(): Promise<string>;
  attendance(participants: { name: string; role: string }[]): Promise<Record<string, boolean>>;
  /** Shows the inject (situation, questions) and returns the discussion notes. */
  inject(inject: InjectDef, context: { module: string; unavailableRoles: Map<string, string> }): Promise<string | undefined>;
  item(inject: InjectDef, item: ItemDef, context: { unavailableSince: string | undefined }): Promise<ItemAnswer>;
  rating(objective: ObjectiveDef): Promise<RatingAnswer>;
  strengths(): Promise<string[]>;
  improvements(): Promise<Improvement[]>;
  manualStep(step: StepDef): Promise<StepAnswer>;
  /** Shown to people only (progress, a command's result); answers ignore it. */
  say(text: string): void;
}

/** Thrown when the operator interrupts a live session on purpose; the run pauses, resumable. */
export class SessionPaused extends Error {
  constructor() {
    super('exercise paused by the operator');
  }
}

/** Replays a recorded, already validated answers file. */
export class ReplayFacilitator implements Facilitator {
  readonly mode = 'answers' as const;
  constructor(private readonly answers: ExerciseAnswers) {}
  async facilitatorName() {
    return this.answers.spec.facilitator;
  }
  async attendance() {
    return this.answers.spec.attendance;
  }
  async inject(inject: InjectDef) {
    return this.answers.spec.injects[inject.id]?.discussion;
  }
  async item(inject: InjectDef, item: ItemDef) {
    const answer = this.answers.spec.injects[inject.id]?.items[item.id];
    if (!answer) throw new Error(`the answers file has no answer for ${inject.id}/${item.id}`);
    return answer;
  }
  async rating(objective: ObjectiveDef) {
    const answer = this.answers.spec.ratings[objective.id];
    if (!answer) throw new Error(`the answers file has no rating for ${objective.id}`);
    return answer;
  }
  async strengths() {
    return this.answers.spec.hotwash.strengths;
  }
  async improvements() {
    return this.answers.spec.hotwash.improvements;
  }
  async manualStep(step: StepDef) {
    const answer = this.answers.spec.steps[step.id];
    if (!answer) throw new Error(`the answers file has no answer for step ${step.id}`);
    return answer;
  }
  say() {}
}

/**
 * Wraps a facilitator so each answer is journaled (with its UTC time) before the session
 * moves on, and answers journaled by an interrupted earlier session are returned without
 * asking again.
 */
export class JournaledFacilitator implements Facilitator {
  readonly mode: 'live' | 'answers';
  /** When each answer was given (UTC), by key. */
  readonly answeredAt = new Map<string, string>();
  constructor(
    private readonly inner: Facilitator,
    private readonly journal: (key: string, value: unknown, at: string) => void,
    private readonly prior: Map<string, { value: unknown; at: string }>,
    private readonly now: () => string,
  ) {
    this.mode = inner.mode;
  }

  private async ask<T>(key: string, question: () => Promise<T>): Promise<T> {
    const previous = this.prior.get(key);
    if (previous) {
      this.answeredAt.set(key, previous.at);
      return previous.value as T;
    }
    const value = await question();
    // A recorded session may carry when each answer was given (paper exercises): keep it.
    const recorded = this.mode === 'answers' && value !== null && typeof value === 'object' && typeof (value as { at?: unknown }).at === 'string' ? ((value as unknown as { at: string }).at) : undefined;
    const at = recorded ? new Date(recorded).toISOString() : this.now();
    this.journal(key, value === undefined ? null : value, at);
    this.answeredAt.set(key, at);
    return value;
  }

  facilitatorName() {
    return this.ask('facilitator', () => this.inner.facilitatorName());
  }
  attendance(participants: { name: string; role: string }[]) {
    return this.ask('attendance', () => this.inner.attendance(participants));
  }
  async inject(inject: InjectDef, context: { module: string; unavailableRoles: Map<string, string> }) {
    const value = await this.ask(`injects.${inject.id}.discussion`, () => this.inner.inject(inject, context));
    return value ?? undefined;
  }
  item(inject: InjectDef, item: ItemDef, context: { unavailableSince: string | undefined }) {
    return this.ask(`injects.${inject.id}.items.${item.id}`, () => this.inner.item(inject, item, context));
  }
  rating(objective: ObjectiveDef) {
    return this.ask(`ratings.${objective.id}`, () => this.inner.rating(objective));
  }
  strengths() {
    return this.ask('hotwash.strengths', () => this.inner.strengths());
  }
  improvements() {
    return this.ask('hotwash.improvements', () => this.inner.improvements());
  }
  manualStep(step: StepDef) {
    return this.ask(`steps.${step.id}`, () => this.inner.manualStep(step));
  }
  say(text: string) {
    this.inner.say(text);
  }
}
