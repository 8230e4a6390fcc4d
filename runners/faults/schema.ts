/**
 * A fault's zod schema, taken from the scenario language's `spec.faults` union by its `type`:
 * the scenario loader validates the shape (with its located errors and "did you mean"), the
 * fault module owns everything else.
 */
import type { z } from 'zod';
import { Fault } from '../../scenarios/schema.js';

export function faultSchema(type: string): z.ZodType {
  const found = Fault.options.find((option) => (option.shape.type as z.ZodLiteral<string>).value === type);
  if (!found) throw new Error(`the scenario schema has no fault shape for type ${type}`);
  return found;
}
