import { describe, it, expect } from 'vitest';
import { jsonSchema } from '../../../scenarios/json-schema.js';

describe('jsonSchema', () => {
  it('is valid JSON with the Scenario properties', () => {
    const schema = JSON.parse(JSON.stringify(jsonSchema('Scenario'))) as {
      properties: Record<string, unknown>;
      required: string[];
      additionalProperties: boolean;
    };
    expect(Object.keys(schema.properties)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(schema.required).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(schema.additionalProperties).toBe(false);
    const spec = schema.properties['spec'] as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(spec.properties)).toEqual(expect.arrayContaining(['type', 'plan', 'targets', 'schedule', 'target', 'faults', 'probes', 'checks']));
    // io: 'input' — fields with defaults are optional for the person writing the file.
    expect(spec.required).toEqual(['type', 'plan']);
  });

  it('lets a plan list only some tiers', () => {
    const plan = jsonSchema('ContinuityPlan') as { properties: { spec: { properties: { testPolicy: { required?: string[] } } } } };
    expect(plan.properties.spec.properties.testPolicy.required).toBeUndefined();
  });

  it('tells editors about rationale and environment classes', () => {
    const scenario = jsonSchema('Scenario') as { properties: { spec: { properties: { rationale: { properties: Record<string, { enum?: string[] }> } } } } };
    expect(scenario.properties.spec.properties.rationale.properties['likelihood']!.enum).toEqual(['low', 'medium', 'high']);
    const plan = jsonSchema('ContinuityPlan') as {
      properties: { spec: { properties: { environments: { additionalProperties: { properties: { class: { enum: string[] } } } } } } };
    };
    expect(plan.properties.spec.properties.environments.additionalProperties.properties.class.enum).toEqual(['production', 'non-production', 'sandbox']);
  });

  it('covers every kind when no kind is given', () => {
    const schema = JSON.parse(JSON.stringify(jsonSchema())) as { oneOf: Array<{ $ref: string }>; $defs: Record<string, { $schema?: string; properties: { kind: { const: string } } }> };
    expect(schema.oneOf.map((option) => option.$ref)).toEqual(['#/$defs/Scenario', '#/$defs/ContinuityPlan', '#/$defs/ExerciseAnswers']);
    expect(schema.$defs['Scenario']!.properties.kind.const).toBe('Scenario');
    expect(schema.$defs['ContinuityPlan']!.properties.kind.const).toBe('ContinuityPlan');
    expect(schema.$defs['Scenario']!.$schema).toBeUndefined();
  });
});
