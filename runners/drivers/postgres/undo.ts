/**
 * The postgres driver's undos, by journal name, with their params checked by zod: stopping
 * a server drillbook started, resuming a paused primary, destroying a restored copy (kept
 * until a declared deadline), deleting the run's heartbeat and probe rows.
 */
import { z } from 'zod';
import { SecretRef } from '../../../scenarios/primitives.js';
import { resolveSecret } from '../../secrets.js';
import { connect } from '../../sql/connection.js';
import { removeDrillObjects } from '../../sql/drill-tables.js';
import { signal } from '../../system.js';
import { typedUndo, undoClock, type UndoHandler } from '../../undo.js';
import { verifiedRemoval } from '../../verified-removal.js';
import { stopServer } from './server.js';

const RowsEndpoint = z.object({ host: z.string(), port: z.number(), database: z.string(), user: z.string(), password: SecretRef.nullable().optional() });

export const postgresUndoHandlers: Record<string, UndoHandler> = {
  'postgres.stop-server': typedUndo('postgres.stop-server', z.object({ dataDir: z.string() }), async ({ dataDir }) => {
    await stopServer(dataDir);
  }),
  'postgres.resume-server': typedUndo('postgres.resume-server', z.object({ pids: z.array(z.number().int()) }), async ({ pids }) => {
    for (const pid of pids) signal(pid, 'SIGCONT');
  }),
  'postgres.destroy-copy': typedUndo(
    'postgres.destroy-copy',
    z.object({ dir: z.string(), dataDir: z.string(), port: z.number().int(), keepUntil: z.string().nullable().optional() }),
    async ({ dir, dataDir, port, keepUntil }, env) => {
      const clock = undoClock(env);
      if (keepUntil && clock.wallMs() < Date.parse(keepUntil)) {
        env.log(`keeping the restored copy until ${keepUntil} as declared`);
        return { deferredUntil: keepUntil };
      }
      await stopServer(dataDir);
      return { deletion: await verifiedRemoval('restored copy', dir, port, clock) };
    },
  ),
  'postgres.delete-run-rows': typedUndo(
    'postgres.delete-run-rows',
    z.object({
      endpoints: z.array(RowsEndpoint),
      baseDir: z.string(),
      runId: z.string(),
      // What the run created (journaled before it did): dropped, not just emptied of its rows.
      dropSchema: z.boolean().optional(),
      dropTables: z.array(z.string()).optional(),
    }),
    async ({ endpoints, baseDir, runId, dropSchema, dropTables }, env) => {
      // After a failover the old primary may be gone and the promoted standby holds the
      // rows: the cleanup succeeds where a writable endpoint takes it.
      const errors: string[] = [];
      for (const endpoint of endpoints) {
        try {
          const password = resolveSecret(endpoint.password ?? undefined, baseDir);
          const client = await connect({ host: endpoint.host, port: endpoint.port, database: endpoint.database, user: endpoint.user, ...(password !== undefined ? { password } : {}) }, 5_000);
          try {
            const location = `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
            return { deletion: await removeDrillObjects(client, { dropSchema: dropSchema ?? false, dropTables: dropTables ?? [] }, runId, location, undoClock(env)) };
          } finally {
            await client.end().catch(() => undefined);
          }
        } catch (error) {
          errors.push(`${endpoint.host}:${endpoint.port}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      throw new Error(`could not delete the run's rows: ${errors.join('; ')}`);
    },
  ),
};
