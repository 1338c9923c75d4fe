import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
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

/**
 * The CRDs Castle checks against by default: the shipped ones (schemas/crds), then the newest release
 * of each operator in schemas/operators (`eso/2.9.0.yaml.gz`), whose versions replace the older ones.
 */
export function defaultCrdFiles(root: string): string[] {
  const files = readdirSync(join(root, 'schemas/crds'))
    .filter((n) => /\.ya?ml$/.test(n))
    .map((n) => join(root, 'schemas/crds', n));
  const operators = join(root, 'schemas/operators');
  if (existsSync(operators)) {
    for (const op of readdirSync(operators)) {
      const newest = readdirSync(join(operators, op))
        .filter((n) => /^\d+\.\d+\.\d+\.ya?ml(\.gz)?$/.test(n))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .pop();
      if (newest) files.push(join(operators, op, newest));
    }
  }
  return files;
}

/** `{kind}_{version}.json` (lower case) for every version of every CRD in `files`; returns the -schema-location template */
export function writeKubeconformSchemas(files: readonly string[], out: string): string {
  mkdirSync(out, { recursive: true });
  for (const f of files) {
    const raw = readFileSync(f);
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    for (const doc of parseAllDocuments(text)) {
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
