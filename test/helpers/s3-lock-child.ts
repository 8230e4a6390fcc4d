/**
 * A runner taking the system's S3 lock object as its own process (for the racing and
 * killed-holder tests): `node s3-lock-child.js <endpoint> <bucket> <prefix> <system> <identity>
 * <ttlMs> <holdMs> <skip|wait>`. Prints one JSON line when it knows the outcome (`entered`:
 * state, evidence, at), holds the lock for holdMs (renewing it), releases it, and prints
 * `released`. A test SIGKILLs it while it holds the lock to play a crashed runner.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { enterSystemLock } from '../../runners/coordination/gate.js';
import { s3LockBackend } from '../../runners/coordination/s3-lock-backend.js';
import { fakeS3Client } from './fake-s3.js';

const [endpoint, bucket, prefix, system, identity, ttlText, holdText, overlap] = process.argv.slice(2);
const client = fakeS3Client(endpoint!);
const backend = s3LockBackend({ client, location: { bucket: bucket!, prefix: prefix! }, system: system!, identity: identity!, scenario: `${identity}-drill`, ttlMs: Number(ttlText) });
const entered = await enterSystemLock(backend, { overlap: overlap === 'wait' ? 'wait' : 'skip', pollMs: 50 });
process.stdout.write(`${JSON.stringify({ type: 'entered', state: entered.state, evidence: entered.evidence, at: Date.now() })}\n`);
if (entered.state === 'held') {
  await sleep(Number(holdText));
  const releasing = Date.now();
  await entered.release();
  process.stdout.write(`${JSON.stringify({ type: 'released', at: releasing, evidence: entered.evidence })}\n`);
}
client.destroy();
