/**
 * The RDS calls drillbook makes, with what every caller needs around them: the abort
 * signal on each request, throttling retried with backoff, "not found" told apart from a
 * failure, and Describe polling with backoff. The client and the sleep are injected so tests
 * hand in a mocked client (aws-sdk-client-mock) and a short sleep; the defaults are a client
 * built from the standard AWS provider chain and the real clock.
 *
 * Waiting here is only ever for the provider's own state (a copy's endpoint, a deletion).
 * The RTO clock is the client-side probe: provider states lag what clients see.
 */
import type { DBCluster, DBInstance, DescribeEventsCommandInput, Event, RDSClient, Tag } from '@aws-sdk/client-rds';
import { type Backoff, backoffDelay } from '../../backoff.js';
import { type Clock, sleep as realSleep, systemClock } from '../../clock.js';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The SDK module, loaded on first use: validate, plan and postgres drills never pay for it. */
export type RdsSdk = typeof import('@aws-sdk/client-rds');

export interface RdsDeps {
  client: RDSClient;
  sleep: Sleep;
  sdk: RdsSdk;
  /** Poll deadlines (default: the system clock). */
  clock?: Clock;
}

export interface RdsDepsInput {
  client?: RDSClient;
  sleep?: Sleep;
  clock?: Clock;
}

/** Credentials and region from the standard AWS provider chain; the client is created when first used. */
export function resolveDeps(input: RdsDepsInput = {}): () => Promise<RdsDeps> {
  let deps: Promise<RdsDeps> | undefined;
  return () =>
    (deps ??= import('@aws-sdk/client-rds').then((sdk) => ({ client: input.client ?? new sdk.RDSClient({ retryMode: 'adaptive' }), sleep: input.sleep ?? realSleep, sdk, clock: input.clock ?? systemClock })));
}

export const DRILL_TAG = 'drillbook:drill';
export const RUN_ID_TAG = 'drillbook:run-id';

export function drillTags(runId: string, scenario: string): Tag[] {
  return [
    { Key: RUN_ID_TAG, Value: runId },
    { Key: DRILL_TAG, Value: 'true' },
    { Key: 'drillbook:scenario', Value: scenario },
  ];
}

export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

function errorName(error: unknown): string {
  if (!error || typeof error !== 'object') return '';
  const e = error as { name?: string; Code?: string; code?: string };
  return e.name ?? e.Code ?? e.code ?? '';
}

export function isThrottling(error: unknown): boolean {
  const name = errorName(error);
  if (['ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'TooManyRequestsException'].includes(name)) return true;
  return Boolean((error as { $retryable?: { throttling?: boolean } } | null)?.$retryable?.throttling);
}

export function isNotFound(error: unknown): boolean {
  return /^(DBInstanceNotFound|DBClusterNotFound)(Fault)?$/.test(errorName(error));
}

/** DescribeDBSnapshots / DescribeDBClusterSnapshots naming a snapshot that does not exist. */
export function isSnapshotNotFound(error: unknown): boolean {
  return /^(DBSnapshotNotFound|DBClusterSnapshotNotFound)(Fault)?$/.test(errorName(error));
}

/**
 * A Multi-AZ DB cluster (engine `postgres` or `mysql`, instances of DBClusterInstanceClass)
 * rather than Aurora: RDS creates and deletes its three instances with the cluster, restores
 * need DBClusterInstanceClass, and it reboots with RebootDBCluster.
 */
export function isMultiAzCluster(cluster: DBCluster | undefined): boolean {
  return Boolean(cluster?.Engine) && !cluster!.Engine!.startsWith('aurora');
}

export function isInvalidState(error: unknown): boolean {
  return /^Invalid(DBInstance|DBCluster)State(Fault)?$/.test(errorName(error));
}

/** A sentence for the evidence: the service's own message, never a stack trace. */
export function describeError(error: unknown): string {
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  return name && !message.startsWith(name) ? `${name}: ${message}` : message;
}

const MAX_THROTTLE_RETRIES = 6;
const THROTTLE_BACKOFF: Backoff = { initialMs: 500, maxMs: 20_000, jitter: 0.25 };

/**
 * One RDS request, retried with exponential backoff while AWS throttles. The client uses
 * the SDK's adaptive retry mode (client-side rate limiting plus its own retries); its
 * attempts give up after three, which a busy account exhausts during a drill, so throttling
 * gets this longer patience on top.
 */
export async function call<T>(deps: RdsDeps, signal: AbortSignal | undefined, request: (options: { abortSignal?: AbortSignal }) => Promise<T>, log?: (message: string) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await request(signal ? { abortSignal: signal } : {});
    } catch (error) {
      if (!isThrottling(error) || attempt >= MAX_THROTTLE_RETRIES) throw error;
      const wait = backoffDelay(attempt, THROTTLE_BACKOFF);
      log?.(`RDS throttled the request (${describeError(error)}); retrying in ${Math.round(wait)} ms`);
      await deps.sleep(wait, signal);
    }
  }
}

export async function describeInstance(deps: RdsDeps, id: string, signal?: AbortSignal, log?: (m: string) => void): Promise<DBInstance | undefined> {
  try {
    const out = await call(deps, signal, (o) => deps.client.send(new deps.sdk.DescribeDBInstancesCommand({ DBInstanceIdentifier: id }), o), log);
    return out.DBInstances?.[0];
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function describeCluster(deps: RdsDeps, id: string, signal?: AbortSignal, log?: (m: string) => void): Promise<DBCluster | undefined> {
  try {
    const out = await call(deps, signal, (o) => deps.client.send(new deps.sdk.DescribeDBClustersCommand({ DBClusterIdentifier: id }), o), log);
    return out.DBClusters?.[0];
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Every DB instance and cluster of the account/region (paginated), for the orphan sweep. */
export async function listAll(deps: RdsDeps, signal?: AbortSignal): Promise<{ instances: DBInstance[]; clusters: DBCluster[] }> {
  const instances: DBInstance[] = [];
  const clusters: DBCluster[] = [];
  let marker: string | undefined;
  do {
    const out = await call(deps, signal, (o) => deps.client.send(new deps.sdk.DescribeDBInstancesCommand({ Marker: marker }), o));
    instances.push(...(out.DBInstances ?? []));
    marker = out.Marker;
  } while (marker);
  do {
    const out = await call(deps, signal, (o) => deps.client.send(new deps.sdk.DescribeDBClustersCommand({ Marker: marker }), o));
    clusters.push(...(out.DBClusters ?? []));
    marker = out.Marker;
  } while (marker);
  return { instances, clusters };
}

/**
 * Every event DescribeEvents returns for one source and window, across pages (the SDK's
 * paginator follows Marker; a page holds at most 100 events).
 */
export async function describeEvents(deps: RdsDeps, input: DescribeEventsCommandInput, signal?: AbortSignal): Promise<Event[]> {
  const events: Event[] = [];
  for await (const page of deps.sdk.paginateDescribeEvents({ client: deps.client }, { ...input }, ...(signal ? [{ abortSignal: signal }] : []))) events.push(...(page.Events ?? []));
  return events;
}

/**
 * Polls `check` until it returns a value: first at once, then with backoff from 1 s up to
 * `maxIntervalMs`, until `timeoutMs` has passed (then throws `what` did not happen).
 */
export async function pollUntil<T>(
  deps: RdsDeps,
  check: () => Promise<T | undefined>,
  options: { what: string; timeoutMs: number; maxIntervalMs: number; signal?: AbortSignal; clock?: Clock },
): Promise<T> {
  // The deadline is on the caller's clock (the run's, or an undo's), else on the deps' own.
  const clock = options.clock ?? deps.clock ?? systemClock;
  const deadline = clock.monoMs() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const wait = backoffDelay(attempt, { initialMs: 1_000, maxMs: options.maxIntervalMs });
    options.signal?.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    if (clock.monoMs() + wait > deadline) throw new Error(`${options.what} did not happen within ${Math.round(options.timeoutMs / 1000)} s`);
    await deps.sleep(wait, options.signal);
  }
}

/** Statuses from which a restoring copy never becomes usable. */
export const FAILED_STATUSES = new Set([
  'failed',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-credentials',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'restore-error',
  'storage-full',
]);
