/**
 * The evidence a reading command names (`--evidence DIR`, `s3://bucket/prefix`), opened as one
 * source (reports/evidence/source.ts) or exit 2 with the reason: a missing directory, a bucket
 * that does not exist, a prefix that holds nothing.
 */
import type { EvidenceSource } from '../../reports/evidence/source.js';
import { EXIT, Exit, err } from '../cli-common.js';

export async function evidenceSourceOrExit(location: string, flag = '--evidence'): Promise<EvidenceSource> {
  const { openEvidenceSource } = await import('../../reports/evidence/source.js');
  const { EvidenceError } = await import('../../reports/evidence-files.js');
  try {
    return await openEvidenceSource(location, { flag });
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    err(error.message);
    throw new Exit(EXIT.invalid);
  }
}

/** Run `use` with the opened source and close it afterwards (the S3 client's sockets). */
export async function withEvidenceSource<T>(location: string, use: (source: EvidenceSource) => Promise<T>, flag = '--evidence'): Promise<T> {
  const source = await evidenceSourceOrExit(location, flag);
  try {
    return await use(source);
  } finally {
    source.close();
  }
}
