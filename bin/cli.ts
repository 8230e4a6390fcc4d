/**
 * The drillbook command line. Thin on purpose: it parses arguments, loads and validates,
 * owns the process signals, prints, and maps results to the exit codes SPEC fixes. Heavy
 * modules are imported per command so `drillbook validate` starts fast.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Argument, Command, CommanderError, Option } from 'commander';
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
import { outputClosedListeners, type RunCommandOptions, runOne } from './commands/run.js';

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

function evidenceHelp(defaults: CliDefaults): string {
  const from = defaults.evidenceSource === 'default' ? '' : defaults.evidenceSource === 'DRILLBOOK_EVIDENCE' ? ' (default from $DRILLBOOK_EVIDENCE)' : ` (default from ${defaults.evidenceSource})`;
  return `evidence directory or s3://bucket/prefix; $DRILLBOOK_EVIDENCE or drillbook.config.yaml set the default${from}`;
}

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
