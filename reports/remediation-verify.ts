/**
 * `remediation close --verified-by RUN`: the run that re-tests an item is found in the
 * evidence directory and checked against what the item needs (see qualifyRun).
 */
import path from 'node:path';
import { verifyBundle } from './evidence/verify-bundle.js';
import { listRunDirs, pathExists, readRunRecord } from './evidence-files.js';
import { RegisterError, type RegisterItem, type VerificationRecord } from './remediation-events.js';
import { environmentClassOf } from '../scenarios/environments.js';
import { recordEnvironmentClass } from './environment-class.js';
import type { RunRecord } from './run-record.js';

/** Test types by rigor (DOMAIN "Test types (rigor grows down the list)"). */
export const TEST_TYPE_RIGOR: Readonly<Record<string, number>> = Object.freeze({ tabletop: 1, simulation: 2, 'parallel-restore': 3, failover: 4 });

/** The `≥ N` minimum a check's expected text states, if any (row-count `min`, ready replicas). */
function minimumOf(expected: string): number | null {
  const match = /(?:≥|>=)\s*(\d+(?:\.\d+)?)/.exec(expected);
  return match ? Number(match[1]) : null;
}

/**
 * Find the run `runIdOrPrefix` in the evidence directory and check it re-tests `item`: a
 * later run of the same system and of the same scenario (or one that declares it
 * `verifies` that scenario), of equal or higher rigor, in the same environment class, whose
 * record shows the very target met or check passed, at the same or a stricter threshold than
 * the run that opened the item, and whose bundle verifies.
 */
export async function qualifyRun(evidenceDir: string, runIdOrPrefix: string, item: RegisterItem, itemRunStartedAt: string): Promise<VerificationRecord> {
  const runDirs = (await pathExists(evidenceDir)) ? await listRunDirs(evidenceDir) : [];
  const candidates: { dir: string; record: RunRecord }[] = [];
  let exact = false;
  let original: RunRecord | undefined;
  for (const dir of runDirs) {
    let record: RunRecord;
    try {
      record = await readRunRecord(dir);
    } catch {
      continue; // an unfinished or damaged run cannot verify anything
    }
    if (record.runId === item.runId) original = record;
    if (exact) continue;
    if (record.runId === runIdOrPrefix) {
      candidates.splice(0, candidates.length, { dir, record });
      exact = true;
    } else if (record.runId.startsWith(runIdOrPrefix)) candidates.push({ dir, record });
  }
  const refuse = (why: string) => new RegisterError(`cannot close ${item.id} as verified by run ${runIdOrPrefix}: ${why}`);
  if (candidates.length === 0) throw refuse(`no run with that id in ${evidenceDir}`);
  if (candidates.length > 1) {
    throw refuse(`the prefix matches ${candidates.length} runs (${candidates.map((c) => c.record.runId).join(', ')}); give more of the id`);
  }
  const { dir, record } = candidates[0]!;
  if (record.system.name !== item.system) throw refuse(`it is a run of ${record.system.name}, not of ${item.system}`);
  if (record.runId === item.runId) throw refuse('it is the run that opened the item; a later run must show the fix');
  const started = Date.parse(record.startedAt);
  if (!(started > Date.parse(itemRunStartedAt))) {
    throw refuse(`it started at ${record.startedAt}, not after the run that opened the item (${itemRunStartedAt})`);
  }
  if (record.scenario.name !== item.scenario && !(record.verifies ?? []).includes(item.scenario)) {
    throw refuse(
      `it is a run of scenario ${record.scenario.name}, not of ${item.scenario}, and ${record.scenario.name} does not declare \`spec.verifies: [${item.scenario}]\``,
    );
  }
  const rigor = (type: string) => TEST_TYPE_RIGOR[type] ?? 0;
  if (rigor(record.type) < rigor(item.type)) {
    throw refuse(`it is a ${record.type} test, less rigorous than the ${item.type} test that found the problem (tabletop < simulation < parallel-restore < failover)`);
  }
  const originalClass = original ? recordEnvironmentClass(original) : environmentClassOf(undefined, item.environment);
  const verifyingClass = recordEnvironmentClass(record);
  if (verifyingClass !== originalClass) {
    throw refuse(`it ran in ${record.environment} (${verifyingClass}), but the item was found in ${item.environment} (${originalClass}): a re-test must be in the same environment class`);
  }
  let shows = `re-test by ${record.scenario.name} (${record.type}, ${record.outcome}) in ${record.environment}`;
  if (item.verifiable) {
    if (!original) {
      throw refuse(`the run that opened the item (${item.runId}) is not in ${evidenceDir}, so the threshold it failed cannot be compared; close with --accept-risk if the risk is accepted`);
    }
    if ('target' in item.verifiable) {
      const target = item.verifiable.target;
      const verdict = record.verdict[target];
      if (verdict !== 'met') throw refuse(`its record shows the ${target.toUpperCase()} target ${verdict}, not met`);
      const measured = record.measured[target];
      const targetOf = (r: RunRecord) => (target === 'rto' ? r.targets.rtoSeconds : r.targets.rpoSeconds);
      const targetSeconds = targetOf(record);
      const originalSeconds = targetOf(original);
      if (originalSeconds !== null && (targetSeconds === null || targetSeconds > originalSeconds)) {
        throw refuse(
          `it was held to an ${target.toUpperCase()} target of ${targetSeconds ?? 'none'} s, looser than the ${originalSeconds} s target that was missed: a re-test must meet the same or a stricter target`,
        );
      }
      shows = `${target.toUpperCase()} met${measured ? `: ${measured.seconds} s ± ${measured.errorSeconds} s` : ''} against a target of ${targetSeconds} s (missed target: ${originalSeconds} s), ${shows}`;
    } else {
      const name = item.verifiable.check;
      const check = record.checks.find((c) => c.name === name);
      if (!check) throw refuse(`its record has no check named \`${name}\``);
      if (!check.passed) throw refuse(`its record shows the check \`${name}\` failed (expected ${check.expected}, got ${check.actual})`);
      const failed = original.checks.find((c) => c.name === name);
      if (failed && failed.type !== check.type) throw refuse(`its check \`${name}\` is a ${check.type} check, not the ${failed.type} check that failed`);
      if (failed) {
        const before = minimumOf(failed.expected);
        const now = minimumOf(check.expected);
        if (before !== null && (now === null || now < before)) {
          throw refuse(`its check \`${name}\` expected ${check.expected}, looser than the ${failed.expected} that failed`);
        }
        if (check.type === 'sql' && check.expected !== failed.expected) {
          throw refuse(`its check \`${name}\` expected ${JSON.stringify(check.expected)}, not the ${JSON.stringify(failed.expected)} that failed`);
        }
      }
      shows = `check \`${name}\` passed (expected ${check.expected}, got ${check.actual}), ${shows}`;
    }
  }
  // Last, and whatever the record claims: a run.json that no longer matches its manifest
  // proves nothing.
  const bundle = await verifyBundle(dir);
  if (!bundle.ok) {
    const issues = [...bundle.problems, ...bundle.changed.map((f) => `changed: ${f}`), ...bundle.missing.map((f) => `missing: ${f}`), ...bundle.unlisted.map((f) => `not in the manifest: ${f}`)];
    throw refuse(`its evidence bundle ${path.basename(dir)} does not verify (${issues.join('; ')})`);
  }
  return { runId: record.runId, dir: path.basename(dir), startedAt: record.startedAt, manifestSha256: bundle.manifestSha256!, shows };
}
