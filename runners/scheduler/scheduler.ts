/**
 * The scheduler's core: which drill is due when, what happens when two drills of one system
 * collide or a due time fell while nothing was running, and a clean stop. Everything that
 * touches the world — time, files, processes, notifications — is passed in (STYLE practice
 * 7), so tests drive a simulated week with a ManualClock and a fake spawner.
 *
 * Time is handled by re-reading the clock rather than trusting timers: every wake-up lists
 * the due times between the last one handled and now, so a late timer, a suspended laptop and
 * a restart after downtime all go through the same missed-run policy.
 */
import type { SchedulerClock, TimerHandle } from './clock.js';
import { CronSchedule } from './cron.js';
import { planDue } from './due.js';
import { addEntry, finishEntry, refreshState, type ScheduledEntry } from './history.js';
import { emptyState, lastRunOf, type HistoryEntry, type ScheduleState } from './state.js';
import type { DrillJob, DrillResult, FinishedDrill, RunningDrill, ScenarioSet, ScheduledScenario, SchedulerEvent, SchedulerOptions } from './types.js';

export type {
  DrillJob,
  DrillResult,
  DrillSpawner,
  FinishedDrill,
  InvalidScenarioFile,
  RunningDrill,
  ScenarioLoader,
  ScenarioSet,
  ScheduledScenario,
  SchedulerEvent,
  SchedulerOptions,
} from './types.js';

/** A scheduled scenario; `lastDue` is the newest due time handled (epoch ms). */
type Entry = ScheduledEntry;

interface Running {
  job: DrillJob;
  drill: RunningDrill;
  entry: HistoryEntry;
  startedAt: number;
  /** Resolves once the drill has exited and its result is recorded (and notified). */
  settled?: Promise<void>;
}

const DEFAULT_GRACE_MS = 60_000;
const DEFAULT_MAX_SLEEP_MS = 60_000;

export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #clock: SchedulerClock;
  readonly #entries = new Map<string, Entry>();
  /** Running drill per system: never two on one system. */
  readonly #running = new Map<string, Running>();
  /** Jobs waiting for their system, per system, in arrival order. */
  readonly #waiting = new Map<string, DrillJob[]>();
  readonly #pending = new Set<Promise<unknown>>();
  #state: ScheduleState = emptyState();
  #invalid: ScenarioSet['invalid'] = [];
  #timer: TimerHandle | undefined;
  #watchTimer: TimerHandle | undefined;
  #signature: string | undefined;
  #started = false;
  #stopping = false;
  #stopped: Promise<void> | undefined;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#clock = options.clock;
  }

  /** Loads the state and the scenarios, handles what fell due while stopped, and starts the timers. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('the scheduler is already started');
    this.#started = true;
    this.#state = (await this.#options.state.load()) ?? emptyState();
    const now = this.#clock.now();
    for (const entry of this.#state.history) {
      if (entry.status !== 'running') continue;
      // The previous scheduler was killed (SIGKILL, power loss) while this drill ran; the
      // drill's own journal and evidence say how it ended.
      entry.status = 'lost';
      entry.reason = 'the scheduler stopped without recording the result; see the evidence directory, and run drillbook recover if the run is unfinished';
    }
    if (this.#options.identity) {
      this.#state.scheduler = { ...this.#options.identity, startedAt: iso(now), stoppedAt: null };
    }
    if (this.#options.directory) this.#state.directory = this.#options.directory;
    if (this.#options.watch) this.#signature = await this.#options.watch.signature().catch(() => undefined);
    await this.#load(false);
    this.#armWatch();
    await this.#track(this.#tick());
  }

  /** Re-reads the scenario files (also done automatically when `watch` sees a change). */
  async reload(): Promise<void> {
    if (this.#stopping) return;
    await this.#track(
      (async () => {
        await this.#load(true);
        await this.#tick();
      })(),
    );
  }

  /**
   * Stops scheduling. Waiting runs are cancelled (recorded). With `terminate`, running drills
   * get that signal (SIGTERM: they roll back and exit 3); either way the scheduler waits for
   * them, records their results and saves its state before the promise resolves.
   */
  stop(opts: { terminate?: NodeJS.Signals; reason?: string } = {}): Promise<void> {
    if (this.#stopped) {
      if (opts.terminate) for (const running of this.#running.values()) running.drill.terminate(opts.terminate);
      return this.#stopped;
    }
    this.#stopping = true;
    this.#timer?.cancel();
    this.#watchTimer?.cancel();
    const reason = opts.reason ?? 'the scheduler stopped';
    this.#emit({ type: 'stopping', reason, running: [...this.#running.values()].map((r) => r.job) });
    for (const jobs of this.#waiting.values()) {
      for (const job of jobs) {
        this.#emit({ type: 'cancelled', entry: this.#record(job, 'cancelled', `${reason} before the run could start`) });
      }
    }
    this.#waiting.clear();
    if (opts.terminate) for (const running of this.#running.values()) running.drill.terminate(opts.terminate);
    this.#stopped = (async () => {
      // Running drills first (their results start more work), then whatever that work started.
      while (this.#running.size > 0 || this.#pending.size > 0) {
        await Promise.allSettled([...[...this.#running.values()].map((r) => r.settled), ...this.#pending]);
      }
      if (this.#state.scheduler) this.#state.scheduler.stoppedAt = iso(this.#clock.now());
      await this.#save();
    })();
    return this.#stopped;
  }

  /**
   * Resolves once the scheduler itself has nothing in flight: loading, saving, recording a
   * result, notifying. Running drills are not waited for (a ManualClock test advances time
   * while they run); `stop()` waits for them.
   */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Resolves when a stop (by `stop()` or `until`) has completed. */
  get stopped(): Promise<void> | undefined {
    return this.#stopped;
  }

  get isStopping(): boolean {
    return this.#stopping;
  }

  /** A copy of the state as it would be saved. */
  snapshot(): ScheduleState {
    this.#refreshState();
    return structuredClone(this.#state);
  }

  runningJobs(): DrillJob[] {
    return [...this.#running.values()].map((r) => r.job);
  }

  // ---------------------------------------------------------------- loading

  async #load(reload: boolean): Promise<void> {
    let set: ScenarioSet;
    try {
      set = await this.#options.loader();
    } catch (error) {
      this.#emit({ type: 'error', message: `cannot load the scenarios: ${messageOf(error)}` });
      return;
    }
    const now = this.#clock.now();
    const seen = new Set<string>();
    for (const scenario of set.scenarios) {
      seen.add(scenario.key);
      let cron: CronSchedule;
      try {
        cron = CronSchedule.of(scenario.schedule);
      } catch (error) {
        // The loader validates schedules; this only guards against a schedule it let through.
        this.#emit({ type: 'error', message: `${scenario.key}: cannot use the schedule: ${messageOf(error)}` });
        continue;
      }
      const known = this.#entries.get(scenario.key);
      const remembered = this.#state.scenarios[scenario.key];
      const sameTimes = (cronText: string, zone: string) => cronText === cron.expression && zone === cron.timezone;
      let lastDue: number;
      if (known && sameTimes(known.cron.expression, known.cron.timezone)) lastDue = known.lastDue;
      else if (!known && remembered && sameTimes(remembered.cron, remembered.timezone) && Number.isFinite(Date.parse(remembered.lastDue))) {
        // Restarted: due times since the last one handled are what the missed policy is about.
        lastDue = Math.min(Date.parse(remembered.lastDue), now);
      } else {
        // New, or its times changed: nothing before now was ever due under this schedule.
        lastDue = now;
      }
      this.#entries.set(scenario.key, { scenario, cron, lastDue, nextDue: this.#nextAfter(cron, lastDue) });
    }
    for (const key of [...this.#entries.keys()]) {
      if (seen.has(key)) continue;
      this.#entries.delete(key);
      delete this.#state.scenarios[key];
      for (const [system, jobs] of this.#waiting) {
        const kept = jobs.filter((job) => {
          if (job.key !== key) return true;
          this.#emit({ type: 'cancelled', entry: this.#record(job, 'cancelled', 'the scenario was removed or is no longer valid') });
          return false;
        });
        this.#waiting.set(system, kept);
      }
    }
    this.#invalid = set.invalid;
    this.#emit({ type: 'loaded', scenarios: set.scenarios, invalid: set.invalid, unscheduled: set.unscheduled, reload });
    await this.#save();
  }

  #nextAfter(cron: CronSchedule, afterMs: number): number | null {
    try {
      return cron.next(afterMs);
    } catch (error) {
      this.#emit({ type: 'error', message: `${cron.expression}: no next due time: ${messageOf(error)}` });
      return null;
    }
  }

  // ---------------------------------------------------------------- time

  async #tick(): Promise<void> {
    if (this.#stopping) return;
    const now = this.#clock.now();
    if (this.#options.until !== undefined && now >= this.#options.until) {
      // Not awaited: stop() waits for everything in flight, this tick included.
      void this.stop({ reason: `the --until time ${iso(this.#options.until)} was reached` });
      return;
    }
    let changed = false;
    const due = [...this.#entries.values()]
      .filter((entry) => entry.nextDue !== null && entry.nextDue <= now)
      .sort((a, b) => a.nextDue! - b.nextDue! || (a.scenario.key < b.scenario.key ? -1 : 1));
    for (const entry of due) {
      changed = true;
      this.#handleDue(entry, now);
    }
    if (changed) await this.#save();
    this.#arm();
  }

  #handleDue(entry: Entry, now: number): void {
    const { times, truncated } = entry.cron.between(entry.lastDue, now);
    if (times.length === 0) {
      entry.nextDue = this.#nextAfter(entry.cron, entry.lastDue);
      return;
    }
    entry.lastDue = truncated ? now : times[times.length - 1]!;
    entry.nextDue = this.#nextAfter(entry.cron, entry.lastDue);

    const plan = planDue(times, truncated, now, this.#options.graceMs ?? DEFAULT_GRACE_MS, entry.scenario.schedule, iso);
    const job = (scheduledFor: number, caughtUp: boolean): DrillJob => ({
      key: entry.scenario.key,
      file: entry.scenario.file,
      scenario: entry.scenario.name,
      system: entry.scenario.system,
      scheduledFor,
      caughtUp,
    });
    for (const { scheduledFor, reason } of plan.missed) this.#emit({ type: 'missed', entry: this.#record(job(scheduledFor, false), 'missed', reason) });
    for (const scheduledFor of plan.catchUp) this.#request(job(scheduledFor, true), 'wait');
    if (plan.onTime !== undefined) this.#request(job(plan.onTime, false), entry.scenario.schedule.overlap);
  }

  #arm(): void {
    this.#timer?.cancel();
    if (this.#stopping) return;
    const now = this.#clock.now();
    let wake = now + (this.#options.maxSleepMs ?? DEFAULT_MAX_SLEEP_MS);
    for (const entry of this.#entries.values()) if (entry.nextDue !== null) wake = Math.min(wake, entry.nextDue);
    if (this.#options.until !== undefined) wake = Math.min(wake, this.#options.until);
    if (!Number.isFinite(wake)) return; // nothing scheduled and no periodic wake-up (tests)
    this.#timer = this.#clock.setTimer(Math.max(0, wake - now), () => {
      this.#timer = undefined;
      void this.#track(this.#tick());
    });
  }

  #armWatch(): void {
    const watch = this.#options.watch;
    if (!watch || this.#stopping) return;
    this.#watchTimer = this.#clock.setTimer(watch.intervalMs, () => {
      void this.#track(
        (async () => {
          if (this.#stopping) return;
          const signature = await watch.signature().catch(() => undefined);
          if (signature !== undefined && signature !== this.#signature) {
            this.#signature = signature;
            await this.#load(true);
            await this.#tick();
          }
          this.#armWatch();
        })(),
      );
    });
  }

  // ---------------------------------------------------------------- running

  /** Starts the job, or applies the overlap policy when its system is busy. */
  #request(job: DrillJob, overlap: 'skip' | 'wait'): void {
    const busy = this.#running.get(job.system);
    if (!busy) return this.#start(job);
    const busyWith = `system ${job.system} is busy with ${busy.job.scenario} (due ${iso(busy.job.scheduledFor)}, started ${iso(busy.startedAt)})`;
    if (overlap === 'skip') {
      this.#emit({ type: 'skipped', entry: this.#record(job, 'skipped', `${busyWith}; overlap: skip`) });
      return;
    }
    const queue = this.#waiting.get(job.system) ?? [];
    if (!job.caughtUp && queue.some((waiting) => waiting.key === job.key && !waiting.caughtUp)) {
      this.#emit({
        type: 'skipped',
        entry: this.#record(job, 'skipped', `${busyWith}; an earlier run of this scenario is already waiting for it`),
      });
      return;
    }
    queue.push(job);
    this.#waiting.set(job.system, queue);
    this.#emit({ type: 'waiting', job, reason: `${busyWith}; overlap: wait` });
  }

  #start(job: DrillJob): void {
    const entry = this.#record(job, 'running');
    const startedAt = this.#clock.now();
    entry.startedAt = iso(startedAt);
    if (startedAt - job.scheduledFor > 1000) entry.waitedSeconds = Math.round((startedAt - job.scheduledFor) / 1000);
    let drill: RunningDrill;
    try {
      drill = this.#options.spawner(job);
    } catch (error) {
      entry.status = 'failed-to-start';
      entry.error = messageOf(error);
      entry.endedAt = iso(this.#clock.now());
      this.#emit({ type: 'error', message: `${job.scenario}: cannot start the drill: ${entry.error}` });
      this.#startNextFor(job.system);
      return;
    }
    if (drill.pid !== undefined) entry.pid = drill.pid;
    const running: Running = { job, drill, entry, startedAt };
    this.#running.set(job.system, running);
    this.#emit({ type: 'started', job, ...(drill.pid !== undefined ? { pid: drill.pid } : {}) });
    running.settled = drill.done
      .catch((error): DrillResult => ({ exitCode: null, signal: null, error: messageOf(error) }))
      .then((result) => this.#track(this.#finished(running, result)));
  }

  async #finished(running: Running, result: DrillResult): Promise<void> {
    const { job, entry } = running;
    const endedAt = this.#clock.now();
    finishEntry(entry, result, endedAt);
    if (this.#running.get(job.system) === running) this.#running.delete(job.system);
    const scenario = this.#entries.get(job.key)?.scenario;
    const remembered = this.#state.scenarios[job.key];
    if (remembered) remembered.lastRun = lastRunOf(entry);
    this.#startNextFor(job.system);
    await this.#save();
    const finished: FinishedDrill = {
      job,
      scenario: scenario ?? {
        key: job.key,
        file: job.file,
        name: job.scenario,
        system: job.system,
        tier: null,
        type: 'unknown',
        environment: 'unknown',
        schedule: { cron: '', overlap: 'skip', missed: 'record' },
      },
      result,
      startedAt: running.startedAt,
      endedAt,
    };
    this.#emit({ type: 'finished', drill: finished, entry: { ...entry } });
    if (this.#options.notify) {
      try {
        await this.#options.notify(finished);
      } catch (error) {
        this.#emit({ type: 'error', message: `${job.scenario}: notification failed: ${messageOf(error)}` });
      }
    }
  }

  #startNextFor(system: string): void {
    if (this.#stopping || this.#running.has(system)) return;
    const queue = this.#waiting.get(system);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.#waiting.delete(system);
    if (next) this.#start(next);
  }

  // ---------------------------------------------------------------- records

  #record(job: DrillJob, status: HistoryEntry['status'], reason?: string): HistoryEntry {
    return addEntry(this.#state, job, status, this.#clock.now(), reason);
  }

  #refreshState(): void {
    refreshState(this.#state, this.#entries, [...this.#waiting.values()].flat(), this.#invalid, this.#clock.now());
  }

  async #save(): Promise<void> {
    this.#refreshState();
    try {
      await this.#options.state.save(this.#state);
    } catch (error) {
      this.#emit({ type: 'error', message: `cannot save the schedule state: ${messageOf(error)}` });
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    const forget = () => this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #emit(event: SchedulerEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A failing listener (e.g. a closed stdout) must not stop the schedule.
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
