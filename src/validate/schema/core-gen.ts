import { crypto } from '../builtins-lazy.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { KindSchema, SchemaBundle, SNode } from './types.js';

/**
 * Core Kubernetes schemas, generated (never hand-written) from two maintained packages:
 * - `@kubernetes/client-node` 1.x: its OpenAPI-generated models carry every field of every core kind
 *   with type and format, its `.d.ts` say which fields are required, and its API classes say which
 *   group/version/plural/scope each kind is created at;
 * - `kubernetes-types`: keeps the `Quantity` type alias that client-node flattens to `string`, so
 *   `cpu: 1` (a number, accepted by the API server) is not reported.
 * Everything is read as text, sorted, and hashed, so the output is deterministic for given versions.
 */

const require = createRequire(import.meta.url);

interface Attr {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

function mapType(type: string, format: string): SNode {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) return { t: 'array', items: mapType(arr[1]!, format) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { t: 'object', add: mapType(map[1]!, format) };
  switch (type) {
    case 'string':
      return format === 'byte' ? { t: 'string', fmt: 'byte' } : { t: 'string' };
    case 'number':
      return format === 'int32' || format === 'int64' ? { t: 'integer', fmt: format } : { t: 'number' };
    case 'boolean':
      return { t: 'boolean' };
    case 'Date':
      return { t: 'string', fmt: 'date-time' };
    case 'any':
    case 'object':
      return {};
    case 'IntOrString':
      return { ios: true };
    default:
      return { ref: type };
  }
}

/** Field names typed `Quantity` per interface name in kubernetes-types (`ResourceRequirements` -> limits, requests). */
function quantityFields(): Map<string, Set<string>> {
  const root = packageDir('kubernetes-types');
  const out = new Map<string, Set<string>>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.d.ts')) {
        const text = readFileSync(p, 'utf8');
        const re = /export interface (\w+) \{([\s\S]*?)\n\}/g;
        for (let m = re.exec(text); m; m = re.exec(text)) {
          const fields = new Set<string>();
          const fre = /\n {4}(\w+)\??: (Quantity;|\{\s*\[name: string\]: Quantity;)/g;
          for (let f = fre.exec(m[2]!); f; f = fre.exec(m[2]!)) fields.add(f[1]!);
          if (fields.size) {
            const prev = out.get(m[1]!) ?? new Set<string>();
            for (const f of fields) prev.add(f);
            out.set(m[1]!, prev);
          }
        }
      }
    }
  };
  walk(root);
  return out;
}

function bareName(model: string): string {
  // V1ResourceRequirements, CoreV1ResourceClaim, V1beta2DeviceCapacity -> the Go type name
  return model.replace(/^[A-Z][a-z]*?V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])/, '').replace(/^V\d+(?:alpha\d+|beta\d+)?(?=[A-Z])/, '');
}

export function generateCoreBundle(): SchemaBundle {
  const cn = packageDir('@kubernetes/client-node');
  const cnVersion = (JSON.parse(readFileSync(join(cn, 'package.json'), 'utf8')) as { version: string }).version;
  const ktVersion = (JSON.parse(readFileSync(join(packageDir('kubernetes-types'), 'package.json'), 'utf8')) as { version: string }).version;
  const modelsDir = join(cn, 'dist', 'gen', 'models');
  const apisDir = join(cn, 'dist', 'gen', 'apis');
  const quantities = quantityFields();
  const hash = crypto().createHash('sha256');
  hash.update(`generator-v1 client-node@${cnVersion} kubernetes-types@${ktVersion}`);
  let k8sVersion = '';

  const defs: Record<string, SNode> = {};
  for (const file of readdirSync(modelsDir).filter((f) => f.endsWith('.js')).sort()) {
    const js = readFileSync(join(modelsDir, file), 'utf8');
    const m = /(\w+)\.attributeTypeMap = (\[[\s\S]*?\n\]);/.exec(js);
    if (!m) continue;
    const model = m[1]!;
    const attrs = JSON.parse(m[2]!) as Attr[];
    const dts = readFileSync(join(modelsDir, file.replace(/\.js$/, '.d.ts')), 'utf8');
    if (!k8sVersion) k8sVersion = /OpenAPI spec version: (v[\d.]+)/.exec(dts)?.[1] ?? '';
    const required = new Set<string>();
    const rre = /\n {4}'([^']+)': /g;
    for (let r = rre.exec(dts); r; r = rre.exec(dts)) required.add(r[1]!);
    const q = quantities.get(bareName(model));
    const props: Record<string, SNode> = {};
    const req: string[] = [];
    for (const a of attrs) {
      let node = mapType(a.type, a.format);
      if (q?.has(a.baseName)) {
        if (node.t === 'string') node = { qty: true };
        else if (node.t === 'object' && node.add?.t === 'string') node = { t: 'object', add: { qty: true } };
      }
      props[a.baseName] = node;
      if (required.has(a.name)) req.push(a.baseName);
    }
    defs[model] = req.length ? { t: 'object', props, req } : { t: 'object', props };
    hash.update(model).update(m[2]!).update(req.join(','));
  }

  const kinds: KindSchema[] = [];
  const seen = new Set<string>();
  for (const file of readdirSync(apisDir).filter((f) => /Api\.js$/.test(f)).sort()) {
    const js = readFileSync(join(apisDir, file), 'utf8');
    for (const chunk of js.split('\n    async ').slice(1)) {
      const head = /^create(Namespaced)?(\w+)\(/.exec(chunk);
      if (!head) continue;
      const path = /const localVarPath = '([^']+)'/.exec(chunk)?.[1];
      const model = /serialize\(body, "(\w+)"/.exec(chunk)?.[1];
      if (!path || !model || path.includes('{name}')) continue;
      const pm = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))(\/namespaces\/\{namespace\})?\/([a-z0-9]+)$/.exec(path);
      if (!pm) continue;
      const group = pm[2] ?? '';
      const version = pm[1] ?? pm[3]!;
      const kind = head[2]!;
      const key = `${group}/${version}/${kind}`;
      if (seen.has(key) || !defs[model]) continue;
      seen.add(key);
      kinds.push({ group, version, kind, plural: pm[5]!, namespaced: !!pm[4], served: true, root: { ref: model }, origin: `core ${k8sVersion}` });
    }
  }
  kinds.sort((a, b) => `${a.group}/${a.version}/${a.kind}`.localeCompare(`${b.group}/${b.version}/${b.kind}`));
  return { hash: hash.digest('hex').slice(0, 16), origin: `core ${k8sVersion} (@kubernetes/client-node ${cnVersion}, kubernetes-types ${ktVersion})`, kubernetesVersion: k8sVersion.replace(/^v/, ''), defs, kinds };
}
