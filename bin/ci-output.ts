/**
 * What a drill tells a CI system: the one JSON object of `run --json` (SPEC v1.1), GitHub
 * Actions workflow commands (`::error` / `::warning` annotations) and the Markdown job
 * summary. Pure functions of the RunRecord; the CLI decides where they go.
 */
import path from 'node:path';
import type { RunRecord } from '../reports/run-record.js';

export interface RunJson {
  runId: string;
  scenario: string;
  system: string;
  type: string;
  environment: string;
  outcome: string;
  exitCode: number;
  verdict: RunRecord['verdict'];
  targets: RunRecord['targets'];
  measured: RunRecord['measured'];
  checks: { name: string; passed: boolean; actual: string }[];
  findings: { id: string; severity: string; title: string }[];
  teardownComplete: boolean;
  /** The run directory (the evidence bundle); the report and run.json are inside it. */
  evidence: string;
  report: string;
  /** Set when the bundle was uploaded: where it went. */
  uploadedTo?: string;
  startedAt: string;
  endedAt: string;
}

export function runJson(record: RunRecord, runDir: string, exitCode: number, uploadedTo?: string): RunJson {
  return {
    runId: record.runId,
    scenario: record.scenario.name,
    system: record.system.name,
    type: record.type,
    environment: record.environment,
    outcome: record.outcome,
    exitCode,
    verdict: record.verdict,
    targets: record.targets,
    measured: record.measured,
    checks: record.checks.map((c) => ({ name: c.name, passed: c.passed, actual: c.actual })),
    findings: record.findings.map((f) => ({ id: f.id, severity: f.severity, title: f.title })),
    teardownComplete: record.teardown.complete,
    evidence: path.resolve(runDir),
    report: path.resolve(runDir, 'report.html'),
    ...(uploadedTo ? { uploadedTo } : {}),
    startedAt: record.startedAt,
    endedAt: record.endedAt,
  };
}

/** The JSON object for a run that never started (invalid input, refused): scripts still get one object. */
export function refusedJson(scenarioFile: string, exitCode: number, reason: string): Record<string, unknown> {
  return { runId: null, scenario: scenarioFile, outcome: exitCode === 2 ? 'invalid' : 'not-run', exitCode, error: reason, evidence: null };
}

// Workflow-command escaping, as @actions/core does it (toCommandValue / escapeData / escapeProperty).
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

function command(kind: 'error' | 'warning' | 'notice', message: string, properties: Record<string, string | undefined>): string {
  const props = Object.entries(properties)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${escapeProperty(v)}`)
    .join(',');
  return `::${kind}${props ? ` ${props}` : ''}::${escapeData(message)}`;
}

const secondsText = (s: number | null | undefined) => (s === null || s === undefined ? 'n/a' : `${s.toFixed(2)} s`);

/**
 * One annotation per missed target, failed check and finding not already covered by those.
 * Missed targets and failed checks are errors; findings by severity (P1/P2 errors, the rest
 * warnings); an aborted or incomplete run is an error. `file` anchors them to the scenario.
 */
export function githubAnnotations(record: RunRecord, file: string): string[] {
  const lines: string[] = [];
  const title = (what: string) => `drillbook ${record.scenario.name}: ${what}`;
  const anchor = { file };
  const m = record.measured;
  if (record.verdict.rto === 'missed') {
    lines.push(command('error', `RTO ${secondsText(m.rto?.seconds)} ± ${secondsText(m.rto?.errorSeconds)} missed the target of ${record.targets.rtoSeconds} s (system ${record.system.name})`, { ...anchor, title: title('RTO target missed') }));
  }
  if (record.verdict.rpo === 'missed') {
    lines.push(command('error', `RPO ${secondsText(m.rpo?.seconds)} missed the target of ${record.targets.rpoSeconds} s (system ${record.system.name})`, { ...anchor, title: title('RPO target missed') }));
  }
  for (const v of ['rto', 'rpo'] as const) {
    if ((record.verdict[v] as string) === 'inconclusive') lines.push(command('error', `${v.toUpperCase()} inconclusive: the fault had no observable effect`, { ...anchor, title: title(`${v.toUpperCase()} inconclusive`) }));
  }
  for (const check of record.checks.filter((c) => !c.passed)) {
    lines.push(command('error', `check failed: ${check.name}: expected ${check.expected}, got ${check.actual}`, { ...anchor, title: title('check failed') }));
  }
  for (const finding of record.findings) {
    // Already annotated above as the missed target or the failed check it records.
    if (finding.kind === 'missed-target' || finding.kind === 'failed-check') continue;
    const kind = finding.severity === 'P1' || finding.severity === 'P2' ? 'error' : 'warning';
    lines.push(command(kind, `${finding.id} (${finding.severity}): ${finding.title}`, { ...anchor, title: title(`finding ${finding.severity}`) }));
  }
  if (record.outcome === 'aborted' || record.outcome === 'rollback-incomplete') {
    lines.push(command('error', `run ${record.outcome}${record.abort ? `: ${record.abort.reason}` : ''}${record.teardown.complete ? '' : '; teardown incomplete, manual action needed'}`, { ...anchor, title: title(record.outcome) }));
  }
  return lines;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');

/** The Markdown a run appends to `$GITHUB_STEP_SUMMARY`. */
export function githubSummary(record: RunRecord, runDir: string): string {
  const icon = record.outcome === 'passed' ? '✅' : record.outcome === 'failed' ? '❌' : '⚠️';
  const lines = [
    `### ${icon} drillbook ${cell(record.scenario.name)}: ${record.outcome.toUpperCase()}`,
    '',
    `${record.type} of **${cell(record.system.name)}** (tier ${record.system.tier}), environment \`${cell(record.environment)}\`, run \`${record.runId}\``,
    '',
  ];
  const exercise = record.type === 'tabletop' || record.type === 'simulation';
  if (!exercise) {
    lines.push('| | measured | target | verdict |', '|---|---|---|---|');
    const rto = record.measured.rto;
    const rpo = record.measured.rpo;
    lines.push(`| RTO | ${rto ? `${secondsText(rto.seconds)} ± ${secondsText(rto.errorSeconds)}` : 'not measured'} | ${record.targets.rtoSeconds ?? 'n/a'} s | ${record.verdict.rto} |`);
    lines.push(`| RPO | ${rpo ? `${rpo.lowerBoundOnly ? '≥ ' : ''}${secondsText(rpo.seconds)} ± ${secondsText(rpo.errorSeconds)}` : 'not measured'} | ${record.targets.rpoSeconds ?? 'n/a'} s | ${record.verdict.rpo} |`);
    lines.push('');
  }
  if (record.checks.length > 0) {
    lines.push('| check | result | actual |', '|---|---|---|');
    for (const c of record.checks) lines.push(`| ${cell(c.name)} | ${c.passed ? 'passed' : '**FAILED**'} | ${cell(c.actual)} |`);
    lines.push('');
  }
  if (record.findings.length > 0) {
    lines.push(`**Findings (${record.findings.length})**`, '');
    for (const f of record.findings) lines.push(`- ${f.severity} ${cell(f.title)} (${f.id})`);
    lines.push('');
  }
  if (!record.teardown.complete) lines.push('**Teardown incomplete: manual action needed** (see the report).', '');
  lines.push(`Evidence: \`${path.resolve(runDir)}\` (report.html inside; \`drillbook verify\` checks it)`, '');
  return `${lines.join('\n')}\n`;
}
