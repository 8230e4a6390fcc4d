/**
 * The evidence source interface alone (implementations: source.ts), so the readers that take
 * one (the run index, the register, sign-offs, exports) depend on no S3 or upload module.
 */
import type { EvidenceObjects } from './verify-ledger.js';

export interface EvidenceSource extends EvidenceObjects {
  readonly kind: 'local' | 's3';
  /** The directory, or `s3://bucket/prefix`, as messages name it. */
  readonly where: string;
  /** A relative path (posix separators) as messages name it. */
  locate(relativePath: string): string;
  /** The names of the run directories (top level, not hidden; in S3 not ledger/ or locks/), sorted. */
  listRunDirs(): Promise<string[]>;
  /** The bytes at `<relative path>`, or undefined when there is none. */
  read(relativePath: string): Promise<Buffer | undefined>;
  /** Releases the S3 client it made (a no-op for a directory or a client passed in). */
  close(): void;
}
