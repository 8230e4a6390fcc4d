/**
 * What the exercise runners need beyond the schema: a tabletop has objectives, modules and
 * participants, and every role it names is a participant's; a walkthrough has steps whose
 * owners are participants' roles. Ids are unique where answers refer to them.
 */
import { parseDuration } from '../../scenarios/duration.js';
import type { LoadedScenario, Reporter } from '../../scenarios/load.js';

function duplicates<T>(items: T[], id: (item: T) => string, report: (index: number, value: string) => void): void {
  const seen = new Set<string>();
  items.forEach((item, index) => {
    const value = id(item);
    if (seen.has(value)) report(index, value);
    seen.add(value);
  });
}

export function validateTabletop(loaded: LoadedScenario, report: Reporter): void {
  const spec = loaded.scenario.spec;
  if (spec.objectives.length === 0) report(['spec'], 'a tabletop needs spec.objectives (each is rated P/S/M/U in the hot wash)', { hint: 'objectives: [{ id: contain, text: "…" }]' });
  if (spec.modules.length === 0) report(['spec'], 'a tabletop needs spec.modules with injects', { hint: 'modules: [{ id: detection, title: Detection, injects: [...] }]' });
  if (spec.participants.length === 0) report(['spec'], 'a tabletop needs spec.participants (attendance is taken against them)');
  if (spec.steps.length > 0) report(['spec', 'steps'], 'runbook steps belong to a simulation (walkthrough), not a tabletop', { hint: 'use spec.type: simulation' });
  if (spec.faults.length > 0) report(['spec', 'faults'], 'a tabletop disrupts nothing: remove spec.faults');
  const roles = [...new Set(spec.participants.map((p) => p.role))];
  const roleHint = `participant roles: ${roles.map((r) => `\`${r}\``).join(', ') || 'none'}`;
  duplicates(spec.objectives, (o) => o.id, (i, v) => report(['spec', 'objectives', i, 'id'], `duplicate objective id \`${v}\``));
  const injects = spec.modules.flatMap((m, mi) => m.injects.map((inject, ii) => ({ inject, path: ['spec', 'modules', mi, 'injects', ii] as (string | number)[] })));
  duplicates(injects, (x) => x.inject.id, (i, v) => report([...injects[i]!.path, 'id'], `duplicate inject id \`${v}\``));
  duplicates(spec.modules, (m) => m.id, (i, v) => report(['spec', 'modules', i, 'id'], `duplicate module id \`${v}\``));
  let previousAt = -1;
  for (const { inject, path } of injects) {
    duplicates(inject.checklist, (c) => c.id, (i, v) => report([...path, 'checklist', i, 'id'], `duplicate checklist item id \`${v}\` in inject ${inject.id}`));
    inject.checklist.forEach((item, i) => {
      if (!roles.includes(item.role)) report([...path, 'checklist', i, 'role'], `no participant has the role \`${item.role}\``, { hint: roleHint });
    });
    if (inject.keyPersonUnavailable && !roles.includes(inject.keyPersonUnavailable.role)) {
      report([...path, 'keyPersonUnavailable', 'role'], `no participant has the role \`${inject.keyPersonUnavailable.role}\``, { hint: roleHint });
    }
    const at = parseDuration(inject.at) ?? Number.NaN;
    if (Number.isFinite(at) && at < previousAt) report([...path, 'at'], 'injects are delivered in order: this one is timed before the previous one', { severity: 'warning' });
    previousAt = Number.isFinite(at) ? at : previousAt;
  }
}

export function validateWalkthrough(loaded: LoadedScenario, report: Reporter): void {
  const spec = loaded.scenario.spec;
  if (spec.steps.length === 0) report(['spec'], 'a simulation (walkthrough) needs spec.steps', { hint: 'steps: [{ id: promote, title: …, owner: dba, expected: 5m, command: … }]' });
  if (spec.modules.length > 0) report(['spec', 'modules'], 'injects belong to a tabletop, not a walkthrough', { hint: 'use spec.type: tabletop' });
  const roles = [...new Set(spec.participants.map((p) => p.role))];
  duplicates(spec.steps, (s) => s.id, (i, v) => report(['spec', 'steps', i, 'id'], `duplicate step id \`${v}\``));
  spec.steps.forEach((step, i) => {
    if (roles.length > 0 && !roles.includes(step.owner)) {
      report(['spec', 'steps', i, 'owner'], `no participant has the role \`${step.owner}\``, { hint: `participant roles: ${roles.map((r) => `\`${r}\``).join(', ')}` });
    }
  });
}
