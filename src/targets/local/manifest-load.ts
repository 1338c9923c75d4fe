import { readFile } from 'node:fs/promises';
import type { Diagnostic } from '../../diag/diagnostic.js';
import { locate, parseYamlSource, type YamlSource } from '../../diag/yaml-source.js';
import type { ManifestDoc } from '../../secrets/external-secret.js';

/** One Kubernetes-style document out of a (multi-document) YAML file. */
export interface LoadedManifest extends ManifestDoc {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly body: Record<string, unknown>;
  readonly yaml: YamlSource;
  readonly doc: number;
  readonly file: string;
}

/** Parses manifest text; documents without apiVersion/kind/metadata.name are diagnostics. */
export function parseManifests(file: string, text: string): { manifests: LoadedManifest[]; diagnostics: Diagnostic[] } {
  const { source, diagnostics } = parseYamlSource(file, text);
  const manifests: LoadedManifest[] = [];
  source.docs.forEach((d, i) => {
    if (d.errors.length > 0) return;
    const body: unknown = d.toJS({ maxAliasCount: 100 });
    if (body === null || body === undefined) return; // empty document (e.g. trailing ---)
    if (typeof body !== 'object' || Array.isArray(body)) {
      diagnostics.push({
        severity: 'error',
        rule: 'manifest/not-object',
        message: 'a manifest document must be a mapping',
        location: locate(source, [], { doc: i }),
      });
      return;
    }
    const b = body as Record<string, unknown>;
    const meta = (typeof b['metadata'] === 'object' && b['metadata'] !== null ? b['metadata'] : {}) as Record<string, unknown>;
    const missing = (['apiVersion', 'kind'] as const).filter((k) => typeof b[k] !== 'string');
    if (typeof meta['name'] !== 'string') missing.push('metadata.name' as never);
    if (missing.length > 0) {
      diagnostics.push({
        severity: 'error',
        rule: 'manifest/missing-field',
        message: `manifest is missing ${missing.join(', ')}`,
        location: locate(source, [], { doc: i }),
        hint: 'every manifest needs apiVersion, kind and metadata.name',
      });
      return;
    }
    manifests.push({
      apiVersion: b['apiVersion'] as string,
      kind: b['kind'] as string,
      name: meta['name'] as string,
      ...(typeof meta['namespace'] === 'string' ? { namespace: meta['namespace'] } : {}),
      body: b,
      yaml: source,
      doc: i,
      file,
    });
  });
  return { manifests, diagnostics };
}

/** Reads and parses manifest files, in order. An unreadable file is a diagnostic. */
export async function loadManifests(files: readonly string[]): Promise<{ manifests: LoadedManifest[]; diagnostics: Diagnostic[] }> {
  const manifests: LoadedManifest[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      diagnostics.push({
        severity: 'error',
        rule: 'manifest/unreadable',
        message: `cannot read manifest file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        hint: 'check the path (relative paths are resolved against castle.yaml)',
      });
      continue;
    }
    const r = parseManifests(file, text);
    manifests.push(...r.manifests);
    diagnostics.push(...r.diagnostics);
  }
  return { manifests, diagnostics };
}
