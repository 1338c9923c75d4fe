import { isScalar, type Node } from 'yaml';
import type { Analysis, Diagnostic, SourceLocation } from '../diag/diagnostic.js';
import { locate, offsetLocation, type PathSeg, type YamlSource } from '../diag/yaml-source.js';
import { Redactor } from './redactor.js';
import type { SecretSource } from './source.js';
import { renderTemplate } from './template.js';

/** A manifest document with, when known, the YAML it came from (for locations in diagnostics). */
export interface ManifestDoc {
  readonly body: unknown;
  readonly yaml?: YamlSource;
  /** index of the document inside `yaml` */
  readonly doc?: number;
}

export interface RenderedSecret {
  /** the Secret's name (`spec.target.name`, else the ExternalSecret's name) */
  readonly name: string;
  readonly namespace?: string;
  /** the Secret's data, decoded (values are secrets) */
  readonly data: Record<string, string>;
  /** the source keys that were read */
  readonly sourceKeys: readonly string[];
}

export interface RenderOptions {
  /** every value read from the source and every rendered value is registered here */
  readonly redactor?: Redactor;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function locateIn(m: ManifestDoc, path: readonly PathSeg[], key = false): SourceLocation | undefined {
  return m.yaml ? locate(m.yaml, path, { doc: m.doc ?? 0, key }) : undefined;
}

function diag(rule: string, message: string, location: SourceLocation | undefined, hint?: string): Diagnostic {
  return { severity: 'error', rule, message, ...(location ? { location } : {}), ...(hint ? { hint } : {}) };
}

/**
 * Renders an ExternalSecret (external-secrets.io v1beta1/v1) against `source` the way ESO would
 * build its target Secret: `spec.data` entries fetched by `remoteRef.key` (optionally `.property` of a
 * JSON value), then `spec.target.template` (engineVersion v2 subset) if present.
 * Every problem is a diagnostic located in the manifest; no message ever contains a secret value.
 */
export async function renderExternalSecret(manifest: ManifestDoc, source: SecretSource, opts: RenderOptions = {}): Promise<Analysis<RenderedSecret>> {
  const b = manifest.body;
  const diags: Diagnostic[] = [];
  if (!isObj(b) || b['kind'] !== 'ExternalSecret') {
    return { ok: false, diagnostics: [diag('secrets/not-external-secret', 'expected a manifest of kind ExternalSecret', locateIn(manifest, ['kind']))] };
  }
  const meta = isObj(b['metadata']) ? b['metadata'] : {};
  const esName = typeof meta['name'] === 'string' ? meta['name'] : '<unnamed>';
  const namespace = typeof meta['namespace'] === 'string' ? meta['namespace'] : undefined;
  const spec = isObj(b['spec']) ? b['spec'] : {};
  const target = isObj(spec['target']) ? spec['target'] : {};
  const name = typeof target['name'] === 'string' && target['name'] !== '' ? target['name'] : esName;
  const what = `ExternalSecret '${esName}'`;

  if (spec['dataFrom'] !== undefined) {
    diags.push(
      diag(
        'secrets/unsupported-field',
        `${what}: spec.dataFrom is not supported by the local renderer`,
        locateIn(manifest, ['spec', 'dataFrom'], true),
        'list each key under spec.data with a remoteRef.key instead',
      ),
    );
  }

  const values = new Map<string, string>();
  const sourceKeys: string[] = [];
  // Values read so far, to mask a failing source's message even without a caller's redactor.
  const seen = new Redactor();
  const data = Array.isArray(spec['data']) ? spec['data'] : [];
  for (let i = 0; i < data.length; i++) {
    const entry = data[i];
    const at = ['spec', 'data', i];
    if (!isObj(entry) || typeof entry['secretKey'] !== 'string' || !isObj(entry['remoteRef']) || typeof entry['remoteRef']['key'] !== 'string') {
      diags.push(
        diag(
          'secrets/bad-data-entry',
          `${what}: spec.data[${i}] needs secretKey and remoteRef.key`,
          locateIn(manifest, at),
          'write `- secretKey: NAME` with `remoteRef: {key: NAME}`',
        ),
      );
      continue;
    }
    const remote = entry['remoteRef'];
    const key = remote['key'] as string;
    let value: string | undefined;
    try {
      value = await source.get(key);
    } catch (e) {
      const msg = seen.redact(opts.redactor ? opts.redactor.redactError(e) : seen.redactError(e));
      diags.push(
        diag('secrets/source-failed', `${what}: reading '${key}' from ${source.description} failed: ${msg}`, locateIn(manifest, [...at, 'remoteRef', 'key'])),
      );
      continue;
    }
    if (value === undefined) {
      diags.push(
        diag(
          'secrets/missing-key',
          `${what}: key '${key}' (spec.data[${i}].remoteRef.key) is not in ${source.description}`,
          locateIn(manifest, [...at, 'remoteRef', 'key']),
          `add ${key} to ${source.description}`,
        ),
      );
      continue;
    }
    opts.redactor?.add(value);
    seen.add(value);
    sourceKeys.push(key);
    if (typeof remote['property'] === 'string') {
      const prop = remote['property'];
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = undefined;
      }
      const pv = isObj(parsed) ? parsed[prop] : undefined;
      if (pv === undefined) {
        diags.push(
          diag(
            'secrets/missing-property',
            `${what}: '${key}' is not a JSON object with property '${prop}'`,
            locateIn(manifest, [...at, 'remoteRef', 'property']),
          ),
        );
        continue;
      }
      value = typeof pv === 'string' ? pv : JSON.stringify(pv);
      opts.redactor?.add(value);
    }
    values.set(entry['secretKey'], value);
  }
  if (diags.length > 0) return { ok: false, diagnostics: diags };

  const template = isObj(target['template']) ? target['template'] : undefined;
  if (!template) return { ok: true, value: { name, ...(namespace ? { namespace } : {}), data: Object.fromEntries(values), sourceKeys }, warnings: [] };

  const tplAt = ['spec', 'target', 'template'];
  const engine = template['engineVersion'] ?? 'v2';
  if (engine !== 'v2') {
    diags.push(
      diag(
        'secrets/unsupported-engine',
        `${what}: template engineVersion '${String(engine)}' is not supported (only v2)`,
        locateIn(manifest, [...tplAt, 'engineVersion']),
        'use engineVersion: v2',
      ),
    );
  }
  if (template['templateFrom'] !== undefined) {
    diags.push(
      diag(
        'secrets/unsupported-field',
        `${what}: template.templateFrom is not supported by the local renderer`,
        locateIn(manifest, [...tplAt, 'templateFrom'], true),
        'inline the templates under template.data',
      ),
    );
  }
  const merge = template['mergePolicy'] ?? 'Replace';
  if (merge !== 'Replace' && merge !== 'Merge') {
    diags.push(diag('secrets/bad-merge-policy', `${what}: template.mergePolicy must be Replace or Merge`, locateIn(manifest, [...tplAt, 'mergePolicy'])));
  }
  const out: Record<string, string> = merge === 'Merge' ? Object.fromEntries(values) : {};
  const tdata = isObj(template['data']) ? template['data'] : {};
  for (const [k, tpl] of Object.entries(tdata)) {
    if (typeof tpl !== 'string') {
      diags.push(diag('secrets/bad-template', `${what}: template.data.${k} must be a string`, locateIn(manifest, [...tplAt, 'data', k])));
      continue;
    }
    const r = renderTemplate(tpl, values);
    if (!r.ok) {
      const known = [...values.keys()].join(', ') || 'none';
      diags.push(
        diag(
          'secrets/template-error',
          `${what}: template '${k}': ${r.message}`,
          templateLocation(manifest, [...tplAt, 'data', k], tpl, r.offset, r.length),
          r.message.startsWith('map has no entry') ? `template keys come from spec.data[].secretKey (known: ${known})` : undefined,
        ),
      );
      continue;
    }
    opts.redactor?.add(r.text);
    out[k] = r.text;
  }
  if (diags.length > 0) return { ok: false, diagnostics: diags };
  return { ok: true, value: { name, ...(namespace ? { namespace } : {}), data: out, sourceKeys }, warnings: [] };
}

/** Maps an offset inside a template string back to the file, through block scalars' indentation. */
function templateLocation(m: ManifestDoc, path: PathSeg[], tpl: string, offset: number, length: number): SourceLocation | undefined {
  const fallback = locateIn(m, path);
  const y = m.yaml;
  if (!y) return fallback;
  const node = y.docs[m.doc ?? 0]?.getIn(path, true) as Node | undefined;
  if (!node || !isScalar(node) || !node.range) return fallback;
  const before = tpl.slice(0, offset);
  const lineIdx = before.split('\n').length - 1;
  const colInLine = offset - (before.lastIndexOf('\n') + 1);
  const start = node.range[0];
  if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
    const headerEnd = y.text.indexOf('\n', start);
    if (headerEnd === -1) return fallback;
    // Skip blank lines the scalar keeps, then measure the content indentation.
    const firstLine =
      y.text
        .slice(headerEnd + 1)
        .split('\n')
        .find((l) => l.trim() !== '') ?? '';
    const indent = firstLine.length - firstLine.trimStart().length;
    const headerLine = y.lineCounter.linePos(start).line;
    return { file: y.file, line: headerLine + 1 + lineIdx, col: indent + colInLine + 1, length };
  }
  if (lineIdx === 0) {
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    return { ...offsetLocation(y, start + quoted + offset), length };
  }
  return fallback;
}
