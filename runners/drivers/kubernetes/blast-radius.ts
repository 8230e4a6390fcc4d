/**
 * The blast-radius check: what a fault would touch, resolved live and read-only by its own
 * module, refused when the selection is larger than declared *before* any mutating call.
 */
import type { KubernetesFault } from '../../../scenarios/schema-kubernetes.js';
import { driverFault } from '../../faults/registry.js';
import type { KubeClients } from './client.js';
import { type FaultResolution, listPods, podRef } from './faults.js';
import { parseSelector } from './selector.js';

/** Resolves what the fault would touch, read-only, and whether the blast radius allows it. */
export async function resolveFault(clients: KubeClients, fault: KubernetesFault, defaultNamespace: string | undefined): Promise<FaultResolution> {
  const namespace = fault.namespace ?? defaultNamespace;
  if (!namespace) throw new Error(`${fault.type}: no namespace (set the fault's namespace or target.namespace)`);
  parseSelector(fault.selector); // a bad selector is an error before any call
  const matchedPods = await listPods(clients, namespace, fault.selector);
  const matched = matchedPods.map(podRef);
  const matchedNames = new Set(matched.map((p) => `${p.namespace}/${p.name}`));
  const resolution: FaultResolution = { fault, namespace, matched, touches: [], podsTouched: 0, refusal: null, detail: {} };
  const refuse = (why: string) => {
    resolution.refusal ??= why;
  };
  const scope = `${fault.selector} in namespace ${namespace}`;
  const module = driverFault('kubernetes', fault.type);
  if (!module) throw new Error(`fault ${fault.type} is not a kubernetes fault`);
  await module.resolve(fault, { clients, namespace, matchedPods, matchedNames, resolution, refuse, scope });

  if (matched.length === 0) refuse(`the selector ${scope} matches no pods: there is nothing to drill`);
  if (fault.maxPods !== undefined && resolution.podsTouched > fault.maxPods)
    refuse(`it would touch ${resolution.podsTouched} pods (${scope}), more than its blast radius maxPods ${fault.maxPods}`);
  if (fault.maxPercent !== undefined && matched.length > 0) {
    const percent = (resolution.podsTouched / matched.length) * 100;
    if (percent > fault.maxPercent)
      refuse(`it would touch ${resolution.podsTouched} of the ${matched.length} pods ${scope} matches (${Math.round(percent)} %), more than its blast radius maxPercent ${fault.maxPercent}`);
  }
  return resolution;
}
