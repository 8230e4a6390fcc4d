/**
 * `drillbook run` (and each drill of `drillbook exercise`): checks the options before
 * anything is touched, runs the drill through the engine, prints the outcome and writes the
 * CI outputs (--json, --junit, metrics, GitHub annotations). Heavy modules are imported when
 * a drill runs, so loading this file costs nothing for other commands.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Diagnostics } from '../../scenarios/diagnostics.js';
import type { LoadedScenario } from '../../scenarios/load.js';
import { EXIT, err, out } from '../cli-common.js';

export interface RunCommandOptions {
  evidence: string;
  confirm?: string;
  approver?: string;
  operator?: string;
  answers?: string;
  resume?: string;
  signKey?: string;
  tsa?: string;
  verbose?: boolean;
  json?: boolean;
  junit?: string;
  quiet?: boolean;
  metricsPush?: string;
  metricsFile?: string;
  /** Set by the run command under --json: where the one JSON object goes. */
  emitJson?: (value: unknown) => void;
}

/** Told when stdout or stderr is closed by its reader; a running drill rolls back. */
export const outputClosedListeners = new Set<(which: string) => void>();

/** The run directory of a paused exercise, by run id or a unique prefix of it. */
async function findPausedRun(evidenceDir: string, runId: string): Promise<string> {
  const { listRunDirs } = await import('../../reports/evidence.js');
  const { JOURNAL_FILE, readJournal } = await import('../../runners/journal.js');
  const matches: string[] = [];
  for (const dir of fs.existsSync(evidenceDir) ? await listRunDirs(evidenceDir) : []) {
    const journal = path.join(dir, JOURNAL_FILE);
    if (fs.existsSync(path.join(dir, 'manifest.json')) || !fs.existsSync(journal)) continue;
    const open = readJournal(journal).find((e) => e.t === 'open');
    if (open && open.t === 'open' && open.runId.startsWith(runId)) matches.push(dir);
  }
  if (matches.length === 1) return matches[0]!;
  throw new Error(matches.length === 0 ? `no paused exercise with run id ${runId} in ${evidenceDir}` : `run id ${runId} is ambiguous: ${matches.length} paused runs match`);
}

export async function runOne(loaded: LoadedScenario, options: RunCommandOptions, summary: string[] = []): Promise<number> {
  const { scenario } = loaded;
  // --json keeps stdout for its one object (the human lines go to stderr); --quiet drops them.
  const say = options.json ? err : options.quiet ? () => undefined : out;
  if (options.junit !== undefined) {
    const dir = path.dirname(path.resolve(options.junit));
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      err(`--junit ${options.junit}: ${dir} is not a directory; nothing was run`);
      return EXIT.invalid;
    }
  }
  if (options.metricsPush !== undefined || options.metricsFile !== undefined) {
    const { checkMetricsFile, checkPushUrl } = await import('../../reports/metrics.js');
    const pushProblem = options.metricsPush !== undefined ? checkPushUrl(options.metricsPush) : undefined;
    const fileProblem = options.metricsFile !== undefined ? checkMetricsFile(options.metricsFile) : undefined;
    if (pushProblem) err(`--metrics-push ${pushProblem}; nothing was run`);
    if (fileProblem) err(`--metrics-file ${fileProblem}; nothing was run`);
    if (pushProblem || fileProblem) return EXIT.invalid;
  }
  const type = scenario.spec.type;
  const isExercise = type === 'tabletop' || type === 'simulation';
  if ((options.answers || options.resume) && !isExercise) {
    err(`${options.answers ? '--answers' : '--resume'} is for tabletop and simulation exercises; ${scenario.metadata.name} is a ${type} drill`);
    return EXIT.invalid;
  }
  if (options.resume && type !== 'tabletop') {
    err('--resume continues a paused tabletop; a walkthrough is rolled back when interrupted and run again');
    return EXIT.invalid;
  }
  if (options.answers && options.resume) {
    err('--answers and --resume cannot be combined: a replay runs from start to end');
    return EXIT.invalid;
  }
  let answers: import('../../scenarios/load.js').LoadedAnswers | undefined;
  if (options.answers) {
    const { loadAnswers } = await import('../../scenarios/load.js');
    const diagnostics = new Diagnostics();
    answers = await loadAnswers(options.answers, diagnostics, loaded);
    const text = diagnostics.format();
    if (text) err(text);
    if (!answers || diagnostics.hasErrors()) {
      err(`${options.answers}: ${diagnostics.summary()}`);
      return EXIT.invalid;
    }
  }
  // Evidence goes to a local directory, or to S3 (staged locally, uploaded once sealed).
  const { parseEvidenceTarget, describeEvidenceTarget } = await import('../../reports/upload-s3.js');
  let evidenceTarget: import('../../reports/upload-s3.js').EvidenceTarget;
  try {
    evidenceTarget = parseEvidenceTarget(options.evidence);
  } catch (error) {
    err(`--evidence: ${(error as Error).message}`);
    return EXIT.invalid;
  }
  const evidenceDir =
    evidenceTarget.kind === 'local'
      ? path.resolve(evidenceTarget.dir)
      : path.join(os.tmpdir(), 'drillbook-s3-staging', evidenceTarget.bucket, evidenceTarget.prefix || '_');
  let resumeDir: string | undefined;
  if (options.resume) {
    try {
      resumeDir = await findPausedRun(evidenceDir, options.resume);
    } catch (error) {
      err((error as Error).message);
      return EXIT.invalid;
    }
  }
  let signingKey: import('node:crypto').KeyObject | undefined;
  try {
    signingKey = await (await import('../../reports/signing.js')).resolveSigningKey(options.signKey);
  } catch (error) {
    err(`--sign-key: ${(error as Error).message}`);
    return EXIT.invalid;
  }
  const tsa = options.tsa ?? (process.env.DRILLBOOK_TSA || undefined);
  if (tsa !== undefined) {
    try {
      (await import('../../reports/timestamp.js')).checkTsaUrl(tsa);
    } catch (error) {
      err(`${options.tsa === undefined ? 'DRILLBOOK_TSA' : '--tsa'}: ${(error as Error).message}`);
      return EXIT.invalid;
    }
  }
  const needsPeople = type === 'tabletop' || (type === 'simulation' && scenario.spec.steps.some((s) => s.manual));
  const live = isExercise && !answers && needsPeople;
  if (live && !process.stdin.isTTY) {
    err(`${scenario.metadata.name} needs people: run it at a terminal, or replay a recorded session with --answers FILE`);
    return EXIT.invalid;
  }
  const { runDrill } = await import('../../runners/engine.js');
  const { runnerFor, UnsupportedError } = await import('../../runners/registry.js');
  try {
    runnerFor(scenario.spec.type);
  } catch (error) {
    if (error instanceof UnsupportedError) {
      err(`${loaded.file}: ${error.message}`);
      return EXIT.invalid;
    }
    throw error;
  }
  const production = loaded.environmentClass === 'production'; // scenarios/environments.ts: the plan's classes, or the defaults
  if (production && options.confirm !== scenario.metadata.name) {
    err(`refused: ${scenario.metadata.name} runs against PRODUCTION (environment ${scenario.metadata.environment}); re-run with --confirm ${scenario.metadata.name} to approve it (the approver is recorded)`);
    return EXIT.invalid;
  }
  let coordination: import('../../runners/coordination/select.js').SystemCoordination | undefined; // one drill per system across runners
  try {
    coordination = await (await import('../../runners/coordination/select.js')).coordinationFor(loaded, evidenceTarget);
  } catch (error) {
    err(`${(error as Error).message}; nothing was run`);
    return EXIT.invalid;
  }
  const { AbortReason } = await import('../../runners/context.js');
  const { progressListener } = await import('../progress.js');
  const operator = options.operator ?? (await import('node:os')).userInfo().username;
  const approver = production ? (options.approver ?? operator) : (options.approver ?? null);

  // One owner of signals: the first Ctrl+C, SIGTERM or SIGHUP, or the output closing under us
  // (EPIPE: `drillbook run … | head -1`), aborts and rolls back (exit 3); a second signal
  // leaves at once with 130, and `drillbook recover` finishes the undo from the journal.
  const interrupt = new AbortController();
  let interrupts = 0;
  const onSignal = (name: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      err(`\n${name}: aborting the drill and rolling back (press Ctrl+C again to exit now; then run drillbook recover)`);
      interrupt.abort(new AbortReason('interrupted', `interrupted by ${name}`));
    } else {
      err(`\n${name} again: exiting now without finishing teardown; run: drillbook recover --evidence ${options.evidence}`);
      process.exit(EXIT.forced);
    }
  };
  const onOutputClosed = (which: string) => {
    if (interrupt.signal.aborted) return;
    interrupts++;
    interrupt.abort(new AbortReason('interrupted', `interrupted: ${which} was closed (EPIPE)`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  outputClosedListeners.add(onOutputClosed);
  // A live exercise owns the terminal: no status line under the prompts.
  const listener = progressListener(process.stderr, { verbose: options.verbose, plain: live || Boolean(options.quiet) });
  say(`drill ${scenario.metadata.name}: ${scenario.spec.type} of ${loaded.system.name} — ENVIRONMENT ${scenario.metadata.environment.toUpperCase()}`);
  try {
    const facilitator = live ? new (await import('../facilitate.js')).TerminalFacilitator(operator) : undefined;
    const result = await runDrill(loaded, {
      evidenceDir,
      signal: interrupt.signal,
      operator,
      approver,
      listener,
      ...(facilitator ? { facilitator } : {}),
      ...(answers ? { answers } : {}),
      ...(resumeDir ? { resume: { runDir: resumeDir } } : {}),
      ...(signingKey ? { signingKey } : {}),
      ...(tsa ? { tsa } : {}),
      ...(coordination ? { coordination } : {}),
    });
    listener.stop();
    for (const warning of result.warnings) err(`warning: ${warning}`);
    const { record } = result;
    if (result.paused) {
      say(`exercise PAUSED: every answer so far is kept in ${path.join(result.runDir, 'journal.jsonl')}`);
      say(`resume with: drillbook run ${path.relative(process.cwd(), loaded.file)} --evidence ${options.evidence} --resume ${record.runId.slice(0, 8)}`);
      const { runJson } = await import('../ci-output.js');
      options.emitJson?.({ ...runJson(record, result.runDir, EXIT.aborted), outcome: 'paused' });
      return EXIT.aborted;
    }
    let code: number = result.exitCode;
    let uploadedTo: string | undefined;
    if (evidenceTarget.kind === 's3') {
      const { uploadBundle } = await import('../../reports/upload-s3.js');
      try {
        // The run's remediation items first: its ledger line then anchors them (s3-append.ts).
        const client = (await import('../../reports/evidence/s3-client.js')).defaultS3Client();
        await (await import('../../reports/evidence/s3-append.js')).uploadRunRemediation(client, evidenceTarget, evidenceDir, record.runId);
        const uploaded = await uploadBundle(result.runDir, evidenceTarget, { client, ledger: 'chain', signingKey });
        uploadedTo = describeEvidenceTarget(evidenceTarget);
        say(`uploaded ${uploaded.objects.length} objects to ${uploadedTo}`);
      } catch (error) {
        err(`EVIDENCE NOT UPLOADED to ${describeEvidenceTarget(evidenceTarget)}: ${(error as Error).message}`);
        err(`the sealed bundle stays in ${result.runDir}: upload it by hand or re-run the upload`);
        code = EXIT.incomplete;
      }
    }
    if (record.exercise) printExercise(record, say);
    if (record.walkthrough) printWalkthrough(record, say);
    const fmt = (m: { seconds: number; errorSeconds: number } | null, target: number | null, verdict: string) =>
      m ? `${m.seconds.toFixed(2)} s ± ${m.errorSeconds.toFixed(2)} s vs target ${target} s: ${verdict.toUpperCase()}` : `not measured (target ${target} s)`;
    const { colourEnabled, outcomeWord } = await import('../colour.js');
    const colour = colourEnabled(options.json ? process.stderr : process.stdout);
    say(`outcome: ${outcomeWord(colour, record.outcome)}`);
    if (result.refused) err(`REFUSED before T0 (nothing was disrupted): ${result.refused}`);
    if (!isExercise) say(`  RTO ${fmt(record.measured.rto, record.targets.rtoSeconds, record.verdict.rto)}`);
    if (!isExercise) say(`  RPO ${record.measured.rpo?.lowerBoundOnly ? '≥ ' : ''}${fmt(record.measured.rpo, record.targets.rpoSeconds, record.verdict.rpo)}${record.measured.rpo && record.measured.rpo.acknowledged > 0 ? `, ${record.measured.rpo.lostWrites} acknowledged writes lost` : ''}`);
    for (const check of record.checks) say(`  check ${check.passed ? 'passed' : 'FAILED'}: ${check.name} (${check.actual})`);
    if (record.error) say(`  problem: ${record.error}`);
    if (!record.teardown.complete) {
      err('TEARDOWN INCOMPLETE: manual action needed:');
      for (const u of record.teardown.undos.filter((u) => u.status !== 'done')) err(`  - ${u.description}: ${u.error ?? u.status}`);
    }
    say(`evidence: ${path.join(result.runDir, 'report.html')}`);
    code = Math.max(code, await ciOutputs(record, result.runDir, loaded.file, options));
    if (options.quiet && !options.json) out(`${outcomeWord(colour, record.outcome)} ${scenario.metadata.name} (exit ${code}): ${path.join(result.runDir, 'report.html')}`);
    const { runJson } = await import('../ci-output.js');
    options.emitJson?.(runJson(record, result.runDir, code, uploadedTo));
    const report = path.relative(process.cwd(), path.join(result.runDir, 'report.html'));
    const measured = record.exercise
      ? `objectives ${record.exercise.objectives.map((o) => `${o.id}=${o.rating}`).join(' ')}, ${record.findings.length} findings`
      : record.walkthrough
        ? `walkthrough estimate ${record.walkthrough.estimate.seconds.toFixed(0)}s vs RTO ${record.walkthrough.estimate.rtoTargetSeconds}s (not a measured RTO), ${record.findings.length} findings`
        : `RTO ${record.measured.rto ? `${record.measured.rto.seconds.toFixed(2)}s` : 'n/a'} (${record.verdict.rto}), RPO ${record.measured.rpo ? `${record.measured.rpo.seconds.toFixed(2)}s` : 'n/a'} (${record.verdict.rpo})`;
    summary.push(`${outcomeWord(colour, record.outcome).padEnd(colour ? 18 : 8)} ${scenario.metadata.name}: ${measured} → ${report}`);
    return code;
  } finally {
    listener.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    outputClosedListeners.delete(onOutputClosed);
  }
}

/**
 * The side outputs CI asks for, after the bundle is sealed: --junit, and under GitHub Actions
 * the annotations (stderr: the runner reads workflow commands from both streams, and stdout
 * may be --json's) and the job summary. Returns an exit code: 4 when one could not be written
 * (the drill's own result stands in the evidence).
 */
async function ciOutputs(record: import('../../reports/run-record.js').RunRecord, runDir: string, scenarioFile: string, options: RunCommandOptions): Promise<number> {
  let code: number = EXIT.ok;
  if (options.junit !== undefined) {
    const { junitXml } = await import('../../reports/exports.js');
    const { writeFileAtomic } = await import('../../reports/evidence-files.js');
    try {
      await writeFileAtomic(path.resolve(options.junit), junitXml(record));
    } catch (error) {
      err(`--junit ${options.junit}: not written (${(error as Error).message}); the evidence is complete in ${runDir}`);
      code = EXIT.incomplete;
    }
  }
  if (options.metricsFile !== undefined || options.metricsPush !== undefined) {
    const metrics = await import('../../reports/metrics.js');
    const registry = metrics.runRegistry(record);
    if (options.metricsFile !== undefined) {
      try {
        await metrics.writeMetricsFile(registry, path.resolve(options.metricsFile), metrics.sameRun(record));
      } catch (error) {
        err(`METRICS NOT WRITTEN: --metrics-file ${(error as Error).message}`);
        code = EXIT.incomplete;
      }
    }
    if (options.metricsPush !== undefined) {
      try {
        await metrics.pushMetrics(registry, options.metricsPush, metrics.runGrouping(record));
      } catch (error) {
        err(`METRICS NOT PUSHED: --metrics-push ${(error as Error).message}`);
        code = EXIT.incomplete;
      }
    }
  }
  if (process.env.GITHUB_ACTIONS === 'true') {
    const { githubAnnotations, githubSummary } = await import('../ci-output.js');
    for (const line of githubAnnotations(record, path.relative(process.env.GITHUB_WORKSPACE ?? process.cwd(), scenarioFile))) err(line);
    const summaryFile = process.env.GITHUB_STEP_SUMMARY;
    if (summaryFile) {
      try {
        fs.appendFileSync(summaryFile, githubSummary(record, runDir));
      } catch (error) {
        err(`::warning::GITHUB_STEP_SUMMARY ${summaryFile}: not written (${(error as Error).message})`);
      }
    }
  }
  return code;
}

function printExercise(record: import('../../reports/run-record.js').RunRecord, say: (line: string) => void = out): void {
  const exercise = record.exercise!;
  say(`  objectives: ${exercise.objectives.map((o) => `${o.id} ${o.rating}`).join(', ')}`);
  const items = exercise.injects.flatMap((i) => i.items);
  say(`  checklist: ${items.filter((i) => i.status === 'done').length} done, ${items.filter((i) => i.status === 'partial').length} partial, ${items.filter((i) => i.status === 'missed').length} missed`);
  say(`  findings: ${record.findings.length}; remediation items opened: ${record.remediation.length}`);
}

function printWalkthrough(record: import('../../reports/run-record.js').RunRecord, say: (line: string) => void = out): void {
  const w = record.walkthrough!;
  for (const s of w.steps) say(`  step ${s.id}: ${s.status}${s.elapsedSeconds !== null ? ` ${s.elapsedSeconds} s` : ''} (expected ${s.expectedSeconds} s)`);
  say(`  ${w.estimate.label}: ${w.estimate.seconds} s vs RTO ${w.estimate.rtoTargetSeconds} s${w.estimate.withinRto === null ? '' : w.estimate.withinRto ? ' (within)' : ' (OVER)'}`);
}
