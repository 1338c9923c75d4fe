import type { Diagnostic } from '../../diag/diagnostic.js';
import type { ManifestDoc } from '../documents.js';
import { arr, diag, obj, str } from './context.js';
import { nameProblems } from './names.js';

/**
 * The API server's Go validation of workloads that schemas cannot express, and that otherwise fails
 * only when the manifest is applied: selector vs template labels, container, port and volume names,
 * volume mounts that name no volume. Messages as k8s.io/kubernetes pkg/apis/{core,apps}/validation.
 */

const IANA_SVC = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function ianaSvcNameProblems(v: string): string[] {
  const out: string[] = [];
  if (v.length > 15) out.push('must be no more than 15 characters');
  if (!IANA_SVC.test(v)) out.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (v.includes('--')) out.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(v)) out.push('must contain at least one letter (a-z)');
  return out;
}

function goMap(m: Record<string, unknown>): string {
  return `map[string]string{${Object.keys(m)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(String(m[k]))}`)
    .join(', ')}}`;
}

function podTemplatePath(d: ManifestDoc): (string | number)[] | undefined {
  if (d.apiVersion === 'v1' && d.kind === 'Pod') return [];
  if (d.apiVersion === 'apps/v1' && ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(d.kind)) return ['spec', 'template'];
  if (d.apiVersion === 'batch/v1' && d.kind === 'Job') return ['spec', 'template'];
  if (d.apiVersion === 'batch/v1' && d.kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template'];
  return undefined;
}

function at(v: unknown, path: readonly (string | number)[]): unknown {
  let cur = v;
  for (const p of path) cur = typeof p === 'number' ? (Array.isArray(cur) ? cur[p] : undefined) : obj(cur)?.[p];
  return cur;
}

function fp(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export function checkWorkload(d: ManifestDoc, out: Diagnostic[]): void {
  if (d.apiVersion === 'v1' && d.kind === 'Service') checkServicePorts(d, out);
  const tpl = podTemplatePath(d);
  if (!tpl) return;
  if (d.apiVersion === 'apps/v1' && d.kind !== 'Pod') {
    const match = obj(at(d.value, ['spec', 'selector', 'matchLabels']));
    const labels = obj(at(d.value, [...tpl, 'metadata', 'labels'])) ?? {};
    if (match && Object.entries(match).some(([k, v]) => labels[k] !== v)) {
      const p = [...tpl, 'metadata', 'labels'];
      out.push(
        diag(
          d,
          'error',
          'workload/selector-mismatch',
          `${fp(p)}: Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``,
          obj(at(d.value, p)) ? p : [...tpl, 'metadata'],
          { key: true },
        ),
      );
    }
  }
  const spec = [...tpl, 'spec'];
  const volumes = new Set<string>();
  // a StatefulSet's claim templates are volumes of its pods too
  if (d.kind === 'StatefulSet')
    for (const t of arr(at(d.value, ['spec', 'volumeClaimTemplates'])))
      if (str(obj(obj(t)?.['metadata'])?.['name'])) volumes.add(str(obj(obj(t)?.['metadata'])?.['name'])!);
  arr(at(d.value, [...spec, 'volumes'])).forEach((v, i) => {
    const name = str(obj(v)?.['name']);
    if (name === undefined) return;
    volumes.add(name);
    const p = nameProblems('label', name);
    if (p.length)
      out.push(
        diag(d, 'error', 'names/label', `${fp([...spec, 'volumes', i, 'name'])}: Invalid value: ${JSON.stringify(name)}: ${p.join(', ')}`, [
          ...spec,
          'volumes',
          i,
          'name',
        ]),
      );
  });
  for (const list of ['initContainers', 'containers']) {
    arr(at(d.value, [...spec, list])).forEach((c, i) => {
      const base = [...spec, list, i];
      const name = str(obj(c)?.['name']);
      if (name !== undefined) {
        const p = nameProblems('label', name);
        if (p.length)
          out.push(diag(d, 'error', 'names/label', `${fp([...base, 'name'])}: Invalid value: ${JSON.stringify(name)}: ${p.join(', ')}`, [...base, 'name']));
      }
      arr(obj(c)?.['ports']).forEach((port, j) => {
        const pn = str(obj(port)?.['name']);
        if (pn === undefined) return;
        const p = ianaSvcNameProblems(pn);
        if (p.length)
          out.push(
            diag(d, 'error', 'names/port', `${fp([...base, 'ports', j, 'name'])}: Invalid value: ${JSON.stringify(pn)}: ${p.join(', ')}`, [
              ...base,
              'ports',
              j,
              'name',
            ]),
          );
      });
      arr(obj(c)?.['volumeMounts']).forEach((m, j) => {
        const mn = str(obj(m)?.['name']);
        if (mn !== undefined && !volumes.has(mn))
          out.push(
            diag(d, 'error', 'ref/volume-mount', `${fp([...base, 'volumeMounts', j, 'name'])}: Not found: ${JSON.stringify(mn)}`, [
              ...base,
              'volumeMounts',
              j,
              'name',
            ]),
          );
      });
    });
  }
}

function checkServicePorts(d: ManifestDoc, out: Diagnostic[]): void {
  const ports = arr(at(d.value, ['spec', 'ports']));
  ports.forEach((port, i) => {
    const name = str(obj(port)?.['name']);
    if (name === undefined) {
      if (ports.length > 1) out.push(diag(d, 'error', 'names/port', `spec.ports[${i}].name: Required value`, ['spec', 'ports', i], { key: false }));
      return;
    }
    const p = nameProblems('label', name);
    if (p.length)
      out.push(diag(d, 'error', 'names/port', `spec.ports[${i}].name: Invalid value: ${JSON.stringify(name)}: ${p.join(', ')}`, ['spec', 'ports', i, 'name']));
  });
}
