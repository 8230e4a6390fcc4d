/**
 * Runs one sample scenario for real: the sample with the resource names the environment
 * gives (and nothing else changed), written beside a copy of the plan, run through runDrill
 * like `drillbook run`, with its evidence in DRILLBOOK_CLOUD_EVIDENCE (default
 * ./evidence-cloud). Teardown is runDrill's own; `sweep` then runs `drillbook recover` over
 * the evidence directory (journals left open, and every driver's orphan sweep).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { RunRecord } from '../../reports/run-record.js';
import { runDrill } from '../../runners/engine.js';
import { recoverRuns } from '../../runners/recover.js';
import { loadForRun } from '../helpers/drill-files.js';

const SAMPLES = path.join(import.meta.dirname, '../../scenarios/samples');

export const evidenceDir = (): string => path.resolve(process.env.DRILLBOOK_CLOUD_EVIDENCE ?? 'evidence-cloud');

export async function runSample(sample: string, adapt: (spec: Record<string, unknown>) => void): Promise<{ record: RunRecord; runDir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'drillbook-cloud-'));
  try {
    const document = YAML.parse(fs.readFileSync(path.join(SAMPLES, sample), 'utf8')) as { spec: Record<string, unknown> };
    adapt(document.spec);
    fs.copyFileSync(path.join(SAMPLES, 'plan.yaml'), path.join(dir, 'plan.yaml'));
    const file = path.join(dir, sample);
    fs.writeFileSync(file, YAML.stringify(document));
    const { record, runDir } = await runDrill(await loadForRun(file), { evidenceDir: evidenceDir() });
    process.stdout.write(`${sample}: ${record.outcome}; RTO ${record.measured.rto?.seconds ?? '—'} s; evidence ${runDir}; teardown ${record.teardown.complete ? 'complete' : 'INCOMPLETE'}\n`);
    return { record, runDir };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `drillbook recover` over the suite's evidence: unfinished journals, then every driver's orphan sweep. */
export async function sweep(): Promise<string[]> {
  const runs = await recoverRuns(evidenceDir(), { log: (message) => process.stdout.write(`recover: ${message}\n`) });
  return runs.filter((r) => r.status === 'incomplete').map((r) => `${r.runId}: ${r.failed.map((f) => `${f.description}: ${f.error}`).join('; ')}`);
}
