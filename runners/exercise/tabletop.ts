/**
 * The tabletop runner: attendance, then each module's injects in order (situation,
 * discussion questions, the checklist marked done / partial / missed), a P/S/M/U rating per
 * objective, and the hot wash. Nothing is disrupted, so nothing is undone; the record is
 * the AAR/IP's raw material.
 */
import type { ExerciseInjectRecord, ExerciseRecord } from '../../reports/run-record.js';
import { parseDuration } from '../../scenarios/duration.js';
import type { RunContext } from '../context.js';
import type { DrillResult } from '../measured-drill.js';
import { JournaledFacilitator } from './facilitator.js';

const seconds = (text: string | undefined) => (text === undefined ? null : (parseDuration(text) ?? 0) / 1000);

export async function runTabletop(ctx: RunContext, result: DrillResult): Promise<void> {
  const facilitator = ctx.facilitator;
  if (!facilitator) throw new Error('a tabletop needs a facilitator: run it at a terminal or with --answers FILE');
  const answeredAt = (key: string) => (facilitator instanceof JournaledFacilitator ? facilitator.answeredAt.get(key) : undefined) ?? ctx.clock.now().at;
  const spec = ctx.loaded.scenario.spec;

  ctx.enterPhase('prepare');
  const facilitatorName = await facilitator.facilitatorName();
  const attendance = await facilitator.attendance(spec.participants.map((p) => ({ name: p.name, role: p.role })));
  result.attendance = attendance;
  const present = spec.participants.filter((p) => attendance[p.name]).map((p) => p.name);
  ctx.record(`attendance taken by ${facilitatorName}: ${present.length} of ${spec.participants.length} present`, { present });

  ctx.enterPhase('exercise');
  const exercise: ExerciseRecord = {
    mode: facilitator.mode,
    facilitator: facilitatorName,
    answersFile: null,
    conductedAt: null,
    modules: spec.modules.map((m) => ({ id: m.id, title: m.title })),
    objectives: [],
    injects: [],
    unavailableRoles: [],
    hotwash: { strengths: [], improvements: [] },
    sessions: [],
  };
  result.exercise = exercise;
  const unavailable = new Map<string, string>();
  for (const module of spec.modules) {
    ctx.record(`module: ${module.title}`);
    for (const inject of module.injects) {
      if (inject.keyPersonUnavailable) {
        unavailable.set(inject.keyPersonUnavailable.role, inject.id);
        exercise.unavailableRoles.push({ role: inject.keyPersonUnavailable.role, sinceInject: inject.id, reason: inject.keyPersonUnavailable.reason ?? null });
        ctx.record(`key person unavailable: role ${inject.keyPersonUnavailable.role} is out for the rest of the exercise`, { inject: inject.id });
      }
      const discussion = await facilitator.inject(inject, { module: module.title, unavailableRoles: unavailable });
      const injectRecord: ExerciseInjectRecord = {
        id: inject.id,
        module: module.id,
        title: inject.title,
        plannedAtSeconds: seconds(inject.at) ?? 0,
        situation: inject.situation,
        questions: inject.questions,
        discussion: discussion ?? null,
        presentedAt: answeredAt(`injects.${inject.id}.discussion`),
        keyPersonUnavailable: inject.keyPersonUnavailable ? { role: inject.keyPersonUnavailable.role, reason: inject.keyPersonUnavailable.reason ?? null } : null,
        items: [],
      };
      exercise.injects.push(injectRecord);
      ctx.record(`inject delivered: ${inject.title}`, { inject: inject.id, module: module.id });
      for (const item of inject.checklist) {
        const unavailableSince = unavailable.get(item.role);
        const answer = await facilitator.item(inject, item, { unavailableSince });
        injectRecord.items.push({
          id: item.id,
          action: item.action,
          role: item.role,
          coveredBy: answer.coveredBy ?? null,
          roleUnavailable: unavailableSince !== undefined,
          timeLimitSeconds: seconds(item.timeLimit),
          tookSeconds: seconds(answer.took),
          status: answer.status,
          note: answer.note ?? null,
          answeredAt: answeredAt(`injects.${inject.id}.items.${item.id}`),
        });
        ctx.record(`checklist ${inject.id}/${item.id}: ${answer.status}`, answer.note ? { note: answer.note } : undefined);
      }
    }
  }

  ctx.enterPhase('hotwash');
  for (const objective of spec.objectives) {
    const { rating, note } = await facilitator.rating(objective);
    exercise.objectives.push({ id: objective.id, text: objective.text, capability: objective.capability ?? null, rating, note: note ?? null, ratedAt: answeredAt(`ratings.${objective.id}`) });
    ctx.record(`objective ${objective.id} rated ${rating}`);
  }
  exercise.hotwash.strengths = await facilitator.strengths();
  exercise.hotwash.improvements = (await facilitator.improvements()).map((i) => ({
    observation: i.observation,
    analysis: i.analysis ?? null,
    correctiveAction: i.correctiveAction ?? null,
    owner: i.owner ?? null,
    severity: i.severity ?? null,
  }));
  ctx.record(`hot wash: ${exercise.hotwash.strengths.length} strengths, ${exercise.hotwash.improvements.length} areas for improvement`);
}
