import type { Diagnostic } from '../../diag/diagnostic.js';
import type { ManifestDoc } from '../documents.js';
import { arr, diag, groupOf, obj, str } from './context.js';

/** The name rules of k8s.io/apimachinery/pkg/util/validation, with its exact messages. */
const LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const MSG_LABEL =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const MSG_SUBDOMAIN =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const MSG_DNS1035 =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const MSG_QUALIFIED =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const MSG_LABEL_VALUE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

export type NameRule = 'label' | 'subdomain' | 'dns1035' | 'path-segment';

/** undefined when valid, else the API server's reasons */
export function nameProblems(rule: NameRule, v: string): string[] {
  const out: string[] = [];
  switch (rule) {
    case 'label':
      if (v.length > 63) out.push('must be no more than 63 characters');
      if (!LABEL_RE.test(v)) out.push(MSG_LABEL);
      break;
    case 'subdomain':
      if (v.length > 253) out.push('must be no more than 253 characters');
      if (!SUBDOMAIN_RE.test(v)) out.push(MSG_SUBDOMAIN);
      break;
    case 'dns1035':
      if (v.length > 63) out.push('must be no more than 63 characters');
      if (!DNS1035_RE.test(v)) out.push(MSG_DNS1035);
      break;
    case 'path-segment':
      if (v === '.' || v === '..') out.push(`may not be '${v}'`);
      for (const c of ['/', '%']) if (v.includes(c)) out.push(`may not contain '${c}'`);
      break;
    default: {
      const never: never = rule;
      throw new Error(`unknown name rule ${String(never)}`);
    }
  }
  return out;
}

function qualifiedNameProblems(key: string): string[] {
  const parts = key.split('/');
  const out: string[] = [];
  if (parts.length > 2)
    return [`${MSG_QUALIFIED.replace(/^name part/, 'a qualified name')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else for (const p of nameProblems('subdomain', prefix)) out.push(`prefix part ${p}`);
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else {
    if (name.length > 63) out.push('name part must be no more than 63 characters');
    if (!QUALIFIED_NAME_RE.test(name)) out.push(MSG_QUALIFIED);
  }
  return out;
}

/** Which rule `metadata.name` follows for a kind (apimachinery and the kinds' own validation). */
export function nameRuleFor(apiVersion: string, kind: string): NameRule {
  const group = groupOf(apiVersion);
  if (group === 'rbac.authorization.k8s.io') return 'path-segment';
  if (group === '' && (kind === 'Namespace' || kind === 'Service')) return kind === 'Service' ? 'dns1035' : 'label';
  return 'subdomain';
}

function fmtInvalid(field: string, v: string, reasons: string[]): string {
  return `${field}: Invalid value: ${JSON.stringify(v)}: ${reasons.join(', ')}`;
}

const ANNOTATIONS_MAX = 256 * 1024;

export function checkNames(d: ManifestDoc, out: Diagnostic[]): void {
  const meta = obj(d.value['metadata']);
  if (!meta) return;
  const name = str(meta['name']);
  if (name !== undefined) {
    const rule = nameRuleFor(d.apiVersion, d.kind);
    const p = nameProblems(rule, name);
    if (p.length) out.push(diag(d, 'error', `names/${rule}`, fmtInvalid('metadata.name', name, p), ['metadata', 'name']));
  }
  const ns = str(meta['namespace']);
  if (ns !== undefined) {
    const p = nameProblems('label', ns);
    if (p.length) out.push(diag(d, 'error', 'names/label', fmtInvalid('metadata.namespace', ns, p), ['metadata', 'namespace']));
  }
  const labels = obj(meta['labels']);
  for (const [k, v] of Object.entries(labels ?? {})) {
    const kp = qualifiedNameProblems(k);
    if (kp.length) out.push(diag(d, 'error', 'names/label-key', fmtInvalid(`metadata.labels`, k, kp), ['metadata', 'labels', k], { key: true }));
    if (typeof v === 'string') {
      const vp: string[] = [];
      if (v.length > 63) vp.push('must be no more than 63 characters');
      if (!LABEL_VALUE_RE.test(v)) vp.push(MSG_LABEL_VALUE);
      if (vp.length) out.push(diag(d, 'error', 'names/label-value', fmtInvalid(`metadata.labels`, v, vp), ['metadata', 'labels', k]));
    }
  }
  const annotations = obj(meta['annotations']);
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    size += k.length + (typeof v === 'string' ? v.length : 0);
    const kp = qualifiedNameProblems(k.toLowerCase());
    if (kp.length) out.push(diag(d, 'error', 'names/annotation-key', fmtInvalid('metadata.annotations', k, kp), ['metadata', 'annotations', k], { key: true }));
  }
  if (size > ANNOTATIONS_MAX)
    out.push(
      diag(d, 'error', 'names/annotations-size', `metadata.annotations: Too long: may not be more than ${ANNOTATIONS_MAX} bytes`, ['metadata', 'annotations'], {
        key: true,
      }),
    );
  if (d.kind === 'PostgresCluster' && groupOf(d.apiVersion) === 'postgres-operator.crunchydata.com') checkPgoDerivedNames(d, out);
  if (d.kind === 'CustomResourceDefinition' && name !== undefined) {
    const spec = obj(d.value['spec']);
    const expected = `${str(obj(spec?.['names'])?.['plural']) ?? ''}.${str(spec?.['group']) ?? ''}`;
    if (spec && name !== expected)
      out.push(diag(d, 'error', 'names/crd', fmtInvalid('metadata.name', name, [`must be spec.names.plural+"."+spec.group`]), ['metadata', 'name']));
  }
}

/**
 * PGO derives object names from the cluster's and its users' names; the API server rejects them only
 * when the operator creates them, minutes into a rebirth. Names from internal/naming/names.go.
 */
function checkPgoDerivedNames(d: ManifestDoc, out: Diagnostic[]): void {
  const cluster = d.name;
  // a part that is itself invalid is reported once, by the schema or the name check, not again here
  if (!cluster || !SUBDOMAIN_RE.test(cluster)) return;
  const derived = (what: string, value: string, rule: 'dns1035' | 'label' | 'subdomain', path: (string | number)[]): void => {
    const p = nameProblems(rule, value);
    if (p.length)
      out.push(diag(d, 'error', 'names/derived', `${what} ${JSON.stringify(value)} that PGO creates for this cluster would be invalid: ${p.join(', ')}`, path));
  };
  for (const svc of ['primary', 'replicas', 'pods', 'ha', 'pgbouncer']) derived(`Service`, `${cluster}-${svc}`, 'dns1035', ['metadata', 'name']);
  const spec = obj(d.value['spec']);
  arr(spec?.['users']).forEach((u, i) => {
    const user = str(obj(u)?.['name']);
    if (user && LABEL_RE.test(user)) derived('Secret', `${cluster}-pguser-${user}`, 'subdomain', ['spec', 'users', i, 'name']);
  });
  arr(spec?.['instances']).forEach((inst, i) => {
    const set = str(obj(inst)?.['name']) ?? '00';
    if (!LABEL_RE.test(set)) return;
    // StatefulSet `<cluster>-<set>-<4 chars>`, its first Pod `...-0` is a hostname: a DNS label
    derived('Pod', `${cluster}-${set}-xxxx-0`, 'label', obj(inst)?.['name'] !== undefined ? ['spec', 'instances', i, 'name'] : ['spec', 'instances', i]);
  });
}
