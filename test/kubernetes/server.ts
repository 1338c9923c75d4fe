// An in-process Kubernetes API test server: the part of the real API server Castle and its users'
// tests talk to through @kubernetes/client-node, with the real server's status codes and Status bodies
// (see test/kubernetes/README.md for what is covered and what is not). No API server can run here, so
// this double is hand-written; custom resources are checked with Castle's own validator (src/validate).
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { convertCrd } from '../../src/validate/schema/crd.js';
import { StructuralChecker } from '../../src/validate/check/structural.js';
import { fieldPathString } from '../../src/validate/check/field-path.js';
import type { SNode } from '../../src/validate/schema/types.js';
import { apply, changedPaths, conflictMessage, fieldsV1, isObj, pathKey, smdPath, type ManagerEntry, type Obj } from './ssa.js';
import type { WebSocketServer } from 'ws';
import { FORWARD_ANNOTATION, makeWss, portForwardUpgrade } from './port-forward.js';
import { BUILTIN_TYPES, apiVersionOf, typeKey, type ResourceType } from './types.js';

export type { Obj } from './ssa.js';
export type { ResourceType } from './types.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ChangeEvent {
  readonly type: WatchEventType;
  readonly rt: ResourceType;
  readonly object: Obj;
}

export interface KubeTestServerOptions {
  /** false: plain HTTP (client-node then needs insecure-skip-tls-verify); default HTTPS with a private CA made in `dir` */
  readonly tls?: boolean;
  /** where the kubeconfig (and TLS files) go; default a fresh temp dir under os.tmpdir() */
  readonly dir: string;
  /** delay between a CRD's NamesAccepted and Established (default 0, as with one API server) */
  readonly crdEstablishDelayMs?: number;
  /** how often a watch with allowWatchBookmarks=true gets a BOOKMARK (default 1000 ms) */
  readonly bookmarkIntervalMs?: number;
  /** watch history kept for resourceVersion resumption; older versions answer 410 Expired (default 5000 events) */
  readonly historyLimit?: number;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly contentType?: string;
}

interface Stored {
  object: Obj;
  managers: ManagerEntry[];
}

interface HistoryEntry {
  readonly rv: number;
  readonly type: WatchEventType;
  readonly key: string;
  readonly object: Obj;
}

interface Watcher {
  readonly key: string;
  readonly ns: string | undefined;
  readonly match: (o: Obj) => boolean;
  readonly res: ServerResponse;
  readonly rt: ResourceType;
  timers: NodeJS.Timeout[];
}

class HttpError {
  constructor(
    readonly code: number,
    readonly body: Obj,
  ) {}
}

/** A Status body as the API server writes it (`reason` omitted when empty, as Go's omitempty does). */
export function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason ? { reason } : {}),
    ...(details ? { details } : {}),
    code,
  };
}

const NOT_FOUND_RESOURCE = (): HttpError => new HttpError(404, status(404, 'NotFound', 'the server could not find the requested resource', {}));

const CAUSE_REASON: Record<string, string> = {
  'schema/required': 'FieldValueRequired',
  'schema/enum': 'FieldValueNotSupported',
  'schema/too-long': 'FieldValueTooLong',
  'schema/too-many': 'FieldValueTooMany',
  'schema/duplicate': 'FieldValueDuplicate',
  'schema/type': 'FieldValueTypeInvalid',
};

const meta = (o: Obj): Obj => (isObj(o['metadata']) ? (o['metadata'] as Obj) : ((o['metadata'] = {}), o['metadata'] as Obj));
const nameOf = (o: Obj): string => String(meta(o)['name'] ?? '');
const nsOf = (o: Obj): string | undefined => (meta(o)['namespace'] as string | undefined) || undefined;
const specOf = (o: Obj): string =>
  JSON.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => !['metadata', 'status', 'apiVersion', 'kind'].includes(k))));

/** Equality-based label selectors (`a=b,c!=d,e`, `a in (x,y)`): what Castle and its gates send. */
function labelMatcher(sel: string | null): (o: Obj) => boolean {
  if (!sel) return () => true;
  const terms = sel.match(/[^,(]+(\([^)]*\))?/g) ?? [];
  const tests = terms.map((t0) => {
    const t = t0.trim();
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(t))) return (l: Obj) => l[m![1]!] !== m![2];
    if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(t))) return (l: Obj) => l[m![1]!] === m![2];
    if ((m = /^(\S+)\s+in\s+\((.*)\)$/.exec(t))) {
      const vals = m[2]!.split(',').map((s) => s.trim());
      return (l: Obj) => vals.includes(String(l[m![1]!]));
    }
    if ((m = /^!(\S+)$/.exec(t))) return (l: Obj) => l[m![1]!] === undefined;
    return (l: Obj) => l[t] !== undefined;
  });
  return (o) => {
    const labels = (isObj(meta(o)['labels']) ? meta(o)['labels'] : {}) as Obj;
    return tests.every((f) => f(labels));
  };
}

/** Field selectors on metadata.name/namespace and, for events, involvedObject.* (what the server indexes). */
function fieldMatcher(sel: string | null): (o: Obj) => boolean {
  if (!sel) return () => true;
  const tests = sel.split(',').map((t) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim());
    if (!m) throw new HttpError(400, status(400, 'BadRequest', `invalid field selector: ${t}`));
    const [, path, op, want] = m;
    return (o: Obj) => {
      let cur: unknown = o;
      for (const p of path!.split('.')) cur = isObj(cur) ? cur[p] : undefined;
      const eq = String(cur ?? '') === want;
      return op === '!=' ? !eq : eq;
    };
  });
  return (o) => tests.every((f) => f(o));
}

export class KubeTestServer {
  readonly #opts: KubeTestServerOptions;
  #server!: Server;
  #token = randomBytes(16).toString('hex');
  #types = new Map<string, ResourceType>();
  /** CRD types known but not yet Established: discovery and their endpoints answer 404 */
  #pending = new Map<string, ResourceType>();
  #store = new Map<string, Stored>();
  #rv = 1000;
  #history: HistoryEntry[] = [];
  #oldestRv = 1000;
  #watchers = new Set<Watcher>();
  #listeners = new Set<(e: ChangeEvent) => void>();
  #requestListeners = new Set<(r: RequestRecord) => void>();
  #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  #wss: WebSocketServer | undefined;
  readonly requests: RequestRecord[] = [];
  url = '';
  kubeconfigPath = '';
  caPem: string | undefined;

  private constructor(opts: KubeTestServerOptions) {
    this.#opts = opts;
    for (const t of BUILTIN_TYPES) this.#types.set(typeKey(t), t);
  }

  /** Starts the server on 127.0.0.1 (a free port) and writes a kubeconfig for it to `dir/kubeconfig`. */
  static async start(opts: KubeTestServerOptions): Promise<KubeTestServer> {
    const s = new KubeTestServer(opts);
    mkdirSync(opts.dir, { recursive: true });
    const handler = (req: IncomingMessage, res: ServerResponse) => void s.#handle(req, res);
    if (opts.tls !== false) {
      const { ensureTls } = await import('../../src/s3/tls.js');
      const t = await ensureTls(join(opts.dir, 'tls'));
      if (!t.ok) throw new Error(t.reason);
      s.caPem = readFileSync(t.value.files.caCert, 'utf8');
      s.#server = createHttpsServer({ cert: readFileSync(t.value.files.cert), key: readFileSync(t.value.files.key) }, handler);
    } else s.#server = createHttpServer(handler);
    s.#server.keepAliveTimeout = 1000;
    const wss = makeWss();
    s.#wss = wss;
    s.#server.on('upgrade', (req, socket, head) => {
      if (req.headers.authorization !== `Bearer ${s.#token}`) return void socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      portForwardUpgrade(wss, req, socket, head, (ns, pod) => {
        const p = s.#store.get(`/v1/pods/${ns}/${pod}`);
        const to = p ? String((meta(p.object)['annotations'] as Obj | undefined)?.[FORWARD_ANNOTATION] ?? '') : '';
        const m = /^(.*):(\d+)$/.exec(to);
        return m ? { host: m[1]!, port: Number(m[2]) } : `pods "${pod}" not found`;
      });
    });
    await new Promise<void>((res, rej) => {
      s.#server.once('error', rej);
      s.#server.listen(0, '127.0.0.1', () => res());
    });
    const port = (s.#server.address() as { port: number }).port;
    s.url = `${opts.tls !== false ? 'https' : 'http'}://127.0.0.1:${port}`;
    s.kubeconfigPath = join(opts.dir, 'kubeconfig');
    writeFileSync(s.kubeconfigPath, s.kubeconfig(), { mode: 0o600 });
    for (const ns of ['default', 'kube-system', 'kube-public'])
      s.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, status: { phase: 'Active' } });
    return s;
  }

  /** A kubeconfig (YAML) with one cluster, user and context named `test`, bearer-token auth. */
  kubeconfig(): string {
    const ca = this.caPem ? `    certificate-authority-data: ${Buffer.from(this.caPem).toString('base64')}\n` : '    insecure-skip-tls-verify: true\n';
    return (
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: test',
        '  cluster:',
        `    server: ${this.url}`,
        ca.trimEnd(),
        'users:',
        '- name: test',
        '  user:',
        `    token: ${this.#token}`,
        'contexts:',
        '- name: test',
        '  context: {cluster: test, user: test}',
        'current-context: test',
        '',
      ]
        .filter((l) => l !== '')
        .join('\n') + '\n'
    );
  }

  /** Stops every watch and timer, then the server. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    for (const w of this.#watchers) this.#endWatch(w);
    for (const c of this.#wss?.clients ?? []) c.terminate();
    this.#wss?.close();
    this.#server.closeAllConnections?.();
    await new Promise<void>((res) => this.#server.close(() => res()));
  }

  // ------------------------------------------------------------------------------------------
  // the test-side API: what scripted controllers and tests use directly (no HTTP)

  /** the port-forward WebSockets open now (closed ones leave the set once their closing handshake ends) */
  openWebSockets(): number {
    return this.#wss?.clients.size ?? 0;
  }

  /** Runs `fn` after `ms` (cleared by close): how tests script a status change over time. */
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Called after every write (HTTP or test-side), in order: scripted controllers react here. */
  onChange(fn: (e: ChangeEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Called for every request once it is answered (a watch: once its stream is open). */
  onRequest(fn: (r: RequestRecord) => void): () => void {
    this.#requestListeners.add(fn);
    return () => this.#requestListeners.delete(fn);
  }

  type(apiVersion: string, kind: string): ResourceType | undefined {
    for (const t of this.#types.values()) if (apiVersionOf(t) === apiVersion && t.kind === kind) return t;
    return undefined;
  }

  #typeOrThrow(apiVersion: string, kind: string): ResourceType {
    const t = this.type(apiVersion, kind) ?? [...this.#pending.values()].find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
    if (!t) throw new Error(`the test server serves no ${apiVersion} ${kind}`);
    return t;
  }

  #key(rt: ResourceType, ns: string | undefined, name: string): string {
    return `${typeKey(rt)}/${rt.namespaced ? (ns ?? 'default') : ''}/${name}`;
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined {
    const rt = this.#typeOrThrow(apiVersion, kind);
    const s = this.#store.get(this.#key(rt, namespace, name));
    return s ? structuredClone(s.object) : undefined;
  }

  list(apiVersion: string, kind: string, namespace?: string): Obj[] {
    const rt = this.#typeOrThrow(apiVersion, kind);
    return this.#listOf(rt, namespace).map((o) => structuredClone(o));
  }

  /** Creates or replaces an object as `manager` (an Update), like a controller's write. */
  put(obj: Obj, manager = 'test-controller'): Obj {
    const rt = this.#typeOrThrow(String(obj['apiVersion']), String(obj['kind']));
    const body = structuredClone(obj);
    if (rt.namespaced && !nsOf(body)) meta(body)['namespace'] = 'default';
    const key = this.#key(rt, nsOf(body), nameOf(body));
    const prev = this.#store.get(key);
    const managers = prev?.managers ?? [];
    this.#recordUpdate(managers, manager, apiVersionOf(rt), undefined, prev?.object, body, rt);
    return this.#write(rt, key, body, managers, prev);
  }

  /** Changes an object's status as `manager` (subresource "status"); `fn` edits a copy of the object in place. */
  patchStatus(apiVersion: string, kind: string, namespace: string | undefined, name: string, fn: (o: Obj) => void, manager = 'test-controller'): Obj {
    const rt = this.#typeOrThrow(apiVersion, kind);
    const key = this.#key(rt, namespace, name);
    const prev = this.#store.get(key);
    if (!prev) throw new Error(`no ${kind} ${namespace ?? ''}/${name} on the test server`);
    const next = structuredClone(prev.object);
    fn(next);
    const managers = prev.managers;
    this.#recordUpdate(
      managers,
      manager,
      apiVersionOf(rt),
      rt.status ? 'status' : undefined,
      { status: prev.object['status'] },
      { status: next['status'] },
      rt,
    );
    return this.#write(rt, key, next, managers, prev, true);
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): boolean {
    const rt = this.#typeOrThrow(apiVersion, kind);
    return this.#delete(rt, this.#key(rt, namespace, name));
  }

  /** Records a core/v1 Event about `about` (what `kubectl describe` shows under Events). */
  event(about: Obj, type: 'Normal' | 'Warning', reason: string, message: string): Obj {
    const m = meta(about);
    const ns = nsOf(about) ?? 'default';
    const now = new Date().toISOString();
    return this.put({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${String(m['name'])}.${randomBytes(8).toString('hex')}`, namespace: ns },
      involvedObject: { apiVersion: about['apiVersion'], kind: about['kind'], name: m['name'], namespace: m['namespace'], uid: m['uid'] },
      type,
      reason,
      message,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: 'test-controller' },
    });
  }

  /** Forgets the watch history: every resourceVersion seen so far answers 410 Expired to a watch. */
  compact(): void {
    this.#history = [];
    this.#oldestRv = this.#rv;
  }

  /**
   * The cluster was destroyed and a new one answers at the same endpoint with the same credentials (a
   * Talos cluster rebuilt from the same secrets bundle): open watches end, every object goes (controllers
   * see DELETED, so they treat what comes next as new), custom kinds are no longer served, the default
   * namespaces are back, and the watch history starts again.
   */
  wipe(): void {
    for (const w of this.#watchers) this.#endWatch(w);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const [key, s] of [...this.#store]) {
      const rt = this.type(String(s.object['apiVersion']), String(s.object['kind']));
      if (rt && this.#store.has(key)) this.#delete(rt, key);
    }
    this.#store.clear();
    this.#pending.clear();
    this.compact();
    for (const ns of ['default', 'kube-system', 'kube-public'])
      this.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns }, status: { phase: 'Active' } });
  }

  /** Ends every open watch (the API server does this on its own timeout): clients must re-watch. */
  dropWatches(): void {
    for (const w of this.#watchers) this.#endWatch(w);
  }

  /** The latest resourceVersion. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  // ------------------------------------------------------------------------------------------
  // store

  #listOf(rt: ResourceType, ns: string | undefined): Obj[] {
    const prefix = `${typeKey(rt)}/${rt.namespaced && ns ? ns : ''}`;
    const out: Obj[] = [];
    for (const [k, s] of this.#store) if (k.startsWith(prefix + '/') || (rt.namespaced && !ns && k.startsWith(typeKey(rt) + '/'))) out.push(s.object);
    return out;
  }

  #recordUpdate(
    managers: ManagerEntry[],
    manager: string,
    apiVersion: string,
    subresource: string | undefined,
    before: unknown,
    after: unknown,
    rt: ResourceType,
  ): void {
    const ctx = { resolve: (n: SNode) => n };
    const changed = changedPaths(before, after, rt.schema, ctx).filter(
      (p) => !['.metadata.resourceVersion', '.metadata.generation', '.metadata.uid'].includes(smdPath(p)),
    );
    if (changed.length === 0) return;
    let e = managers.find((m) => m.manager === manager && m.operation === 'Update' && m.subresource === subresource);
    if (!e) {
      e = { manager, operation: 'Update', apiVersion, time: '', fields: new Map(), ...(subresource ? { subresource } : {}) };
      managers.push(e);
    }
    e.time = new Date().toISOString();
    for (const p of changed) {
      const k = pathKey(p);
      e.fields.set(k, p);
      for (const m of managers) if (m !== e) m.fields.delete(k);
    }
  }

  #write(rt: ResourceType, key: string, body: Obj, managers: ManagerEntry[], prev: Stored | undefined, statusOnly = false): Obj {
    const m = meta(body);
    const pm = prev ? meta(prev.object) : undefined;
    m['uid'] = pm?.['uid'] ?? randomUUID();
    m['creationTimestamp'] = pm?.['creationTimestamp'] ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (rt.status && prev && !statusOnly) body['status'] = prev.object['status'];
    const gen = Number(pm?.['generation'] ?? 0);
    m['generation'] = !prev ? 1 : !statusOnly && specOf(prev.object) !== specOf(body) ? gen + 1 : gen;
    m['managedFields'] = managers.map((e) => ({
      manager: e.manager,
      operation: e.operation,
      apiVersion: e.apiVersion,
      time: e.time,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1(e.fields.values()),
      ...(e.subresource ? { subresource: e.subresource } : {}),
    }));
    if (rt.status && !prev && body['status'] === undefined) delete body['status'];
    this.#rv++;
    m['resourceVersion'] = String(this.#rv);
    this.#store.set(key, { object: body, managers });
    this.#emit(prev ? 'MODIFIED' : 'ADDED', rt, body);
    if (rt.kind === 'CustomResourceDefinition' && rt.group === 'apiextensions.k8s.io' && !statusOnly) this.#crdWritten(body);
    return structuredClone(body);
  }

  #delete(rt: ResourceType, key: string): boolean {
    const s = this.#store.get(key);
    if (!s) return false;
    this.#store.delete(key);
    this.#rv++;
    meta(s.object)['resourceVersion'] = String(this.#rv);
    this.#emit('DELETED', rt, s.object);
    if (rt.kind === 'Namespace' && rt.group === '') {
      // the namespace controller deletes everything in it (immediately here, in the background on a real cluster)
      const ns = nameOf(s.object);
      for (const [k, st] of [...this.#store]) {
        if (nsOf(st.object) !== ns) continue;
        const t = this.type(String(st.object['apiVersion']), String(st.object['kind']));
        if (t?.namespaced) this.#delete(t, k);
      }
    }
    if (rt.kind === 'CustomResourceDefinition') {
      // the API server deletes every custom resource of a deleted CRD
      for (const [k, t] of [...this.#types]) {
        if (t.crd !== nameOf(s.object)) continue;
        for (const key of [...this.#store.keys()]) if (key.startsWith(`${typeKey(t)}/`)) this.#delete(t, key);
      }
      for (const [k, t] of [...this.#types]) if (t.crd === nameOf(s.object)) this.#types.delete(k);
      for (const [k, t] of [...this.#pending]) if (t.crd === nameOf(s.object)) this.#pending.delete(k);
    }
    return true;
  }

  #emit(type: WatchEventType, rt: ResourceType, object: Obj): void {
    const key = typeKey(rt);
    this.#history.push({ rv: this.#rv, type, key, object: structuredClone(object) });
    const limit = this.#opts.historyLimit ?? 5000;
    if (this.#history.length > limit) {
      const drop = this.#history.splice(0, this.#history.length - limit);
      this.#oldestRv = drop[drop.length - 1]!.rv;
    }
    for (const w of this.#watchers) if (w.key === key && (!w.ns || nsOf(object) === w.ns) && w.match(object)) this.#send(w, type, object);
    for (const l of this.#listeners) l({ type, rt, object: structuredClone(object) });
  }

  /** A CRD was written: NamesAccepted now, Established after the configured delay; its kinds are served from then. */
  #crdWritten(crd: Obj): void {
    const name = nameOf(crd);
    const info = convertCrd(crd, `crd ${name}`);
    if (!info) return;
    const conds = (isObj(crd['status']) && Array.isArray((crd['status'] as Obj)['conditions']) ? (crd['status'] as Obj)['conditions'] : []) as Obj[];
    if (conds.some((c) => c['type'] === 'Established' && c['status'] === 'True')) return;
    for (const k of info.kinds) {
      if (!k.served) continue;
      const t: ResourceType = {
        group: k.group,
        version: k.version,
        kind: k.kind,
        plural: k.plural,
        singular: k.kind.toLowerCase(),
        namespaced: k.namespaced,
        status: true,
        schema: k.root,
        crd: name,
      };
      if (!this.#types.has(typeKey(t))) this.#pending.set(typeKey(t), t);
    }
    const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const accepted = { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: now() };
    const installing = {
      type: 'Established',
      status: 'False',
      reason: 'Installing',
      message: 'the initial names have been accepted',
      lastTransitionTime: now(),
    };
    queueMicrotask(() => {
      if (!this.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, name)) return;
      this.patchStatus(
        'apiextensions.k8s.io/v1',
        'CustomResourceDefinition',
        undefined,
        name,
        (o) => {
          o['status'] = {
            conditions: [accepted, installing],
            acceptedNames: (o['spec'] as Obj)['names'],
            storedVersions: info.kinds.map((k) => k.version).slice(0, 1),
          };
        },
        'kube-apiserver',
      );
      this.after(this.#opts.crdEstablishDelayMs ?? 0, () => {
        if (!this.get('apiextensions.k8s.io/v1', 'CustomResourceDefinition', undefined, name)) return;
        for (const [k, t] of [...this.#pending]) if (t.crd === name) (this.#types.set(k, t), this.#pending.delete(k));
        this.patchStatus(
          'apiextensions.k8s.io/v1',
          'CustomResourceDefinition',
          undefined,
          name,
          (o) => {
            (o['status'] as Obj)['conditions'] = [
              accepted,
              {
                type: 'Established',
                status: 'True',
                reason: 'InitialNamesAccepted',
                message: 'the initial names have been accepted',
                lastTransitionTime: now(),
              },
            ];
          },
          'kube-apiserver',
        );
      });
    });
  }

  // ------------------------------------------------------------------------------------------
  // HTTP

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const record = (code: number) => {
      const r: RequestRecord = {
        method: req.method ?? '',
        path: u.pathname + u.search,
        status: code,
        ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
      };
      this.requests.push(r);
      for (const l of this.#requestListeners) l(r);
    };
    try {
      if (req.headers.authorization !== `Bearer ${this.#token}`) throw new HttpError(401, status(401, 'Unauthorized', 'Unauthorized'));
      const body = await readBody(req);
      const out = this.#route(req.method ?? 'GET', u, body, req.headers['content-type'] ?? '', res);
      if (out === 'streaming') {
        record(200);
        return;
      }
      record(out.code);
      res.writeHead(out.code, { 'content-type': 'application/json', ...(out.headers ?? {}) });
      res.end(JSON.stringify(out.body));
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, status(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`));
      record(e.code);
      if (!res.headersSent) res.writeHead(e.code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(e.body));
    }
  }

  #served(): ResourceType[] {
    return [...this.#types.values()];
  }

  #route(
    method: string,
    u: URL,
    body: string,
    contentType: string,
    res: ServerResponse,
  ): { code: number; body: unknown; headers?: Record<string, string> } | 'streaming' {
    const p = u.pathname.replace(/\/+$/, '');
    const seg = p.split('/').filter(Boolean);
    if (method === 'GET' && p === '/version')
      return { code: 200, body: { major: '1', minor: '34', gitVersion: 'v1.34.0-castle-test', platform: 'linux/amd64' } };
    if (method === 'GET' && p === '/api')
      return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: u.host }] } };
    if (method === 'GET' && p === '/apis') return { code: 200, body: this.#groupList() };
    let group: string;
    let version: string;
    let rest: string[];
    if (seg[0] === 'api' && seg[1]) [group, version, rest] = ['', seg[1], seg.slice(2)];
    else if (seg[0] === 'apis' && seg[1] && seg[2]) [group, version, rest] = [seg[1], seg[2], seg.slice(3)];
    else if (seg[0] === 'apis' && seg[1] && method === 'GET') {
      const g = this.#groupList().groups.find((x) => x.name === seg[1]);
      if (!g) throw NOT_FOUND_RESOURCE();
      return { code: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...g } };
    } else throw NOT_FOUND_RESOURCE();
    const inGv = this.#served().filter((t) => t.group === group && t.version === version);
    if (rest.length === 0) {
      if (method !== 'GET' || inGv.length === 0) throw NOT_FOUND_RESOURCE();
      return { code: 200, body: this.#resourceList(group, version, inGv) };
    }
    let ns: string | undefined;
    let plural: string;
    let name: string | undefined;
    let sub: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) [ns, plural, name, sub] = [rest[1], rest[2]!, rest[3], rest[4]];
    else [plural, name, sub] = [rest[0]!, rest[1], rest[2]];
    const rt = inGv.find((t) => t.plural === plural);
    if (!rt || (ns && !rt.namespaced) || (sub && sub !== 'status')) throw NOT_FOUND_RESOURCE();
    if (sub === 'status' && !rt.status) throw NOT_FOUND_RESOURCE();
    const q = u.searchParams;
    if (!name) {
      if (method === 'GET') {
        const w = q.get('watch');
        if (w === 'true' || w === '1') return this.#watch(rt, ns, q, res);
        return { code: 200, body: this.#list(rt, ns, q) };
      }
      if (method === 'POST') return this.#create(rt, ns, body, q);
      throw new HttpError(405, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
    }
    const key = this.#key(rt, ns, name);
    if (method === 'GET') {
      const s = this.#store.get(key);
      if (!s) throw this.#notFound(rt, name);
      return { code: 200, body: s.object };
    }
    if (method === 'DELETE') {
      const s = this.#store.get(key);
      if (!s) throw this.#notFound(rt, name);
      this.#delete(rt, key);
      return {
        code: 200,
        body: {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, ...(rt.group ? { group: rt.group } : {}), kind: rt.plural, uid: meta(s.object)['uid'] },
        },
      };
    }
    if (method === 'PATCH') return this.#patch(rt, ns, name, sub, body, contentType, q);
    if (method === 'PUT') return this.#replace(rt, ns, name, sub, body, q);
    throw new HttpError(405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  }

  #groupList(): {
    kind: string;
    apiVersion: string;
    groups: { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { groupVersion: string; version: string } }[];
  } {
    const groups = new Map<string, string[]>();
    for (const t of this.#served()) if (t.group) groups.set(t.group, [...new Set([...(groups.get(t.group) ?? []), t.version])]);
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, vs]) => ({
        name,
        versions: vs.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
        preferredVersion: { groupVersion: `${name}/${vs[0]}`, version: vs[0]! },
      })),
    };
  }

  #resourceList(group: string, version: string, types: ResourceType[]): Obj {
    const verbs = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: types.flatMap((t) => [
        { name: t.plural, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs },
        ...(t.status ? [{ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] }] : []),
      ]),
    };
  }

  #notFound(rt: ResourceType, name: string): HttpError {
    const what = rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
    return new HttpError(404, status(404, 'NotFound', `${what} "${name}" not found`, { name, ...(rt.group ? { group: rt.group } : {}), kind: rt.plural }));
  }

  #list(rt: ResourceType, ns: string | undefined, q: URLSearchParams): Obj {
    const lm = labelMatcher(q.get('labelSelector'));
    const fm = fieldMatcher(q.get('fieldSelector'));
    const items = this.#listOf(rt, ns).filter((o) => lm(o) && fm(o));
    return { kind: `${rt.kind}List`, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(this.#rv) }, items };
  }

  #watch(rt: ResourceType, ns: string | undefined, q: URLSearchParams, res: ServerResponse): 'streaming' {
    const lm = labelMatcher(q.get('labelSelector'));
    const fm = fieldMatcher(q.get('fieldSelector'));
    const w: Watcher = { key: typeKey(rt), ns, match: (o) => lm(o) && fm(o), res, rt, timers: [] };
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const rvParam = q.get('resourceVersion');
    if (!rvParam || rvParam === '0') {
      for (const o of this.#listOf(rt, ns)) if (w.match(o)) this.#send(w, 'ADDED', o);
    } else {
      const rv = Number(rvParam);
      if (!Number.isFinite(rv) || rv < this.#oldestRv) {
        // as the watch cache answers: an ERROR event in a 200 stream, then the stream ends
        const line = { type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${rvParam} (${this.#oldestRv + 1})`) };
        res.end(JSON.stringify(line) + '\n');
        return 'streaming';
      }
      for (const h of this.#history) if (h.rv > rv && h.key === w.key && (!ns || nsOf(h.object) === ns) && w.match(h.object)) this.#send(w, h.type, h.object);
    }
    this.#watchers.add(w);
    if (q.get('allowWatchBookmarks') === 'true') {
      const iv = setInterval(
        () => this.#send(w, 'BOOKMARK', { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(this.#rv) } }),
        this.#opts.bookmarkIntervalMs ?? 1000,
      );
      w.timers.push(iv);
    }
    const ts = Number(q.get('timeoutSeconds') ?? 0);
    if (ts > 0) w.timers.push(setTimeout(() => this.#endWatch(w), ts * 1000));
    res.on('close', () => this.#endWatch(w));
    return 'streaming';
  }

  #send(w: Watcher, type: string, object: Obj): void {
    if (!w.res.writableEnded) w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  #endWatch(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    this.#watchers.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  #parseBody(body: string, json: boolean): Obj {
    try {
      const v = json ? JSON.parse(body) : parseYaml(body);
      if (!isObj(v)) throw new Error('not an object');
      return v;
    } catch (err) {
      throw new HttpError(400, status(400, 'BadRequest', `error decoding ${json ? 'JSON' : 'YAML'}: ${(err as Error).message}`));
    }
  }

  /**
   * CRD schema validation with Castle's validator. `applied` (an SSA body) is checked for fields the
   * schema does not declare (500: the typed patch cannot be built); the object as it would be stored
   * is checked for the rest (422 Invalid), as the API server validates the merged result.
   */
  #checkTyped(rt: ResourceType, obj: Obj, applied: Obj): void {
    if (!rt.schema) return;
    {
      const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: false });
      try {
        chk.checkObject(rt.schema, { ...applied, metadata: {} });
      } catch {
        /* validator bug: let the full check below speak */
      }
      const unknown = chk.errors.find((e) => e.rule === 'schema/unknown-field');
      if (unknown) {
        throw new HttpError(
          500,
          status(500, '', `failed to create typed patch object (${nsOf(obj) ?? ''}/${nameOf(obj)}; ${apiVersionOf(rt)}, Kind=${rt.kind}): ${unknown.message}`),
        );
      }
    }
  }

  #validate(rt: ResourceType, obj: Obj, ssa: boolean): void {
    if (!rt.schema) return;
    const chk = new StructuralChecker({ defs: {}, nullIsAbsent: false, evalCel: true });
    try {
      chk.checkObject(rt.schema, { ...obj, metadata: {} });
    } catch {
      return;
    }
    const errs = chk.errors.filter((e) => e.severity === 'error');
    const unknown = errs.find((e) => e.rule === 'schema/unknown-field');
    const name = nameOf(obj);
    if (unknown && ssa) {
      const ns = nsOf(obj) ?? '';
      throw new HttpError(
        500,
        status(500, '', `failed to create typed patch object (${ns}/${name}; ${apiVersionOf(rt)}, Kind=${rt.kind}): ${unknown.message}`),
      );
    }
    const invalid = errs.filter((e) => e.rule !== 'schema/unknown-field');
    if (invalid.length === 0) return;
    const causes = invalid.map((e) => {
      const field = fieldPathString(e.path);
      const msg = e.message.startsWith(`${field}: `) ? e.message.slice(field.length + 2) : e.message;
      return { reason: CAUSE_REASON[e.rule] ?? 'FieldValueInvalid', message: msg, field };
    });
    const texts = [...new Set(invalid.map((e) => e.message))];
    const message = `${rt.kind}.${rt.group} "${name}" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`;
    throw new HttpError(422, status(422, 'Invalid', message, { name, group: rt.group, kind: rt.kind, causes }));
  }

  #checkNamespace(rt: ResourceType, ns: string | undefined): void {
    if (rt.namespaced && ns && !this.#store.has(`/v1/namespaces//${ns}`))
      throw new HttpError(404, status(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' }));
  }

  #create(rt: ResourceType, ns: string | undefined, body: string, q: URLSearchParams): { code: number; body: unknown } {
    const obj = this.#parseBody(body, true);
    const m = meta(obj);
    if (!m['name'] && m['generateName']) m['name'] = `${String(m['generateName'])}${randomBytes(3).toString('hex').slice(0, 5)}`;
    if (rt.namespaced) m['namespace'] = ns ?? m['namespace'] ?? 'default';
    this.#checkNamespace(rt, nsOf(obj));
    const key = this.#key(rt, nsOf(obj), nameOf(obj));
    if (this.#store.has(key)) {
      const what = rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
      throw new HttpError(
        409,
        status(409, 'AlreadyExists', `${what} "${nameOf(obj)}" already exists`, {
          name: nameOf(obj),
          ...(rt.group ? { group: rt.group } : {}),
          kind: rt.plural,
        }),
      );
    }
    this.#validate(rt, obj, false);
    const managers: ManagerEntry[] = [];
    this.#recordUpdate(managers, q.get('fieldManager') ?? 'unknown', apiVersionOf(rt), undefined, undefined, obj, rt);
    return { code: 201, body: this.#write(rt, key, obj, managers, undefined) };
  }

  #replace(rt: ResourceType, ns: string | undefined, name: string, sub: string | undefined, body: string, q: URLSearchParams): { code: number; body: unknown } {
    const obj = this.#parseBody(body, true);
    const key = this.#key(rt, ns, name);
    const prev = this.#store.get(key);
    if (!prev) throw this.#notFound(rt, name);
    if (sub === 'status')
      return {
        code: 200,
        body: this.patchStatus(apiVersionOf(rt), rt.kind, ns, name, (o) => void (o['status'] = obj['status']), q.get('fieldManager') ?? 'unknown'),
      };
    this.#validate(rt, obj, false);
    return { code: 200, body: this.put(obj, q.get('fieldManager') ?? 'unknown') };
  }

  #patch(
    rt: ResourceType,
    ns: string | undefined,
    name: string,
    sub: string | undefined,
    body: string,
    contentType: string,
    q: URLSearchParams,
  ): { code: number; body: unknown; headers?: Record<string, string> } {
    const ct = contentType.split(';')[0]!.trim();
    const manager = q.get('fieldManager');
    const force = q.get('force') === 'true';
    const key = this.#key(rt, ns, name);
    if (ct === 'application/apply-patch+yaml') {
      if (!manager)
        throw new HttpError(
          422,
          status(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
            group: 'meta.k8s.io',
            kind: 'PatchOptions',
            causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
          }),
        );
      const obj = this.#parseBody(body, false);
      if (obj['apiVersion'] !== apiVersionOf(rt))
        throw new HttpError(
          400,
          status(
            400,
            'BadRequest',
            `Incorrect version specified in apply patch. Specified patch version: ${String(obj['apiVersion'])}, expected: ${apiVersionOf(rt)}`,
          ),
        );
      if (meta(obj)['managedFields'] !== undefined) throw new HttpError(400, status(400, 'BadRequest', 'metadata.managedFields must be nil'));
      if (nameOf(obj) && nameOf(obj) !== name)
        throw new HttpError(400, status(400, 'BadRequest', `the name of the object (${nameOf(obj)}) does not match the name on the URL (${name})`));
      meta(obj)['name'] = name;
      if (rt.namespaced) meta(obj)['namespace'] = ns ?? 'default';
      this.#checkNamespace(rt, nsOf(obj));
      const prev = this.#store.get(key);
      const applied = structuredClone(obj);
      if (rt.status && sub !== 'status') delete applied['status'];
      this.#checkTyped(rt, obj, applied);
      const managers = (prev?.managers ?? []).map((m) => ({ ...m, fields: new Map(m.fields) }));
      const r = apply(
        prev?.object,
        applied,
        managers,
        manager,
        apiVersionOf(rt),
        force,
        rt.schema,
        { resolve: (n) => n },
        new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      );
      if (!r.ok) {
        throw new HttpError(
          409,
          status(409, 'Conflict', conflictMessage(r.conflicts), {
            causes: r.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${c.manager}`, field: c.path })),
          }),
        );
      }
      this.#validate(rt, r.object, true);
      const out = this.#write(rt, key, r.object, r.managers, prev, sub === 'status');
      return { code: prev ? 200 : 201, body: out };
    }
    if (force)
      throw new HttpError(
        422,
        status(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch', {
          group: 'meta.k8s.io',
          kind: 'PatchOptions',
          causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch', field: 'force' }],
        }),
      );
    if (ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json') {
      // strategic merge is served as a JSON merge patch: list merge keys are not modelled by this double
      const prev = this.#store.get(key);
      if (!prev) throw this.#notFound(rt, name);
      const patch = this.#parseBody(body, true);
      const next = mergePatch(prev.object, patch) as Obj;
      if (sub === 'status')
        return { code: 200, body: this.patchStatus(apiVersionOf(rt), rt.kind, ns, name, (o) => void (o['status'] = next['status']), manager ?? 'unknown') };
      this.#validate(rt, next, false);
      return { code: 200, body: this.put(next, manager ?? 'unknown') };
    }
    throw new HttpError(
      415,
      status(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
      ),
    );
  }
}

/** RFC 7386 JSON merge patch */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res(Buffer.concat(chunks).toString('utf8')));
    req.on('error', rej);
  });
}
