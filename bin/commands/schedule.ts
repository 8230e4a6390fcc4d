/**
 * `drillbook schedule <dir>`: runs the scenarios of a directory at their `spec.schedule`,
 * each as its own `drillbook run` child with its own evidence, until SIGTERM / Ctrl+C (or
 * `--until`); `drillbook schedule status` shows next and last runs from the state file.
 *
 * This module only wires the Scheduler (runners/scheduler) to the real clock, files,
 * processes and webhooks, prints its events and owns the signals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { EXIT, Exit, err, out } from '../cli-common.js';
import type { CliDefaults } from '../config.js';

interface ScheduleOptions {
  evidence: string;
  state?: string;
  until?: string;
  webhook: string[];
  slack: string[];
  notifyAttempts: string;
  notifyBackoff: string;
  confirm: string[];
  poll: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerSchedule(program: Command, defaults: CliDefaults): void {
  const schedule = program
    .command('schedule')
    .description('long-running scheduler: runs every scenario with spec.schedule in <dir> at its time, until SIGTERM or Ctrl+C')
    .argument('<dir>', 'directory of scenarios (searched recursively)')
    .option('--evidence <dir>', 'evidence directory every scheduled drill writes to ($DRILLBOOK_EVIDENCE or drillbook.config.yaml set the default)', defaults.evidence)
    .option('--state <file>', 'schedule state file (default: <evidence>/schedule-state.json)')
    .option('--until <time>', 'stop scheduling at this ISO 8601 time, let running drills finish, then exit')
    .option('--webhook <url|env:NAME|file:PATH>', 'POST a JSON message for each drill result (repeatable)', collect, [])
    .option('--slack <env:NAME|file:PATH>', 'post each drill result to a Slack incoming webhook (repeatable)', collect, [])
    .option('--notify-attempts <n>', 'delivery attempts per message before giving up', '5')
    .option('--notify-backoff <duration>', 'wait before the first retry; doubled for each further one', '2s')
    .option('--confirm <scenario>', 'a scenario allowed to run against production unattended (repeatable)', collect, [])
    .option('--poll <duration>', 'how often to look for changed scenario files', '2s')
    .action(async (dir: string, options: ScheduleOptions) => {
      throw new Exit(await runScheduler(dir, options));
    });

  // `--evidence` and `--state` belong to `schedule` and are read here too (commander parses a
  // parent's options after the subcommand name, so `schedule status --state F` works).
  schedule
    .command('status')
    .description('next and last runs with their outcome, waiting runs and invalid files, from the state file (--evidence / --state as for schedule)')
    .configureHelp({ showGlobalOptions: true })
    .option('--history <n>', 'show this many recent history entries', '10')
    .action(async (_options: unknown, command: Command) => {
      await printStatus(command.optsWithGlobals() as { evidence: string; state?: string; history: string });
    });
}

function stateFileOf(options: { evidence: string; state?: string }): string {
  return options.state ?? path.join(options.evidence, 'schedule-state.json');
}

async function runScheduler(dir: string, options: ScheduleOptions): Promise<number> {
  const { parseDuration } = await import('../../scenarios/duration.js');
  const { webhookTarget, WebhookNotifier } = await import('../../runners/notify/webhook.js');
  const problems: string[] = [];

  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) problems.push(`${dir}: not a directory of scenarios`);
  let until: number | undefined;
  if (options.until !== undefined) {
    until = Date.parse(options.until);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(options.until) || Number.isNaN(until)) {
      problems.push(`--until ${JSON.stringify(options.until)}: not an ISO 8601 time, e.g. 2026-11-27T06:00:00Z`);
    }
  }
  const attempts = Number(options.notifyAttempts);
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 20) problems.push(`--notify-attempts ${options.notifyAttempts}: use a whole number from 1 to 20`);
  const backoffMs = parseDuration(options.notifyBackoff);
  if (backoffMs === undefined) problems.push(`--notify-backoff ${options.notifyBackoff}: not a duration, e.g. 500ms, 2s, 1m`);
  const pollMs = parseDuration(options.poll);
  if (pollMs === undefined || pollMs < 100) problems.push(`--poll ${options.poll}: use a duration of at least 100ms, e.g. 2s`);
  const targets = [];
  for (const [format, references] of [['json', options.webhook], ['slack', options.slack]] as const) {
    for (const reference of references) {
      try {
        targets.push(webhookTarget(format, reference));
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  const stateFile = stateFileOf(options);
  const { FileStateStore, readStateFile } = await import('../../runners/scheduler/state.js');
  try {
    const previous = await readStateFile(stateFile);
    const owner = previous?.scheduler;
    if (owner && owner.stoppedAt === null && owner.pid !== process.pid && owner.host === os.hostname() && isAlive(owner.pid)) {
      problems.push(`${stateFile}: another drillbook schedule (pid ${owner.pid}) is using this state file; stop it first or pass another --state`);
    }
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) {
    for (const problem of problems) err(problem);
    return EXIT.invalid;
  }

  const { Scheduler } = await import('../../runners/scheduler/scheduler.js');
  const { systemSchedulerClock } = await import('../../runners/scheduler/clock.js');
  const { loadScheduledScenarios, directorySignature } = await import('../../runners/scheduler/load.js');
  const { childProcessSpawner } = await import('../../runners/scheduler/spawn.js');
  const { drillFacts } = await import('../../runners/scheduler/facts.js');
  const { CronSchedule } = await import('../../runners/scheduler/cron.js');

  const stamp = () => new Date().toISOString();
  const host = os.hostname();
  const notifier =
    targets.length > 0
      ? new WebhookNotifier(targets, { attempts, backoffMs: backoffMs!, log: (line) => (line.startsWith('ERROR') ? err : out)(`${stamp()} ${line}`) })
      : undefined;
  const nextText = (cron: string, timezone: string | undefined) => {
    try {
      const schedule = new CronSchedule(cron, timezone);
      const next = schedule.next(Date.now());
      return `${new Date(next).toISOString()} (${localTime(next, schedule.timezone)})`;
    } catch {
      return 'never';
    }
  };

  // The worst exit code of the drills run so far: with --until, `schedule` ends with it, so a
  // CI job or a Kubernetes Job that runs the scheduler for a window fails when a drill failed.
  let worst: number = EXIT.ok;
  let resolveStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  const scheduler = new Scheduler({
    clock: systemSchedulerClock,
    loader: () => loadScheduledScenarios(dir),
    spawner: childProcessSpawner({
      evidenceDir: options.evidence,
      confirm: options.confirm,
      log: (job, line, stream) => (stream === 'stderr' ? err : out)(`  [${job.scenario}] ${line}`),
    }),
    state: new FileStateStore(stateFile),
    ...(notifier ? { notify: async (drill) => void (await notifier.notify(drillFacts(drill, host))) } : {}),
    watch: { signature: () => directorySignature(dir), intervalMs: pollMs! },
    ...(until !== undefined ? { until } : {}),
    identity: { pid: process.pid, host },
    directory: path.resolve(dir),
    onEvent(event) {
      switch (event.type) {
        case 'loaded': {
          out(`${stamp()} ${event.reload ? 'reloaded' : 'loaded'} ${dir}: ${event.scenarios.length} scheduled, ${event.invalid.length} invalid, ${event.unscheduled.length} without spec.schedule`);
          for (const s of event.scenarios) {
            out(`  ${s.name} (${s.system}): cron "${s.schedule.cron}" ${s.schedule.timezone ?? 'UTC'}, overlap ${s.schedule.overlap}, missed ${s.schedule.missed}; next ${nextText(s.schedule.cron, s.schedule.timezone)}`);
          }
          for (const invalid of event.invalid) {
            err(`${invalid.file}: invalid, not scheduled:`);
            err(invalid.problems);
          }
          if (event.scenarios.length === 0) out('  nothing to run yet; watching the directory for changes');
          break;
        }
        case 'started':
          out(`${stamp()} START ${event.job.scenario} (${event.job.system}) due ${new Date(event.job.scheduledFor).toISOString()}${event.job.caughtUp ? ', caught up after downtime' : ''}${event.pid ? `, pid ${event.pid}` : ''}`);
          break;
        case 'finished': {
          const { result } = event.drill;
          // A drill killed by a signal left no exit code: its teardown is not known to be done.
          worst = Math.max(worst, result.exitCode ?? EXIT.incomplete);
          const outcome = (result.record?.outcome ?? 'no record').toUpperCase();
          const where = result.runDir ? ` → ${path.join(result.runDir, 'report.html')}` : '';
          out(`${stamp()} DONE ${event.drill.job.scenario}: ${outcome} (exit ${result.exitCode ?? result.signal})${where}`);
          if (result.error) err(`${stamp()} ${event.drill.job.scenario}: ${result.error}`);
          break;
        }
        case 'waiting':
          out(`${stamp()} WAIT ${event.job.scenario} due ${new Date(event.job.scheduledFor).toISOString()}: ${event.reason}`);
          break;
        case 'skipped':
        case 'missed':
        case 'cancelled':
          out(`${stamp()} ${event.type.toUpperCase()} ${event.entry.scenario} due ${event.entry.scheduledFor}: ${event.entry.reason ?? ''}`);
          break;
        case 'stopping':
          out(`${stamp()} stopping: ${event.reason}${event.running.length > 0 ? `; waiting for ${event.running.map((j) => j.scenario).join(', ')}` : ''}`);
          queueMicrotask(() => void scheduler.stopped?.then(resolveStopped));
          break;
        case 'error':
          err(`${stamp()} ${event.message}`);
          break;
      }
    },
  });

  // One owner of signals: the first SIGTERM / Ctrl+C forwards SIGTERM to running drills (they
  // roll back and exit 3) and waits for them; the second leaves at once.
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      err(`\n${name}: stopping; running drills get SIGTERM and roll back (press Ctrl+C again to exit without waiting)`);
      void scheduler.stop({ terminate: 'SIGTERM', reason: `${name} received` });
    } else {
      const pids = scheduler.runningJobs().map((job) => job.scenario);
      err(`\n${name} again: exiting now${pids.length > 0 ? `; still rolling back in the background: ${pids.join(', ')} (then run drillbook recover --evidence <evidence>)` : ''}`);
      process.exit(EXIT.forced);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  out(`${stamp()} drillbook schedule ${dir}: evidence ${options.evidence}/<scenario>/, state ${stateFile}${until !== undefined ? `, until ${new Date(until).toISOString()}` : ''}`);
  try {
    await scheduler.start();
    await stopped;
    out(`${stamp()} stopped${until !== undefined ? `; worst drill exit code ${worst}` : ''}`);
    return until !== undefined ? worst : EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function printStatus(options: { evidence: string; state?: string; history: string }): Promise<void> {
  const { readStateFile } = await import('../../runners/scheduler/state.js');
  const { CronSchedule } = await import('../../runners/scheduler/cron.js');
  const stateFile = stateFileOf(options);
  const historyCount = Number(options.history);
  if (!Number.isInteger(historyCount) || historyCount < 0) {
    err(`--history ${options.history}: use a whole number, e.g. 10`);
    throw new Exit(EXIT.invalid);
  }
  let state;
  try {
    state = await readStateFile(stateFile);
  } catch (error) {
    err((error as Error).message);
    throw new Exit(EXIT.invalid);
  }
  if (!state) {
    err(`${stateFile}: no schedule state yet (has drillbook schedule run with this --evidence / --state?)`);
    throw new Exit(EXIT.invalid);
  }
  const owner = state.scheduler;
  const running = owner && owner.stoppedAt === null && owner.host === os.hostname() && isAlive(owner.pid);
  out(`Scheduler: ${!owner ? 'never started' : running ? `running (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt})` : owner.stoppedAt ? `stopped at ${owner.stoppedAt}` : `not running (pid ${owner.pid} on ${owner.host} is gone; it did not stop cleanly)`}`);
  if (state.directory) out(`Directory: ${state.directory}`);
  out(`State:     ${stateFile} (updated ${state.updatedAt})`);
  const now = Date.now();
  const scenarios = Object.values(state.scenarios).sort((a, b) => (a.name < b.name ? -1 : 1));
  out('');
  if (scenarios.length === 0) out('No scheduled scenarios.');
  for (const s of scenarios) {
    let next = 'never';
    try {
      const schedule = new CronSchedule(s.cron, s.timezone);
      const at = schedule.next(Math.max(now, Date.parse(s.lastDue) || now));
      next = `${new Date(at).toISOString()} (${localTime(at, schedule.timezone)})`;
    } catch {
      // an unusable schedule stays "never"
    }
    out(`${s.name} (system ${s.system}, ${s.key})`);
    out(`  schedule: "${s.cron}" ${s.timezone}; overlap ${s.overlap}; missed ${s.missed}`);
    out(`  next:     ${next}`);
    const last = s.lastRun;
    out(
      `  last run: ${
        last
          ? `due ${last.scheduledFor}, ${last.status === 'running' ? 'RUNNING' : `${(last.outcome ?? 'no record').toUpperCase()} (exit ${last.exitCode ?? '?'})`}${last.endedAt ? ` ended ${last.endedAt}` : ''}${last.runDir ? ` → ${path.join(last.runDir, 'report.html')}` : ''}`
          : 'none yet'
      }`,
    );
  }
  if (state.waiting.length > 0) {
    out('');
    out('Waiting for their system:');
    for (const w of state.waiting) out(`  ${w.scenario} (${w.system}) due ${w.scheduledFor}${w.caughtUp ? ', catch-up' : ''}`);
  }
  if (state.invalid.length > 0) {
    out('');
    out('Invalid files (not scheduled):');
    for (const invalid of state.invalid) {
      out(`  ${invalid.file}`);
      for (const line of invalid.problems.split('\n')) out(`    ${line}`);
    }
  }
  const recent = historyCount === 0 ? [] : state.history.slice(-historyCount);
  if (recent.length > 0) {
    out('');
    out(`Recent history (last ${recent.length}):`);
    for (const h of recent) {
      const what =
        h.status === 'ran'
          ? `${(h.outcome ?? 'no record').toUpperCase()} (exit ${h.exitCode ?? h.signal ?? '?'})`
          : h.status.toUpperCase();
      out(`  ${h.scheduledFor}  ${h.scenario.padEnd(24)} ${what}${h.caughtUp ? ' [catch-up]' : ''}${h.reason ? `: ${h.reason}` : ''}`);
    }
  }
}

function localTime(ms: number, timezone: string): string {
  try {
    const text = new Intl.DateTimeFormat('en-GB', {
      timeZone: timezone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    }).format(new Date(ms));
    return timezone === 'UTC' ? text : `${text}, ${timezone}`;
  } catch {
    return timezone;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
