/**
 * What a drill result looks like on the wire: a generic JSON document for any webhook, and
 * the same facts as a Slack incoming-webhook message (`text` for notifications and clients
 * without blocks, `blocks` for the layout). Built from the run's own run.json, never from
 * the scheduler's guesses, so the message and the evidence cannot disagree.
 */
import path from 'node:path';
import type { RunRecord, Verdict } from '../../reports/run-record.js';

export const NOTIFICATION_SCHEMA = 'drillbook.dev/notification/v1';

/** The facts of one finished drill a notification is built from. */
export interface DrillResultFacts {
  scenario: { name: string; file: string };
  system: { name: string; tier: number | null };
  type: string;
  environment: string;
  exitCode: number | null;
  signal: string | null;
  scheduledFor: string | null;
  caughtUp: boolean;
  runDir: string | null;
  record: RunRecord | null;
  error: string | null;
  host: string;
}

export interface TargetResult {
  measuredSeconds: number | null;
  errorSeconds: number | null;
  targetSeconds: number | null;
  verdict: Verdict;
  marginSeconds: number | null;
}

export interface DrillNotification {
  schema: typeof NOTIFICATION_SCHEMA;
  event: 'drill.finished';
  summary: string;
  scenario: { name: string; file: string };
  system: { name: string; tier: number | null };
  type: string;
  environment: string;
  /** passed | failed | aborted | rollback-incomplete, or `not-run` when the drill wrote no record. */
  outcome: string;
  exitCode: number | null;
  signal: string | null;
  rto: TargetResult;
  rpo: TargetResult & { lostWrites: number | null; lowerBoundOnly: boolean };
  evidence: { runDir: string | null; report: string | null; host: string };
  runId: string | null;
  startedAt: string | null;
  endedAt: string | null;
  scheduledFor: string | null;
  caughtUp: boolean;
  error: string | null;
}

export function buildNotification(facts: DrillResultFacts): DrillNotification {
  const record = facts.record;
  const outcome = record?.outcome ?? 'not-run';
  const rto: TargetResult = {
    measuredSeconds: record?.measured.rto?.seconds ?? null,
    errorSeconds: record?.measured.rto?.errorSeconds ?? null,
    targetSeconds: record?.targets.rtoSeconds ?? null,
    verdict: record?.verdict.rto ?? 'not-measured',
    marginSeconds: record?.verdict.rtoMarginSeconds ?? null,
  };
  const rpo = {
    measuredSeconds: record?.measured.rpo?.seconds ?? null,
    errorSeconds: record?.measured.rpo?.errorSeconds ?? null,
    targetSeconds: record?.targets.rpoSeconds ?? null,
    verdict: record?.verdict.rpo ?? ('not-measured' as const),
    marginSeconds: record?.verdict.rpoMarginSeconds ?? null,
    lostWrites: record?.measured.rpo?.lostWrites ?? null,
    lowerBoundOnly: record?.measured.rpo?.lowerBoundOnly ?? false,
  };
  const error = record?.error ?? facts.error;
  const notification: DrillNotification = {
    schema: NOTIFICATION_SCHEMA,
    event: 'drill.finished',
    summary: '',
    scenario: facts.scenario,
    system: { name: record?.system.name ?? facts.system.name, tier: record?.system.tier ?? facts.system.tier },
    type: record?.type ?? facts.type,
    environment: record?.environment ?? facts.environment,
    outcome,
    exitCode: facts.exitCode,
    signal: facts.signal,
    rto,
    rpo,
    evidence: {
      runDir: facts.runDir,
      report: facts.runDir ? path.join(facts.runDir, 'report.html') : null,
      host: record?.host ?? facts.host,
    },
    runId: record?.runId ?? null,
    startedAt: record?.startedAt ?? null,
    endedAt: record?.endedAt ?? null,
    scheduledFor: facts.scheduledFor,
    caughtUp: facts.caughtUp,
    error: error ?? null,
  };
  notification.summary = summaryLine(notification);
  return notification;
}

function seconds(value: number | null): string {
  return value === null ? 'n/a' : `${Number(value.toFixed(2))} s`;
}

export function describeTarget(name: 'RTO' | 'RPO', t: TargetResult, lowerBoundOnly = false): string {
  if (t.measuredSeconds === null) return `${name} not measured (target ${seconds(t.targetSeconds)})`;
  const bound = t.errorSeconds === null ? '' : ` ± ${seconds(t.errorSeconds)}`;
  return `${name} ${lowerBoundOnly ? '≥ ' : ''}${seconds(t.measuredSeconds)}${bound} vs target ${seconds(t.targetSeconds)}: ${t.verdict}`;
}

function summaryLine(n: DrillNotification): string {
  const head = `${n.outcome.toUpperCase()} ${n.scenario.name} (${n.type} of ${n.system.name}, ${n.environment})`;
  if (n.outcome === 'not-run') return `${head}: the drill did not run (exit ${n.exitCode ?? n.signal ?? '?'})${n.error ? `: ${n.error}` : ''}`;
  return `${head}: ${describeTarget('RTO', n.rto)}; ${describeTarget('RPO', n.rpo, n.rpo.lowerBoundOnly)}`;
}

const OUTCOME_ICON: Record<string, string> = {
  passed: ':white_check_mark:',
  failed: ':x:',
  inconclusive: ':grey_question:',
  aborted: ':warning:',
  'rollback-incomplete': ':rotating_light:',
  'not-run': ':grey_question:',
};

/** Slack limits: header text 150 characters, section text 3000, field text 2000. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack reads `&`, `<` and `>` as markup (`<!channel>` pings everyone): escape what came from files and runs. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The notification as a Slack incoming-webhook payload (Block Kit). */
export function slackMessage(n: DrillNotification): Record<string, unknown> {
  const icon = OUTCOME_ICON[n.outcome] ?? ':grey_question:';
  const field = (label: string, value: string) => ({ type: 'mrkdwn', text: clip(`*${label}*\n${esc(value)}`, 2000) });
  const rpoText = `${describeTarget('RPO', n.rpo, n.rpo.lowerBoundOnly)}${n.rpo.lostWrites !== null ? `, ${n.rpo.lostWrites} acknowledged writes lost` : ''}`;
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(`${n.outcome.toUpperCase()}: ${n.scenario.name}`, 150), emoji: true } },
    {
      type: 'section',
      fields: [
        field('System', `${n.system.name}${n.system.tier !== null ? ` (tier ${n.system.tier})` : ''}`),
        field('Environment', n.environment.toUpperCase()),
        field('Type', n.type),
        field('Outcome', `${icon} ${n.outcome}${n.exitCode !== null ? ` (exit ${n.exitCode})` : ''}`),
        field('RTO', describeTarget('RTO', n.rto)),
        field('RPO', rpoText),
      ],
    },
  ];
  if (n.error) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Problem:* ${esc(n.error)}`, 3000) } });
  blocks.push({
    type: 'section',
    text: { type: 'mrkdwn', text: clip(`*Evidence:* \`${esc(n.evidence.report ?? 'none written')}\` on ${esc(n.evidence.host)}`, 3000) },
  });
  const context = [
    n.runId ? `run ${n.runId}` : undefined,
    n.scheduledFor ? `scheduled for ${n.scheduledFor}${n.caughtUp ? ' (caught up after downtime)' : ''}` : undefined,
    n.startedAt && n.endedAt ? `${n.startedAt} → ${n.endedAt}` : undefined,
  ].filter((part): part is string => part !== undefined);
  if (context.length > 0) blocks.push({ type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text: clip(esc(text), 2000) })) });
  return { text: `${icon} ${esc(n.summary)}`, blocks };
}
