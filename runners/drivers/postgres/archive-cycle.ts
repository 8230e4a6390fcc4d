/**
 * Heartbeats that reach the archive (SPEC v1.1). A restore holds only what production had
 * archived at T0, so a heartbeat the restore can show must sit in a WAL segment production's
 * archiver had reported done by then. Before T0, once the declared warm-up has passed, the
 * warm-up is lengthened until the archiver reports the segment holding the newest heartbeat
 * archived: production's own `pg_stat_archiver`, not a guess from `archive_timeout`. The wait
 * is bounded by two archive cycles plus 10 s; what was chosen, and why, goes on the timeline
 * and into the report's data-integrity notes.
 */
import type { Scenario } from '../../../scenarios/schema.js';
import { parseDuration } from '../../../scenarios/duration.js';
import { sleep } from '../../clock.js';
import type { RunContext } from '../../context.js';
import { type ConnectionSettings, connect } from '../../sql/connection.js';

/** What production's archiver says, read in one query. */
export interface ArchiverState {
  archiveTimeoutSeconds: number;
  archiveMode: string;
  /** pgBackRest archive-push, another archive_command, an archive_library, or none. */
  archiver: string;
  lastArchivedWal: string | null;
  lastFailedWal: string | null;
  /** The segment WAL is being written to now (it holds every heartbeat acknowledged so far). */
  currentWal: string;
  walSegmentBytes: number;
}

export async function readArchiver(settings: ConnectionSettings): Promise<ArchiverState> {
  const client = await connect(settings, 5_000);
  try {
    const { rows } = await client.query<{ timeout: string; mode: string; command: string; library: string | null; last: string | null; failed: string | null; current: string; segment: string }>(
      `SELECT (SELECT setting FROM pg_settings WHERE name = 'archive_timeout') AS timeout, current_setting('archive_mode') AS mode,
              current_setting('archive_command') AS command, current_setting('archive_library', true) AS library,
              a.last_archived_wal AS last, a.last_failed_wal AS failed, pg_walfile_name(pg_current_wal_insert_lsn()) AS current,
              (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') AS segment
         FROM pg_stat_archiver a`,
    );
    const row = rows[0]!;
    const archiver = row.library ? `archive_library ${row.library}` : /pgbackrest/.test(row.command) ? 'pgBackRest archive-push' : row.command ? 'archive_command' : 'none';
    return {
      archiveTimeoutSeconds: Number(row.timeout) || 0,
      archiveMode: row.mode,
      archiver,
      lastArchivedWal: row.last,
      lastFailedWal: row.failed,
      currentWal: row.current,
      walSegmentBytes: Number(row.segment) || 16 * 1024 * 1024,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The 24-hex segment a file name of the archive starts with (a .partial or .backup too); null for history files. */
export function segmentOf(name: string | null): string | null {
  const match = name ? /^[0-9A-F]{24}/.exec(name) : null;
  return match ? match[0] : null;
}

/** Has the archiver reported `segment` (or a later one on a timeline at least as new) archived? */
export function archivedThrough(lastArchived: string | null, segment: string): boolean {
  const last = segmentOf(lastArchived);
  if (!last) return false;
  const timeline = (s: string) => parseInt(s.slice(0, 8), 16);
  return timeline(last) > timeline(segment) || (timeline(last) === timeline(segment) && last.slice(8) >= segment.slice(8));
}

export interface WarmupRecord {
  declared: string;
  /** From the first heartbeat to T0's request, as waited. */
  totalMs: number;
  lengthenedByMs: number;
  /** The heartbeats' segment reached the archive before T0. */
  reached: boolean;
  note: string;
}

/** Why production's archive may never hold a heartbeat by T0, or null when it can (used by plan too). */
export function archiveProblem(state: Pick<ArchiverState, 'archiveMode' | 'archiver' | 'archiveTimeoutSeconds'>): string | null {
  if (state.archiveMode === 'off' || state.archiver === 'none') return `production does not archive WAL (archive_mode ${state.archiveMode}, archiver ${state.archiver}): no heartbeat can reach an archive, so the RPO stays not established`;
  if (state.archiveTimeoutSeconds === 0) return 'production\'s archive_timeout is 0: a segment is archived only when full, so the heartbeats may not reach the archive by T0 and the RPO may stay not established; set archive_timeout (e.g. 60s)';
  return null;
}

/**
 * Before T0: waits until production's archiver reports the segment that holds the newest
 * heartbeat archived, so the restore can show heartbeats and the RPO can be established.
 * `heartbeatsFromMono` is when the heartbeats started (the warm-up's start).
 */
export async function lengthenWarmup(ctx: RunContext, primary: ConnectionSettings, heartbeatsFromMono: number | undefined, probes: Scenario['spec']['probes']): Promise<WarmupRecord> {
  const declaredMs = parseDuration(probes.heartbeat.warmup) ?? 0;
  const from = heartbeatsFromMono ?? ctx.clock.elapsed() - declaredMs;
  let waitedMs = 0;
  const done = (reached: boolean, note: string): WarmupRecord => {
    const record = { declared: probes.heartbeat.warmup, totalMs: Math.round(ctx.clock.elapsed() - from), lengthenedByMs: Math.round(waitedMs), reached, note };
    ctx.record(reached ? 'heartbeat warm-up covers an archive cycle' : 'warning: heartbeat warm-up does not cover an archive cycle', { ...record });
    return record;
  };
  let state: ArchiverState;
  try {
    state = await readArchiver(primary);
  } catch (error) {
    return done(false, `the warm-up stayed ${probes.heartbeat.warmup}: production's archiver could not be read (${(error as Error).message}), so whether a heartbeat reached the archive by T0 is unknown`);
  }
  const problem = archiveProblem(state);
  if (problem) return done(false, `the warm-up stayed ${probes.heartbeat.warmup}: ${problem}`);
  const target = state.currentWal;
  // Two cycles: the segment being written may have just started its archive_timeout; plus
  // the archive command's own time. A failing archiver is not waited on for longer.
  const cycleMs = state.archiveTimeoutSeconds * 1000;
  const deadline = ctx.clock.elapsed() + 2 * cycleMs + 10_000;
  const why = `production archives every archive_timeout = ${state.archiveTimeoutSeconds}s at the latest (${state.archiver})`;
  let last = state.lastArchivedWal;
  const waitFrom = ctx.clock.elapsed();
  while (!archivedThrough(last, target)) {
    waitedMs = ctx.clock.elapsed() - waitFrom;
    if (ctx.clock.elapsed() > deadline)
      return done(false, `waited ${Math.round((2 * cycleMs + 10_000) / 1000)} s before T0 and production's archiver has still not reported segment ${target} (the heartbeats') archived (last archived ${last ?? 'none'}, last failed ${state.lastFailedWal ?? 'none'}): the RPO may stay not established`);
    await sleep(Math.min(200, Math.max(50, cycleMs / 10)), ctx.signal);
    state = await readArchiver(primary);
    last = state.lastArchivedWal;
    waitedMs = ctx.clock.elapsed() - waitFrom;
  }
  return done(
    true,
    waitedMs > 0
      ? `heartbeat warm-up lengthened from ${probes.heartbeat.warmup} by ${(waitedMs / 1000).toFixed(1)} s: ${why}, and drillbook waited until its archiver reported segment ${target}, which holds the newest heartbeat, archived (pg_stat_archiver.last_archived_wal ${last})`
      : `heartbeat warm-up ${probes.heartbeat.warmup} covered an archive cycle: ${why}; segment ${target}, holding the newest heartbeat, was archived by T0 (pg_stat_archiver.last_archived_wal ${last})`,
  );
}

/** What `plan` says about the warm-up: it is chosen at run time, from production's archiver. */
export function warmupPlanItem(probes: Scenario['spec']['probes']): { action: string; touches: string; undo: string } {
  return {
    action: `heartbeat warm-up ${probes.heartbeat.warmup} declared; before T0 it is lengthened until production's archiver (pg_stat_archiver) reports the segment holding the newest heartbeat archived, at most 2 × archive_timeout + 10 s. With archive_mode off, no archiver or archive_timeout 0 it is not lengthened and the RPO may stay "not established" (the run says which)`,
    touches: 'reads pg_settings and pg_stat_archiver on the primary',
    undo: 'none needed (read only)',
  };
}
