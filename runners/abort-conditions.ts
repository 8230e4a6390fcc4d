/**
 * guardrails.abortIf: probes against what must stay healthy while the drill runs (a
 * checkout API, a replica other teams read from). Each is checked every probe interval;
 * after `failures` consecutive failures the drill aborts and rolls back like a Ctrl+C.
 * Works the same for every driver because it only talks to what the user names.
 */
import net from 'node:net';
import pg from 'pg';
import { parseDuration } from '../scenarios/duration.js';
import type { AbortCondition } from '../scenarios/schema.js';
import { sleep, type RunClock } from './clock.js';
import { resolveSecret } from './secrets.js';
import { runCommand } from './shell.js';

export interface AbortWatchOptions {
  intervalMs: number;
  signal: AbortSignal;
  clock: RunClock;
  record(event: string, detail?: Record<string, unknown>): unknown;
  addSecret(value: string | undefined): void;
  baseDir: string;
  trip(message: string): void;
}

/** One health check; resolves when healthy, rejects with the reason when not. */
export async function checkCondition(condition: AbortCondition, baseDir: string, addSecret: (v: string | undefined) => void): Promise<void> {
  const timeoutMs = parseDuration(condition.timeout) ?? 2000;
  const signal = AbortSignal.timeout(timeoutMs);
  if (condition.http) {
    const response = await fetch(condition.http.url, { signal, redirect: 'manual' });
    await response.body?.cancel();
    if (response.status !== condition.http.status) throw new Error(`HTTP ${response.status}, expected ${condition.http.status}`);
    return;
  }
  if (condition.tcp) {
    const { host, port } = condition.tcp;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port });
      const fail = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      socket.setTimeout(timeoutMs, () => fail(new Error(`no TCP connection to ${host}:${port} within ${condition.timeout}`)));
      socket.once('connect', () => {
        socket.end();
        resolve();
      });
      socket.once('error', fail);
    });
    return;
  }
  if (condition.sql) {
    const password = resolveSecret(condition.sql.password, baseDir);
    addSecret(password);
    const client = new pg.Client({ ...condition.sql, password, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    try {
      await client.connect();
      await client.query(condition.sql.query);
    } finally {
      await client.end().catch(() => undefined);
    }
    return;
  }
  if (condition.command) {
    const result = await runCommand(condition.command, { cwd: baseDir, timeoutMs, signal });
    if (result.exitCode !== 0) throw new Error(`exited ${result.exitCode ?? result.signal}`);
  }
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
