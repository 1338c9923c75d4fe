import type { Diagnostic, SourceLocation } from '../../diag/diagnostic.js';
import type { ManifestDoc } from '../documents.js';
import { arr, groupOf, locateIn, locRef, obj, str, type LocRef } from './context.js';
import { flat } from '../heap.js';

/** An object a manifest needs to exist, checked once every manifest of the run is known. */
export interface Need {
  readonly kind: 'Secret' | 'ConfigMap' | 'StorageClass' | 'Namespace' | 'SecretStore' | 'ClusterSecretStore';
  readonly namespace: string | undefined;
  readonly name: string;
  readonly at: LocRef;
}

export type Provided = readonly [kind: string, namespace: string | undefined, name: string];

/** What the input set (and the live cluster, when given) provides. */
export class ObjectIndex {
  readonly #set = new Set<string>();

  constructor() {
    for (const ns of BUILTIN_NAMESPACES) this.add(['Namespace', undefined, ns]);
  }

  /**
   * the key of an object in the index: what crosses from a worker thread instead of the object (see PackedAnalysis).
   * Made of slices of a file's text: the index holds flat copies (addKey), a lookup needs none.
   */
  static key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}|${namespace ?? ''}|${name}`;
  }

  add([kind, namespace, name]: Provided): void {
    this.addKey(ObjectIndex.key(kind, namespace, name));
  }

  addKey(key: string): void {
    this.#set.add(flat(key));
  }

  /** keys held */
  get size(): number {
    return this.#set.size;
  }

  has(kind: string, namespace: string | undefined, name: string): boolean {
    return this.#set.has(ObjectIndex.key(kind, namespace, name));
  }

  hasKey(key: string): boolean {
    return this.#set.has(key);
  }
}

const BUILTIN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** Secrets are made by many kinds: ESO, PGO, cert-manager, sealed-secrets all count as providers. */
/** `storageClass: {name, enabled}` / `storageClasses: [{name}]` anywhere in a HelmRelease's values (not disabled) */
function storageClassesIn(v: unknown, depth: number): string[] {
  if (depth > 12 || typeof v !== 'object' || v === null) return [];
  if (Array.isArray(v)) return v.flatMap((x) => storageClassesIn(x, depth + 1));
  const out: string[] = [];
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (/^storageClass(es)?$/i.test(k)) {
      for (const sc of Array.isArray(x) ? x : [x]) {
        const o = obj(sc);
        if (o && typeof o['name'] === 'string' && o['enabled'] !== false) out.push(o['name']);
      }
    }
    out.push(...storageClassesIn(x, depth + 1));
  }
  return out;
}

export function provides(d: ManifestDoc): Provided[] {
  const out: Provided[] = [];
  const ns = d.namespace ?? 'default';
  const spec = obj(d.value['spec']);
  const group = groupOf(d.apiVersion);
  switch (d.kind) {
    case 'Namespace':
    case 'StorageClass':
    case 'ClusterSecretStore':
      out.push([d.kind, undefined, d.name]);
      break;
    case 'ExternalSecret':
      if (group === 'external-secrets.io') out.push(['Secret', ns, str(obj(spec?.['target'])?.['name']) ?? d.name]);
      break;
    case 'SealedSecret':
      out.push(['Secret', ns, d.name]);
      break;
    case 'Certificate':
      if (str(spec?.['secretName'])) out.push(['Secret', ns, str(spec?.['secretName'])!]);
      break;
    case 'PostgresCluster': {
      const users = arr(spec?.['users']);
      if (users.length === 0) out.push(['Secret', ns, `${d.name}-pguser-${d.name}`]);
      for (const u of users) {
        const n = str(obj(u)?.['name']);
        if (n) out.push(['Secret', ns, `${d.name}-pguser-${n}`]);
      }
      break;
    }
    case 'HelmRelease': {
      const target = str(spec?.['targetNamespace']);
      if (target && obj(spec?.['install'])?.['createNamespace'] === true) out.push(['Namespace', undefined, target]);
      // charts are not rendered offline; the StorageClasses their values name (rook-ceph, longhorn, openebs) are what they create
      for (const name of storageClassesIn(spec?.['values'], 0)) out.push(['StorageClass', undefined, name]);
      break;
    }
    default:
      break;
  }
  out.push([d.kind, d.kind === 'Namespace' ? undefined : ns, d.name]);
  return out;
}

/** What names the object a reference needs: all that decides whether it is met, and its warning's text. */
export type NeedTarget = Pick<Need, 'kind' | 'namespace' | 'name'>;

/** The warning for a need nothing provides. */
export function missingNeed(n: NeedTarget, location: SourceLocation): Diagnostic {
  const scoped = n.kind === 'Secret' || n.kind === 'ConfigMap' || n.kind === 'SecretStore';
  return {
    severity: 'warning',
    rule: 'ref/missing',
    message: `${n.kind} ${JSON.stringify(n.name)} is not defined in the validated manifests${scoped ? ` (namespace ${n.namespace})` : ''}`,
    location,
  };
}

export function needIsMet(n: NeedTarget, ix: ObjectIndex): boolean {
  return ix.hasKey(needKey(n));
}

/** the ObjectIndex key of the object that meets `n` */
export function needKey(n: NeedTarget): string {
  return ObjectIndex.key(n.kind, n.kind === 'Secret' || n.kind === 'ConfigMap' || n.kind === 'SecretStore' ? n.namespace : undefined, n.name);
}

function podSpecPath(d: ManifestDoc): (string | number)[] | undefined {
  if (d.kind === 'Pod' && d.apiVersion === 'v1') return ['spec'];
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(d.kind) && d.apiVersion === 'apps/v1') return ['spec', 'template', 'spec'];
  if (d.kind === 'Job' && d.apiVersion === 'batch/v1') return ['spec', 'template', 'spec'];
  if (d.kind === 'CronJob' && d.apiVersion === 'batch/v1') return ['spec', 'jobTemplate', 'spec', 'template', 'spec'];
  return undefined;
}

function at(v: unknown, path: readonly (string | number)[]): unknown {
  let cur = v;
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = obj(cur)?.[p];
  }
  return cur;
}

/** The objects `d` refers to (checked later against every manifest), and the ExternalSecret template check. */
export function checkReferences(d: ManifestDoc, needs: Need[], out: Diagnostic[]): void {
  const ns = d.namespace ?? 'default';
  const missing = (kind: Need['kind'], name: string, path: (string | number)[]): void => {
    needs.push({ kind, namespace: ns, name, at: locRef(d, path) });
  };
  if (d.namespace) missing('Namespace', d.namespace, ['metadata', 'namespace']);
  const secretRef = (name: unknown, path: (string | number)[], optional: unknown): void => {
    if (typeof name === 'string' && optional !== true) missing('Secret', name, path);
  };
  const configMapRef = (name: unknown, path: (string | number)[], optional: unknown): void => {
    if (typeof name === 'string' && optional !== true) missing('ConfigMap', name, path);
  };
  const storageClass = (name: unknown, path: (string | number)[]): void => {
    if (typeof name === 'string' && name !== '') missing('StorageClass', name, path);
  };
  const pod = podSpecPath(d);
  if (pod) {
    const spec = obj(at(d.value, pod));
    arr(spec?.['volumes']).forEach((vol, i) => {
      const v = obj(vol);
      const s = obj(v?.['secret']);
      if (s) secretRef(s['secretName'], [...pod, 'volumes', i, 'secret', 'secretName'], s['optional']);
      const c = obj(v?.['configMap']);
      if (c) configMapRef(c['name'], [...pod, 'volumes', i, 'configMap', 'name'], c['optional']);
      arr(obj(v?.['projected'])?.['sources']).forEach((src, j) => {
        const ps = obj(obj(src)?.['secret']);
        if (ps) secretRef(ps['name'], [...pod, 'volumes', i, 'projected', 'sources', j, 'secret', 'name'], ps['optional']);
        const pc = obj(obj(src)?.['configMap']);
        if (pc) configMapRef(pc['name'], [...pod, 'volumes', i, 'projected', 'sources', j, 'configMap', 'name'], pc['optional']);
      });
    });
    for (const list of ['containers', 'initContainers']) {
      arr(spec?.[list]).forEach((c, i) => {
        arr(obj(c)?.['env']).forEach((e, j) => {
          const vf = obj(obj(e)?.['valueFrom']);
          const sk = obj(vf?.['secretKeyRef']);
          if (sk) secretRef(sk['name'], [...pod, list, i, 'env', j, 'valueFrom', 'secretKeyRef', 'name'], sk['optional']);
          const ck = obj(vf?.['configMapKeyRef']);
          if (ck) configMapRef(ck['name'], [...pod, list, i, 'env', j, 'valueFrom', 'configMapKeyRef', 'name'], ck['optional']);
        });
        arr(obj(c)?.['envFrom']).forEach((e, j) => {
          const sr = obj(obj(e)?.['secretRef']);
          if (sr) secretRef(sr['name'], [...pod, list, i, 'envFrom', j, 'secretRef', 'name'], sr['optional']);
          const cr = obj(obj(e)?.['configMapRef']);
          if (cr) configMapRef(cr['name'], [...pod, list, i, 'envFrom', j, 'configMapRef', 'name'], cr['optional']);
        });
      });
    }
    arr(spec?.['imagePullSecrets']).forEach((s, i) => secretRef(obj(s)?.['name'], [...pod, 'imagePullSecrets', i, 'name'], false));
  }
  if (d.kind === 'PersistentVolumeClaim') storageClass(at(d.value, ['spec', 'storageClassName']), ['spec', 'storageClassName']);
  if (d.kind === 'StatefulSet') {
    arr(at(d.value, ['spec', 'volumeClaimTemplates'])).forEach((t, i) =>
      storageClass(at(t, ['spec', 'storageClassName']), ['spec', 'volumeClaimTemplates', i, 'spec', 'storageClassName']),
    );
  }
  const group = groupOf(d.apiVersion);
  if (d.kind === 'PostgresCluster' && group === 'postgres-operator.crunchydata.com') {
    arr(at(d.value, ['spec', 'instances'])).forEach((inst, i) =>
      storageClass(at(inst, ['dataVolumeClaimSpec', 'storageClassName']), ['spec', 'instances', i, 'dataVolumeClaimSpec', 'storageClassName']),
    );
    arr(at(d.value, ['spec', 'backups', 'pgbackrest', 'repos'])).forEach((r, i) =>
      storageClass(at(r, ['volume', 'volumeClaimSpec', 'storageClassName']), [
        'spec',
        'backups',
        'pgbackrest',
        'repos',
        i,
        'volume',
        'volumeClaimSpec',
        'storageClassName',
      ]),
    );
    for (const base of [
      ['spec', 'backups', 'pgbackrest'],
      ['spec', 'dataSource', 'pgbackrest'],
    ]) {
      arr(at(d.value, [...base, 'configuration'])).forEach((c, i) => {
        const s = obj(obj(c)?.['secret']);
        if (s) secretRef(s['name'], [...base, 'configuration', i, 'secret', 'name'], s['optional']);
      });
    }
  }
  if (d.kind === 'PostgresCluster' && group === 'postgres-operator.crunchydata.com') {
    const init = obj(at(d.value, ['spec', 'databaseInitSQL']));
    if (init) configMapRef(init['name'], ['spec', 'databaseInitSQL', 'name'], false);
  }
  if (d.kind === 'ExternalSecret' && group === 'external-secrets.io') checkExternalSecret(d, out, missing);
}

/** a key a Go template reads: `{{ .KEY }}` or `{{ index . "KEY" }}` (one RegExp, its lastIndex reset per text: a literal in the loop is a new object per value) */
const TEMPLATE_KEY = /\{\{-?\s*(?:\.([A-Za-z_][A-Za-z0-9_]*)|index\s+\.\s+"([^"]+)")/g;

function checkExternalSecret(d: ManifestDoc, out: Diagnostic[], missing: (kind: Need['kind'], name: string, path: (string | number)[]) => void): void {
  const spec = obj(d.value['spec']);
  const storeRef = obj(spec?.['secretStoreRef']);
  const storeName = str(storeRef?.['name']);
  const storeKind = str(storeRef?.['kind']) ?? 'SecretStore';
  // the kind as a constant, not the document's string: a slice of its file's text, which a held reference would keep
  if (storeName && (storeKind === 'ClusterSecretStore' || storeKind === 'SecretStore'))
    missing(storeKind === 'SecretStore' ? 'SecretStore' : 'ClusterSecretStore', storeName, ['spec', 'secretStoreRef', 'name']);
  // template keys must be keys this ExternalSecret fetches, or the rendered Secret has "<no value>"
  if (arr(spec?.['dataFrom']).length > 0) return;
  const keys = new Set(
    arr(spec?.['data'])
      .map((x) => str(obj(x)?.['secretKey']))
      .filter((x): x is string => !!x),
  );
  const tdata = obj(obj(obj(spec?.['target'])?.['template'])?.['data']);
  for (const [tk, tv] of Object.entries(tdata ?? {})) {
    if (typeof tv !== 'string') continue;
    const re = TEMPLATE_KEY;
    re.lastIndex = 0;
    for (let m = re.exec(tv); m; m = re.exec(tv)) {
      const key = m[1] ?? m[2]!;
      if (keys.has(key)) continue;
      const base = locateIn(d, ['spec', 'target', 'template', 'data', tk]);
      const loc = refine(d, base, m[1] !== undefined ? `.${key}` : `"${key}"`);
      out.push({
        severity: 'error',
        rule: 'ref/template-key',
        message: `template of ${JSON.stringify(tk)} uses .${key}, which is not a secretKey of spec.data (${[...keys].map((k) => JSON.stringify(k)).join(', ') || 'none'})`,
        location: loc,
        hint: `add a spec.data entry with secretKey: ${key}, or fix the template`,
      });
    }
  }
}

/** Moves a location from a block scalar's start to the first occurrence of `needle` inside it. */
function refine(d: ManifestDoc, loc: ReturnType<typeof locateIn>, needle: string): ReturnType<typeof locateIn> {
  const start = d.pos.offsetOf(loc.line, loc.col);
  const i = d.pos.text.indexOf(needle, start);
  if (i === -1) return loc;
  const p = d.pos.pos(i);
  return { file: loc.file, line: p.line, col: p.col, length: needle.length };
}
