/**
 * The scheduler with real child processes: a stand-in for `drillbook run` (a small script)
 * prints its evidence line, writes run.json, and on SIGTERM "rolls back" for a moment and
 * exits 3, as the real command does. Proves the signal reaches the child, the scheduler waits
 * for it, and the result is read from the child's own evidence.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../../runners/scheduler/clock.js';
import { Scheduler } from '../../../runners/scheduler/scheduler.js';
import { childProcessSpawner } from '../../../runners/scheduler/spawn.js';
import { MemoryStateStore } from '../../../runners/scheduler/state.js';
import { scheduled } from '../../unit/runners/scheduler-fakes.js';

const FAKE_RUN = `
import fs from 'node:fs';
import path from 'node:path';
const [command, file, flag, evidence] = process.argv.slice(2);
if (command !== 'run' || flag !== '--evidence') { console.error('bad arguments: ' + process.argv.slice(2).join(' ')); process.exit(2); }
const name = path.basename(file, '.yaml');
if (name === 'refused') { console.error('refused: production without --confirm'); process.exit(2); }
const runDir = path.join(evidence, '20260601T100000Z-' + name + '-' + process.pid);
fs.mkdirSync(runDir, { recursive: true });
const finish = (outcome, code) => {
  fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({ schema: 'drillbook.dev/run/v1', runId: 'id-' + name, outcome, file }));
  console.log('outcome: ' + outcome.toUpperCase());
  console.log('evidence: ' + path.join(runDir, 'report.html'));
  fs.writeFileSync(path.join(evidence, name + '.exited-at'), String(Date.now()));
  process.exit(code);
};
process.on('SIGTERM', () => {
  fs.writeFileSync(path.join(evidence, name + '.signal'), 'SIGTERM');
  console.error('SIGTERM: aborting the drill and rolling back');
  setTimeout(() => finish('aborted', 3), 400); // the undo takes a moment
});
console.log('drill ' + name + ' started');
if (name === 'quick') finish('passed', 0);
setInterval(() => {}, 1000); // "slow" runs until told to stop
`;

let work: string;
let cli: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-schedule-spawn-'));
  cli = path.join(work, 'fake-drillbook.mjs');
  fs.writeFileSync(cli, FAKE_RUN);
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('drills as child processes', () => {
  it('forwards SIGTERM to the running drill, waits for its rollback, and reads each result from its evidence', async () => {
    const evidence = path.join(work, 'evidence');
    const lines: string[] = [];
    const clock = new ManualClock(Date.parse('2026-06-01T09:59:00Z'));
    const store = new MemoryStateStore();
    const scheduler = new Scheduler({
      clock,
      loader: async () => ({
        scenarios: [
          { ...scheduled('quick', 'orders-db', { cron: '0 10 * * *' }), file: path.join(work, 'quick.yaml') },
          { ...scheduled('slow', 'payments-db', { cron: '0 10 * * *' }), file: path.join(work, 'slow.yaml') },
          { ...scheduled('refused', 'ledger-db', { cron: '0 10 * * *' }), file: path.join(work, 'refused.yaml') },
        ],
        invalid: [],
        unscheduled: [],
      }),
      spawner: childProcessSpawner({ evidenceDir: evidence, cli, log: (job, line) => lines.push(`[${job.scenario}] ${line}`) }),
      state: store,
      maxSleepMs: Infinity,
    });
    await scheduler.start();
    await clock.advanceTo(Date.parse('2026-06-01T10:00:00Z'), () => scheduler.idle());
    expect(scheduler.runningJobs().map((j) => j.scenario).sort()).toEqual(['quick', 'refused', 'slow']);
    await vi.waitFor(() => expect(scheduler.runningJobs().map((j) => j.scenario)).toEqual(['slow']), { timeout: 10_000, interval: 50 });
    await vi.waitFor(() => expect(lines).toContain('[slow] drill slow started'), { timeout: 10_000, interval: 50 });

    await scheduler.stop({ terminate: 'SIGTERM' });
    const stoppedAt = Date.now();
    expect(fs.readFileSync(path.join(evidence, 'slow.signal'), 'utf8')).toBe('SIGTERM');
    expect(Number(fs.readFileSync(path.join(evidence, 'slow.exited-at'), 'utf8'))).toBeLessThanOrEqual(stoppedAt);
    expect(lines).toContain('[slow] SIGTERM: aborting the drill and rolling back');

    const history = store.state!.history;
    const of = (name: string) => history.find((h) => h.scenario === name)!;
    // Every scenario writes into the one evidence directory; each result is read from its own run.
    expect(of('quick')).toMatchObject({ status: 'ran', exitCode: 0, outcome: 'passed', runId: 'id-quick' });
    expect(path.dirname(of('quick').runDir!)).toBe(path.resolve(evidence));
    expect(path.basename(of('quick').runDir!)).toContain('-quick-');
    expect(of('slow')).toMatchObject({ status: 'ran', exitCode: 3, outcome: 'aborted', runId: 'id-slow' });
    expect(path.basename(of('slow').runDir!)).toContain('-slow-');
    expect(of('refused')).toMatchObject({ status: 'ran', exitCode: 2, outcome: 'no-record' });
    expect(of('refused').error).toMatch(/wrote no run record \(exit 2\)/);
    expect(lines).toContain('[refused] refused: production without --confirm');
  });
});
