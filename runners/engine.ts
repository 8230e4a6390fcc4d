/**
 * The engine: one drill from a validated scenario to a finalized evidence bundle. It owns
 * the lifecycle only: the clock, the journal and undo stack, the abort signal (Ctrl+C,
 * maxDuration, guardrails), the runner's part, the teardown that always runs, finalize, and
 * then the outputs (the remediation register). The record is assembled in run-record.ts,
 * its findings and outcome in findings.ts.
 */
import { type KeyObject, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { EvidenceBundle, openExisting, runDirName } from '../reports/evidence.js';
import { DEFAULT_OUTPUTS, type RunOutput, writeOutputs } from '../reports/outputs.js';
import { earlierItemsFor } from '../reports/remediation.js';
import type { Outcome, Phase, ProbeAttempt, RunRecord, TimelineEvent } from '../reports/run-record.js';
import { parseDuration } from '../scenarios/duration.js';
import type { LoadedAnswers, LoadedScenario } from '../scenarios/load.js';
import { watchAbortConditions } from './abort-conditions.js';
import { type Clock, RunClock } from './clock.js';
import { AbortReason, DrillStopped, type ProgressListener, type RunContext } from './context.js';
import { appendDeferred } from './deferred.js';
import type { Driver } from './drivers/types.js';
import { type Facilitator, JournaledFacilitator, ReplayFacilitator, SessionPaused } from './exercise/facilitator.js';
import { Journal, processStartTime } from './journal.js';
import { type DrillResult, emptyDrillResult } from './measured-drill.js';
import { drivers as builtInDrivers, runnerFor } from './registry.js';
import { resumeState } from './resume.js';
import { RunnerFailure } from './runner.js';
import { RefusedBeforeT0 } from './refusal.js';
import { completeRecord, recordSkeleton } from './run-record.js';
import { defaultUndoRegistry } from './undo-handlers.js';
import { UndoStack, type UndoRegistry } from './undo.js';
import { setLongTimeout } from './timers.js';
import { conductWindow } from '../scenarios/answers.js';
import { enterCoordination, type SystemCoordination } from './coordination/engine-hook.js';

export { deriveFindings, severityRule } from './findings.js';
export { type Completion, completeRecord, recordSkeleton } from './run-record.js';
export { ResumeError } from './resume.js';

export interface RunOptions {
  evidenceDir: string;
  /** Aborts the drill (first Ctrl+C); undos still run. */
  signal?: AbortSignal;
  operator?: string;
  approver?: string | null;
  clock?: Clock;
  listener?: ProgressListener;
  registry?: UndoRegistry;
  /** The drivers by name; default: the built-in postgres, rds and kubernetes drivers. */
  drivers?: Readonly<Record<string, Driver>>;
  /** Where the finished run goes after finalize; default: the remediation register. */
  outputs?: readonly RunOutput[];
  scratchRoot?: string;
  /** How long teardown may take before it is reported incomplete; default: the driver's own limit. */
  teardownTimeoutMs?: number;
  /** Exercises: a live facilitator (a terminal), unless `answers` replays a recorded session. */
  facilitator?: Facilitator;
  answers?: LoadedAnswers;
  /** Continue a paused exercise: its run directory (no manifest yet). */
  resume?: { runDir: string };
  /** Signs the bundle (Ed25519) at finalize; absent: hashes and the ledger chain only. */
  signingKey?: KeyObject;
  /** An RFC 3161 TSA URL: the sealed manifest gets a trusted timestamp (manifest.tsr). */
  tsa?: string;
  /** The per-system lock shared with other runners (runners/coordination/select.ts); absent: none. */
  coordination?: SystemCoordination;
}

export interface RunResult {
  record: RunRecord;
  runDir: string;
  exitCode: 0 | 1 | 2 | 3 | 4;
  /** Set when the drill was refused before T0 (nothing disrupted): exit 2 once teardown is complete. */
  refused?: string;
  /** An exercise interrupted on purpose: the bundle is not finalized; `run --resume` continues it. */
  paused?: boolean;
  /** What went wrong without failing the run (a TSA that gave no timestamp), for the CLI to show. */
  warnings: string[];
}

export const EXIT_CODES: Record<Outcome, 0 | 1 | 3 | 4> = { passed: 0, failed: 1, inconclusive: 1, aborted: 3, 'rollback-incomplete': 4 };

/** Teardown's limit when the driver states none. */
const DEFAULT_TEARDOWN_MS = 5 * 60_000;

export async function runDrill(loaded: LoadedScenario, options: RunOptions): Promise<RunResult> {
  runnerFor(loaded.scenario.spec.type); // an unsupported type fails before any lock is taken
  const clock = new RunClock(options.clock);
  // Before the run opens: a run that waited for its system starts when it got it.
  const lock = await enterCoordination(options.coordination, { signal: options.signal, clock, log: (m) => options.listener?.log?.(m) });
  try {
    return await drillHoldingLock(loaded, options, clock, lock);
  } finally {
    await lock.release();
  }
}

async function drillHoldingLock(loaded: LoadedScenario, options: RunOptions, clock: RunClock, lock: Awaited<ReturnType<typeof enterCoordination>>): Promise<RunResult> {
  const runner = runnerFor(loaded.scenario.spec.type);
  const spec = loaded.scenario.spec;
  const drivers = options.drivers ?? builtInDrivers;
  const run = await openRun(loaded, options, clock);
  const { bundle, journal, runId, resumed, sessions, skeleton, existing } = run;
  const undo = new UndoStack(journal, options.registry ?? defaultUndoRegistry(drivers), clock);

  // maxDuration is a guardrail: when it passes, the drill aborts and rolls back like Ctrl+C.
  const guard = new AbortController();
  const maxDurationMs = parseDuration(spec.guardrails.maxDuration) ?? 15 * 60_000;
  const guardTimer = setLongTimeout(() => guard.abort(new AbortReason('max-duration', `guardrail maxDuration ${spec.guardrails.maxDuration} exceeded`)), maxDurationMs);
  const signal = options.signal ? AbortSignal.any([options.signal, guard.signal]) : guard.signal;
  // Another runner took the system's lock (ours expired unrenewed): stop disrupting it.
  lock.onLost((message) => guard.abort(new AbortReason('guardrail', message)));

  const timeline: TimelineEvent[] = existing ? [...existing.timeline] : [];
  const probes: ProbeAttempt[] = existing ? [...existing.probes] : [];
  const attachments: string[] = existing ? [...existing.attachments] : [];
  // A driver that sees the drill cannot go on (the restored copy died) stops it at once.
  const fail = (e: Error): void => {
    if (!signal.aborted) guard.abort(new DrillStopped(e.message));
  };
  const ctx = runContext({ loaded, options, clock, runId, signal, undo, bundle, journal, timeline, probes, attachments, prior: resumed?.prior, fail });
  const { record } = ctx;

  let result: DrillResult = emptyDrillResult();
  let abort: RunRecord['abort'] = null;
  let error: string | null = null;
  let refused: string | undefined;
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
    lock.started(record);
    result = await runner.run(ctx, { drivers });
  } catch (thrown) {
    if (thrown instanceof RunnerFailure) result = thrown.result;
    const caught = thrown instanceof RunnerFailure ? thrown.cause : thrown;
    const reason = signal.aborted ? signal.reason : undefined;
    if (spec.type === 'tabletop' && (caught instanceof SessionPaused || (reason instanceof AbortReason && reason.kind === 'interrupted'))) {
      // A tabletop changes nothing: pausing keeps every answer in the journal for --resume.
      guardTimer.clear();
      await watcher.stop();
      record('exercise paused by the operator; resume with drillbook run --resume');
      journal.append({ t: 'paused', at: clock.now().at });
      journal.close();
      await bundle.flush();
      return { record: { ...skeleton, timeline, outcome: 'aborted' }, runDir: bundle.dir, exitCode: 3, paused: true, warnings: [] };
    }
    if (caught instanceof SessionPaused && !(reason instanceof AbortReason)) {
      abort = { reason: 'interrupted by the operator (Ctrl+C)', at: clock.now().at };
      record(`aborted: ${abort.reason}`);
    } else if (reason instanceof AbortReason) {
      abort = { reason: reason.message, at: clock.now().at };
      record(`aborted: ${reason.message}`);
    } else if (caught instanceof RefusedBeforeT0 && !result.t0) {
      // The input does not describe what is there: nothing was disrupted, exit 2 (invalid input).
      refused = ctx.redact(caught.message);
      abort = { reason: `refused before T0: ${refused}`, at: clock.now().at };
      record(`refused before T0, nothing was disrupted: ${refused}`);
    } else {
      // Stopped by `fail`: its message says why, not the AbortError a loop threw on the way out.
      const stopped = reason instanceof DrillStopped ? reason : caught;
      error = ctx.redact(stopped instanceof Error ? stopped.message : String(stopped));
      record(`step failed: ${error}`);
    }
  } finally {
    guardTimer.clear();
    await watcher.stop();
  }
  // A loop that ended quietly on the abort (no throw) still leaves a failed step.
  if (error === null && abort === null && signal.reason instanceof DrillStopped) {
    error = ctx.redact(signal.reason.message);
    record(`step failed: ${error}`);
  }

  ctx.enterPhase('teardown');
  const driver = spec.target ? drivers[spec.target.driver] : undefined;
  const teardownSignal = AbortSignal.timeout(options.teardownTimeoutMs ?? driver?.teardownTimeoutMs ?? DEFAULT_TEARDOWN_MS);
  const unwound = await undo.unwind({
    signal: teardownSignal,
    log: ctx.log,
    clock,
    defer: (pending, notBefore) => appendDeferred(options.evidenceDir, { t: 'deferred', at: clock.now().at, runId, runDir: bundle.dir, undo: pending, notBefore }),
  });
  // Each undo is stamped once, when it ran (its teardown record); the timeline reuses that stamp.
  for (const u of unwound.undos) record(`undo ${u.status}: ${u.description}${u.error ? ` (${u.error})` : ''}`, undefined, u.at ? clock.instantOf(u.at) : undefined);
  record(unwound.complete ? 'teardown complete' : 'teardown INCOMPLETE: manual action needed');

  const endedAt = clock.now().at;
  // Released once teardown is over (the system is back), before the evidence is sealed.
  await lock.release();
  result.failure = result.failure === null ? null : ctx.redact(result.failure);
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
  const runRecord = completeRecord(dated, { result, abort, error, timeline, probes, endedAt: conducted?.endedAt ?? endedAt, teardown: { complete: unwound.complete, undos: unwound.undos, deletions: unwound.deletions, recoveredBy: null }, attachments }, loaded);
  if (lock.evidence) runRecord.coordination = lock.evidence;
  const log = (message: string) => options.listener?.log?.(message);
  // Journaled first, with the measured result: a process killed from here on is finalized by
  // `recover` as it ended (passed or failed), not as an interrupted run.
  journal.append({ t: 'close', at: endedAt, outcome: runRecord.outcome, record: runRecord });
  journal.close();
  runRecord.earlierItems = await earlierItemsOf(options.evidenceDir, runRecord, log);
  const { dir, timestamp } = await bundle.finalize(runRecord);
  const warnings: string[] = [];
  // The evidence is sealed either way; the manifest records the TSA's failure.
  if (timestamp?.error) warnings.push(`no trusted timestamp: ${timestamp.error}; the bundle is sealed without one (recorded in manifest.json)`);
  for (const w of warnings) log(w);
  await writeOutputs(options.outputs ?? DEFAULT_OUTPUTS, runRecord, { evidenceDir: options.evidenceDir, runDir: dir }, log);
  if (refused !== undefined && runRecord.teardown.complete) return { record: runRecord, runDir: dir, exitCode: 2, refused, warnings };
  return { record: runRecord, runDir: dir, exitCode: EXIT_CODES[runRecord.outcome], warnings };
}

/**
 * The AAR/IP shows where earlier runs' items stand now; this run's items join the register
 * once its evidence is sealed. A register problem must not lose the run's evidence.
 */
export function earlierItemsOf(evidenceDir: string, record: RunRecord, log: (message: string) => void): Promise<NonNullable<RunRecord['earlierItems']>> {
  return earlierItemsFor(evidenceDir, record)
    .then((r) => r.items)
    .catch((e: unknown) => {
      log(`remediation register not read: ${String(e)}`);
      return [];
    });
}

/** The run's bundle and journal: new ones, or a paused exercise's reopened for --resume. */
async function openRun(loaded: LoadedScenario, options: RunOptions, clock: RunClock) {
  const resumed = options.resume ? resumeState(options.resume.runDir, loaded, clock) : undefined;
  const runId = resumed?.open.runId ?? randomUUID();
  const startedAt = resumed ? { at: resumed.skeleton.startedAt } : clock.now();
  const bundleOptions = { ...(options.signingKey ? { signingKey: options.signingKey } : {}), ...(options.tsa ? { timestamp: { tsaUrl: options.tsa } } : {}) };
  const existing = resumed ? await openExisting(options.resume!.runDir, bundleOptions) : undefined;
  const bundle = existing?.bundle ?? (await EvidenceBundle.create(options.evidenceDir, runDirName(new Date(startedAt.at), loaded.scenario.metadata.name, runId), bundleOptions));
  const skeleton = resumed?.skeleton ?? recordSkeleton(loaded, runId, startedAt.at, options);
  const journal = resumed?.journal ?? Journal.open(bundle.dir, { runId, scenarioFile: loaded.file, scenarioName: loaded.scenario.metadata.name, skeleton }, clock);
  if (resumed) journal.append({ t: 'resumed', at: clock.now().at, pid: process.pid, processStart: processStartTime(process.pid), host: os.hostname() });
  const sessions = resumed?.sessions ?? [{ startedAt: startedAt.at, endedAt: null }];
  if (resumed) sessions.push({ startedAt: clock.now().at, endedAt: null });
  return { bundle, journal, runId, resumed, sessions, skeleton, existing };
}

interface ContextParts {
  loaded: LoadedScenario;
  options: RunOptions;
  clock: RunClock;
  runId: string;
  signal: AbortSignal;
  undo: UndoStack;
  bundle: EvidenceBundle;
  journal: Journal;
  timeline: TimelineEvent[];
  probes: ProbeAttempt[];
  attachments: string[];
  prior: Map<string, { value: unknown; at: string }> | undefined;
  fail: (error: Error) => void;
}

/** The RunContext handed down to the runner: evidence sinks that mask secrets, phases, T0. */
function runContext(parts: ContextParts): RunContext {
  const { loaded, options, clock, bundle, journal, timeline, probes } = parts;
  const listener = options.listener ?? {};
  const spec = loaded.scenario.spec;
  let phase: Phase = 'prepare';
  const secrets = new Set<string>();
  const redact = (text: string) => {
    let masked = text;
    for (const secret of secrets) masked = masked.replaceAll(secret, '[secret]');
    return masked;
  };
  const record = (event: string, detail?: Record<string, unknown>, at?: { at: string; mono: number }) => {
    const instant = at ?? clock.now();
    const safeDetail = detail ? (JSON.parse(redact(JSON.stringify(detail))) as Record<string, unknown>) : undefined;
    const entry: TimelineEvent = { at: instant.at, mono: Math.round(instant.mono * 1000) / 1000, event: redact(event), phase, ...(safeDetail ? { detail: safeDetail } : {}) };
    timeline.push(entry);
    bundle.appendTimeline(entry).catch((e: unknown) => listener.log?.(`evidence write failed: ${String(e)}`));
    listener.event?.(entry);
    return instant;
  };
  const ctx: RunContext = {
    runId: parts.runId,
    loaded,
    clock,
    signal: parts.signal,
    fail: parts.fail,
    undo: parts.undo,
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
    attach: async (name, content) => {
      const written = await bundle.writeAttachment(name, redact(content));
      parts.attachments.push(written);
      return written;
    },
    log: (message) => listener.log?.(redact(message)),
    addSecret(value) {
      // Very short values would mask ordinary text; they are not secrets worth the name.
      if (value && value.length >= 4) secrets.add(value);
    },
    redact,
    scratchRoot: options.scratchRoot ?? os.tmpdir(),
  };
  if (spec.type === 'tabletop' || spec.type === 'simulation') {
    const source = options.answers ? new ReplayFacilitator(options.answers.answers) : options.facilitator;
    if (source) {
      ctx.facilitator = new JournaledFacilitator(source, (key, value, at) => journal.append({ t: 'answer', at, key, value }), parts.prior ?? new Map(), () => clock.now().at);
    }
  }
  return ctx;
}
