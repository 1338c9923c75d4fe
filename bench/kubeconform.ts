import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * kubeconform for `npm run bench -- validate`: the binary (`KUBECONFORM=/path`, else on PATH) and
 * JSON schemas for Castle's shipped CRDs, written as kubeconform's own scripts/openapi2jsonschema.py
 * (v0.6.4) writes them, so both tools check the same documents against the same schemas offline.
 *
 * kubeconform is not an npm package: build it from source with the Go toolchain (Debian's golang-go
 * 1.19 builds v0.6.4 from its vendor directory, no network): `git clone -b v0.6.4
 * https://github.com/yannh/kubeconform && cd kubeconform && go build -mod=vendor -o ~/bin/kubeconform ./cmd/kubeconform`.
 */
export function findKubeconform(): string | undefined {
  const env = process.env['KUBECONFORM'];
  if (env && existsSync(env)) return env;
  for (const d of (process.env['PATH'] ?? '').split(delimiter)) if (d && existsSync(join(d, 'kubeconform'))) return join(d, 'kubeconform');
  return undefined;
}

/** openapi2jsonschema.py's additional_properties: every object with properties below the root gets additionalProperties: false */
function additionalProperties(data: unknown, skip: boolean): unknown {
  if (Array.isArray(data)) {
    for (const v of data) additionalProperties(v, false);
  } else if (typeof data === 'object' && data !== null) {
    const o = data as Record<string, unknown>;
    if ('properties' in o && !skip && !('additionalProperties' in o)) o['additionalProperties'] = false;
    for (const v of Object.values(o)) additionalProperties(v, false);
  }
  return data;
}

/** openapi2jsonschema.py's replace_int_or_string */
function replaceIntOrString(data: unknown): unknown {
  if (Array.isArray(data)) return data.map(replaceIntOrString);
  if (typeof data !== 'object' || data === null) return data;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && (v as Record<string, unknown>)['format'] === 'int-or-string')
      out[k] = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
    else out[k] = replaceIntOrString(v);
  }
  return out;
}

/** `{kind}_{version}.json` (lower case) for every version of every CRD in `crdDir`; returns the -schema-location template */
export function writeKubeconformSchemas(crdDir: string, out: string): string {
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(crdDir).filter((n) => /\.ya?ml$/.test(n))) {
    for (const doc of parseAllDocuments(readFileSync(join(crdDir, f), 'utf8'))) {
      const crd = doc.toJS() as { kind?: string; spec?: { names: { kind: string }; versions?: { name: string; schema?: { openAPIV3Schema?: unknown } }[] } };
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions ?? []) {
        if (!v.schema?.openAPIV3Schema) continue;
        const schema = replaceIntOrString(additionalProperties(v.schema.openAPIV3Schema, true));
        writeFileSync(join(out, `${crd.spec.names.kind}_${v.name}`.toLowerCase() + '.json'), `${JSON.stringify(schema, null, 2)}\n`);
      }
    }
  }
  return join(out, '{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json');
}
