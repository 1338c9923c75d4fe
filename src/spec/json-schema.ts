import type { TargetRegistry } from '../core/registry.js';
import { castleSchema, castleSchemaWith, commonStepProperties } from './schema.js';

/**
 * castle.yaml's JSON Schema for editors (yaml-language-server, VS Code): the one schema in code, with
 * each step list spelled out as "one of the registered step kinds" (qualified, and bare for the
 * generic kinds and the default target's, which a castle selects when it names none) and each target's block with its own schema.
 */
export function castleJsonSchema(registry: TargetRegistry): object {
  const keys = registry.kinds().flatMap((k) => {
    const bare = k.target.name === registry.defaultTarget ? [k.kind.name] : [];
    return [...new Set([k.qualified, ...bare])].map((key) => ({ key, ...k }));
  });
  const step = {
    description: 'a step: exactly one kind key, plus the common fields',
    anyOf: keys.map(({ key, kind }) => ({
      title: key,
      description: kind.description,
      type: 'object',
      additionalProperties: false,
      required: [key],
      properties: { ...commonStepProperties, ...(kind.siblings ?? {}), [key]: { description: kind.description, ...kind.schema } },
    })),
  };
  const blocks = registry.targets().filter((t) => t.block !== undefined);
  const schema = JSON.parse(JSON.stringify(castleSchemaWith(blocks))) as Record<string, any>;
  for (const t of blocks) schema['properties'][t.name] = { description: t.description, ...JSON.parse(JSON.stringify(t.block!.schema)) };
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
  schema['$id'] = castleSchema.$id;
  const layer = schema['properties'].layers.items.properties;
  layer.apply = { type: 'array', items: step };
  layer.destroy = { type: 'array', items: step };
  schema['properties'].rebirth.properties = { gate: { type: 'array', items: step }, proof: { type: 'array', items: step } };
  return schema;
}
