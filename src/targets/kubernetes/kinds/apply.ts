import type { StepContext, StepKind, StepResult } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { applyDoc } from '../apply.js';
import { ref, type KubeSession, type Obj } from '../client.js';
import { durationMs, type ApplyConfig } from '../config.js';
import { groupOf, loadManifests, planApply, type ManifestDoc } from '../manifests.js';
import { endpointSlices, judgeFor } from '../readiness.js';
import type { KubeTargetSession } from '../session.js';
import { describeGate, waitGate, type GateSpec } from '../watch-gate.js';

const list = (m: string | readonly string[]): string[] => (typeof m === 'string' ? [m] : [...m]);
const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** The gate an applied object gets, from its kind alone (undefined: nothing to wait for). */
export function gateFor(o: Obj, timeoutMs: number, defaultNamespace?: string): GateSpec | undefined {
  const judge = judgeFor(o.apiVersion, o.kind);
  if (!judge) return undefined;
  if (o.kind === 'Service' && o.spec?.type !== 'LoadBalancer') return undefined;
  const namespace = o.metadata?.namespace ?? defaultNamespace;
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, ...(namespace ? { namespace } : {}), judge, timeoutMs };
}

/** Runs gates side by side; the first failure is reported with every other failure after it. */
export async function runGates(s: KubeSession, gates: readonly GateSpec[], ctx: StepContext): Promise<StepResult & { readyAt?: number }> {
  const left = new Set(gates.map(describeGate));
  const results = await Promise.all(
    gates.map(async (g) => {
      const r = await waitGate(s, g, ctx.signal, (d) => ctx.log(`${describeGate(g)}: ${d}\n`));
      left.delete(describeGate(g));
      if (r.ok) ctx.log(`${describeGate(g)}: ready (${r.value.detail})\n`);
      if (left.size > 0 && left.size <= 3) ctx.note(`waiting for ${[...left].join(', ')}`);
      return r;
    }),
  );
  const bad = results.filter((r) => !r.ok);
  if (bad.length) return fail(bad.map((r) => (r.ok ? '' : r.reason)).join('\n'), { retryable: bad.every((r) => !r.ok && r.retryable !== false) });
  return { ok: true, readyAt: Math.max(0, ...results.map((r) => (r.ok ? r.value.readyAt : 0))) };
}

async function applyAll(s: KubeSession, docs: readonly ManifestDoc[], c: ApplyConfig, ctx: StepContext): Promise<StepResult> {
  for (const d of docs) {
    if (ctx.signal.aborted) return fail('cancelled');
    const r = await applyDoc(s, d, c.force === true, c.namespace);
    if (!r.ok) return r;
    ctx.log(`applied ${ref(d.object)} (${d.where})\n`);
  }
  return { ok: true };
}

/**
 * Server-side apply of manifests as field manager `castle`, in an order derived from them: CRDs
 * (waited for Established), namespaces, built-in kinds, the ready endpoints of the webhooks declared
 * here, then custom resources; then a readiness gate per object whose kind has a rule.
 */
export const run: StepKind<ApplyConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) return k;
  const s = k.value;
  const docs = loadManifests(list(c.manifests), ctx.castleDir);
  if (!docs.ok) return docs;
  const plan = planApply(docs.value);
  const timeoutMs = durationMs(c.within, 5 * 60_000);

  if (plan.crds.length) {
    ctx.note(`applying ${plural(plan.crds.length, 'CRD')}`);
    const a = await applyAll(s, plan.crds, c, ctx);
    if (!a.ok) return a;
    const g = await runGates(
      s,
      plan.crds.map((d) => gateFor(d.object, timeoutMs)!),
      ctx,
    );
    if (!g.ok) return g;
    for (const d of plan.crds) for (const v of (d.object.spec?.versions ?? []) as Obj[]) s.api.forget(`${d.object.spec.group}/${v.name}`);
  }
  if (plan.namespaces.length) {
    const a = await applyAll(s, plan.namespaces, c, ctx);
    if (!a.ok) return a;
  }
  ctx.note(`applying ${plural(plan.builtins.length + plan.custom.length, 'object')}`);
  const b = await applyAll(s, plan.builtins, c, ctx);
  if (!b.ok) return b;
  if (plan.webhookServices.length) {
    // a webhook whose Service has no ready endpoint makes the API server refuse what it admits (the MetalLB lesson)
    const g = await runGates(
      s,
      plan.webhookServices.map((w) => ({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        namespace: w.namespace,
        labelSelector: `kubernetes.io/service-name=${w.name}`,
        judgeSet: endpointSlices,
        timeoutMs,
      })),
      ctx,
    );
    if (!g.ok) return fail(`webhook backends not ready: ${g.reason}`, g.retryable === undefined ? {} : { retryable: g.retryable });
  }
  const cr = await applyAll(s, plan.custom, c, ctx);
  if (!cr.ok) return cr;
  const applied = docs.value.length;
  if (c.wait === false) return { ok: true, summary: `applied ${plural(applied, 'object')}` };
  const gates = [...plan.builtins, ...plan.custom].map((d) => gateFor(d.object, timeoutMs, c.namespace)).filter((g): g is GateSpec => !!g);
  if (gates.length) ctx.note(`waiting for ${plural(gates.length, 'object')} to be ready`);
  const g = await runGates(s, gates, ctx);
  if (!g.ok) return g;
  const groups = new Set(docs.value.map((d) => groupOf(d.object.apiVersion) || 'core'));
  return { ok: true, summary: `applied ${plural(applied, 'object')} (${[...groups].join(', ')}), ${gates.length + plan.crds.length} ready` };
};
