/** Removes a drill-owned directory and records how its destruction was verified. */
import fs from 'node:fs';
import type { DeletionRecord } from '../reports/run-record.js';
import { type Clock, isoNow, systemClock } from './clock.js';
import { isPortFree, processesMentioning } from './system.js';

export async function verifiedRemoval(what: string, dir: string, port?: number, clock: Clock = systemClock): Promise<DeletionRecord> {
  fs.rmSync(dir, { recursive: true, force: true });
  const verification = [
    { check: `directory ${dir} no longer exists`, passed: !fs.existsSync(dir) },
    { check: `no process mentions ${dir}`, passed: processesMentioning(dir).length === 0 },
  ];
  if (port !== undefined) verification.push({ check: `port ${port} on 127.0.0.1 is free`, passed: await isPortFree(port) });
  return { what, location: dir, destroyedAt: isoNow(clock), verification };
}
