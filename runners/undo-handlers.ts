/**
 * Every undo drillbook can journal, by name. `recover` runs these in a fresh process from
 * the journal alone, so each handler needs only its params (and re-resolves any secret).
 */
import fs from 'node:fs';
import type { DeletionRecord } from '../reports/run-record.js';
import type { PgEndpoint } from '../scenarios/schema.js';
import { kubernetesUndoHandlers } from './drivers/kubernetes/undo.js';
import { connect, stopServer } from './drivers/postgres/server.js';
import { registerRdsUndos } from './drivers/rds/undo.js';
import { resolveSecret } from './secrets.js';
import { formatCommandResult, runCommand } from './shell.js';
import { isPortFree, processesMentioning, signal } from './system.js';
import { UndoRegistry } from './undo.js';

async function verifiedRemoval(what: string, dir: string, port?: number): Promise<DeletionRecord> {
  fs.rmSync(dir, { recursive: true, force: true });
  const verification = [
    { check: `directory ${dir} no longer exists`, passed: !fs.existsSync(dir) },
    { check: `no process mentions ${dir}`, passed: processesMentioning(dir).length === 0 },
  ];
  if (port !== undefined) verification.push({ check: `port ${port} on 127.0.0.1 is free`, passed: await isPortFree(port) });
  return { what, location: dir, destroyedAt: new Date().toISOString(), verification };
}

export function defaultUndoRegistry(): UndoRegistry {
  const registry = new UndoRegistry();
  for (const [type, handler] of Object.entries(kubernetesUndoHandlers)) registry.register(type, handler);
  registerRdsUndos(registry);
  return registry
    .register('fs.remove-dir', async (params) => {
      const dir = String(params.path);
      // A crashed run may have left servers under it whose own undo already ran or failed.
      for (const pid of processesMentioning(dir)) signal(pid, 'SIGKILL');
      return { deletion: await verifiedRemoval(String(params.what ?? 'directory'), dir) };
    })
    .register('postgres.stop-server', async (params) => {
      await stopServer(String(params.dataDir));
    })
    .register('postgres.resume-server', async (params) => {
      for (const pid of params.pids as number[]) signal(pid, 'SIGCONT');
    })
    .register('postgres.destroy-copy', async (params, env) => {
      const keepUntil = typeof params.keepUntil === 'string' ? params.keepUntil : null;
      if (keepUntil && Date.now() < Date.parse(keepUntil)) {
        env.log(`keeping the restored copy until ${keepUntil} as declared`);
        return { deferredUntil: keepUntil };
      }
      await stopServer(String(params.dataDir));
      return { deletion: await verifiedRemoval('restored copy', String(params.dir), Number(params.port)) };
    })
    .register('postgres.delete-run-rows', async (params) => {
      // After a failover the old primary may be gone and the promoted standby holds the
      // rows: the cleanup succeeds where a writable endpoint takes it.
      const errors: string[] = [];
      for (const endpoint of params.endpoints as (PgEndpoint & { password: PgEndpoint['password'] | null })[]) {
        try {
          const password = resolveSecret(endpoint.password ?? undefined, String(params.baseDir));
          const client = await connect({ host: endpoint.host, port: endpoint.port, database: endpoint.database, user: endpoint.user, password }, 5_000);
          try {
            for (const table of ['drillbook_heartbeat', 'drillbook_probe']) {
              await client.query(`DELETE FROM ${table} WHERE run_id = $1`, [String(params.runId)]);
            }
            return;
          } finally {
            await client.end().catch(() => undefined);
          }
        } catch (error) {
          errors.push(`${endpoint.host}:${endpoint.port}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      throw new Error(`could not delete the run's rows: ${errors.join('; ')}`);
    })
    .register('shell.command', async (params, env) => {
      const result = await runCommand(String(params.command), { cwd: String(params.cwd), timeoutMs: Number(params.timeoutMs), signal: env.signal });
      env.log(formatCommandResult(result));
      if (result.exitCode !== 0) throw new Error(`undo command exited ${result.exitCode ?? result.signal}`);
    });
}
