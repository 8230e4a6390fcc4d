/**
 * Builds real evidence directories fast for the integrity tests: bundles written through the
 * EvidenceBundle API (the same code a drill uses) from the fixture RunRecord, no PostgreSQL.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { EvidenceBundle, runDirName } from '../../../reports/evidence.js';
import { appendSignoff } from '../../../reports/signoff.js';
import { makeProbes, makeRunRecord } from '../../helpers/run-record-fixture.js';

export function newKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export interface EvidenceSpec {
  runs: number;
  /** Signs bundles and their ledger lines; unsigned when absent. */
  signingKey?: KeyObject;
  /** Sign-offs to add: run index → decisions, signed by `reviewerKey`. */
  signoffs?: Record<number, ('accepted' | 'rejected')[]>;
  reviewerKey?: KeyObject;
}

/** Writes `spec.runs` finalized runs (and sign-offs) into `evidenceDir`; returns their directory names. */
export async function buildEvidence(evidenceDir: string, spec: EvidenceSpec): Promise<string[]> {
  const names: string[] = [];
  const probes = makeProbes().slice(0, 12);
  for (let i = 0; i < spec.runs; i++) {
    const runId = `${(0x7f3c2a90 + i).toString(16)}-4b6e-4d1a-9c1e-${String(i).padStart(12, '0')}`;
    const startedAt = new Date(Date.parse('2026-11-26T17:00:00.123Z') + i * 3_600_000);
    const record = makeRunRecord({ runId, startedAt: startedAt.toISOString() });
    const name = runDirName(startedAt, record.scenario.name, runId);
    const bundle = await EvidenceBundle.create(evidenceDir, name, spec.signingKey ? { signingKey: spec.signingKey } : {});
    for (const event of record.timeline.slice(0, 6)) await bundle.appendTimeline(event);
    for (const probe of probes) await bundle.appendProbe(probe);
    if (i % 2 === 0) await bundle.writeAttachment('promote.log', `server promoting (run ${i})\n`);
    await bundle.finalize(record);
    names.push(name);
  }
  for (const [index, decisions] of Object.entries(spec.signoffs ?? {})) {
    if (!spec.reviewerKey) throw new Error('buildEvidence: signoffs need a reviewerKey');
    for (const [n, decision] of decisions.entries()) {
      await appendSignoff(`${evidenceDir}/${names[Number(index)]}`, {
        reviewer: `Reviewer ${n + 1}`,
        decision,
        note: `Checked RTO/RPO against the plan (${decision}).`,
        signingKey: spec.reviewerKey,
      });
    }
  }
  return names;
}
