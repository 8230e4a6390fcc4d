/**
 * The engine: one drill from a validated scenario to a finalized evidence bundle. It owns
 * the clock, the journal and undo stack, the abort signal (Ctrl+C, maxDuration), and the
 * teardown that always runs; runners and drivers only do their part in between.
 */
import { type KeyObject, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { EvidenceBundle, openExisting, runDirName } from '../reports/evidence.js';
import { earlierItemsFor, recordRunItems } from '../reports/remediation.js';
import type { DeletionRecord, Finding, Outcome, Phase, ProbeAttempt, RemediationItem, RestoredCopyRecord, RunRecord, Severity, TimelineEvent } from '../reports/run-record.js';
import { RUN_RECORD_SCHEMA } from '../reports/run-record.js';
import { parseDuration } from '../scenarios/duration.js';
import { setLongTimeout } from './timers.js';
import { conductWindow } from '../scenarios/answers.js';
import type { LoadedAnswers, LoadedScenario } from '../scenarios/load.js';
import type { ContinuityPlan, FindingClass } from '../scenarios/schema.js';
import { watchAbortConditions } from './abort-conditions.js';
import { type Clock, RunClock } from './clock.js';
import { AbortReason, type ProgressListener, type RunContext } from './context.js';
import { appendDeferred } from './deferred.js';
import { type Facilitator, JournaledFacilitator, ReplayFacilitator, SessionPaused } from './exercise/facilitator.js';
import { JOURNAL_FILE, Journal, type JournalEntry, processStartTime } from './journal.js';
import { type DrillResult, emptyDrillResult } from './measured-drill.js';
import { measureVerdicts } from './verdicts.js';
import { runnerFor } from './registry.js';
import { defaultUndoRegistry } from './undo-handlers.js';
import { UndoStack, type UndoRegistry } from './undo.js';
import { toolInfo } from './tool.js';

export interface RunOptions {
  evidenceDir: string;
  /** Aborts the drill (first Ctrl+C); undos still run. */
  signal?: AbortSignal;
  operator?: string;
  approver?: string | null;
  clock?: Clock;
  listener?: ProgressListener;
  registry?: UndoRegistry;
  scratchRoot?: string;
  /** How long teardown may take before it is reported incomplete. */
  teardownTimeoutMs?: number;
  /** Exercises: a live facilitator (a terminal), unless `answers` replays a recorded session. */
  facilitator?: Facilitator;
  answers?: LoadedAnswers;
  /** Continue a paused exercise: its run directory (no manifest yet). */
  resume?: { runDir: string };
  /** Signs the bundle (Ed25519) at finalize; absent: hashes and the ledger chain only. */
  signingKey?: KeyObject;
}

export interface RunResult {
  record: RunRecord;
  runDir: string;
  exitCode: 0 | 1 | 3 | 4;
  /** An exercise interrupted on purpose: the bundle is not finalized; `run --resume` continues it. */
  paused?: boolean;
}

export class ResumeError extends Error {}

/** What an interrupted run left in its journal, for `run --resume`. */
function resumeState(runDir: string, loaded: LoadedScenario) {
  const file = path.join(runDir, JOURNAL_FILE);
  let reopened: ReturnType<typeof Journal.reopen>;
  try {
    reopened = Journal.reopen(file);
  } catch {
    throw new ResumeError(`${runDir} has no journal to resume from`);
  }
  const { journal, entries } = reopened;
  const open = entries.find((e): e is Extract<JournalEntry, { t: 'open' }> => e.t === 'open');
  if (!open || entries.some((e) => e.t === 'close')) {
    journal.close();
    throw new ResumeError(`${runDir} is not a paused exercise (it was ${open ? 'finished' : 'never started'})`);
  }
  if (path.resolve(open.scenarioFile) !== path.resolve(loaded.file)) {
    journal.close();
    throw new ResumeError(`run ${open.runId} is an exercise of ${open.scenarioFile}, not of ${loaded.file}`);
  }
  const prior = new Map<string, { value: unknown; at: string }>();
  for (const e of entries) if (e.t === 'answer') prior.set(e.key, { value: e.value, at: e.at });
  const sessions: { startedAt: string; endedAt: string | null }[] = [{ startedAt: open.at, endedAt: null }];
  for (const e of entries) {
    if (e.t === 'paused') sessions[sessions.length - 1]!.endedAt = e.at;
    if (e.t === 'resumed') sessions.push({ startedAt: e.at, endedAt: null });
  }
  return { journal, open, skeleton: open.skeleton as RunRecord, prior, sessions };
}

export const EXIT_CODES: Record<Outcome, 0 | 1 | 3 | 4> = { passed: 0, failed: 1, aborted: 3, 'rollback-incomplete': 4 };

export async function runDrill(loaded: LoadedScenario, options: RunOptions): Promise<RunResult> {
  const runner = runnerFor(loaded.scenario.spec.type);
  const spec = loaded.scenario.spec;
  const clock = new RunClock(options.clock);
  const resumed = options.resume ? resumeState(options.resume.runDir, loaded) : undefined;
  const runId = resumed?.open.runId ?? randomUUID();
  const startedAt = resumed ? { at: resumed.skeleton.startedAt } : clock.now();
  const bundleOptions = options.signingKey ? { signingKey: options.signingKey } : {};
  const existing = resumed ? await openExisting(options.resume!.runDir, bundleOptions) : undefined;
  const bundle = existing?.bundle ?? (await EvidenceBundle.create(options.evidenceDir, runDirName(new Date(startedAt.at), loaded.scenario.metadata.name, runId), bundleOptions));
  const skeleton = resumed?.skeleton ?? recordSkeleton(loaded, runId, startedAt.at, options);
  const journal = resumed?.journal ?? Journal.open(bundle.dir, { runId, scenarioFile: loaded.file, scenarioName: loaded.scenario.metadata.name, skeleton });
  if (resumed) journal.append({ t: 'resumed', at: clock.now().at, pid: process.pid, processStart: processStartTime(process.pid), host: os.hostname() });
  const sessions = resumed?.sessions ?? [{ startedAt: startedAt.at, endedAt: null }];
  if (resumed) sessions.push({ startedAt: clock.now().at, endedAt: null });
  const undo = new UndoStack(journal, options.registry ?? defaultUndoRegistry());

  // maxDuration is a guardrail: when it passes, the drill aborts and rolls back like Ctrl+C.
  const guard = new AbortController();
  const maxDurationMs = parseDuration(spec.guardrails.maxDuration) ?? 15 * 60_000;
  const guardTimer = setLongTimeout(() => guard.abort(new AbortReason('max-duration', `guardrail maxDuration ${spec.guardrails.maxDuration} exceeded`)), maxDurationMs);
  const signal = options.signal ? AbortSignal.any([options.signal, guard.signal]) : guard.signal;

  const timeline: TimelineEvent[] = existing ? [...existing.timeline] : [];
  const probes: ProbeAttempt[] = existing ? [...existing.probes] : [];
  let phase: Phase = 'prepare';
  const listener = options.listener ?? {};
  const secrets = new Set<string>();
  const redact = (text: string) => {
    let masked = text;
    for (const secret of secrets) masked = masked.replaceAll(secret, '[secret]');
    return masked;
  };
  const record = (event: string, detail?: Record<string, unknown>) => {
    const instant = clock.now();
    const safeDetail = detail ? (JSON.parse(redact(JSON.stringify(detail))) as Record<string, unknown>) : undefined;
    const entry: TimelineEvent = { at: instant.at, mono: Math.round(instant.mono * 1000) / 1000, event: redact(event), phase, ...(safeDetail ? { detail: safeDetail } : {}) };
    timeline.push(entry);
    bundle.appendTimeline(entry).catch((e: unknown) => listener.log?.(`evidence write failed: ${String(e)}`));
    listener.event?.(entry);
    return instant;
  };
  const ctx: RunContext = {
    runId,
    loaded,
    clock,
    signal,
    undo,
    record,
    enterPhase(next) {
      phase = next;
      journal.append({ t: 'phase', at: clock.now().at, phase: next });
      listener.phase?.(next, clock.now());
      record(`phase: ${next}`);
    },
    markT0(t0) {
      journal.append({ t: 't0', at: t0.at, mono: t0.mono, action: t0.action });
    },
    probeAttempt(attempt) {
      probes.push(attempt);
      bundle.appendProbe(attempt).catch((e: unknown) => listener.log?.(`evidence write failed: ${String(e)}`));
      listener.probe?.(attempt);
    },
    attach: (name, content) => bundle.writeAttachment(name, redact(content)),
    log: (message) => listener.log?.(redact(message)),
    addSecret(value) {
      // Very short values would mask ordinary text; they are not secrets worth the name.
      if (value && value.length >= 4) secrets.add(value);
    },
    redact,
    scratchRoot: options.scratchRoot ?? os.tmpdir(),
  };
  const isExercise = spec.type === 'tabletop' || spec.type === 'simulation';
  if (isExercise) {
    const source = options.answers ? new ReplayFacilitator(options.answers.answers) : options.facilitator;
    if (source) {
      ctx.facilitator = new JournaledFacilitator(
        source,
        (key, value, at) => journal.append({ t: 'answer', at, key, value }),
        resumed?.prior ?? new Map(),
        () => clock.now().at,
      );
    }
  }

  const result: DrillResult = emptyDrillResult();
  let abort: RunRecord['abort'] = null;
  let error: string | null = null;
  if (resumed) record(`exercise resumed (session ${sessions.length}); ${resumed.prior.size} answers kept from the journal`);
  else record('drill started', { scenario: loaded.scenario.metadata.name, environment: loaded.scenario.metadata.environment, type: spec.type });
  const watcher = watchAbortConditions(spec.guardrails.abortIf, {
    intervalMs: parseDuration(spec.probes.interval) ?? 250,
    signal,
    clock,
    record,
    addSecret: ctx.addSecret,
    baseDir: path.dirname(loaded.file),
    trip: (message) => guard.abort(new AbortReason('guardrail', message)),
  });
  try {
    await runner.run(ctx, result);
  } catch (caught) {
    const reason = signal.aborted ? signal.reason : undefined;
    if (spec.type === 'tabletop' && (caught instanceof SessionPaused || (reason instanceof AbortReason && reason.kind === 'interrupted'))) {
      // A tabletop changes nothing: pausing keeps every answer in the journal for --resume.
      guardTimer.clear();
      await watcher.stop();
      record('exercise paused by the operator; resume with drillbook run --resume');
      journal.append({ t: 'paused', at: clock.now().at });
      journal.close();
      await bundle.flush();
      return { record: { ...skeleton, timeline, outcome: 'aborted' }, runDir: bundle.dir, exitCode: 3, paused: true };
    }
    if (caught instanceof SessionPaused && !(reason instanceof AbortReason)) {
      abort = { reason: 'interrupted by the operator (Ctrl+C)', at: clock.now().at };
      record(`aborted: ${abort.reason}`);
    } else if (reason instanceof AbortReason) {
      abort = { reason: reason.message, at: clock.now().at };
      record(`aborted: ${reason.message}`);
    } else {
      error = redact(caught instanceof Error ? caught.message : String(caught));
      record(`step failed: ${error}`);
    }
  } finally {
    guardTimer.clear();
    await watcher.stop();
  }

  ctx.enterPhase('teardown');
  // Deleting an RDS copy takes 5–15 minutes in real accounts; everything else is quick.
  const teardownSignal = AbortSignal.timeout(options.teardownTimeoutMs ?? (spec.target?.driver === 'rds' ? 60 * 60_000 : 5 * 60_000));
  const unwound = await undo.unwind({
    signal: teardownSignal,
    log: ctx.log,
    defer: (pending, notBefore) => appendDeferred(options.evidenceDir, { t: 'deferred', at: clock.now().at, runId, runDir: bundle.dir, undo: pending, notBefore }),
  });
  for (const u of unwound.undos) record(`undo ${u.status}: ${u.description}${u.error ? ` (${u.error})` : ''}`);
  record(unwound.complete ? 'teardown complete' : 'teardown INCOMPLETE: manual action needed');

  const endedAt = clock.now().at;
  result.failure = result.failure === null ? null : redact(result.failure);
  if (result.exercise) {
    sessions[sessions.length - 1]!.endedAt = endedAt;
    result.exercise.sessions = sessions;
    if (options.answers) {
      result.exercise.answersFile = { file: options.answers.file, sha256: options.answers.sha256 };
      result.exercise.conductedAt = options.answers.answers.spec.conductedAt ?? null;
    }
  }
  // A replayed session is dated when it was conducted (its answers file says when); the replay
  // is recorded beside it. Due dates and coverage then follow the conduct time.
  const conducted = options.answers ? conductWindow(options.answers.answers) : null;
  const dated = options.answers ? { ...skeleton, replayedAt: skeleton.startedAt, replayEndedAt: endedAt, ...(conducted ? { startedAt: conducted.startedAt } : {}) } : skeleton;
  const runRecord = completeRecord(dated, { result, abort, error, timeline, probes, endedAt: conducted?.endedAt ?? endedAt, teardown: { complete: unwound.complete, undos: unwound.undos, deletions: unwound.deletions, recoveredBy: null } }, loaded);
  // The AAR/IP shows where earlier runs' items stand now; this run's items join the register
  // once its evidence is sealed. A register problem must not lose the run's evidence.
  runRecord.earlierItems = await earlierItemsFor(options.evidenceDir, runRecord)
    .then((r) => r.items)
    .catch((e: unknown) => {
      listener.log?.(`remediation register not read: ${String(e)}`);
      return [];
    });
  journal.append({ t: 'close', at: endedAt, outcome: runRecord.outcome });
  journal.close();
  const { dir } = await bundle.finalize(runRecord);
  await recordRunItems(options.evidenceDir, runRecord).catch((e: unknown) => listener.log?.(`remediation items not recorded in the register: ${String(e)}`));
  return { record: runRecord, runDir: dir, exitCode: EXIT_CODES[runRecord.outcome] };
}

/** The parts of the RunRecord known before anything runs; the journal keeps them for `recover`. */
export function recordSkeleton(loaded: LoadedScenario, runId: string, startedAt: string, options: Pick<RunOptions, 'operator' | 'approver'>): RunRecord {
  const { scenario, plan, system } = loaded;
  const spec = scenario.spec;
  const targetRto = spec.targets?.rto ?? system.rto;
  const targetRpo = spec.targets?.rpo ?? system.rpo;
  return {
    schema: RUN_RECORD_SCHEMA,
    runId,
    outcome: 'aborted',
    scenario: { name: scenario.metadata.name, file: loaded.file, sha256: loaded.sha256, ...(scenario.metadata.description ? { description: scenario.metadata.description } : {}) },
    plan: { name: plan.metadata.name, version: plan.metadata.version, file: loaded.planFile, sha256: loaded.planSha256 },
    system: { name: system.name, tier: system.tier, owner: system.owner },
    environment: scenario.metadata.environment,
    environmentClass: loaded.environmentClass,
    type: spec.type,
    objective: spec.objective ?? `Verify that ${system.name} recovers within its RTO (${targetRto}) and RPO (${targetRpo}) by a ${spec.type} test.`,
    scope: spec.scope ?? `${system.name} (${scenario.metadata.environment})`,
    rationale: spec.rationale ?? null,
    ...(spec.verifies && spec.verifies.length > 0 ? { verifies: [...spec.verifies] } : {}),
    startedAt,
    endedAt: startedAt,
    timeSource: `system clock of ${os.hostname()} (UTC); durations from the monotonic clock`,
    operator: options.operator ?? os.userInfo().username,
    approver: options.approver ?? null,
    tool: toolInfo(),
    host: os.hostname(),
    participants: spec.participants.map((p) => ({ name: p.name, role: p.role, present: p.present })),
    targets: {
      rtoSeconds: (parseDuration(targetRto) ?? 0) / 1000,
      rpoSeconds: (parseDuration(targetRpo) ?? 0) / 1000,
      source: spec.targets?.rto || spec.targets?.rpo ? 'scenario' : 'plan',
    },
    measured: { rto: null, rpo: null },
    verdict: { rto: 'not-measured', rpo: 'not-measured', rtoMarginSeconds: null, rpoMarginSeconds: null },
    t0: null,
    target: { driver: spec.target?.driver ?? 'none', description: '', endpoints: {} },
    faults: [],
    timeline: [],
    probeSummary: { attempts: 0, failures: 0, file: 'probes.csv' },
    checks: [],
    dataIntegrity: { restorePoint: null, backup: null, notes: [] },
    restoredCopy: null,
    observations: { strengths: [], improvements: [] },
    findings: [],
    remediation: [],
    teardown: { complete: false, undos: [], deletions: [], recoveredBy: null },
    abort: null,
    error: null,
    attachments: [],
    signoff: { status: 'pending', reviewer: null, decision: null },
  };
}

export interface Completion {
  result: DrillResult;
  abort: RunRecord['abort'];
  error: string | null;
  timeline: TimelineEvent[];
  probes: ProbeAttempt[];
  endedAt: string;
  teardown: RunRecord['teardown'];
}

export function completeRecord(skeleton: RunRecord, done: Completion, loaded: Pick<LoadedScenario, 'plan'> | undefined): RunRecord {
  const { result } = done;
  const record: RunRecord = {
    ...skeleton,
    endedAt: done.endedAt,
    measured: { rto: result.rto, rpo: result.rpo },
    t0: result.t0 ? { at: result.t0.at, mono: result.t0.mono, action: result.t0.action } : null,
    target: { driver: skeleton.target.driver, description: result.targetDescription, endpoints: result.endpoints },
    faults: result.faults,
    timeline: done.timeline,
    probeSummary: { attempts: done.probes.length, failures: done.probes.filter((p) => !p.ok).length, file: 'probes.csv' },
    checks: result.checks,
    dataIntegrity: { restorePoint: result.integrity.restorePoint, backup: result.integrity.backup, notes: result.integrity.notes },
    restoredCopy: result.restoredCopy ? withDeletion(result.restoredCopy, done.teardown.deletions) : null,
    teardown: done.teardown,
    abort: done.abort,
    error: done.error ?? result.failure,
    participants: result.attendance ? skeleton.participants.map((p) => ({ ...p, present: result.attendance![p.name] ?? false })) : skeleton.participants,
    exercise: result.exercise,
    walkthrough: result.walkthrough,
  };
  const verdicts = measureVerdicts(record);
  record.verdict = verdicts;
  const severity = loaded?.plan.spec.severity;
  const findings = deriveFindings(record, severityRule(severity));
  record.findings = findings;
  record.remediation = remediationFor(findings, record, severity);
  record.observations = observe(record, result);
  record.outcome = outcomeOf(record);
  return record;
}

/** The copy's record, with how its destruction was verified once teardown did it. */
function withDeletion(copy: RestoredCopyRecord, deletions: DeletionRecord[]): RestoredCopyRecord {
  const deletion = deletions.find((d) => d.what === 'restored copy');
  return deletion ? { ...copy, deletion } : copy;
}

function outcomeOf(record: RunRecord): Outcome {
  if (!record.teardown.complete) return 'rollback-incomplete';
  if (record.abort) return 'aborted';
  const missed = record.verdict.rto === 'missed' || record.verdict.rpo === 'missed' || Boolean(record.measured.rpo?.lowerBoundOnly && record.t0);
  if (missed || record.error || record.checks.some((c) => !c.passed)) return 'failed';
  // An exercise fails when an objective was not achieved (M, U), a checklist action was
  // missed, or the walkthrough's estimate exceeds the RTO; lesser findings still pass.
  const exercise = record.exercise;
  if (exercise && (exercise.objectives.some((o) => o.rating === 'M' || o.rating === 'U') || exercise.injects.some((i) => i.items.some((item) => item.status === 'missed')))) return 'failed';
  if (record.walkthrough?.estimate.withinRto === false) return 'failed';
  return 'passed';
}

type PlanSeverity = ContinuityPlan['spec']['severity'];
type SeverityFor = (finding: FindingClass, fallback: Severity) => Severity;

/** The plan's `spec.severity.<P>.for` rules, first match from P1 down; drillbook's default otherwise. */
export function severityRule(severity: PlanSeverity): SeverityFor {
  return (finding, fallback) => {
    for (const level of ['P1', 'P2', 'P3', 'P4'] as const) if (severity?.[level]?.for?.includes(finding)) return level;
    return fallback;
  };
}

export function deriveFindings(record: RunRecord, severityFor: SeverityFor = (_, fallback) => fallback): Finding[] {
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'id'>, cls: FindingClass = f.kind as FindingClass) =>
    findings.push({ id: `F-${findings.length + 1}`, ...f, severity: severityFor(cls, f.severity) });
  const targetSeverity = record.system.tier <= 1 ? 'P1' : record.system.tier === 2 ? 'P2' : 'P3';
  for (const inject of record.exercise?.injects ?? []) {
    for (const item of inject.items) {
      if (item.status !== 'done')
        add(
          {
            kind: 'checklist-item',
            severity: item.status === 'missed' ? 'P2' : 'P3',
            title: `Checklist item ${item.status}: ${item.action}`,
            detail: `inject "${inject.title}" (${inject.id}/${item.id}), responsible role ${item.role}${item.coveredBy ? `, covered by ${item.coveredBy} (role unavailable)` : ''}${item.note ? `: ${item.note}` : ''}`,
          },
          item.status === 'missed' ? 'checklist-missed' : 'checklist-partial',
        );
      else if (item.timeLimitSeconds !== null && item.tookSeconds !== null && item.tookSeconds > item.timeLimitSeconds)
        add(
          { kind: 'checklist-item', severity: 'P3', title: `Checklist item late: ${item.action}`, detail: `took ${item.tookSeconds} s against a limit of ${item.timeLimitSeconds} s (${inject.id}/${item.id})` },
          'checklist-late',
        );
    }
  }
  for (const objective of record.exercise?.objectives ?? []) {
    if (objective.rating === 'M' || objective.rating === 'U')
      add(
        {
          kind: 'objective-rating',
          severity: objective.rating === 'U' ? 'P1' : 'P2',
          title: `Objective rated ${objective.rating} (${objective.rating === 'U' ? 'unable to be performed' : 'major challenges'}): ${objective.text}`,
          detail: objective.note ?? `objective ${objective.id}`,
        },
        objective.rating === 'U' ? 'rating-U' : 'rating-M',
      );
  }
  for (const improvement of record.exercise?.hotwash.improvements ?? []) {
    add({
      kind: 'improvement',
      severity: improvement.severity ?? 'P3',
      title: `Area for improvement: ${improvement.observation}`,
      ...(improvement.correctiveAction ? { correctiveAction: improvement.correctiveAction } : {}),
      ...(improvement.owner ? { owner: improvement.owner } : {}),
      detail: [improvement.analysis && `analysis: ${improvement.analysis}`, improvement.correctiveAction && `corrective action: ${improvement.correctiveAction}`].filter(Boolean).join('; ') || improvement.observation,
    });
  }
  for (const step of record.walkthrough?.steps.filter((s) => s.status === 'failed') ?? []) {
    add({ kind: 'failed-step', severity: 'P2', title: `Runbook step failed: ${step.title}`, detail: `${step.kind === 'command' ? `\`${step.instruction}\` exited ${step.exitCode}` : 'reported failed by the operator'}${step.note ? `: ${step.note}` : ''} (owner ${step.owner})` });
  }
  const estimate = record.walkthrough?.estimate;
  if (estimate && estimate.withinRto === false)
    add(
      { kind: 'improvement', severity: targetSeverity, title: 'Walkthrough estimate exceeds the RTO', detail: `${estimate.label}: ${estimate.seconds} s against an RTO of ${estimate.rtoTargetSeconds} s` },
      'walkthrough-over-rto',
    );
  if (record.verdict.rto === 'missed')
    add({
      kind: 'missed-target',
      severity: targetSeverity,
      verifiable: { target: 'rto' },
      title: 'RTO target missed',
      detail: record.measured.rto
        ? `measured ${record.measured.rto.seconds} s ± ${record.measured.rto.errorSeconds} s against a target of ${record.targets.rtoSeconds} s`
        : `recovery was not observed; target ${record.targets.rtoSeconds} s`,
    });
  if (record.measured.rpo?.lowerBoundOnly && record.verdict.rpo !== 'missed')
    add({
      kind: 'missed-target',
      severity: targetSeverity,
      verifiable: { target: 'rpo' },
      title: 'RPO not established',
      detail: `no acknowledged heartbeat survived in the recovered data: the loss window is at least ${record.measured.rpo.seconds} s but its start is unknown; lengthen probes.heartbeat.warmup beyond the backup or archive interval`,
    });
  if (record.verdict.rpo === 'missed')
    add({
      kind: 'missed-target',
      severity: targetSeverity,
      verifiable: { target: 'rpo' },
      title: 'RPO target missed',
      detail: record.measured.rpo
        ? `measured ${record.measured.rpo.seconds} s ± ${record.measured.rpo.errorSeconds} s (${record.measured.rpo.lostWrites} acknowledged writes lost) against a target of ${record.targets.rpoSeconds} s`
        : `data loss was not measured; target ${record.targets.rpoSeconds} s`,
    });
  for (const check of record.checks.filter((c) => !c.passed))
    add({ kind: 'failed-check', severity: 'P2', verifiable: { check: check.name }, title: `Data check failed: ${check.name}`, detail: `expected ${check.expected}, got ${check.actual}${check.detail ? ` (${check.detail})` : ''}` });
  if (record.error && !record.walkthrough) add({ kind: 'failed-step', severity: 'P2', title: 'Drill step failed', detail: record.error });
  if (record.abort) add({ kind: 'aborted', severity: 'P3', title: 'Drill aborted', detail: record.abort.reason });
  for (const undo of record.teardown.undos.filter((u) => u.status !== 'done'))
    add({ kind: 'teardown', severity: 'P1', title: 'Teardown incomplete: manual action needed', detail: `${undo.description}: ${undo.error ?? undo.status}` });
  return findings;
}

const DEFAULT_DUE_DAYS = { P1: 7, P2: 30, P3: 90, P4: 180 } as const;

function remediationFor(findings: Finding[], record: RunRecord, severity: Partial<Record<'P1' | 'P2' | 'P3' | 'P4', { dueInDays: number }>> | undefined): RemediationItem[] {
  return findings.map((finding, index) => {
    const days = severity?.[finding.severity]?.dueInDays ?? DEFAULT_DUE_DAYS[finding.severity];
    const due = new Date(Date.parse(record.endedAt) + days * 86_400_000).toISOString().slice(0, 10);
    return {
      id: `REM-${record.runId.slice(0, 8)}-${index + 1}`,
      findingId: finding.id,
      title: finding.title,
      correctiveAction: finding.correctiveAction ?? correctiveActionFor(finding),
      severity: finding.severity,
      owner: finding.owner ?? record.system.owner,
      due,
      status: 'open',
      ...(finding.verifiable ? { verifiable: finding.verifiable } : {}),
      findingKind: finding.kind,
    };
  });
}

function correctiveActionFor(finding: Finding): string {
  switch (finding.kind) {
    case 'missed-target':
      return `Find what limits ${finding.verifiable && 'target' in finding.verifiable ? finding.verifiable.target.toUpperCase() : 'recovery'}, fix it, and re-run the drill to show the target met`;
    case 'failed-check':
      return 'Find why the recovered data differs, fix the backup or restore path, and re-run the drill to show the check passing';
    case 'teardown':
      return 'Remove the left-over drill resources by hand, record it, and fix the undo that failed';
    case 'checklist-item':
      return 'Update the runbook and train the responsible role; re-exercise the inject';
    case 'objective-rating':
      return 'Find the cause of the challenges, update the plan, and re-exercise the objective';
    default:
      return `Address: ${finding.title}`;
  }
}

function observe(record: RunRecord, result: DrillResult): RunRecord['observations'] {
  const strengths = [...result.strengths, ...(record.exercise?.hotwash.strengths ?? [])];
  const improvements = [...result.improvements];
  if (record.verdict.rto === 'met' && record.verdict.rtoMarginSeconds !== null)
    strengths.push(`Recovered in ${record.measured.rto!.seconds} s, ${record.verdict.rtoMarginSeconds} s inside the ${record.targets.rtoSeconds} s RTO.`);
  if (record.measured.rpo && record.measured.rpo.acknowledged > 0 && record.measured.rpo.lostWrites === 0) strengths.push('No acknowledged write was lost.');
  if (record.measured.rpo && record.measured.rpo.lostWrites > 0)
    improvements.push(`${record.measured.rpo.lostWrites} acknowledged writes were lost: consider synchronous replication or a shorter archive interval if the RPO requires it.`);
  if (record.checks.length > 0 && record.checks.every((c) => c.passed)) strengths.push(`All ${record.checks.length} data-integrity checks passed.`);
  for (const f of record.findings.filter((f) => f.kind !== 'missed-target')) improvements.push(`${f.title}: ${f.detail}`);
  return { strengths, improvements };
}
