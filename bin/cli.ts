/**
 * The drillbook command line. Thin on purpose: it parses arguments, loads and validates,
 * owns the process signals, prints, and maps results to the exit codes SPEC fixes. Heavy
 * modules are imported per command so `drillbook validate` starts fast.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Argument, Command, CommanderError, Option } from 'commander';
import { Diagnostics } from '../scenarios/diagnostics.js';
import type { LoadedScenario } from '../scenarios/load.js';
import { EXIT, Exit, err, loadOrExit, out, scenarioChecks } from './cli-common.js';
import { toolInfo } from '../runners/tool.js';
import type { CliDefaults } from './config.js';

const toolVersion = () => toolInfo().version;
import { registerRemediation } from './commands/remediation.js';
import { registerCoverage } from './commands/coverage.js';
import { registerReport } from './commands/report.js';
import { registerSite } from './commands/site.js';
import { registerSchedule } from './commands/schedule.js';
import { registerVerify } from './commands/verify.js';
import { registerKeys } from './commands/keys.js';
import { registerSignoff } from './commands/signoff.js';
import { registerInit } from './commands/init.js';
import { decorateHelp } from './help.js';

export function buildProgram(defaults: CliDefaults): Command {
  const program = new Command('drillbook')
    .description('Recovery drills as code: measured RTO/RPO against the continuity plan, with SOC 2 A1.3 evidence.')
    .version(toolVersion())
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('validate')
    .description('check scenarios and plans, cross-file references too (0 valid, 2 invalid)')
    .argument('<paths...>', 'files or directories')
    .action(async (paths: string[]) => {
      const { validateCommand } = await import('./commands/validate.js');
      const code = await validateCommand(paths);
      if (code !== EXIT.ok) throw new Exit(code);
    });

  program
    .command('schema')
    .description('print the JSON Schema of the drillbook files (for editors)')
    .addOption(new Option('--kind <kind>', 'one kind only').choices(['Scenario', 'ContinuityPlan', 'ExerciseAnswers']))
    .action(async (options: { kind?: 'Scenario' | 'ContinuityPlan' | 'ExerciseAnswers' }) => {
      const { jsonSchema } = await import('../scenarios/json-schema.js');
      out(JSON.stringify(jsonSchema(options.kind), null, 2));
    });

  program
    .command('plan')
    .description('dry run: what the drill would touch, its faults, blast radius, targets and teardown; touches nothing')
    .argument('<scenario>')
    .option('--offline', 'do not resolve resources live (no API calls at all)')
    .action(async (file: string, options: { offline?: boolean }) => {
      const loaded = await loadOrExit(file);
      const { drivers, runnerFor } = await import('../runners/registry.js');
      const { scenario, system } = loaded;
      const spec = scenario.spec;
      out(`Drill plan: ${scenario.metadata.name}  (${spec.type}, system ${system.name}, tier ${system.tier})`);
      out(`ENVIRONMENT: ${scenario.metadata.environment.toUpperCase()}`);
      out(`Targets: RTO ${spec.targets?.rto ?? system.rto}, RPO ${spec.targets?.rpo ?? system.rpo} (${spec.targets ? 'scenario override' : 'from the plan'})`);
      out(`Guardrail: maxDuration ${spec.guardrails.maxDuration}; probes every ${spec.probes.interval}, stable for ${spec.probes.stableFor}`);
      try {
        runnerFor(spec.type);
      } catch (error) {
        out(`Not runnable yet: ${(error as Error).message}`);
        return;
      }
      const driver = spec.target ? drivers[spec.target.driver] : undefined;
      let items = driver?.plan(loaded) ?? [];
      if (driver?.planLive && !options.offline) {
        // Resolved live and read-only: exactly which resources each fault would touch now.
        try {
          items = await driver.planLive(loaded, AbortSignal.timeout(30_000));
          out('Resources resolved live (read-only calls only).');
        } catch (error) {
          out(`Could not resolve resources live (${(error as Error).message}); showing the declared plan.`);
        }
      }
      if (spec.type === 'tabletop') {
        out(`Exercise: ${spec.modules.length} modules, ${spec.modules.reduce((n, m) => n + m.injects.length, 0)} injects, ${spec.objectives.length} objectives rated P/S/M/U; nothing is touched.`);
      }
      if (spec.type === 'simulation') {
        items = spec.steps.map((step) => ({
          action: `${step.command ? `run: ${step.command}` : `manual: ${step.manual}`} (owner ${step.owner}, expected ${step.expected})`,
          touches: step.command ? 'what the command touches' : 'done by a person',
          undo: step.undo ? `run: ${step.undo}` : 'none declared',
        }));
      }
      for (const condition of spec.guardrails.abortIf) out(`Abort condition: ${condition.name} (checked every ${spec.probes.interval}; ${condition.failures} consecutive failures abort and roll back)`);
      out('');
      out('Would do, in order (each undo is journaled before its action):');
      items.forEach((item, index) => {
        out(`  ${index + 1}. ${item.action}`);
        out(`     touches: ${item.touches}`);
        out(`     undo:    ${item.undo}`);
      });
      out('');
      out('Teardown: every journaled undo, newest first, on success, failure, abort; `drillbook recover` after a crash.');
      out('Nothing was touched.');
    });

  program
    .command('run')
    .description('run one drill and write its evidence bundle (0 passed, 1 findings, 2 invalid/refused, 3 aborted, 4 teardown incomplete)')
    .argument('<scenario>')
    .option('--evidence <dir>', evidenceHelp(defaults), defaults.evidence)
    .option('--confirm <name>', 'required for environment production: the scenario name')
    .option('--approver <name>', 'who approved a production drill (default: the operator)')
    .option('--operator <name>', 'who runs the drill (default: the OS user)')
    .option('--answers <file>', 'replay a recorded tabletop or walkthrough session (kind ExerciseAnswers)')
    .option('--resume <run id>', 'continue a paused tabletop exercise (its run id or a unique prefix)')
    .option('--sign-key <ref>', 'sign the evidence with an Ed25519 key: file:PATH or env:VAR (default: $DRILLBOOK_SIGNING_KEY)', defaults.signKey)
    .option('--tsa <url>', 'get an RFC 3161 trusted timestamp of the sealed manifest from this TSA (default: $DRILLBOOK_TSA); kept as manifest.tsr')
    .option('--json', 'print exactly one JSON object on stdout (runId, outcome, verdict, measured, evidence); everything else goes to stderr')
    .option('--junit <file>', 'also write the result as JUnit XML to this file')
    .option('-q, --quiet', 'print only the outcome line and errors')
    .option('--metrics-push <url>', 'push the run\'s Prometheus series to this Pushgateway (job drillbook, grouped by scenario and environment)', defaults.metricsPush)
    .option('--metrics-file <path>', 'write the run\'s Prometheus series to this node_exporter textfile (*.prom; other scenarios\' series in it are kept)', defaults.metricsFile)
    .option('-v, --verbose', 'print every probe attempt and undo step')
    .action(async (file: string, options: RunCommandOptions) => {
      // --json: one object on stdout whatever happens, also when the drill never started.
      let emitted = false;
      const emitJson = (value: unknown) => {
        if (emitted) return;
        emitted = true;
        process.stdout.write(`${JSON.stringify(value)}\n`);
      };
      const { refusedJson } = await import('./ci-output.js');
      try {
        const loaded = await loadOrExit(file);
        const code = await runOne(loaded, { ...options, ...(options.json ? { emitJson } : {}) });
        if (options.json) emitJson(refusedJson(file, code, 'the drill did not run: see stderr'));
        throw new Exit(code);
      } catch (error) {
        if (options.json && error instanceof Exit) emitJson(refusedJson(file, error.code, 'the drill did not run: see stderr'));
        throw error;
      }
    });

  program
    .command('recover')
    .description('finish the undo/teardown of interrupted runs from their journals (0 done, 4 manual action needed)')
    .option('--evidence <dir>', evidenceHelp(defaults), defaults.evidence)
    .option('--sign-key <ref>', 'sign the bundles recover completes: file:PATH or env:VAR (default: $DRILLBOOK_SIGNING_KEY)', defaults.signKey)
    .action(async (options: { evidence: string; signKey?: string }) => {
      const { recoverRuns, runDueDeferred } = await import('../runners/recover.js');
      let signingKey: import('node:crypto').KeyObject | undefined;
      try {
        signingKey = await (await import('../reports/signing.js')).resolveSigningKey(options.signKey);
      } catch (error) {
        err(`--sign-key: ${(error as Error).message}`);
        throw new Exit(EXIT.invalid);
      }
      const tsa = process.env.DRILLBOOK_TSA || undefined;
      if (tsa !== undefined) {
        try {
          (await import('../reports/timestamp.js')).checkTsaUrl(tsa);
        } catch (error) {
          err(`DRILLBOOK_TSA: ${(error as Error).message}`);
          throw new Exit(EXIT.invalid);
        }
      }
      const runs = await recoverRuns(options.evidence, { log: (m) => out(`  ${m}`), ...(signingKey ? { signingKey } : {}), ...(tsa ? { tsa } : {}) });
      const deferred = fs.existsSync(options.evidence) ? await runDueDeferred(options.evidence, { log: (m) => out(`  ${m}`) }) : [];
      if (runs.length === 0 && deferred.length === 0) out(`nothing to recover in ${options.evidence}`);
      let incomplete = false;
      for (const d of deferred) {
        if (d.status === 'kept') out(`run ${d.runId}: kept as declared until ${d.notBefore}: ${d.description}`);
        else if (d.status === 'done') out(`run ${d.runId}: deferred undo done (recorded in deferred.jsonl): ${d.description}`);
        else {
          incomplete = true;
          err(`run ${d.runId}: MANUAL ACTION NEEDED: ${d.description}: ${d.error}`);
        }
      }
      for (const run of runs) {
        if (run.status === 'still-running') out(`${run.runDir}: still running (its process is alive), left alone`);
        else if (run.status === 'paused') out(`${run.runDir}: paused tabletop exercise, left for drillbook run <scenario> --resume ${run.runId.slice(0, 8)}`);
        else if (run.summary) out(run.summary);
        else if (run.status === 'recovered') out(`${run.runDir}: recovered (${run.undone} undo${run.undone === 1 ? '' : 's'} run); evidence completed`);
        else {
          incomplete = true;
          err(`${run.runDir}: MANUAL ACTION NEEDED`);
          for (const f of run.failed) err(`  - ${f.description}: ${f.error}`);
        }
      }
      if (incomplete) throw new Exit(EXIT.incomplete);
    });

  program
    .command('demo')
    .description('real drills against a local embedded PostgreSQL sandbox, plus the sample tabletop and walkthrough replayed; evidence in ./evidence')
    .option('--evidence <dir>', evidenceHelp(defaults), defaults.evidence)
    .option('-v, --verbose', 'print every probe attempt and undo step')
    .action(async (options: { evidence: string; verbose?: boolean }) => {
      const { packageRoot } = await import('../reports/paths.js');
      const samples = path.join(packageRoot(), 'scenarios', 'samples');
      const drills: { scenario: string; answers?: string }[] = [
        { scenario: 'orders-db-failover.yaml' },
        { scenario: 'orders-db-restore.yaml' },
        { scenario: 'ransomware-tabletop.yaml', answers: 'ransomware-tabletop.answers.yaml' },
        { scenario: 'lose-primary-region-walkthrough.yaml', answers: 'lose-primary-region-walkthrough.answers.yaml' },
      ];
      const results: { code: number; line: string }[] = [];
      for (const drill of drills) {
        const file = path.join(samples, drill.scenario);
        out(`\n=== ${path.relative(process.cwd(), file)}${drill.answers ? ' (replaying its recorded session)' : ''} ===`);
        const loaded = await loadOrExit(file);
        const summary: string[] = [];
        const code = await runOne(loaded, { evidence: options.evidence, verbose: options.verbose, ...(drill.answers ? { answers: path.join(samples, drill.answers) } : {}) }, summary);
        results.push({ code, line: summary.join(' ') });
      }
      out('\nDemo results:');
      for (const r of results) out(`  ${r.line}`);
      out(`\nEvidence: ${path.resolve(options.evidence)} (open the report.html of each run; drillbook verify ${options.evidence} checks them)`);
      // Findings are what drills are for: the demo succeeds when every drill completed and
      // cleaned up (exit 0 or 1); an abort, an incomplete teardown or a refusal fails it.
      const worst = Math.max(...results.map((r) => r.code));
      throw new Exit(worst <= EXIT.findings ? EXIT.ok : worst);
    });

  // Command groups owned by their own modules (bin/commands/*.ts), one line each.
  // [command-modules]
  registerVerify(program);
  registerKeys(program);
  registerSignoff(program);
  registerSchedule(program, defaults);
  registerReport(program);
  registerCoverage(program, defaults);
  registerSite(program);
  registerRemediation(program, defaults);
  registerInit(program);

  program
    .command('completion')
    .description('print a bash or zsh completion script')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh']))
    .action(async (shell: 'bash' | 'zsh') => {
      const { bashCompletion, zshCompletion } = await import('./completion.js');
      process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });

  decorateHelp(program);
  return program;
}

interface RunCommandOptions {
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

function evidenceHelp(defaults: CliDefaults): string {
  const from = defaults.evidenceSource === 'default' ? '' : defaults.evidenceSource === 'DRILLBOOK_EVIDENCE' ? ' (default from $DRILLBOOK_EVIDENCE)' : ` (default from ${defaults.evidenceSource})`;
  return `evidence directory or s3://bucket/prefix; $DRILLBOOK_EVIDENCE or drillbook.config.yaml set the default${from}`;
}

/** The run directory of a paused exercise, by run id or a unique prefix of it. */
async function findPausedRun(evidenceDir: string, runId: string): Promise<string> {
  const { listRunDirs } = await import('../reports/evidence.js');
  const { JOURNAL_FILE, readJournal } = await import('../runners/journal.js');
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

async function runOne(loaded: LoadedScenario, options: RunCommandOptions, summary: string[] = []): Promise<number> {
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
    const { checkMetricsFile, checkPushUrl } = await import('../reports/metrics.js');
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
  let answers: import('../scenarios/load.js').LoadedAnswers | undefined;
  if (options.answers) {
    const { loadAnswers } = await import('../scenarios/load.js');
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
  const { parseEvidenceTarget, describeEvidenceTarget } = await import('../reports/upload-s3.js');
  let evidenceTarget: import('../reports/upload-s3.js').EvidenceTarget;
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
    signingKey = await (await import('../reports/signing.js')).resolveSigningKey(options.signKey);
  } catch (error) {
    err(`--sign-key: ${(error as Error).message}`);
    return EXIT.invalid;
  }
  const tsa = options.tsa ?? (process.env.DRILLBOOK_TSA || undefined);
  if (tsa !== undefined) {
    try {
      (await import('../reports/timestamp.js')).checkTsaUrl(tsa);
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
  const { runDrill } = await import('../runners/engine.js');
  const { runnerFor, UnsupportedError } = await import('../runners/registry.js');
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
  let coordination: import('../runners/coordination/select.js').SystemCoordination | undefined; // one drill per system across runners
  try {
    coordination = await (await import('../runners/coordination/select.js')).coordinationFor(loaded, evidenceTarget);
  } catch (error) {
    err(`${(error as Error).message}; nothing was run`);
    return EXIT.invalid;
  }
  const { AbortReason } = await import('../runners/context.js');
  const { progressListener } = await import('./progress.js');
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
    const facilitator = live ? new (await import('./facilitate.js')).TerminalFacilitator(operator) : undefined;
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
      const { runJson } = await import('./ci-output.js');
      options.emitJson?.({ ...runJson(record, result.runDir, EXIT.aborted), outcome: 'paused' });
      return EXIT.aborted;
    }
    let code: number = result.exitCode;
    let uploadedTo: string | undefined;
    if (evidenceTarget.kind === 's3') {
      const { uploadBundle } = await import('../reports/upload-s3.js');
      try {
        // The run's remediation items first: its ledger line then anchors them (s3-append.ts).
        const client = (await import('../reports/evidence/s3-client.js')).defaultS3Client();
        await (await import('../reports/evidence/s3-append.js')).uploadRunRemediation(client, evidenceTarget, evidenceDir, record.runId);
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
    const { colourEnabled, outcomeWord } = await import('./colour.js');
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
    const { runJson } = await import('./ci-output.js');
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
async function ciOutputs(record: import('../reports/run-record.js').RunRecord, runDir: string, scenarioFile: string, options: RunCommandOptions): Promise<number> {
  let code: number = EXIT.ok;
  if (options.junit !== undefined) {
    const { junitXml } = await import('../reports/exports.js');
    const { writeFileAtomic } = await import('../reports/evidence-files.js');
    try {
      await writeFileAtomic(path.resolve(options.junit), junitXml(record));
    } catch (error) {
      err(`--junit ${options.junit}: not written (${(error as Error).message}); the evidence is complete in ${runDir}`);
      code = EXIT.incomplete;
    }
  }
  if (options.metricsFile !== undefined || options.metricsPush !== undefined) {
    const metrics = await import('../reports/metrics.js');
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
    const { githubAnnotations, githubSummary } = await import('./ci-output.js');
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

function printExercise(record: import('../reports/run-record.js').RunRecord, say: (line: string) => void = out): void {
  const exercise = record.exercise!;
  say(`  objectives: ${exercise.objectives.map((o) => `${o.id} ${o.rating}`).join(', ')}`);
  const items = exercise.injects.flatMap((i) => i.items);
  say(`  checklist: ${items.filter((i) => i.status === 'done').length} done, ${items.filter((i) => i.status === 'partial').length} partial, ${items.filter((i) => i.status === 'missed').length} missed`);
  say(`  findings: ${record.findings.length}; remediation items opened: ${record.remediation.length}`);
}

function printWalkthrough(record: import('../reports/run-record.js').RunRecord, say: (line: string) => void = out): void {
  const w = record.walkthrough!;
  for (const s of w.steps) say(`  step ${s.id}: ${s.status}${s.elapsedSeconds !== null ? ` ${s.elapsedSeconds} s` : ''} (expected ${s.expectedSeconds} s)`);
  say(`  ${w.estimate.label}: ${w.estimate.seconds} s vs RTO ${w.estimate.rtoTargetSeconds} s${w.estimate.withinRto === null ? '' : w.estimate.withinRto ? ' (within)' : ' (OVER)'}`);
}

/** Told when stdout or stderr is closed by its reader; a running drill rolls back. */
const outputClosedListeners = new Set<(which: string) => void>();

/**
 * A reader that goes away (`| head -1`, a closed terminal) makes the next write fail with
 * EPIPE (or EIO), an 'error' event that would otherwise end the process with a stack trace
 * in the middle of a drill. Later output is dropped (out/err check the stream).
 */
function watchOutput(): void {
  for (const [stream, which] of [[process.stdout, 'stdout'], [process.stderr, 'stderr']] as const) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (!stream.destroyed) stream.destroy();
      if (error.code === 'EPIPE' || error.code === 'EIO' || error.code === 'ERR_STREAM_DESTROYED') for (const listener of outputClosedListeners) listener(which);
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  watchOutput();
  // drillbook supports Node 20 (see package.json engines); the AWS SDK's notice about its own
  // Node support policy would only clutter every RDS drill's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let defaults: CliDefaults;
  try {
    defaults = await (await import('./config.js')).loadDefaults();
  } catch (error) {
    err(`drillbook: ${(error as Error).message}`);
    return EXIT.invalid;
  }
  const program = buildProgram(defaults);
  // Plain `drillbook` is a request for help, not a usage error: help on stdout, exit 0.
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help' ? EXIT.ok : EXIT.invalid;
    }
    // Last resort: a clear line, not a stack trace (set DRILLBOOK_DEBUG=1 for one).
    err(`drillbook: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DRILLBOOK_DEBUG) err((error as Error).stack ?? '');
    return EXIT.invalid;
  }
}
