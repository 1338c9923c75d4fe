import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { durationMs, type NodesConfig, type WaitConfig } from '../config.js';
import { condition, describeConditions, judgeFor, node, type Verdict } from '../readiness.js';
import type { KubeTargetSession } from '../session.js';
import { describeGate } from '../watch-gate.js';
import { runGates } from './apply.js';

function conditionJudge(type: string): (o: Record<string, any>) => Verdict {
  return (o) => (condition(o, type)?.status === 'True' ? { state: 'ready', detail: `${type}=True` } : { state: 'waiting', detail: describeConditions(o) });
}

/** Waits, on LIST+WATCH, until an object (or every object a selector matches, at least `count`) is ready. */
export const runWait: StepKind<WaitConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) return k;
  const judge = c.condition ? conditionJudge(c.condition) : judgeFor(c.apiVersion, c.kind);
  if (!judge) return fail(`Castle has no readiness rule for ${c.apiVersion} ${c.kind}: name a \`condition\` that must be True`, { retryable: false });
  const g = {
    apiVersion: c.apiVersion,
    kind: c.kind,
    ...(c.namespace ? { namespace: c.namespace } : {}),
    ...(c.name ? { name: c.name } : {}),
    ...(c.selector ? { labelSelector: c.selector } : {}),
    ...(c.fields ? { fieldSelector: c.fields } : {}),
    ...(c.count ? { minCount: c.count } : {}),
    judge,
    timeoutMs: durationMs(c.within, 5 * 60_000),
  };
  ctx.note(`waiting for ${describeGate(g)}`);
  const r = await runGates(k.value, [g], ctx);
  return r.ok ? { ok: true, summary: `${describeGate(g)} ready` } : r;
};

/** Waits until at least `count` nodes exist and every node is Ready. */
export const runNodes: StepKind<NodesConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) return k;
  const g = {
    apiVersion: 'v1',
    kind: 'Node',
    minCount: c.count ?? 1,
    ...(c.selector ? { labelSelector: c.selector } : {}),
    judge: node,
    timeoutMs: durationMs(c.within, 10 * 60_000),
  };
  ctx.note(`waiting for ${c.count ?? 1} Ready nodes`);
  const r = await runGates(k.value, [g], ctx);
  return r.ok ? { ok: true, summary: `${c.count ?? 1}+ nodes Ready` } : r;
};
