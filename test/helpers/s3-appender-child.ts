/**
 * A runner appending to a shared S3 ledger, as its own process (for the many-appenders
 * test): `node s3-appender-child.js <endpoint> <bucket> <prefix> <name> <count>`. Prints
 * `<seq> <runId> <attempts>` per line written.
 */
import { appendS3Ledger } from '../../reports/evidence/s3-ledger.js';
import { fakeS3Client } from './fake-s3.js';

const [endpoint, bucket, prefix, name, countText] = process.argv.slice(2);
const client = fakeS3Client(endpoint!);
for (let i = 0; i < Number(countText); i++) {
  const runId = `${name}-${i}`;
  const { entry, attempts } = await appendS3Ledger(
    client,
    { bucket: bucket!, prefix: prefix! },
    { runId, dir: `2026-12-01T000000Z-${runId}`, manifestSha256: 'a'.repeat(64) },
    { maxAttempts: 200, backoffMs: 5 },
  );
  process.stdout.write(`${entry.seq} ${runId} ${attempts}\n`);
}
client.destroy();
