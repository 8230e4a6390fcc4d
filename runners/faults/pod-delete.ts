/** `pod-delete`: delete matched pods (only controller-owned ones: their controller re-creates them). */
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import { parseDuration } from '../../scenarios/duration.js';
import { api, KubeApiError } from '../drivers/kubernetes/client.js';
import { blastRadiusText, kubernetesFault, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { podRef } from '../drivers/kubernetes/faults.js';
import { nsGrant } from './types.js';

type PodDeleteFault = Extract<KubernetesFault, { type: 'pod-delete' }>;

export const podDeleteFault: KubernetesFaultModule<PodDeleteFault> = {
  ...kubernetesFault('pod-delete', {
    why:
      'find the pods matching the selector (to count them against the blast radius) and delete them; list the ' +
      'EndpointSlices to confirm the deleted pods stopped taking traffic (deletion is graceful and endpoint removal asynchronous)',
    grants: [nsGrant('', 'pods', ['get', 'list', 'delete']), nsGrant('discovery.k8s.io', 'endpointslices', ['list'])],
  }),
  plan(fault, { namespace, touches }) {
    const { ns, radius } = blastRadiusText(fault, namespace);
    return {
      action: `delete ${fault.count ?? 'all'} pod(s) ${fault.selector} in ${ns} (blast radius ${radius})`,
      touches,
      undo: 'none possible for a deleted pod: teardown confirms its controller brought as many ready pods back',
    };
  },
  resolve(fault, { namespace, matchedPods, resolution, refuse, scope }) {
    const chosen = [...matchedPods].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '')).slice(0, fault.count ?? matchedPods.length);
    for (const pod of chosen) {
      // A pod without a controller is never re-created: deleting it cannot be undone.
      if (!pod.metadata?.ownerReferences?.some((o) => o.controller)) refuse(`pod ${namespace}/${pod.metadata?.name} has no controller (Deployment, StatefulSet, …): deleting it could not be undone`);
    }
    resolution.detail.pods = chosen.map(podRef);
    resolution.podsTouched = chosen.length;
    resolution.touches = chosen.map((p) => `pod ${namespace}/${p.metadata?.name}`);
    if (fault.count !== undefined && fault.count > matchedPods.length) refuse(`count ${fault.count} is more than the ${matchedPods.length} pods ${scope} matches`);
  },
  async inject(fault, { ctx, markT0, target }) {
    const { resolution, clients, cluster } = target;
    const namespace = resolution.namespace;
    const pods = resolution.detail.pods ?? [];
    const readyBefore = resolution.matched.filter((p) => p.ready).length;
    ctx.undo.push(
      { type: 'kubernetes.await-pods-ready', params: { cluster, namespace, selector: fault.selector, expectedReady: readyBefore, timeoutMs: target.readyTimeoutMs } },
      `confirm ${readyBefore} pods ${fault.selector} in ${namespace} are ready again (deleted pods are re-created by their controller)`,
    );
    markT0(`delete ${pods.length} pod(s) ${fault.selector} in ${namespace}`);
    const gracePeriodSeconds = gracePeriodSecondsOf(fault.gracePeriod);
    for (const pod of pods) {
      await api(`deleting pod ${namespace}/${pod.name}`, () =>
        clients.core.deleteNamespacedPod({ name: pod.name, namespace, ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}) }),
      ).catch((error: unknown) => {
        if (!(error instanceof KubeApiError && error.status === 404)) throw error; // gone already
      });
    }
    // Deletion is graceful: the pods keep serving (for up to their grace period) until the
    // endpoints controller takes them out. Recovery is measured only from here on, so a probe
    // answered by a pod on its way out never counts as the service having come back.
    await target.awaitOutOfService(pods, target.readyTimeoutMs, ctx);
    return { description: `deleted ${pods.length} pod(s): ${pods.map((p) => p.name).join(', ')}` };
  },
};

/**
 * The API takes whole seconds, and 0 means "delete at once, skip the grace period": a grace
 * period under a second is rounded up, never down to 0 (only an explicit 0 is 0).
 */
export function gracePeriodSecondsOf(gracePeriod: string | undefined): number | undefined {
  if (gracePeriod === undefined) return undefined;
  return Math.ceil((parseDuration(gracePeriod) ?? 0) / 1000);
}
