/**
 * The launcher's fast path for the command CI and editors run most: `drillbook validate
 * <paths...>` without options. Bundled on its own as CommonJS (dist/bundle/validate.cjs) so
 * the launcher can start it with V8's code cache (Node 20 has none for ES modules); anything
 * else (options, help, other commands) goes through the full CLI. Same config handling and
 * output as `main`.
 */
import { EXIT, err } from './cli-common.js';
import { validateCommand } from './commands/validate.js';

export async function validateMain(paths: string[]): Promise<number> {
  try {
    await (await import('./config.js')).loadDefaults();
  } catch (error) {
    err(`drillbook: ${(error as Error).message}`);
    return EXIT.invalid;
  }
  try {
    return await validateCommand(paths);
  } catch (error) {
    err(`drillbook: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.DRILLBOOK_DEBUG) err((error as Error).stack ?? '');
    return EXIT.invalid;
  }
}
