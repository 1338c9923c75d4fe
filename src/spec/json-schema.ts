import type { KindRegistry } from '../targets/kind.js';
import { castleSchema, commonStepProperties } from './schema.js';

/**
 * castle.yaml's JSON Schema for editors (yaml-language-server, VS Code): the one schema in code, with
 * each step list spelled out as "one of the registered step kinds".
 */
export function castleJsonSchema(registry: KindRegistry): object {
  const step = {
    description: 'a step: exactly one kind key, plus the common fields',
    anyOf: registry.all().map((kind) => ({
      title: kind.name,
      description: kind.description,
      type: 'object',
      additionalProperties: false,
      required: [kind.name],
      properties: { ...commonStepProperties, ...(kind.siblings ?? {}), [kind.name]: { description: kind.description, ...kind.schema } },
    })),
  };
  const schema = JSON.parse(JSON.stringify(castleSchema)) as Record<string, any>;
  // ajv's `nullable` is not JSON Schema: editors would reject null-free documents otherwise fine.
  const strip = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(strip);
    else if (v && typeof v === 'object') {
      delete (v as Record<string, unknown>)['nullable'];
      Object.values(v).forEach(strip);
    }
  };
  strip(schema);
  schema['$schema'] = 'http://json-schema.org/draft-07/schema#';
  const layer = schema['properties'].layers.items.properties;
  layer.apply = { type: 'array', items: step };
  layer.destroy = { type: 'array', items: step };
  schema['properties'].rebirth.properties = { gate: { type: 'array', items: step }, proof: { type: 'array', items: step } };
  return schema;
}
