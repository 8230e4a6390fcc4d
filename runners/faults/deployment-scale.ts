/** `deployment-scale`: scale a deployment to N; the undo scales it back to the count read before. */
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import type { StructuredSelector } from '../drivers/kubernetes/selector.js';
import { api } from '../drivers/kubernetes/client.js';
import { blastRadiusText, kubernetesFault, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { listPods, type PodRef, selectorToString } from '../drivers/kubernetes/faults.js';
import type { KubernetesFaultTarget } from '../drivers/kubernetes/fault-target.js';
import type { RunContext } from '../context.js';
import { sleep } from '../clock.js';
import { nsGrant } from './types.js';

type DeploymentScaleFault = Extract<KubernetesFault, { type: 'deployment-scale' }>;

export const deploymentScaleFault: KubernetesFaultModule<DeploymentScaleFault> = {
  ...kubernetesFault('deployment-scale', {
    why: 'read the deployment and its replica count, scale it to N, and scale it back as the undo; list the EndpointSlices to confirm the removed pods stopped taking traffic',
    grants: [nsGrant('apps', 'deployments', ['get', 'list', 'patch']), nsGrant('apps', 'deployments/scale', ['get', 'patch']), nsGrant('discovery.k8s.io', 'endpointslices', ['list'])],
  }),
  validate(fault, { settings: { spec }, report, at }) {
    if (!fault.duration && spec.type === 'failover' && (spec.recovery?.action ?? 'none') === 'none')
      report(
        at('duration'),
        `deployment-scale without duration keeps deployment ${fault.deployment} at ${fault.replicas} replicas until teardown, and nothing (recovery: none) scales it back: the readiness check would wait for the pre-fault count that cannot come back`,
        { hint: 'set duration (the fault scales back by itself and the RTO measures the service returning), or recovery: { action: command } that scales it back' },
      );
  },
  plan(fault, { namespace, touches }) {
    const { ns, radius, revert } = blastRadiusText(fault, namespace);
    return {
      action: `scale deployment ${ns}/${fault.deployment} to ${fault.replicas} (pods ${fault.selector}, blast radius ${radius}${revert})`,
      touches,
      undo: 'scale back to the replica count read before the fault',
    };
  },
  async resolve(fault, { clients, namespace, matchedNames, resolution, refuse }) {
    const deployment = await api(`reading deployment ${namespace}/${fault.deployment}`, () => clients.apps.readNamespacedDeployment({ name: fault.deployment, namespace }));
    const scale = await api(`reading the scale of deployment ${namespace}/${fault.deployment}`, () => clients.apps.readNamespacedDeploymentScale({ name: fault.deployment, namespace }));
    const previous = scale.spec?.replicas ?? deployment.spec?.replicas ?? 0;
    resolution.detail.previousReplicas = previous;
    const ownSelector = selectorToString((deployment.spec?.selector ?? {}) as StructuredSelector);
    const ownPods = ownSelector ? await listPods(clients, namespace, ownSelector) : [];
    const outside = ownPods.filter((p) => !matchedNames.has(`${namespace}/${p.metadata?.name}`));
    if (outside.length > 0) refuse(`deployment ${fault.deployment} runs pods outside the declared selector ${fault.selector}: ${outside.map((p) => p.metadata?.name).join(', ')}`);
    resolution.podsTouched = Math.max(0, previous - fault.replicas);
    resolution.touches = [`deployment ${namespace}/${fault.deployment}: ${previous} → ${fault.replicas} replicas (${resolution.podsTouched} pods removed)`];
  },
  async inject(fault, { ctx, markT0, target }) {
    const { resolution, clients, cluster } = target;
    const namespace = resolution.namespace;
    const previous = resolution.detail.previousReplicas ?? 0;
    const params = { cluster, namespace, deployment: fault.deployment, replicas: previous };
    const id = ctx.undo.push({ type: 'kubernetes.scale-deployment', params }, `scale deployment ${namespace}/${fault.deployment} back to ${previous} replicas`);
    markT0(`scale deployment ${namespace}/${fault.deployment} ${previous} → ${fault.replicas}`);
    await api(`scaling deployment ${namespace}/${fault.deployment}`, () =>
      clients.apps.patchNamespacedDeploymentScale({ name: fault.deployment, namespace, body: { spec: { replicas: fault.replicas } } }, clients.mergePatch),
    );
    if (fault.replicas < previous) await awaitScaledDown(fault, target, ctx);
    return {
      description: `deployment ${namespace}/${fault.deployment} scaled ${previous} → ${fault.replicas}`,
      ...target.revertAfter(fault.duration, id, 'kubernetes.scale-deployment', params, `scaled back to ${previous}`),
    };
  },
};

/**
 * Scaling down deletes pods gracefully: they keep serving until the endpoints controller takes
 * them out. Recovery is measured only once the pods the ReplicaSet picked (those of the
 * pre-fault selection now Terminating or gone) are out of service.
 */
async function awaitScaledDown(fault: DeploymentScaleFault, target: KubernetesFaultTarget, ctx: RunContext): Promise<void> {
  const { clients, resolution } = target;
  const namespace = resolution.namespace;
  const before = resolution.matched;
  const started = ctx.clock.elapsed();
  for (;;) {
    ctx.signal.throwIfAborted();
    const list = await api(`listing pods ${fault.selector} in namespace ${namespace}`, () => clients.core.listNamespacedPod({ namespace, labelSelector: fault.selector }));
    const active = new Set(list.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.uid ?? p.metadata?.name));
    const removed: PodRef[] = before.filter((p) => !active.has(p.uid ?? p.name));
    if (before.length - removed.length <= fault.replicas) return target.awaitOutOfService(removed, target.readyTimeoutMs, ctx);
    if (ctx.clock.elapsed() - started > target.readyTimeoutMs)
      throw new Error(`deployment ${namespace}/${fault.deployment} still runs ${before.length - removed.length} of its pods ${Math.round(target.readyTimeoutMs / 1000)} s after the scale to ${fault.replicas}: its effect could not be confirmed`);
    await sleep(100, ctx.signal);
  }
}
