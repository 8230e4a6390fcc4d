/**
 * The RDS driver's part of the Scenario language: its target settings and its faults.
 */
import { z } from 'zod';

export const RdsTarget = z.strictObject({
  driver: z.literal('rds'),
});
export type RdsTarget = z.infer<typeof RdsTarget>;

/** Fault shapes this driver adds to spec.faults (discriminated by `type`). */
export const RdsFaults = [] as const;
