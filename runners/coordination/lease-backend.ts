/**
 * The system lock in a cluster: a Kubernetes Lease (coordination.k8s.io/v1) per system in
 * drillbook's namespace, the way client-go's leader election uses one:
 * - created when absent (two creators: one gets 409 AlreadyExists and reads who won);
 * - held while `renewTime + leaseDurationSeconds` is ahead; the holder renews it;
 * - taken over only once that has passed, by an update carrying the resourceVersion it was
 *   read with, so of two runners taking over the same expired Lease one gets 409 Conflict;
 * - released by clearing holderIdentity (client-go's ReleaseOnCancel), not by deleting it:
 *   get, create and update are the only verbs the ServiceAccount needs (infra/rbac.ts).
 *
 * Expiry is judged on the reader's wall clock against the holder's renewTime, as for the S3
 * lock: clocks must agree to well within a TTL (NTP). The holder renews every third of the
 * TTL, so a skew below two thirds of it never takes a live Lease.
 *
 * `renewTime` and `acquireTime` are MicroTime: the API server parses exactly six fractional
 * digits and rejects `Date#toISOString()`'s three with 400 (kubernetes/kubernetes#141204 is
 * open), so they are written through `MicroTime` below (client-node's V1MicroTime does the same).
 */
import { createHash } from 'node:crypto';
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { systemClock } from '../clock.js';
import { statusOf } from '../drivers/kubernetes/client.js';
import type { LockAttempt, LockHolder, SystemLockBackend } from './types.js';

export type LeaseApi = Pick<CoordinationV1Api, 'readNamespacedLease' | 'createNamespacedLease' | 'replaceNamespacedLease'>;

export interface LeaseBackendOptions {
  api: LeaseApi;
  namespace: string;
  system: string;
  identity: string;
  scenario: string;
  ttlMs: number;
  now?: () => number;
}

export const SCENARIO_ANNOTATION = 'drillbook.dev/scenario';
export const SYSTEM_ANNOTATION = 'drillbook.dev/system';

/** A Date that serializes with six fractional digits, as MicroTime must. */
export class MicroTime extends Date {
  override toISOString(): string {
    return `${super.toISOString().slice(0, -1)}000Z`;
  }
}

/** `drillbook-system-<system>`: a DNS subdomain; a hash keeps names apart that had to be changed to fit. */
export function leaseName(system: string): string {
  const slug = system.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 200);
  const exact = slug === system && slug !== '';
  const suffix = exact ? '' : `-${createHash('sha256').update(system).digest('hex').slice(0, 8)}`;
  return `drillbook-system-${slug || 'x'}${suffix}`;
}

const timeOf = (value: unknown): number | null => {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
};

export function leaseBackend(options: LeaseBackendOptions): SystemLockBackend {
  const { api, namespace, system, identity, scenario } = options;
  const name = leaseName(system);
  const durationSeconds = Math.max(1, Math.ceil(options.ttlMs / 1000));
  const now = () => options.now?.() ?? systemClock.wallMs();
  /** The Lease as we last wrote it while holding it. */
  let ours: V1Lease | undefined;

  const read = async (): Promise<V1Lease | undefined> => {
    try {
      return await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      if (statusOf(error) === 403)
        throw new Error(
          `reading Lease ${namespace}/${name}: forbidden (403): the ServiceAccount needs get, create and update on leases in ${namespace} (drillbook's Pulumi program grants them); a runner outside drillbook's deployment can set DRILLBOOK_COORDINATION=s3 or none`,
        );
      throw error;
    }
  };
  const holderOf = (lease: V1Lease): LockHolder => {
    const renewed = timeOf(lease.spec?.renewTime) ?? timeOf(lease.spec?.acquireTime);
    const seconds = lease.spec?.leaseDurationSeconds;
    return {
      identity: lease.spec?.holderIdentity ?? '(none)',
      scenario: lease.metadata?.annotations?.[SCENARIO_ANNOTATION] ?? null,
      expiresAt: renewed !== null && typeof seconds === 'number' ? new Date(renewed + seconds * 1000).toISOString() : null,
    };
  };
  const body = (previous: V1Lease | undefined, holding: boolean): V1Lease => {
    const at = new MicroTime(now());
    const transitions = previous?.spec?.leaseTransitions ?? 0;
    const takingOver = holding && previous?.spec?.holderIdentity !== identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        ...(previous?.metadata?.resourceVersion ? { resourceVersion: previous.metadata.resourceVersion } : {}),
        labels: { 'app.kubernetes.io/name': 'drillbook' },
        annotations: { ...(holding ? { [SCENARIO_ANNOTATION]: scenario } : {}), [SYSTEM_ANNOTATION]: system },
      },
      spec: holding
        ? {
            holderIdentity: identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: takingOver ? at : (previous?.spec?.acquireTime ?? at),
            renewTime: at,
            leaseTransitions: previous && takingOver && previous.spec?.holderIdentity ? transitions + 1 : transitions,
          }
        : // Released: no holder, and a lease that is already over (client-go's ReleaseOnCancel).
          { leaseDurationSeconds: 1, acquireTime: previous?.spec?.acquireTime ?? at, renewTime: at, leaseTransitions: transitions },
    };
  };
  const conflict = (error: unknown) => statusOf(error) === 409;

  return {
    kind: 'kubernetes-lease',
    name: `Lease ${namespace}/${name}`,
    identity,
    ttlMs: durationSeconds * 1000,
    async tryAcquire(): Promise<LockAttempt> {
      for (let round = 0; round < 5; round++) {
        const current = await read();
        if (!current) {
          try {
            ours = await api.createNamespacedLease({ namespace, body: body(undefined, true) });
            return { acquired: true };
          } catch (error) {
            if (conflict(error)) continue; // 409 AlreadyExists: another runner created it first; read who
            throw error;
          }
        }
        const holder = holderOf(current);
        const held = Boolean(current.spec?.holderIdentity);
        const expiresAt = holder.expiresAt === null ? null : Date.parse(holder.expiresAt);
        // A Lease without renewTime or duration is held for good by whoever wrote it so: never taken over.
        const live = held && (expiresAt === null || expiresAt > now());
        if (live && current.spec?.holderIdentity !== identity) return { acquired: false, heldBy: holder };
        try {
          ours = await api.replaceNamespacedLease({ name, namespace, body: body(current, true) });
          return held && current.spec?.holderIdentity !== identity ? { acquired: true, tookOverFrom: holder } : { acquired: true };
        } catch (error) {
          if (conflict(error) || statusOf(error) === 404) continue; // 409 Conflict: changed since we read it (another taker won); read again
          throw error;
        }
      }
      const current = await read();
      if (current?.spec?.holderIdentity) return { acquired: false, heldBy: holderOf(current) };
      throw new Error(`Lease ${namespace}/${name} kept changing while drillbook tried to take it; try again`);
    },
    async renew() {
      if (!ours) return false;
      try {
        ours = await api.replaceNamespacedLease({ name, namespace, body: body(ours, true) });
        return true;
      } catch (error) {
        // 409: someone wrote it since our last renewal, which only a taker of an expired Lease does.
        if (conflict(error) || statusOf(error) === 404) return false;
        throw error;
      }
    },
    async release() {
      if (!ours) return false;
      const last = ours;
      ours = undefined;
      try {
        await api.replaceNamespacedLease({ name, namespace, body: body(last, false) });
        return true;
      } catch (error) {
        if (conflict(error) || statusOf(error) === 404) return false;
        throw error;
      }
    },
  };
}
