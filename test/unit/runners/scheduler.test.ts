/**
 * The scheduler's core on a ManualClock: a simulated week runs in milliseconds. Expected due
 * times come from a brute-force oracle (every minute through Intl) or are derived by hand from
 * the DST rules, never from the cron code under test; what ran comes from the fake drills.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../runners/scheduler/clock.js';
import { CronSchedule } from '../../../runners/scheduler/cron.js';
import { Scheduler, type ScenarioSet, type ScheduledScenario, type SchedulerEvent } from '../../../runners/scheduler/scheduler.js';
import { MemoryStateStore, type HistoryEntry } from '../../../runners/scheduler/state.js';
import { DAY, dueTimesByBruteForce, fakeSpawner, HOUR, iso, MINUTE, scheduled } from './scheduler-fakes.js';

const at = (text: string) => Date.parse(text);

function walk(cron: string, timezone: string, from: string, count: number): string[] {
  const schedule = new CronSchedule(cron, timezone);
  const times: string[] = [];
  let cursor = at(from);
  for (let i = 0; i < count; i++) {
    cursor = schedule.next(cursor);
    times.push(iso(cursor));
  }
  return times;
}

describe('due times across daylight-saving changes', () => {
  it('Europe/Berlin spring forward (2026-03-29): 02:30 does not exist and runs at the change, 03:00 CEST', () => {
    expect(walk('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET (UTC+1)
      '2026-03-29T01:00:00.000Z', // the clock jumps 02:00 → 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST (UTC+2)
    ]);
    // A time that exists on both sides keeps its local hour.
    expect(walk('0 9 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', 2)).toEqual(['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z']);
  });

  it('Europe/Berlin fall back (2026-10-25): a daily 02:30 runs once, an hourly job runs in both 02:00 hours', () => {
    expect(walk('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z', // first 02:30 (CEST); the repeated one an hour later is not run again
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
    expect(walk('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 3)).toEqual([
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET: a real hour later
      '2026-10-25T02:00:00.000Z', // 03:00 CET
    ]);
  });

  it('America/New_York: 02:30 on 2026-03-08 runs at 03:00 EDT; 01:30 on 2026-11-01 runs once', () => {
    expect(walk('30 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', 3)).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-09T06:30:00.000Z',
    ]);
    expect(walk('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2)).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });

  it('the scheduler starts drills at those instants through the DST weekend', async () => {
    const clock = new ManualClock(at('2026-03-27T12:00:00Z'));
    const drills = fakeSpawner(clock, () => 10 * MINUTE);
    const scheduler = new Scheduler({
      clock,
      loader: async () => ({ scenarios: [scheduled('nightly', 'db', { cron: '30 2 * * *', timezone: 'Europe/Berlin' })], invalid: [], unscheduled: [] }),
      spawner: drills.spawner,
      state: new MemoryStateStore(),
      maxSleepMs: Infinity,
    });
    await scheduler.start();
    await clock.advanceTo(at('2026-03-30T12:00:00Z'), () => scheduler.idle());
    expect(drills.runs.map((r) => iso(r.startedAt))).toEqual(['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
  });
});

describe('a simulated week of three scenarios (acceptance)', () => {
  // Monday 2026-03-23 to Monday 2026-03-30: Europe/Berlin moves to summer time on Sunday the 29th.
  const weekStart = at('2026-03-23T00:00:00Z');
  const weekEnd = at('2026-03-30T00:00:00Z');
  const downFrom = at('2026-03-25T10:00:00Z'); // Wednesday: the scheduler is stopped (SIGTERM) …
  const downUntil = at('2026-03-26T20:00:00Z'); // … and started again on Thursday evening.

  const failover = scheduled('orders-failover', 'orders-db', { cron: '0 */6 * * *', overlap: 'skip', missed: 'record' });
  const restore = scheduled('orders-restore', 'orders-db', { cron: '0 8 * * *', timezone: 'Europe/Berlin', overlap: 'wait', missed: 'record' });
  const payments = scheduled('payments-restore', 'payments-db', { cron: '30 2 * * 1-5', timezone: 'America/New_York', missed: 'catch-up' });
  const durations: Record<string, number> = { 'orders-failover': 90 * MINUTE, 'orders-restore': 5 * HOUR, 'payments-restore': 30 * MINUTE };

  async function simulateWeek() {
    const clock = new ManualClock(weekStart - MINUTE);
    const drills = fakeSpawner(clock, (job) => durations[job.scenario]!);
    const store = new MemoryStateStore();
    const events: SchedulerEvent[] = [];
    const make = () =>
      new Scheduler({
        clock,
        loader: async () => ({ scenarios: [failover, restore, payments], invalid: [], unscheduled: [] }),
        spawner: drills.spawner,
        state: store,
        maxSleepMs: Infinity,
        onEvent: (e) => events.push(e),
      });
    const first = make();
    await first.start();
    await clock.advanceTo(downFrom, () => first.idle());
    const stopping = first.stop({ terminate: 'SIGTERM', reason: 'SIGTERM received' });
    await clock.advanceTo(downFrom + 5 * MINUTE, () => first.idle());
    await stopping;
    await clock.advanceTo(downUntil);
    const second = make();
    await second.start();
    await clock.advanceTo(weekEnd - 1, () => second.idle());
    const history = store.state!.history.concat(second.snapshot().history.filter((h) => h.status === 'running'));
    return { drills, history: dedupe(history), events };
  }

  const dedupe = (entries: HistoryEntry[]) => [...new Map(entries.map((e) => [e.id, e])).values()];

  let week: Awaited<ReturnType<typeof simulateWeek>>;
  beforeAll(async () => {
    week = await simulateWeek();
  });

  it('records every due time exactly once, with no overlap on one system and the declared missed-run behaviour', () => {
    const { drills, history } = week;
    const oracle = {
      'orders-failover': dueTimesByBruteForce(weekStart, weekEnd, 'UTC', (t) => t.minute === 0 && t.hour % 6 === 0),
      'orders-restore': dueTimesByBruteForce(weekStart, weekEnd, 'Europe/Berlin', (t) => t.minute === 0 && t.hour === 8),
      'payments-restore': dueTimesByBruteForce(weekStart, weekEnd, 'America/New_York', (t) => t.minute === 30 && t.hour === 2 && t.weekday >= 1 && t.weekday <= 5),
    };
    expect(oracle['orders-failover']).toHaveLength(28);
    expect(oracle['orders-restore']).toHaveLength(7);
    expect(oracle['payments-restore']).toHaveLength(5);

    const of = (name: string) => history.filter((h) => h.scenario === name);
    // Every due time of the week has exactly one entry: ran, skipped or missed.
    for (const [name, times] of Object.entries(oracle)) {
      expect(of(name).map((h) => h.scheduledFor).sort(), name).toEqual(times.map(iso));
    }

    // What really ran (the fake drills' own record) never overlaps on one system.
    for (const system of ['orders-db', 'payments-db']) {
      const runs = drills.runs.filter((r) => r.job.system === system).sort((a, b) => a.startedAt - b.startedAt);
      for (let i = 1; i < runs.length; i++) expect(runs[i]!.startedAt, `${system} run ${i}`).toBeGreaterThanOrEqual(runs[i - 1]!.endedAt!);
    }
    const busyAt = (system: string, t: number) => drills.runs.find((r) => r.job.system === system && r.startedAt <= t && t < r.endedAt!);
    const inDowntime = (t: number) => t > downFrom && t <= downUntil;

    // missed: record — the due times that fell while the scheduler was down are recorded, not run.
    for (const name of ['orders-failover', 'orders-restore']) {
      const missed = of(name).filter((h) => h.status === 'missed');
      expect(missed.map((h) => h.scheduledFor), name).toEqual(oracle[name as 'orders-failover'].filter(inDowntime).map(iso));
      expect(missed.every((h) => h.reason?.includes('was not running'))).toBe(true);
    }
    expect(of('orders-failover').filter((h) => h.status === 'missed')).toHaveLength(6);

    // overlap: skip — a failover due while the system is busy is skipped with the reason; otherwise it starts on time.
    for (const t of oracle['orders-failover'].filter((t) => !inDowntime(t))) {
      const entry = of('orders-failover').find((h) => h.scheduledFor === iso(t))!;
      const run = drills.runs.find((r) => r.job.scenario === 'orders-failover' && r.job.scheduledFor === t);
      if (run) {
        expect(run.startedAt, iso(t)).toBe(t);
        expect(entry.status).toBe('ran');
      } else {
        expect(entry.status, iso(t)).toBe('skipped');
        const blocker = busyAt('orders-db', t)!;
        expect(blocker.job.scenario).toBe('orders-restore');
        expect(entry.reason).toContain('busy with orders-restore');
      }
    }
    expect(of('orders-failover').filter((h) => h.status === 'skipped').length).toBeGreaterThan(0);

    // overlap: wait — a restore due while a failover runs starts when it ends; none is skipped.
    for (const t of oracle['orders-restore'].filter((t) => !inDowntime(t))) {
      const run = drills.runs.find((r) => r.job.scenario === 'orders-restore' && r.job.scheduledFor === t)!;
      expect(run, iso(t)).toBeDefined();
      const blocker = drills.runs.find((r) => r !== run && r.job.system === 'orders-db' && r.startedAt <= t && t < r.endedAt!);
      expect(run.startedAt, iso(t)).toBe(blocker ? blocker.endedAt : t);
    }
    expect(of('orders-restore').some((h) => h.status === 'skipped')).toBe(false);

    // missed: catch-up — Thursday's payments drill runs once when the scheduler is back.
    const caughtUp = of('payments-restore').filter((h) => h.caughtUp);
    expect(caughtUp).toHaveLength(1);
    expect(caughtUp[0]).toMatchObject({ status: 'ran', scheduledFor: iso(oracle['payments-restore'].filter(inDowntime)[0]!), startedAt: iso(downUntil) });
    expect(of('payments-restore').filter((h) => h.status === 'missed')).toEqual([]);
    expect(of('payments-restore').every((h) => h.status === 'ran' && h.exitCode === 0)).toBe(true);
  });

  it('matches the hand-worked Tuesday and the DST Sunday', () => {
    const { drills, history } = week;
    const entry = (name: string, due: string) => history.find((h) => h.scenario === name && h.scheduledFor === due);
    // Tuesday: failover 06:00–07:30; the restore due 07:00 (08:00 CET) waits for it; the 12:00 failover is skipped.
    expect(entry('orders-failover', '2026-03-24T06:00:00.000Z')).toMatchObject({ status: 'ran', startedAt: '2026-03-24T06:00:00.000Z', endedAt: '2026-03-24T07:30:00.000Z' });
    expect(entry('orders-restore', '2026-03-24T07:00:00.000Z')).toMatchObject({ status: 'ran', startedAt: '2026-03-24T07:30:00.000Z', waitedSeconds: 1800 });
    expect(entry('orders-failover', '2026-03-24T12:00:00.000Z')).toMatchObject({ status: 'skipped' });
    expect(entry('payments-restore', '2026-03-24T06:30:00.000Z')).toMatchObject({ status: 'ran', startedAt: '2026-03-24T06:30:00.000Z' });
    // Sunday after the change to CEST: 08:00 Berlin is 06:00 UTC, the same instant as a failover, which goes first.
    expect(entry('orders-restore', '2026-03-29T06:00:00.000Z')).toMatchObject({ status: 'ran', startedAt: '2026-03-29T07:30:00.000Z' });
    expect(entry('orders-restore', '2026-03-28T07:00:00.000Z')).toMatchObject({ status: 'ran' });
    // Wednesday's restore was running when the scheduler got SIGTERM: it rolled back (exit 3) before the scheduler stopped.
    const interrupted = drills.runs.find((r) => r.terminatedWith)!;
    expect(interrupted).toMatchObject({ terminatedWith: 'SIGTERM', exitCode: 3, endedAt: at('2026-03-25T10:01:00Z') });
    expect(entry('orders-restore', '2026-03-25T07:00:00.000Z')).toMatchObject({ status: 'ran', exitCode: 3, outcome: 'aborted' });
  });
});

function harness(scenarios: ScheduledScenario[], opts: { startAt: string; durations: Record<string, number>; store?: MemoryStateStore }) {
  const clock = new ManualClock(at(opts.startAt));
  const drills = fakeSpawner(clock, (job) => opts.durations[job.scenario] ?? 10 * MINUTE);
  const store = opts.store ?? new MemoryStateStore();
  const events: SchedulerEvent[] = [];
  let set: ScenarioSet = { scenarios, invalid: [], unscheduled: [] };
  const scheduler = new Scheduler({
    clock,
    loader: async () => set,
    spawner: drills.spawner,
    state: store,
    maxSleepMs: Infinity,
    onEvent: (e) => events.push(e),
  });
  return {
    clock,
    drills,
    store,
    events,
    scheduler,
    setScenarios: (next: ScenarioSet) => (set = next),
    advanceTo: (text: string) => clock.advanceTo(at(text), () => scheduler.idle()),
    history: () => scheduler.snapshot().history,
  };
}

describe('overlap policy', () => {
  it('skip records the skipped run with the drill that holds the system; wait runs it afterwards, once', async () => {
    const long = scheduled('long', 'db', { cron: '0 * * * *' });
    const skipper = scheduled('skipper', 'db', { cron: '15 * * * *', overlap: 'skip' });
    const waiter = scheduled('waiter', 'db', { cron: '20,25 * * * *', overlap: 'wait' });
    const other = scheduled('other-system', 'cache', { cron: '15 * * * *' });
    const h = harness([long, skipper, waiter, other], { startAt: '2026-06-01T09:59:00Z', durations: { long: 40 * MINUTE, waiter: 5 * MINUTE } });
    await h.scheduler.start();
    await h.advanceTo('2026-06-01T10:59:00Z');
    const byName = (name: string) => h.history().filter((e) => e.scenario === name).sort((a, b) => (a.scheduledFor < b.scheduledFor ? -1 : 1));
    expect(byName('skipper')).toMatchObject([{ status: 'skipped', scheduledFor: '2026-06-01T10:15:00.000Z' }]);
    expect(byName('skipper')[0]!.reason).toMatch(/system db is busy with long \(due 2026-06-01T10:00:00.000Z, started 2026-06-01T10:00:00.000Z\); overlap: skip/);
    // 10:20 waits; 10:25 finds a run of the same scenario already waiting and is skipped, not queued twice.
    expect(byName('waiter')).toMatchObject([
      { status: 'ran', scheduledFor: '2026-06-01T10:20:00.000Z', startedAt: '2026-06-01T10:40:00.000Z' },
      { status: 'skipped', scheduledFor: '2026-06-01T10:25:00.000Z' },
    ]);
    expect(byName('waiter')[1]!.reason).toContain('already waiting');
    // Another system is not held up.
    expect(byName('other-system')).toMatchObject([{ status: 'ran', startedAt: '2026-06-01T10:15:00.000Z' }]);
  });
});

describe('missed-run policy', () => {
  it('record lists each missed run; catch-up runs the newest maxCatchUp and records the rest', async () => {
    const store = new MemoryStateStore();
    const recorder = scheduled('recorder', 'a', { cron: '0 * * * *', missed: 'record' });
    const catcher = scheduled('catcher', 'b', { cron: '0 * * * *', missed: 'catch-up', maxCatchUp: 2, overlap: 'skip' });
    const first = harness([recorder, catcher], { startAt: '2026-06-01T09:30:00Z', durations: {}, store });
    await first.scheduler.start();
    await first.advanceTo('2026-06-01T10:30:00Z');
    await first.scheduler.stop();
    // Down from 10:30 to 14:30: 11:00, 12:00, 13:00 and 14:00 fell in the gap.
    const second = harness([recorder, catcher], { startAt: '2026-06-01T14:30:00Z', durations: {}, store });
    await second.scheduler.start();
    await second.advanceTo('2026-06-01T14:59:00Z');
    const entries = (name: string) => second.history().filter((e) => e.scenario === name && e.scheduledFor > '2026-06-01T10:30');
    expect(entries('recorder').map((e) => [e.scheduledFor.slice(11, 16), e.status])).toEqual([
      ['11:00', 'missed'],
      ['12:00', 'missed'],
      ['13:00', 'missed'],
      ['14:00', 'missed'],
    ]);
    const catcher2 = entries('catcher');
    expect(catcher2.filter((e) => e.status === 'missed').map((e) => e.scheduledFor.slice(11, 16))).toEqual(['11:00', '12:00']);
    expect(catcher2.find((e) => e.status === 'missed')!.reason).toContain('maxCatchUp');
    // The two catch-up runs queue one after the other even with overlap: skip (10 minutes each).
    expect(catcher2.filter((e) => e.status === 'ran').map((e) => [e.scheduledFor.slice(11, 16), e.startedAt!.slice(11, 16), e.caughtUp])).toEqual([
      ['13:00', '14:30', true],
      ['14:00', '14:40', true],
    ]);
    expect(second.drills.runs.map((r) => r.job.scenario)).toEqual(['catcher', 'catcher']);
  });

  it('a run due at restart covers a missed one under catch-up (maxCatchUp 1)', async () => {
    const store = new MemoryStateStore();
    const daily = scheduled('daily', 'a', { cron: '0 6 * * *', missed: 'catch-up' });
    const first = harness([daily], { startAt: '2026-06-01T05:00:00Z', durations: {}, store });
    await first.scheduler.start();
    await first.advanceTo('2026-06-01T07:00:00Z');
    await first.scheduler.stop();
    // Back exactly at the next due time: the missed 06:00 of 06-02 is covered by the 06:00 of 06-03.
    const second = harness([daily], { startAt: '2026-06-03T06:00:00Z', durations: {}, store });
    await second.scheduler.start();
    await second.advanceTo('2026-06-03T07:00:00Z');
    const later = second.history().filter((e) => e.scheduledFor > '2026-06-01T07');
    expect(later.map((e) => [e.scheduledFor.slice(0, 10), e.status, e.caughtUp ?? false])).toEqual([
      ['2026-06-02', 'missed', false],
      ['2026-06-03', 'ran', false],
    ]);
    expect(later[0]!.reason).toContain('covers it');
  });
});

describe('reload', () => {
  it('picks up added, changed and removed scenarios when the watched files change', async () => {
    const clock = new ManualClock(at('2026-06-01T09:59:30Z'));
    const drills = fakeSpawner(clock, () => MINUTE);
    let set: ScenarioSet = { scenarios: [scheduled('a', 'x', { cron: '0 * * * *' })], invalid: [], unscheduled: [] };
    let signature = 'v1';
    const events: SchedulerEvent[] = [];
    const scheduler = new Scheduler({
      clock,
      loader: async () => set,
      spawner: drills.spawner,
      state: new MemoryStateStore(),
      maxSleepMs: Infinity,
      watch: { signature: async () => signature, intervalMs: 2000 },
      onEvent: (e) => events.push(e),
    });
    await scheduler.start();
    await clock.advanceTo(at('2026-06-01T10:30:00Z'), () => scheduler.idle());
    expect(drills.runs.map((r) => `${r.job.scenario}@${iso(r.startedAt).slice(11, 16)}`)).toEqual(['a@10:00']);

    // Files change: `a` moves to :45, `b` appears, and a broken file is reported.
    set = {
      scenarios: [scheduled('a', 'x', { cron: '45 * * * *' }), scheduled('b', 'y', { cron: '40 * * * *' })],
      invalid: [{ file: 'broken.yaml', problems: 'broken.yaml:3:1: spec.tragets: unknown key `tragets`' }],
      unscheduled: [],
    };
    signature = 'v2';
    await clock.advanceTo(at('2026-06-01T11:00:30Z'), () => scheduler.idle());
    const reloads = events.filter((e) => e.type === 'loaded' && e.reload);
    expect(reloads).toHaveLength(1);
    expect(reloads[0]).toMatchObject({ invalid: [{ file: 'broken.yaml' }] });

    // `b` removed: it no longer runs; `a` keeps its new time.
    set = { scenarios: [scheduled('a', 'x', { cron: '45 * * * *' })], invalid: [], unscheduled: [] };
    signature = 'v3';
    await clock.advanceTo(at('2026-06-01T12:00:00Z'), () => scheduler.idle());
    expect(drills.runs.map((r) => `${r.job.scenario}@${iso(r.startedAt).slice(11, 16)}`)).toEqual(['a@10:00', 'b@10:40', 'a@10:45', 'a@11:45']);
    expect(Object.keys(scheduler.snapshot().scenarios)).toEqual(['a.yaml']);
  });
});

describe('stopping', () => {
  it('SIGTERM reaches every running drill; the scheduler waits for their rollback, cancels waiting runs and saves', async () => {
    const h = harness(
      [
        scheduled('one', 'db', { cron: '0 10 * * *' }),
        scheduled('two', 'cache', { cron: '0 10 * * *' }),
        scheduled('three', 'db', { cron: '5 10 * * *', overlap: 'wait' }),
      ],
      { startAt: '2026-06-01T09:59:00Z', durations: { one: HOUR, two: HOUR } },
    );
    await h.scheduler.start();
    await h.advanceTo('2026-06-01T10:10:00Z');
    expect(h.drills.runs.map((r) => r.job.scenario)).toEqual(['one', 'two']);

    let stopped = false;
    const stopping = h.scheduler.stop({ terminate: 'SIGTERM' }).then(() => (stopped = true));
    await h.scheduler.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.drills.runs.map((r) => r.terminatedWith)).toEqual(['SIGTERM', 'SIGTERM']);
    expect(stopped).toBe(false); // the drills are still rolling back (one simulated minute)
    await h.clock.advanceBy(2 * MINUTE, () => h.scheduler.idle());
    await stopping;
    expect(stopped).toBe(true);
    const saved = h.store.state!;
    expect(saved.scheduler).toBeNull(); // no identity given
    expect(saved.history.filter((e) => e.status === 'ran').map((e) => [e.scenario, e.exitCode, e.outcome, e.endedAt])).toEqual([
      ['one', 3, 'aborted', '2026-06-01T10:11:00.000Z'],
      ['two', 3, 'aborted', '2026-06-01T10:11:00.000Z'],
    ]);
    expect(saved.history.find((e) => e.scenario === 'three')).toMatchObject({ status: 'cancelled' });
    // Nothing runs after the stop.
    await h.clock.advanceBy(2 * DAY, () => h.scheduler.idle());
    expect(h.drills.runs).toHaveLength(2);
  });

  it('--until stops scheduling and lets the running drill finish on its own', async () => {
    const clock = new ManualClock(at('2026-06-01T09:59:00Z'));
    const drills = fakeSpawner(clock, () => 20 * MINUTE);
    const scheduler = new Scheduler({
      clock,
      loader: async () => ({ scenarios: [scheduled('a', 'x', { cron: '*/15 * * * *' })], invalid: [], unscheduled: [] }),
      spawner: drills.spawner,
      state: new MemoryStateStore(),
      maxSleepMs: Infinity,
      until: at('2026-06-01T10:05:00Z'),
    });
    await scheduler.start();
    await clock.advanceTo(at('2026-06-01T11:00:00Z'), () => scheduler.idle());
    await scheduler.stopped;
    expect(drills.runs).toHaveLength(1);
    expect(drills.runs[0]).toMatchObject({ exitCode: 0, endedAt: at('2026-06-01T10:20:00Z') });
    expect(drills.runs[0]!.terminatedWith).toBeUndefined();
  });
});

describe('restart after the scheduler was killed', () => {
  it('marks a drill that was running as lost instead of leaving it running forever', async () => {
    const store = new MemoryStateStore();
    const first = harness([scheduled('a', 'x', { cron: '0 10 * * *' })], { startAt: '2026-06-01T09:59:00Z', durations: { a: HOUR }, store });
    await first.scheduler.start();
    await first.advanceTo('2026-06-01T10:05:00Z');
    expect(store.state!.history).toMatchObject([{ scenario: 'a', status: 'running' }]);
    // SIGKILL: no stop(), the state file stays as it was. A new scheduler starts later.
    const second = harness([scheduled('a', 'x', { cron: '0 10 * * *' })], { startAt: '2026-06-01T12:00:00Z', durations: {}, store });
    await second.scheduler.start();
    expect(second.history()).toMatchObject([{ scenario: 'a', status: 'lost', scheduledFor: '2026-06-01T10:00:00.000Z' }]);
    expect(second.history()[0]!.reason).toContain('drillbook recover');
  });
});
