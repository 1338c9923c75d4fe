// When an object counts as ready, per kind: kubectl's rollout rules, Job conditions, CRD Established,
// LoadBalancer ingress, ExternalSecret and Flux Ready (kstatus: with observedGeneration), PGO status.
// Pure functions of one object; zero-valued status fields are omitted in JSON, so missing reads as 0.
import type { Obj } from './client.js';

export type Verdict = { readonly state: 'ready' | 'waiting' | 'failed'; readonly detail: string };

const ready = (detail: string): Verdict => ({ state: 'ready', detail });
const waiting = (detail: string): Verdict => ({ state: 'waiting', detail });
const failed = (detail: string): Verdict => ({ state: 'failed', detail });
const n = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);

export function conditions(o: Obj): Obj[] {
  return Array.isArray(o?.status?.conditions) ? o.status.conditions : [];
}

export function condition(o: Obj, type: string): Obj | undefined {
  return conditions(o).find((c) => c.type === type);
}

/** `Ready=False (SecretSyncedError): message` */
export function describeConditions(o: Obj): string {
  const cs = conditions(o);
  if (cs.length === 0) return 'no conditions';
  return cs.map((c) => `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`).join('; ');
}

/** kubectl rollout status for a Deployment (polymorphichelpers/rollout_status.go) */
export function deployment(o: Obj): Verdict {
  const s = o.status ?? {};
  const gen = n(o.metadata?.generation);
  if (gen > n(s.observedGeneration))
    return waiting(`waiting for deployment spec update to be observed (generation ${gen}, observed ${n(s.observedGeneration)})`);
  const prog = condition(o, 'Progressing');
  if (prog?.reason === 'ProgressDeadlineExceeded') return failed(`deployment "${o.metadata?.name}" exceeded its progress deadline`);
  const want = o.spec?.replicas === undefined ? 1 : n(o.spec.replicas);
  const upd = n(s.updatedReplicas);
  if (upd < want) return waiting(`${upd} out of ${want} new replicas have been updated`);
  if (n(s.replicas) > upd) return waiting(`${n(s.replicas) - upd} old replicas are pending termination`);
  if (n(s.availableReplicas) < upd) return waiting(`${n(s.availableReplicas)} of ${upd} updated replicas are available`);
  return ready(`successfully rolled out (${upd}/${want})`);
}

/** kubectl rollout status for a StatefulSet (RollingUpdate only) */
export function statefulSet(o: Obj): Verdict {
  const s = o.status ?? {};
  const strategy = o.spec?.updateStrategy?.type ?? 'RollingUpdate';
  if (strategy !== 'RollingUpdate') return failed('rollout status is only available for RollingUpdate strategy type');
  if (n(s.observedGeneration) === 0 || n(o.metadata?.generation) > n(s.observedGeneration))
    return waiting('waiting for statefulset spec update to be observed');
  const want = o.spec?.replicas === undefined ? 1 : n(o.spec.replicas);
  if (n(s.readyReplicas) < want) return waiting(`${n(s.readyReplicas)} of ${want} pods are ready`);
  const partition = o.spec?.updateStrategy?.rollingUpdate?.partition;
  if (partition !== undefined && partition !== null) {
    if (n(s.updatedReplicas) < want - n(partition)) return waiting(`${n(s.updatedReplicas)} of ${want - n(partition)} pods updated (partitioned roll out)`);
    return ready(`partitioned roll out complete: ${n(s.updatedReplicas)} new pods have been updated`);
  }
  if (s.updateRevision !== s.currentRevision) return waiting(`waiting for pods to be updated to revision ${s.updateRevision}`);
  return ready(`roll out complete: ${want} pods at revision ${s.currentRevision}`);
}

/** kubectl rollout status for a DaemonSet (RollingUpdate only) */
export function daemonSet(o: Obj): Verdict {
  const s = o.status ?? {};
  if ((o.spec?.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return failed('rollout status is only available for RollingUpdate strategy type');
  if (n(o.metadata?.generation) > n(s.observedGeneration)) return waiting('waiting for daemon set spec update to be observed');
  const want = n(s.desiredNumberScheduled);
  if (n(s.updatedNumberScheduled) < want) return waiting(`${n(s.updatedNumberScheduled)} out of ${want} new pods have been updated`);
  if (n(s.numberAvailable) < want) return waiting(`${n(s.numberAvailable)} of ${want} updated pods are available`);
  return ready(`successfully rolled out (${want} pods)`);
}

export function job(o: Obj): Verdict {
  const c = (t: string) => condition(o, t)?.status === 'True';
  if (c('Failed')) {
    const f = condition(o, 'Failed')!;
    return failed(`job failed: ${f.reason ?? ''}${f.message ? ` (${f.message})` : ''}`);
  }
  if (c('Complete')) return ready(`complete (${n(o.status?.succeeded)} succeeded)`);
  return waiting(`running: ${n(o.status?.active)} active, ${n(o.status?.succeeded)} succeeded, ${n(o.status?.failed)} failed`);
}

export function crd(o: Obj): Verdict {
  if (condition(o, 'Established')?.status === 'True') return ready('Established');
  const na = condition(o, 'NamesAccepted');
  if (na?.status === 'False') return failed(`names not accepted: ${na.reason}: ${na.message ?? ''}`);
  return waiting(describeConditions(o));
}

export function node(o: Obj): Verdict {
  const r = condition(o, 'Ready');
  return r?.status === 'True' ? ready('Ready') : waiting(`Ready=${r?.status ?? 'Unknown'}${r?.reason ? ` (${r.reason})` : ''}`);
}

/** LoadBalancer: an ingress address assigned; other Service types are ready at once (as helm treats them) */
export function service(o: Obj): Verdict {
  if (o.spec?.type !== 'LoadBalancer') return ready(`type ${o.spec?.type ?? 'ClusterIP'}`);
  if (Array.isArray(o.spec?.externalIPs) && o.spec.externalIPs.length) return ready(`external IPs ${o.spec.externalIPs.join(', ')}`);
  const ing = (o.status?.loadBalancer?.ingress ?? []) as Obj[];
  if (ing.length === 0) return waiting('no LoadBalancer address assigned yet');
  return ready(`LoadBalancer address ${ing.map((i) => i.ip ?? i.hostname).join(', ')}`);
}

/** kstatus-style Ready: True with observedGeneration current (ExternalSecret has no observedGeneration) */
export function readyCondition(o: Obj, needObservedGeneration: boolean): Verdict {
  const r = condition(o, 'Ready');
  const gen = n(o.metadata?.generation);
  if (needObservedGeneration && n(o.status?.observedGeneration) < gen)
    return waiting(`observedGeneration ${n(o.status?.observedGeneration)} < generation ${gen}; ${describeConditions(o)}`);
  if (r?.status === 'True') return ready(`Ready (${r.reason ?? ''})`);
  if (condition(o, 'Stalled')?.status === 'True') return failed(`stalled: ${describeConditions(o)}`);
  return waiting(describeConditions(o));
}

/** PGO: every instance set has readyReplicas == replicas, for the current generation, and the restore (if any) did not fail */
export function postgresCluster(o: Obj): Verdict {
  const s = o.status ?? {};
  const di = condition(o, 'PostgresDataInitialized');
  if (di?.status === 'False' && di.reason === 'PGBackRestRestoreFailed') return failed(`restore failed: ${di.message ?? di.reason}`);
  if (n(s.observedGeneration) < n(o.metadata?.generation))
    return waiting(`status.observedGeneration ${n(s.observedGeneration)} < generation ${n(o.metadata?.generation)}`);
  const sets = (s.instances ?? []) as Obj[];
  const specSets = ((o.spec?.instances ?? []) as Obj[]).length || 1;
  if (sets.length < specSets) return waiting(`${sets.length} of ${specSets} instance sets reported`);
  const notReady = sets.filter((i) => n(i.readyReplicas) < n(i.replicas));
  if (notReady.length) return waiting(notReady.map((i) => `${i.name}: ${n(i.readyReplicas)}/${n(i.replicas)} ready`).join(', '));
  return ready(sets.map((i) => `${i.name}: ${n(i.readyReplicas)}/${n(i.replicas)} ready`).join(', '));
}

/** EndpointSlices of a Service: ready when one endpoint is ready (nil counts as ready) */
export function endpointSlices(slices: readonly Obj[]): Verdict {
  const eps = slices.flatMap((s) => (s.endpoints ?? []) as Obj[]);
  const readyN = eps.filter((e) => e.conditions?.ready !== false && e.conditions?.terminating !== true).length;
  return readyN > 0 ? ready(`${readyN} ready endpoints`) : waiting(`${eps.length} endpoints, none ready`);
}

/** The readiness rule of a kind, or undefined when Castle does not wait for that kind. */
export function judgeFor(apiVersion: string, kind: string): ((o: Obj) => Verdict) | undefined {
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  switch (`${group}|${kind}`) {
    case 'apps|Deployment':
      return deployment;
    case 'apps|StatefulSet':
      return statefulSet;
    case 'apps|DaemonSet':
      return daemonSet;
    case 'batch|Job':
      return job;
    case 'apiextensions.k8s.io|CustomResourceDefinition':
      return crd;
    case '|Node':
      return node;
    case '|Service':
      return service;
    case 'external-secrets.io|ExternalSecret':
      return (o) => readyCondition(o, false);
    case 'kustomize.toolkit.fluxcd.io|Kustomization':
    case 'helm.toolkit.fluxcd.io|HelmRelease':
      return (o) => readyCondition(o, true);
    case 'postgres-operator.crunchydata.com|PostgresCluster':
      return postgresCluster;
    default:
      return undefined;
  }
}
