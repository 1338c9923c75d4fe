import type { JSONSchemaType } from 'ajv';

// The castle.yaml document as written by a user. Step objects are open here: their shape depends on
// the step kind, which is resolved against the registry after this structural check.
export type RawStep = Record<string, unknown>;

export interface RawDefaults {
  timeout?: string;
  retries?: number;
  retryOn?: string[];
  backoff?: string;
  killGrace?: string;
}

export interface RawLayer {
  name: string;
  description?: string;
  /** the target bare step names of this layer refer to (default: the castle's) */
  target?: string;
  dependsOn?: string[];
  apply?: RawStep[];
  destroy?: RawStep[];
}

export interface RawRebirth {
  gate?: RawStep[];
  proof?: RawStep[];
}

export interface RawCastle {
  name: string;
  description?: string;
  budget?: string;
  stateDir?: string;
  concurrency?: number;
  target?: string;
  defaults?: RawDefaults;
  layers: RawLayer[];
  rebirth?: RawRebirth;
}

const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
// The shape of a duration; parseDuration (unit order, no repeats) has the last word in the loader.
export const DURATION = '^(([0-9]+(\\.[0-9]+)?|\\.[0-9]+)|(([0-9]+(\\.[0-9]+)?|\\.[0-9]+)(ms|h|m|s))+)$';
export const DNS1123_LABEL_PATTERN = DNS1123_LABEL;

const stepList = {
  type: 'array',
  nullable: true,
  items: { type: 'object', required: [], additionalProperties: true },
} as const;

const durationField = { type: 'string', nullable: true, pattern: DURATION } as const;

/**
 * The one schema of castle.yaml. `JSONSchemaType<RawCastle>` makes the compiler check it against the
 * TypeScript types above; `npm run schema` writes it (with step kinds filled in) for editors.
 */
export const castleSchema: JSONSchemaType<RawCastle> = {
  $id: 'https://castle.dev/schema/castle.json',
  title: 'Castle',
  description: 'A castle: layers with dependencies, the steps that apply and destroy them, and the rebirth gate and proof.',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'layers'],
  properties: {
    name: { type: 'string', pattern: DNS1123_LABEL, maxLength: 63, description: 'DNS-1123 label naming the castle' },
    description: { type: 'string', nullable: true },
    budget: { ...durationField, description: 'rebirth time the owner promises, e.g. 12m' },
    stateDir: { type: 'string', nullable: true, description: 'run state directory (default .castle beside castle.yaml)' },
    concurrency: { type: 'integer', nullable: true, minimum: 1, maximum: 256 },
    target: {
      type: 'string',
      nullable: true,
      description: "the target whose step kinds bare names refer to (default local); `target.kind` names any target's kind",
    },
    defaults: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: [],
      properties: {
        timeout: durationField,
        retries: { type: 'integer', nullable: true, minimum: 0, maximum: 100 },
        retryOn: { type: 'array', nullable: true, items: { type: 'string' } },
        backoff: durationField,
        killGrace: durationField,
      },
    },
    layers: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: DNS1123_LABEL, maxLength: 63 },
          description: { type: 'string', nullable: true },
          target: { type: 'string', nullable: true, description: "the target bare step names of this layer refer to (default: the castle's target)" },
          dependsOn: { type: 'array', nullable: true, items: { type: 'string' } },
          apply: stepList,
          destroy: stepList,
        },
      },
    },
    rebirth: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      required: [],
      properties: { gate: stepList, proof: stepList },
    },
  },
};

/**
 * The castle schema with one open object per target block (`local:`, `proxmox:`): each block is checked
 * against its target's own schema afterwards, with the target's name in the diagnostics.
 */
export function castleSchemaWith(blocks: readonly { readonly name: string; readonly description: string }[]): object {
  const props: Record<string, object> = { ...castleSchema.properties };
  for (const b of blocks) props[b.name] = { type: 'object', nullable: true, additionalProperties: true, description: b.description };
  // without its $id: one validator is compiled per registry, and ajv keeps ids unique
  const { $id: _id, ...rest } = castleSchema;
  return { ...rest, properties: props };
}

/** Fields every step may carry, whatever its kind. */
export const commonStepProperties = {
  name: { type: 'string', minLength: 1, description: 'label shown in the live view and the report' },
  timeout: { type: 'string', pattern: DURATION, description: 'per-attempt timeout, e.g. 30s' },
  retries: { type: 'integer', minimum: 0, maximum: 100 },
  retryOn: {
    type: 'array',
    items: { type: 'string' },
    description: 'retry only when the output or reason contains one of these (case-insensitive); "timeout" matches a timeout',
  },
  backoff: { type: 'string', pattern: DURATION, description: 'first retry delay, doubled each attempt' },
} as const;
