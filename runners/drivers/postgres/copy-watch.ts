/**
 * Fail fast at any time (SPEC v1.1 "Fail fast"): from its start until the drill closes the
 * session, the restored copy's postmaster is checked every 100 ms. Its recovery, WAL replay,
 * the checks, masking and the confirming writes all depend on it; when it has exited, the
 * drill records the FATAL line on the timeline and stops within the interval through
 * `RunContext.fail`, instead of probing a dead server until `probes.maxWait` or failing a
 * check with a bare "connection refused".
 */
import type { RunContext } from '../../context.js';

export interface CopyWatch {
  /** Records the exit (once, whoever saw it first) and stops the drill. */
  report(fatal: string): void;
  /** The drill is over (the copy is destroyed or kept from here on): no more checks. */
  stop(): void;
}

/** `exited` returns the copy's FATAL line once its postmaster is gone, undefined while it runs. */
export function watchCopy(ctx: RunContext, exited: () => string | undefined, intervalMs = 100): CopyWatch {
  let reported = false;
  const timer = setInterval(() => {
    const fatal = exited();
    if (fatal !== undefined) watch.report(fatal);
  }, intervalMs);
  timer.unref();
  const watch: CopyWatch = {
    report(fatal) {
      clearInterval(timer);
      if (reported) return;
      reported = true;
      ctx.record('restored copy exited', { fatal });
      ctx.fail?.(new Error(`the restored copy's postmaster exited: ${fatal}`));
    },
    stop: () => clearInterval(timer),
  };
  return watch;
}
