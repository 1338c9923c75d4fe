// A readiness gate: LIST, then WATCH from the list's resourceVersion (bookmarks on), judging the
// matching objects on every event; 410 Expired re-lists, a closed watch resumes from the last version
// seen. No polling: the next step starts as soon as the event that makes the gate true arrives.
// On its deadline a gate says what it saw last: the objects' state, conditions and events.
// client-node's informer (makeInformer) is not used: it requests no bookmarks, and a gate needs its own
// deadline and the last verdict, which the informer's cache does not keep.
import { fail, ok, type Result } from '../../core/result.js';
import { describeError, statusOf, type KubeSession, type Obj } from './client.js';
import { describeConditions, type Verdict } from './readiness.js';

export interface GateSpec {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  /** one object by name, or every object the selectors match (which must exist first) */
  readonly name?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** at least this many objects must match a selector (default 1) */
  readonly minCount?: number;
  /** the verdict on one object */
  readonly judge?: (o: Obj) => Verdict;
  /** the verdict on the matching objects together (e.g. any EndpointSlice with a ready endpoint) */
  readonly judgeSet?: (objs: Obj[]) => Verdict;
  /** ready when no object matches (a deletion finished) */
  readonly absent?: boolean;
  readonly timeoutMs: number;
}

export interface GateOutcome {
  readonly detail: string;
  readonly objects: number;
  /** when the verdict turned ready (performance.now()), for the gates bench */
  readonly readyAt: number;
}

export const describeGate = (g: Pick<GateSpec, 'kind' | 'namespace' | 'name' | 'labelSelector' | 'fieldSelector'>): string =>
  `${g.kind}${g.name ? ` ${g.namespace ? `${g.namespace}/` : ''}${g.name}` : `${g.namespace ? ` in ${g.namespace}` : ''}${g.labelSelector ? ` with labels ${g.labelSelector}` : ''}${g.fieldSelector ? ` with fields ${g.fieldSelector}` : ''}`}`;

const keyOf = (o: Obj): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

function judgeAll(g: GateSpec, objs: Map<string, Obj>): Verdict & { per: [string, Verdict][] } {
  if (g.absent) return objs.size === 0 ? { state: 'ready', detail: 'gone', per: [] } : { state: 'waiting', detail: `${objs.size} still present`, per: [] };
  if (g.judgeSet) {
    if (objs.size < (g.minCount ?? 1)) return { state: 'waiting', detail: objs.size === 0 ? 'none exist yet' : `${objs.size} of ${g.minCount} exist`, per: [] };
    return { ...g.judgeSet([...objs.values()]), per: [] };
  }
  const judge = g.judge ?? (() => ({ state: 'ready' as const, detail: 'exists' }));
  const per = [...objs.values()].map((o) => [keyOf(o), judge(o)] as [string, Verdict]);
  const want = g.name ? 1 : (g.minCount ?? 1);
  const bad = per.find(([, v]) => v.state === 'failed');
  if (bad) return { state: 'failed', detail: g.name ? bad[1].detail : `${bad[0].replace(/^\//, '')}: ${bad[1].detail}`, per };
  if (per.length < want) return { state: 'waiting', detail: per.length === 0 ? 'does not exist yet' : `${per.length} of ${want} objects exist`, per };
  const waiting = per.filter(([, v]) => v.state === 'waiting');
  if (waiting.length)
    return { state: 'waiting', detail: g.name ? waiting[0]![1].detail : waiting.map(([k, v]) => `${k.replace(/^\//, '')}: ${v.detail}`).join('; '), per };
  return { state: 'ready', detail: per.length === 1 ? per[0]![1].detail : `${per.length} objects ready`, per };
}

/** Events about an object, newest last, as `Warning BackoffLimitExceeded: ...` */
export async function eventsOf(s: KubeSession, o: Obj, signal?: AbortSignal): Promise<string[]> {
  if (signal?.aborted) return [];
  try {
    const ns = o.metadata?.namespace;
    const list = await s.api.list('v1', 'Event', ns, undefined, undefined, undefined, `involvedObject.name=${o.metadata?.name},involvedObject.kind=${o.kind}`);
    return (list.items as Obj[])
      .sort((a, b) => String(a.lastTimestamp ?? '').localeCompare(String(b.lastTimestamp ?? '')))
      .slice(-5)
      .map((e) => `${e.type} ${e.reason}: ${e.message}`);
  } catch {
    return [];
  }
}

/** Waits until the gate is ready; fails at once on a failed verdict, or at the deadline with what it saw last. */
export async function waitGate(s: KubeSession, g: GateSpec, signal: AbortSignal, progress?: (detail: string) => void): Promise<Result<GateOutcome>> {
  const res = await s.api.resourceOf(g.apiVersion, g.kind).catch((err: unknown) => err as Error);
  if (res instanceof Error) return fail(`cannot look up ${g.apiVersion} ${g.kind} on the API server: ${describeError(res)}`);
  // a kind no longer served (its CRD was deleted) has no objects left
  if (!res && g.absent) return ok({ detail: 'gone (the kind is no longer served)', objects: 0, readyAt: performance.now() });
  if (!res) return fail(`the API server serves no ${g.kind} in ${g.apiVersion}: is its CRD installed and Established?`);
  const base = g.apiVersion.includes('/') ? `/apis/${g.apiVersion}` : `/api/${g.apiVersion}`;
  const path = `${base}${res.namespaced && g.namespace ? `/namespaces/${g.namespace}` : ''}/${res.name}`;
  const fieldSelector = [g.name ? `metadata.name=${g.name}` : '', g.fieldSelector ?? ''].filter(Boolean).join(',') || undefined;
  const what = describeGate(g);

  const objs = new Map<string, Obj>();
  let rv = '';
  let last: Verdict & { per: [string, Verdict][] } = { state: 'waiting', detail: 'not listed yet', per: [] };
  let lastProgress = '';
  let watchAbort: AbortController | undefined;
  let settle!: (r: Result<GateOutcome>) => void;
  const done = new Promise<Result<GateOutcome>>((r) => (settle = r));
  let finished = false;
  const finish = (r: Result<GateOutcome>) => {
    if (finished) return;
    finished = true;
    watchAbort?.abort();
    settle(r);
  };

  const evaluate = (): void => {
    last = judgeAll(g, objs);
    if (last.state === 'ready') return finish(ok({ detail: last.detail, objects: objs.size, readyAt: performance.now() }));
    if (last.state === 'failed') {
      finished = true;
      watchAbort?.abort();
      const detail = last.detail;
      void sawLast(s, objs, signal).then((seen) => settle(fail(`${what}: ${detail}${seen}`)));
      return;
    }
    if (progress && last.detail !== lastProgress) progress((lastProgress = last.detail));
  };

  const list = async (): Promise<boolean> => {
    try {
      const l = await s.api.list(
        g.apiVersion,
        g.kind,
        res.namespaced ? g.namespace : undefined,
        undefined,
        undefined,
        undefined,
        fieldSelector,
        g.labelSelector,
      );
      objs.clear();
      for (const o of l.items as Obj[]) objs.set(keyOf(o), { ...o, apiVersion: g.apiVersion, kind: g.kind });
      rv = l.metadata?.resourceVersion ?? '';
      evaluate();
      return true;
    } catch (err) {
      if (g.absent && statusOf(err)?.code === 404) finish(ok({ detail: 'gone (the kind is no longer served)', objects: 0, readyAt: performance.now() }));
      else if (!finished) finish(fail(`${what}: listing failed: ${describeError(err)}`, { retryable: true }));
      return false;
    }
  };

  let failures = 0;
  const startWatch = async (): Promise<void> => {
    if (finished) return;
    const query: Record<string, string | boolean> = { allowWatchBookmarks: true, resourceVersion: rv };
    if (fieldSelector) query['fieldSelector'] = fieldSelector;
    if (g.labelSelector) query['labelSelector'] = g.labelSelector;
    let expired = false;
    try {
      watchAbort = await s.watch.watch(
        path,
        query,
        (type, obj: Obj) => {
          if (finished) return;
          if (type === 'BOOKMARK') {
            rv = obj?.metadata?.resourceVersion ?? rv;
            return;
          }
          if (type === 'ERROR') {
            // 410 Expired: the version is older than the server's history; re-list
            if (obj?.code === 410) expired = true;
            return;
          }
          failures = 0;
          rv = obj?.metadata?.resourceVersion ?? rv;
          if (type === 'DELETED') objs.delete(keyOf(obj));
          else objs.set(keyOf(obj), obj);
          evaluate();
        },
        (err: unknown) => {
          if (finished || signal.aborted) return;
          const code = (err as { statusCode?: number; code?: number } | null)?.statusCode ?? (err as { code?: number } | null)?.code;
          if (expired || code === 410) void list().then((okk) => okk && void startWatch());
          else if (err) {
            // the watch could not be opened or broke: reconnect with a growing pause, never a poll of the object
            failures++;
            setTimeout(() => void startWatch(), Math.min(100 * 2 ** failures, 5000)).unref();
          } else void startWatch();
        },
      );
      if (finished) watchAbort.abort();
    } catch (err) {
      if (finished) return;
      const st = statusOf(err);
      failures++;
      if (failures > 5) return finish(fail(`${what}: watch failed: ${st ? `${st.code} ${st.message}` : describeError(err)}`, { retryable: true }));
      setTimeout(() => void startWatch(), Math.min(100 * 2 ** failures, 5000)).unref();
    }
  };

  const timer = setTimeout(() => {
    if (finished) return;
    finished = true;
    watchAbort?.abort();
    void sawLast(s, objs, signal).then((seen) =>
      settle(fail(`${what} not ready after ${Math.round(g.timeoutMs / 1000)} s; saw last: ${last.detail}${seen}`, { retryable: true })),
    );
  }, g.timeoutMs);
  const onAbort = () => finish(fail(`${what}: cancelled`));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (await list()) await startWatch();
    return await done;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    watchAbort?.abort();
  }
}

async function sawLast(s: KubeSession, objs: Map<string, Obj>, signal: AbortSignal): Promise<string> {
  const parts: string[] = [];
  for (const o of [...objs.values()].slice(0, 3)) {
    const ev = await eventsOf(s, o, signal);
    parts.push(
      `${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}: conditions ${describeConditions(o)}${ev.length ? `; events: ${ev.join(' | ')}` : '; no events'}`,
    );
  }
  return parts.length ? ` [${parts.join(' ; ')}]` : '';
}
