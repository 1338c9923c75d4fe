// Talos machine configs and patches checked against Talos's own JSON Schema (schemas/talos, MPL-2.0),
// with file:line:col for every finding. A config is several YAML documents: the v1alpha1 document (no
// `kind`) and typed documents (`apiVersion: v1alpha1`, `kind: HostnameConfig`, ...), each checked
// against its own definition rather than the schema's top-level oneOf, whose errors would be noise.
// A patch (strategic merge) is partial: it is checked with `required` dropped.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Diagnostic } from '../../diag/diagnostic.js';
import { locate, parseYamlSource, type PathSeg } from '../../diag/yaml-source.js';

type Json = Record<string, any>;

const schemaFile = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'schemas', 'talos', 'config.schema.json');

let compiled: { full: (def: string) => ValidateFunction; partial: (def: string) => ValidateFunction; byKind: Map<string, string> } | undefined;

function dropRequired(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropRequired);
  if (v && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) if (k !== 'required') out[k] = dropRequired(x);
    return out;
  }
  return v;
}

function validators(): NonNullable<typeof compiled> {
  if (compiled) return compiled;
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Json;
  const byKind = new Map<string, string>();
  for (const [name, def] of Object.entries(schema['$defs'] as Record<string, Json>)) {
    const kind = def['properties']?.['kind']?.['enum']?.[0];
    if (typeof kind === 'string') byKind.set(kind, name);
  }
  const make = (s: Json) => {
    // the schema carries editor keywords (markdownDescription, x-intellij-html-description): not strict
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(s, 'talos');
    const fns = new Map<string, ValidateFunction>();
    return (def: string) => {
      let f = fns.get(def);
      if (!f) fns.set(def, (f = ajv.compile({ $ref: `talos#/$defs/${def}` })));
      return f;
    };
  };
  compiled = { full: make(schema), partial: make(dropRequired(schema) as Json), byKind };
  return compiled;
}

function pathOf(e: ErrorObject): PathSeg[] {
  return e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function message(e: ErrorObject): { text: string; key: boolean; extra?: PathSeg } {
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(document)';
  switch (e.keyword) {
    case 'additionalProperties': {
      const p = String((e.params as { additionalProperty: string }).additionalProperty);
      return { text: `${at === '(document)' ? '' : `${at}.`}${p}: unknown field (not in the Talos machine config schema)`, key: true, extra: p };
    }
    case 'enum':
      return {
        text: `${at}: must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`,
        key: false,
      };
    case 'required':
      return { text: `${at}: missing required field ${(e.params as { missingProperty: string }).missingProperty}`, key: true };
    default:
      return { text: `${at}: ${e.message ?? e.keyword}`, key: false };
  }
}

/**
 * Checks one file of machine-config documents (a generated config, or a patch with `patch: true`).
 * RFC 6902 JSON patches (a YAML/JSON list) are not machine-config documents and are left alone.
 */
export function checkMachineConfig(file: string, text: string, o: { patch?: boolean } = {}): Diagnostic[] {
  const { source, diagnostics } = parseYamlSource(file, text);
  if (diagnostics.length) return diagnostics;
  const v = validators();
  const out: Diagnostic[] = [];
  source.docs.forEach((doc, i) => {
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined || Array.isArray(value)) return;
    if (typeof value !== 'object') {
      out.push({
        severity: 'error',
        rule: 'talos/not-a-document',
        message: 'a machine-config document must be a mapping',
        location: locate(source, [], { doc: i }),
      });
      return;
    }
    const d = value as Json;
    let def: string | undefined;
    if (d['kind'] === undefined) def = 'v1alpha1.Config';
    else def = v.byKind.get(String(d['kind']));
    if (!def) {
      out.push({
        severity: 'error',
        rule: 'talos/unknown-kind',
        message: `unknown machine-config document kind ${JSON.stringify(d['kind'])}`,
        location: locate(source, ['kind'], { doc: i }),
        hint: 'see the Talos configuration reference for the document kinds',
      });
      return;
    }
    const fn = (o.patch ? v.partial : v.full)(def);
    if (fn(d)) return;
    const seen = new Set<string>();
    const legacy = def === 'v1alpha1.Config';
    for (const e of fn.errors ?? []) {
      const m = message(e);
      if (seen.has(m.text)) continue;
      seen.add(m.text);
      const path = pathOf(e);
      // Since Talos 1.14 most v1alpha1 fields moved to typed documents and left the schema, yet still
      // work (deprecated): in the v1alpha1 document an unknown field may be one of them, or a typo
      const unknownLegacy = legacy && e.keyword === 'additionalProperties';
      out.push({
        severity: unknownLegacy ? 'warning' : 'error',
        rule: e.keyword === 'additionalProperties' ? (unknownLegacy ? 'talos/not-in-schema' : 'talos/unknown-field') : `talos/${e.keyword}`,
        message: unknownLegacy
          ? m.text.replace(
              'unknown field (not in the Talos machine config schema)',
              "not in Talos's machine-config schema: a v1alpha1 field deprecated since Talos 1.14 (now a document of its own), or misspelt",
            )
          : m.text,
        location: locate(source, m.extra !== undefined ? [...path, m.extra] : path, { doc: i, key: m.key }),
        hint: unknownLegacy
          ? 'move it to its configuration document (see the Talos configuration reference)'
          : e.keyword === 'additionalProperties'
            ? 'check the spelling against the Talos configuration reference'
            : 'see the Talos configuration reference',
      });
    }
  });
  return out;
}

export function checkMachineConfigFile(file: string, o: { patch?: boolean } = {}): Diagnostic[] {
  return checkMachineConfig(file, readFileSync(file, 'utf8'), o);
}

/** `file:line:col: message` (`warning: ` before a warning's message) */
export function formatDiagnostic(d: Diagnostic): string {
  const l = d.location;
  return `${l ? `${l.file}:${l.line}:${l.col}: ` : ''}${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

export const talosSchemaPath = (): string => schemaFile;
