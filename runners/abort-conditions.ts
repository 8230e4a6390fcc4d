/**
 * guardrails.abortIf: probes against what must stay healthy while the drill runs (a
 * checkout API, a replica other teams read from). Each is checked every probe interval;
 * after `failures` consecutive failures the drill aborts and rolls back like a Ctrl+C.
 * Works the same for every driver because it only talks to what the user names.
 */
import { parseDuration } from '../scenarios/duration.js';
import type { AbortCondition } from '../scenarios/schema.js';
import { sleep, type RunClock } from './clock.js';
import { checkDeclared } from './probes/registry.js';

export interface AbortWatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  clock: RunClock;
  record(event: string, detail?: Record<string, unknown>): unknown;
  addSecret(value: string | undefined): void;
  baseDir: string;
  trip(message: string): void;
}

/** One health check through its probe kind; resolves when healthy, rejects with the reason when not. */
export function checkCondition(condition: AbortCondition, baseDir: string, addSecret: (v: string | undefined) => void): Promise<void> {
  const timeoutMs = parseDuration(condition.timeout) ?? 2000;
  return checkDeclared(condition, { signal: AbortSignal.timeout(timeoutMs), timeoutMs, baseDir, addSecret });
}

export function watchAbortConditions(conditions: AbortCondition[], options: AbortWatchOptions): { stop(): Promise<void> } {
  if (conditions.length === 0) return { stop: async () => undefined };
  const stopper = new AbortController();
  const stopSignal = AbortSignal.any([stopper.signal, options.signal]);
  const failures = new Map<string, number>();
  const loop = (async () => {
    options.record(`abort conditions armed: ${conditions.map((c) => c.name).join(', ')} (every ${options.intervalMs} ms)`);
    while (!stopSignal.aborted) {
      await Promise.all(
        conditions.map(async (condition) => {
          try {
            await checkCondition(condition, options.baseDir, options.addSecret);
            if ((failures.get(condition.name) ?? 0) > 0) options.record(`abort condition ${condition.name} healthy again`);
            failures.set(condition.name, 0);
          } catch (error) {
            if (stopSignal.aborted) return;
            const count = (failures.get(condition.name) ?? 0) + 1;
            failures.set(condition.name, count);
            const reason = error instanceof Error ? error.message : String(error);
            options.record(`abort condition ${condition.name} failed (${count}/${condition.failures}): ${reason}`);
            if (count >= condition.failures) options.trip(`abort condition ${condition.name} tripped after ${count} consecutive failures: ${reason}`);
          }
        }),
      );
      await sleep(options.intervalMs, stopSignal).catch(() => undefined);
    }
  })();
  return {
    async stop() {
      stopper.abort();
      await loop;
    },
  };
}
