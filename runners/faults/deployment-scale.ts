/** `deployment-scale`: scale a deployment to N; the undo scales it back to the count read before. */
import type { KubernetesFault } from '../../scenarios/schema-kubernetes.js';
import type { StructuredSelector } from '../drivers/kubernetes/selector.js';
import { api } from '../drivers/kubernetes/client.js';
import { blastRadiusText, type KubernetesFaultModule } from '../drivers/kubernetes/fault-target.js';
import { listPods, selectorToString } from '../drivers/kubernetes/faults.js';
import { faultSchema } from './schema.js';
import { nsGrant } from './types.js';

type DeploymentScaleFault = Extract<KubernetesFault, { type: 'deployment-scale' }>;

export const deploymentScaleFault: KubernetesFaultModule<DeploymentScaleFault> = {
  type: 'deployment-scale',
  driver: 'kubernetes',
  schema: faultSchema('deployment-scale'),
  rbac: {
    why: 'read the deployment and its replica count, scale it to N, and scale it back as the undo',
    grants: [nsGrant('apps', 'deployments', ['get', 'list', 'patch']), nsGrant('apps', 'deployments/scale', ['get', 'patch'])],
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
    return {
      description: `deployment ${namespace}/${fault.deployment} scaled ${previous} → ${fault.replicas}`,
      ...target.revertAfter(fault.duration, id, 'kubernetes.scale-deployment', params, `scaled back to ${previous}`),
    };
  },
};
