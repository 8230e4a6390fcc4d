/** The scratch (TMPDIR) and evidence directories one CLI drill test runs in, made and removed around each test. */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { sharedTempDir } from './pg-cluster.js';

export interface DrillDirs {
  /** The drill's TMPDIR: its sandbox servers live here, so it must be empty afterwards. */
  scratch: string;
  /** The --evidence directory. */
  evidence: string;
}

export function makeDrillDirs(): DrillDirs {
  return { scratch: sharedTempDir('drillbook-scratch-'), evidence: sharedTempDir('drillbook-evidence-') };
}

export function removeDrillDirs(dirs: DrillDirs): void {
  fs.rmSync(dirs.scratch, { recursive: true, force: true });
  fs.rmSync(dirs.evidence, { recursive: true, force: true });
}

/** The one run directory a drill wrote under `evidence` (fails the test if there is not exactly one). */
export function onlyRunDir(evidence: string): string {
  const dirs = fs.readdirSync(evidence).filter((d) => fs.statSync(path.join(evidence, d)).isDirectory());
  expect(dirs).toHaveLength(1);
  return path.join(evidence, dirs[0]!);
}
