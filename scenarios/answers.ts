/**
 * Checks an answers file (kind ExerciseAnswers) against its scenario: every answer names
 * something the scenario declares, every required answer is there, and an item whose role
 * was made unavailable says who covered it. Problems are reported at the answer's position.
 */
import { closest } from './suggest.js';
import type { Reporter } from './diagnostics.js';
import type { ExerciseAnswers, Scenario } from './schema.js';

const hintFor = (name: string, known: string[]) => {
  const suggestion = closest(name, known);
  return suggestion ? `did you mean \`${suggestion}\`?` : known.length > 0 ? `known here: ${known.map((k) => `\`${k}\``).join(', ')}` : undefined;
};

/** The role that is unavailable at each inject (from its keyPersonUnavailable inject onwards). */
export function unavailableRolesByInject(scenario: Scenario): Map<string, Map<string, string>> {
  const byInject = new Map<string, Map<string, string>>();
  const unavailable = new Map<string, string>();
  for (const module of scenario.spec.modules) {
    for (const inject of module.injects) {
      if (inject.keyPersonUnavailable) unavailable.set(inject.keyPersonUnavailable.role, inject.id);
      byInject.set(inject.id, new Map(unavailable));
    }
  }
  return byInject;
}

export function checkAnswers(scenario: Scenario, answers: ExerciseAnswers, report: Reporter): void {
  const spec = scenario.spec;
  const a = answers.spec;
  const { type } = spec;
  if (type !== 'tabletop' && type !== 'simulation') {
    report(['spec', 'scenario'], `answers replay tabletop and simulation exercises; ${scenario.metadata.name} is a ${type} drill`);
    return;
  }

  const participants = spec.participants.map((p) => p.name);
  for (const name of Object.keys(a.attendance)) {
    if (!participants.includes(name)) report(['spec', 'attendance', name], `\`${name}\` is not a participant of ${scenario.metadata.name}`, { hint: hintFor(name, participants) });
  }
  for (const name of participants) {
    if (!(name in a.attendance)) report(['spec', 'attendance'], `missing attendance for participant \`${name}\``, { hint: `add \`${name}: true\` (present) or \`false\`` });
  }

  if (type === 'tabletop') {
    if (Object.keys(a.steps).length > 0) report(['spec', 'steps'], 'a tabletop has no runbook steps to answer', { hint: 'answer injects, ratings and the hot wash' });
    const injects = spec.modules.flatMap((m) => m.injects);
    const injectIds = injects.map((i) => i.id);
    const unavailable = unavailableRolesByInject(scenario);
    for (const [injectId, answer] of Object.entries(a.injects)) {
      const inject = injects.find((i) => i.id === injectId);
      if (!inject) {
        report(['spec', 'injects', injectId], `unknown inject \`${injectId}\``, { hint: hintFor(injectId, injectIds) });
        continue;
      }
      const itemIds = inject.checklist.map((c) => c.id);
      for (const [itemId, itemAnswer] of Object.entries(answer.items)) {
        const item = inject.checklist.find((c) => c.id === itemId);
        if (!item) {
          report(['spec', 'injects', injectId, 'items', itemId], `inject \`${injectId}\` has no checklist item \`${itemId}\``, { hint: hintFor(itemId, itemIds) });
          continue;
        }
        const since = unavailable.get(injectId)?.get(item.role);
        if (since && !itemAnswer.coveredBy) {
          report(['spec', 'injects', injectId, 'items', itemId], `role \`${item.role}\` is unavailable since inject \`${since}\`: say who covered this item`, {
            hint: 'add `coveredBy: <name or role>`',
          });
        } else if (since && itemAnswer.coveredBy === item.role) {
          report(['spec', 'injects', injectId, 'items', itemId, 'coveredBy'], `role \`${item.role}\` is unavailable since inject \`${since}\`; it cannot cover this item`);
        }
      }
      for (const item of inject.checklist) {
        if (!(item.id in answer.items)) report(['spec', 'injects', injectId, 'items'], `missing answer for checklist item \`${item.id}\` (${item.action})`, { hint: 'status: done, partial or missed' });
      }
    }
    for (const inject of injects) {
      if (!(inject.id in a.injects)) report(['spec', 'injects'], `missing answers for inject \`${inject.id}\` (${inject.title})`);
    }
    const objectiveIds = spec.objectives.map((o) => o.id);
    for (const objectiveId of Object.keys(a.ratings)) {
      if (!objectiveIds.includes(objectiveId)) report(['spec', 'ratings', objectiveId], `unknown objective \`${objectiveId}\``, { hint: hintFor(objectiveId, objectiveIds) });
    }
    for (const objective of spec.objectives) {
      if (!(objective.id in a.ratings)) report(['spec', 'ratings'], `missing rating for objective \`${objective.id}\``, { hint: 'rating: P, S, M or U' });
    }
  } else {
    if (Object.keys(a.injects).length > 0) report(['spec', 'injects'], 'a walkthrough has no injects to answer', { hint: 'answer the manual steps under `steps`' });
    if (Object.keys(a.ratings).length > 0) report(['spec', 'ratings'], 'a walkthrough has no objectives to rate');
    const stepIds = spec.steps.map((s) => s.id);
    for (const stepId of Object.keys(a.steps)) {
      const step = spec.steps.find((s) => s.id === stepId);
      if (!step) report(['spec', 'steps', stepId], `unknown step \`${stepId}\``, { hint: hintFor(stepId, stepIds) });
      else if (step.command) report(['spec', 'steps', stepId], `step \`${stepId}\` is a command: drillbook runs it and records its result`, { hint: 'answer only manual steps' });
    }
    for (const step of spec.steps.filter((s) => s.manual)) {
      if (!(step.id in a.steps)) report(['spec', 'steps'], `missing answer for manual step \`${step.id}\` (${step.title})`, { hint: 'status: done or failed, with a note' });
    }
  }
}

/**
 * When a recorded session took place, from its answers file: from `conductedAt` (or the
 * earliest answer time when it is not given) to the latest answer time (`at` of injects,
 * items and steps; `conductedAt` itself when no answer carries a time). Null when the file
 * gives no time at all: then the session can only be dated at its replay. Times are returned
 * as UTC ISO strings with milliseconds.
 */
export function conductWindow(answers: ExerciseAnswers): { startedAt: string; endedAt: string } | null {
  const a = answers.spec;
  const times: number[] = [];
  for (const inject of Object.values(a.injects)) {
    if (inject.at) times.push(Date.parse(inject.at));
    for (const item of Object.values(inject.items)) if (item.at) times.push(Date.parse(item.at));
  }
  for (const step of Object.values(a.steps)) if (step.at) times.push(Date.parse(step.at));
  const valid = times.filter(Number.isFinite);
  const conducted = a.conductedAt ? Date.parse(a.conductedAt) : NaN;
  const start = Number.isFinite(conducted) ? conducted : valid.length > 0 ? Math.min(...valid) : NaN;
  if (!Number.isFinite(start)) return null;
  const end = Math.max(start, ...valid);
  return { startedAt: new Date(start).toISOString(), endedAt: new Date(end).toISOString() };
}
