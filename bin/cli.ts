/**
 * The drillbook command line. Thin on purpose: it parses arguments, loads and validates,
 * owns the process signals, prints, and maps results to the exit codes SPEC fixes. Heavy
 * modules are imported per command so `drillbook validate` starts fast.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { Diagnostics } from '../scenarios/diagnostics.js';
import type { LoadedScenario } from '../scenarios/load.js';
import { EXIT, Exit, err, loadOrExit, out, scenarioChecks } from './cli-common.js';

function buildProgram(): Command {
  const program = new Command('drillbook')
    .description('Recovery drills as code: measured RTO/RPO against the continuity plan, with SOC 2 A1.3 evidence.')
    .version(process.env.npm_package_version ?? '0.1.0')
    .exitOverride()
    .showHelpAfterError('(run drillbook --help for usage)')
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('validate')
    .description('check scenarios and plans, cross-file references too (0 valid, 2 invalid)')
    .argument('<paths...>', 'files or directories')
    .action(async (paths: string[]) => {
      const { validatePaths } = await import('../scenarios/load.js');
      const diagnostics = new Diagnostics();
      const checked = await validatePaths(paths, diagnostics, { checks: await scenarioChecks() });
      const text = diagnostics.format();
      if (text) err(text);
      const valid = checked.filter((c) => c.valid).length;
      out(`${checked.length} file${checked.length === 1 ? '' : 's'} checked, ${valid} valid; ${diagnostics.summary()}`);
      if (diagnostics.hasErrors()) throw new Exit(EXIT.invalid);
    });

  program
    .command('schema')
    .description('print the JSON Schema of the drillbook files (for editors)')
    .addOption(new Option('--kind <kind>', 'one kind only').choices(['Scenario', 'ContinuityPlan']))
    .action(async (options: { kind?: 'Scenario' | 'ContinuityPlan' }) => {
      const { jsonSchema } = await import('../scenarios/json-schema.js');
      out(JSON.stringify(jsonSchema(options.kind), null, 2));
    });

  program
    .command('plan')
    .description('dry run: what the drill would touch, its faults, blast radius, targets and teardown; touches nothing')
    .argument('<scenario>')
    .action(async (file: string) => {
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
      const items = driver?.plan(loaded) ?? [];
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
    .option('--evidence <dir>', 'evidence directory', 'evidence')
    .option('--confirm <name>', 'required for environment production: the scenario name')
    .option('--approver <name>', 'who approved a production drill (default: the operator)')
    .option('--operator <name>', 'who runs the drill (default: the OS user)')
    .option('--answers <file>', 'recorded answers (tabletop; not in this version)')
    .option('-v, --verbose', 'print every probe attempt and undo step')
    .action(async (file: string, options: { evidence: string; confirm?: string; approver?: string; operator?: string; answers?: string; verbose?: boolean }) => {
      const loaded = await loadOrExit(file);
      const code = await runOne(loaded, options);
      throw new Exit(code);
    });

  program
    .command('report')
    .description('re-render a run from its run.json (into <run dir>/exports unless --out)')
    .argument('<run dir>')
    .option('--format <formats>', 'comma-separated: html,md,json', 'html,md')
    .option('--out <dir>', 'output directory')
    .action(async (runDir: string, options: { format: string; out?: string }) => {
      const formats = options.format.split(',').map((f) => f.trim()).filter(Boolean);
      const supported = ['html', 'md', 'json'];
      const unknown = formats.filter((f) => !supported.includes(f));
      if (unknown.length > 0) {
        err(`--format: ${unknown.join(', ')} not supported in this version (supported: ${supported.join(', ')})`);
        throw new Exit(EXIT.invalid);
      }
      const { rerender } = await import('../reports/render.js');
      try {
        for (const written of await rerender(runDir, formats as ('html' | 'md' | 'json')[], options.out)) out(written);
      } catch (error) {
        err(`${runDir}: ${(error as Error).message}`);
        throw new Exit(EXIT.invalid);
      }
    });

  program
    .command('verify')
    .description('check the hashes of a run (or every run of an evidence dir) and the ledger chain (0 intact, 1 not)')
    .argument('<dir>', 'an evidence directory or one run directory')
    .action(async (dir: string) => {
      const { listRunDirs, verifyBundle, verifyLedger } = await import('../reports/evidence.js');
      if (!fs.existsSync(dir)) {
        err(`${dir}: no such directory`);
        throw new Exit(EXIT.invalid);
      }
      const isRun = fs.existsSync(path.join(dir, 'run.json')) || fs.existsSync(path.join(dir, 'manifest.json'));
      const evidenceDir = isRun ? path.dirname(path.resolve(dir)) : dir;
      let intact = true;
      for (const runDir of isRun ? [dir] : await listRunDirs(dir)) {
        const bundle = await verifyBundle(runDir);
        if (!fs.existsSync(path.join(runDir, 'manifest.json')) && fs.existsSync(path.join(runDir, 'journal.jsonl'))) {
          out(`${runDir}: unfinished run (no manifest yet): run drillbook recover`);
          intact = false;
          continue;
        }
        const issues = [
          ...bundle.problems,
          ...bundle.changed.map((f) => `changed: ${f}`),
          ...bundle.missing.map((f) => `missing: ${f}`),
          ...bundle.unlisted.map((f) => `not in the manifest: ${f}`),
        ];
        if (issues.length === 0) out(`${runDir}: intact (manifest sha256 ${bundle.manifestSha256})`);
        else {
          intact = false;
          err(`${runDir}: NOT INTACT`);
          for (const issue of issues) err(`  - ${issue}`);
        }
      }
      if (fs.existsSync(path.join(evidenceDir, 'ledger.jsonl'))) {
        const ledger = await verifyLedger(evidenceDir, { checkManifests: true });
        if (ledger.ok) out(`${ledger.ledgerFile}: chain intact (${ledger.entries} runs)`);
        else {
          intact = false;
          err(`${ledger.ledgerFile}: CHAIN BROKEN`);
          for (const problem of ledger.problems) err(`  - line ${problem.line}: ${problem.message}`);
        }
      }
      out('signatures: not in this version (planned)');
      if (!intact) throw new Exit(EXIT.findings);
    });

  program
    .command('recover')
    .description('finish the undo/teardown of interrupted runs from their journals (0 done, 4 manual action needed)')
    .option('--evidence <dir>', 'evidence directory', 'evidence')
    .action(async (options: { evidence: string }) => {
      const { recoverRuns, runDueDeferred } = await import('../runners/recover.js');
      const runs = await recoverRuns(options.evidence, { log: (m) => out(`  ${m}`) });
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
    .description('real drills against a local embedded PostgreSQL sandbox; evidence in ./evidence')
    .option('--evidence <dir>', 'evidence directory', 'evidence')
    .option('-v, --verbose', 'print every probe attempt and undo step')
    .action(async (options: { evidence: string; verbose?: boolean }) => {
      const { packageRoot } = await import('../reports/paths.js');
      const samples = path.join(packageRoot(), 'scenarios', 'samples');
      const files = ['orders-db-failover.yaml', 'orders-db-restore.yaml'].map((f) => path.join(samples, f));
      const results: { file: string; code: number; line: string }[] = [];
      for (const file of files) {
        out(`\n=== ${path.relative(process.cwd(), file)} ===`);
        const loaded = await loadOrExit(file);
        const summary: string[] = [];
        const code = await runOne(loaded, { evidence: options.evidence, verbose: options.verbose }, summary);
        results.push({ file, code, line: summary.join(' ') });
      }
      out('\nDemo results:');
      for (const r of results) out(`  ${r.line}`);
      const worst = Math.max(...results.map((r) => r.code));
      throw new Exit(worst);
    });

  // Command groups owned by their own modules (bin/commands/*.ts), one line each.
  // [command-modules]

  return program;
}

async function runOne(
  loaded: LoadedScenario,
  options: { evidence: string; confirm?: string; approver?: string; operator?: string; answers?: string; verbose?: boolean },
  summary: string[] = [],
): Promise<number> {
  const { scenario } = loaded;
  if (options.answers) {
    err('--answers replays tabletop sessions, which this version cannot run yet');
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
  if (scenario.metadata.environment.toLowerCase() === 'production' && options.confirm !== scenario.metadata.name) {
    err(`refused: ${scenario.metadata.name} runs against PRODUCTION; re-run with --confirm ${scenario.metadata.name} to approve it (the approver is recorded)`);
    return EXIT.invalid;
  }
  const { AbortReason } = await import('../runners/context.js');
  const { progressListener } = await import('./progress.js');
  const operator = options.operator ?? (await import('node:os')).userInfo().username;
  const approver = scenario.metadata.environment.toLowerCase() === 'production' ? (options.approver ?? operator) : (options.approver ?? null);

  // One owner of signals: the first Ctrl+C (or SIGTERM) aborts and rolls back; the second
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
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const listener = progressListener(process.stderr, { verbose: options.verbose });
  out(`drill ${scenario.metadata.name}: ${scenario.spec.type} of ${loaded.system.name} — ENVIRONMENT ${scenario.metadata.environment.toUpperCase()}`);
  try {
    const result = await runDrill(loaded, { evidenceDir: path.resolve(options.evidence), signal: interrupt.signal, operator, approver, listener });
    listener.stop();
    const { record } = result;
    const fmt = (m: { seconds: number; errorSeconds: number } | null, target: number | null, verdict: string) =>
      m ? `${m.seconds.toFixed(2)} s ± ${m.errorSeconds.toFixed(2)} s vs target ${target} s: ${verdict.toUpperCase()}` : `not measured (target ${target} s)`;
    out(`outcome: ${record.outcome.toUpperCase()}`);
    out(`  RTO ${fmt(record.measured.rto, record.targets.rtoSeconds, record.verdict.rto)}`);
    out(`  RPO ${record.measured.rpo?.lowerBoundOnly ? '≥ ' : ''}${fmt(record.measured.rpo, record.targets.rpoSeconds, record.verdict.rpo)}${record.measured.rpo ? `, ${record.measured.rpo.lostWrites} acknowledged writes lost` : ''}`);
    for (const check of record.checks) out(`  check ${check.passed ? 'passed' : 'FAILED'}: ${check.name} (${check.actual})`);
    if (record.error) out(`  problem: ${record.error}`);
    if (!record.teardown.complete) {
      err('TEARDOWN INCOMPLETE: manual action needed:');
      for (const u of record.teardown.undos.filter((u) => u.status !== 'done')) err(`  - ${u.description}: ${u.error ?? u.status}`);
    }
    out(`evidence: ${path.join(result.runDir, 'report.html')}`);
    summary.push(
      `${record.outcome.toUpperCase().padEnd(8)} ${scenario.metadata.name}: RTO ${record.measured.rto ? `${record.measured.rto.seconds.toFixed(2)}s` : 'n/a'} (${record.verdict.rto}), RPO ${record.measured.rpo ? `${record.measured.rpo.seconds.toFixed(2)}s` : 'n/a'} (${record.verdict.rpo}) → ${path.relative(process.cwd(), path.join(result.runDir, 'report.html'))}`,
    );
    return result.exitCode;
  } finally {
    listener.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
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
