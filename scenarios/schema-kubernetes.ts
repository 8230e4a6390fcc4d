/**
 * The Kubernetes driver's part of the Scenario language: its target settings and its faults.
 */
import { z } from 'zod';

export const KubernetesTarget = z.strictObject({
  driver: z.literal('kubernetes'),
});
export type KubernetesTarget = z.infer<typeof KubernetesTarget>;

/** Fault shapes this driver adds to spec.faults (discriminated by `type`). */
export const KubernetesFaults = [] as const;
