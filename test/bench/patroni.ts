/**
 * Bench section: Patroni leader kills (SIGKILL of the leader's PostgreSQL through a
 * kill-leader drill) against a real etcd + 2 × Patroni/PostgreSQL 15 + HAProxy cluster, each
 * graded by an independent writer through HAProxy (test/helpers/patroni-trial.ts): error =
 * measured RTO − the writer's outage from T0, the reported bound, and whether drillbook's
 * lost-write figures agree with the writer's. Skipped (and said so) without the packages.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Graded, HEARTBEAT_MS, PATRONI_PASSWORD_ENV, killLeaderTrial } from '../helpers/patroni-trial.js';
import { PatroniCluster } from '../helpers/real/patroni-cluster.js';
import { checkReal } from '../helpers/real/require-real.js';

export interface PatroniBench {
  summary: { name: string; goal: string; value: string; ok: boolean }[];
  section: string;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toFixed(0) : String(n));

export async function benchPatroni(trials: number, log: (line: string) => void): Promise<PatroniBench> {
  const title = `## 9. Patroni leader kills (${trials} trials)`;
  const available = checkReal(['postgres', 'patroni', 'etcd', 'haproxy']);
  if (!available.available) {
    const reason = available.reasons.join('; ');
    return {
      summary: [{ name: 'Patroni leader kills: RTO within its bound', goal: '100 % of trials', value: `not run: ${reason}`, ok: false }],
      section: [title, '', `**Not run on this machine**: ${reason}.`].join('\n'),
    };
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-bench-patroni-'));
  fs.chmodSync(work, 0o755);
  const cluster = new PatroniCluster();
  const results: (Graded & { oldLeader: string; newLeader: string; outcome: string })[] = [];
  const failures: string[] = [];
  try {
    await cluster.start();
    process.env[PATRONI_PASSWORD_ENV] = cluster.details.superuser.password;
    for (let n = 1; n <= trials; n++) {
      try {
        const t = await killLeaderTrial(cluster, work, n);
        results.push({ ...t, outcome: t.record.outcome });
        log(`  trial ${n}: truth ${f0(t.truthRtoMs)} ms, measured ${f0(t.measuredRtoMs)} ms ± ${f0(t.boundMs)} ms, lost ${t.drillLost} (writer ${t.writerLost})`);
      } catch (error) {
        failures.push(`trial ${n}: ${error instanceof Error ? error.message : String(error)}`);
        log(`  trial ${n} FAILED: ${failures.at(-1)}`);
        await cluster.waitHealthy({ timeoutMs: 120_000 }).catch(() => undefined);
      }
    }
  } finally {
    delete process.env[PATRONI_PASSWORD_ENV];
    await cluster.stop().catch((error: unknown) => failures.push(`cluster stop: ${String(error)}`));
    fs.rmSync(work, { recursive: true, force: true });
  }
  const errors = results.map((r) => (r.measuredRtoMs < r.truthFromMs ? r.truthFromMs - r.measuredRtoMs : Math.max(0, r.measuredRtoMs - r.truthRtoMs)));
  // Before the truth: a stable run of probes that all landed on the new leader while HAProxy
  // still sent some new clients to the dead one (both UP).
  const early = results.filter((r) => r.measuredRtoMs < r.truthFromMs).length;
  const bounds = results.map((r) => r.boundMs);
  const within = results.filter((r) => r.withinBound).length;
  const agreeWindow = results.filter((r) => r.lostWindowAgrees).length;
  const agreeCount = results.filter((r) => r.drillLost === r.writerLost || (r.drillLost > 0) === (r.writerLost > 0)).length;
  const p95Bound = percentile(bounds, 0.95);
  return {
    summary: [
      { name: 'Patroni leader kills: RTO within its bound', goal: '100 % of trials', value: `${within}/${trials}`, ok: within === trials },
      { name: 'Patroni leader kills: p95 reported bound', goal: '≤ 300 ms', value: `${f0(p95Bound)} ms`, ok: p95Bound <= 300 },
      { name: 'Patroni leader kills: lost-write window agrees with the writer', goal: `within ${HEARTBEAT_MS} ms, 100 %`, value: `${agreeWindow}/${trials}`, ok: agreeWindow === trials },
    ],
    section: [
      title,
      '',
      'etcd + two Patroni 3 / PostgreSQL 15 nodes + HAProxy (Debian packages, 127.0.0.1; ttl 10, loop_wait 1,',
      '`master_start_timeout: 0`, asynchronous replication). Per trial a `kill-leader` drill through HAProxy',
      '(`recovery: none`, probes every 250 ms with a 1 s timeout, `stableFor: 2`, heartbeat every 100 ms), while an',
      'independent writer writes through HAProxy every 20 ms, each write on a fresh connection like the probes. Truth =',
      'an interval: from the writer\'s own log, the last write that failed (or was held > 500 ms) and the acknowledgement',
      'of the first write of its stable run (every write of the next 2 s served); and from HAProxy\'s own log, the moment',
      'it had the new leader UP and the old one DOWN, before which it could still send a new client to the dead one (the',
      'interval starts no earlier than that: the writer can be lucky for a few writes). A trial is within when',
      '|measured − interval| ≤ bound (the distance to the interval; 0 inside it), which is also the error. Lost writes: the writer\'s acknowledged writes',
      'missing on the new leader, and the window they span, against drillbook\'s `lostWrites` and RPO.',
      '',
      '| figure | value |',
      '|---|---|',
      `| median \\|error\\| | ${f0(percentile(errors, 0.5))} ms |`,
      `| p95 \\|error\\| | ${f0(percentile(errors, 0.95))} ms |`,
      `| median reported bound | ${f0(percentile(bounds, 0.5))} ms |`,
      `| p95 reported bound | ${f0(p95Bound)} ms |`,
      `| trials within the bound of the writer's truth | ${within}/${trials} |`,
      `| trials measured before the truth (a lucky run inside HAProxy's both-UP window) | ${early}/${trials} |`,
      `| median width of the truth interval | ${f0(percentile(results.map((r) => r.truthRtoMs - r.truthFromMs), 0.5))} ms |`,
      `| median \\|writer's stable ack − HAProxy routed\\| | ${f0(percentile(results.map((r) => Math.abs(r.writerToMs - (r.haproxyRoutedMs ?? Number.NaN))), 0.5))} ms |`,
      `| lost-write window agrees (± ${HEARTBEAT_MS} ms) | ${agreeWindow}/${trials} |`,
      `| lost-write count agrees (equal, or both zero / both non-zero) | ${agreeCount}/${trials} |`,
      '',
      '| trial | old → new leader | writer: resumed between | HAProxy routed | truth | measured | bound | writer lost (window) | drillbook lost (RPO) | outcome |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...results.map((r, i) => `| ${i + 1} | ${r.oldLeader} → ${r.newLeader} | ${f0(r.writerFromMs)}–${f0(r.writerToMs)} ms | ${f0(r.haproxyRoutedMs ?? Number.NaN)} ms | ${f0(r.truthFromMs)}–${f0(r.truthRtoMs)} ms | ${f0(r.measuredRtoMs)} ms | ${f0(r.boundMs)} ms | ${r.writerLost} (${f0(r.writerWindowMs)} ms) | ${r.drillLost} (${f0(r.drillRpoMs)} ms) | ${r.outcome} |`),
      ...(failures.length > 0 ? ['', '**Trials that failed to run**:', ...failures.map((f) => `- ${f.replaceAll('|', '\\|')}`)] : []),
    ].join('\n'),
  };
}
