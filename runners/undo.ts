/**
 * The undo stack. `push` writes the undo to the journal before the caller performs the
 * change (Playwright's taskRunner pushes teardown before setup for the same reason); undos
 * run newest-first on success, failure, abort and `drillbook recover`, each one recorded.
 */
import type { DeletionRecord, UndoRecord } from '../reports/run-record.js';
import { z } from 'zod';
import { type Clock, isoNow, type RunClock, systemClock } from './clock.js';
import { type Journal, type PendingUndo, type UndoAction } from './journal.js';

export interface UndoEnv {
  /** Teardown has its own deadline: the drill's abort signal must not stop the cleanup. */
  signal: AbortSignal;
  log(message: string): void;
  /** Hands an undo that must wait (a declared keep) to the deferred register. */
  defer?(undo: PendingUndo, notBefore: string): void;
  /** The clock for deadlines, keep checks and stamps: the run's during teardown, the system's by default (`recover`). */
  clock?: Clock;
}

/** The clock an undo handler reads: the one its env carries, else the system clock. */
export function undoClock(env: Pick<UndoEnv, 'clock'>): Clock {
  return env.clock ?? systemClock;
}

export interface UndoOutcome {
  deletion?: DeletionRecord;
  /** Not yet: the change is kept on purpose until this instant (ISO). */
  deferredUntil?: string;
}

export type UndoHandler = (params: Record<string, unknown>, env: UndoEnv) => Promise<UndoOutcome | void>;

/**
 * An undo whose journaled params are checked by a zod schema before it runs: a journal
 * written by another version, or edited, fails with the field that is wrong instead of
 * acting on `undefined`.
 */
export function typedUndo<S extends z.ZodType<Record<string, unknown>>>(type: string, params: S, run: (params: z.infer<S>, env: UndoEnv) => Promise<UndoOutcome | void>): UndoHandler {
  return async (raw, env) => {
    const parsed = params.safeParse(raw);
    if (!parsed.success) throw new Error(`undo ${type}: its journaled params do not fit: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}`);
    return run(parsed.data, env);
  };
}

export class UndoRegistry {
  private readonly handlers = new Map<string, UndoHandler>();

  register(type: string, handler: UndoHandler): this {
    this.handlers.set(type, handler);
    return this;
  }

  /** Registers every handler of a driver's table (type → handler). */
  registerAll(handlers: Record<string, UndoHandler>): this {
    for (const [type, handler] of Object.entries(handlers)) this.register(type, handler);
    return this;
  }

  get(type: string): UndoHandler {
    const handler = this.handlers.get(type);
    if (!handler) throw new Error(`no undo handler named ${type}: was the journal written by a newer drillbook?`);
    return handler;
  }
}

export interface UnwindResult {
  undos: UndoRecord[];
  deletions: DeletionRecord[];
  complete: boolean;
}

export class UndoStack {
  private readonly pending: PendingUndo[] = [];
  private readonly settled: UndoRecord[] = [];

  constructor(
    private readonly journal: Journal,
    private readonly registry: UndoRegistry,
    /** The run's clock: the undo records carry its UTC time. */
    private readonly clock?: RunClock,
  ) {}

  private now(): string {
    return this.clock?.now().at ?? isoNow();
  }

  /** Journals the undo (fsynced) and returns its id; call it *before* making the change. */
  push(action: UndoAction, description: string): number {
    this.registry.get(action.type); // fail before the change if nothing could undo it
    const id = this.journal.registerUndo(action, description);
    this.pending.push({ id, action, description });
    return id;
  }

  /** The change reverted itself (e.g. a timed pause ended): nothing is left to undo. */
  settle(id: number, note: string): void {
    const index = this.pending.findIndex((p) => p.id === id);
    if (index < 0) return;
    const [entry] = this.pending.splice(index, 1);
    const at = this.now();
    this.journal.append({ t: 'undone', at, id, status: 'done', by: 'run', detail: note });
    this.settled.push({ id, description: `${entry!.description} (${note})`, status: 'done', at, by: 'run' });
  }

  /** Runs every pending undo now, newest first. */
  async unwind(env: UndoEnv, by: 'run' | 'recover' = 'run'): Promise<UnwindResult> {
    const toRun = [...this.pending].reverse();
    this.pending.length = 0;
    const result = await runUndos(toRun, this.registry, this.journal, env, by, () => this.now());
    return { ...result, undos: [...this.settled, ...result.undos] };
  }
}

/** Runs undos in the given order; one failing undo does not stop the others. */
export async function runUndos(
  undos: PendingUndo[],
  registry: UndoRegistry,
  journal: Journal,
  env: UndoEnv,
  by: 'run' | 'recover',
  now: () => string = () => isoNow(env.clock),
): Promise<UnwindResult> {
  const records: UndoRecord[] = [];
  const deletions: DeletionRecord[] = [];
  for (const undo of undos) {
    const at = now();
    try {
      env.log(`undo: ${undo.description}`);
      const outcome = await registry.get(undo.action.type)(undo.action.params, env);
      if (outcome?.deferredUntil) {
        env.defer?.(undo, outcome.deferredUntil);
        journal.append({ t: 'undone', at: now(), id: undo.id, status: 'deferred', by, detail: outcome });
        records.push({ id: undo.id, description: `${undo.description} — kept until ${outcome.deferredUntil}`, status: 'deferred', at, by });
        continue;
      }
      if (outcome?.deletion) deletions.push(outcome.deletion);
      const failedCheck = outcome?.deletion?.verification.find((v) => !v.passed);
      if (failedCheck) throw new Error(`deletion not verified: ${failedCheck.check}`);
      journal.append({ t: 'undone', at: now(), id: undo.id, status: 'done', by, detail: outcome ?? null });
      records.push({ id: undo.id, description: undo.description, status: 'done', at, by });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      journal.append({ t: 'undone', at: now(), id: undo.id, status: 'failed', by, error: message });
      records.push({ id: undo.id, description: undo.description, status: 'failed', at, by, error: message });
    }
  }
  // A deferred undo is not a failure: it was declared, and the deferred register holds it.
  return { undos: records, deletions, complete: records.every((r) => r.status === 'done' || r.status === 'deferred') };
}
