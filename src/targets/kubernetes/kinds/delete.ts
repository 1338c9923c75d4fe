import { connect } from 'node:net';
import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { describeError, ref, statusOf, type KubeSession } from '../client.js';
import { durationMs, type DeleteConfig } from '../config.js';
import { loadManifests, planApply } from '../manifests.js';
import type { KubeTargetSession } from '../session.js';
import { runGates } from './apply.js';

/** Whether anything accepts a TCP connection at the API server's address within `ms` (a gone cluster refuses or stays silent). */
export function reachable(server: string, ms: number): Promise<boolean> {
  const u = new URL(server);
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  return new Promise((res) => {
    const sock = connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port });
    const done = (v: boolean) => {
      sock.destroy();
      res(v);
    };
    sock.setTimeout(ms, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Deletes what the manifests declare, in the reverse of the apply order, and waits until it is gone.
 * A cluster that is already gone (no kubeconfig in the state, nothing answering) is skipped at once.
 */
export const run: StepKind<DeleteConfig, KubeTargetSession>['run'] = async (c, ctx, session) => {
  const k = session.kube();
  if (!k.ok) {
    ctx.note('no cluster to delete from');
    return { ok: true, summary: `skipped: ${k.reason}` };
  }
  const s: KubeSession = k.value;
  if (!(await reachable(s.server, 3000))) return { ok: true, summary: `skipped: the API server ${s.server} does not answer (the cluster is gone)` };
  const docs = loadManifests(typeof c.manifests === 'string' ? [c.manifests] : [...c.manifests], ctx.castleDir);
  if (!docs.ok) return docs;
  const p = planApply(docs.value);
  const order = [...p.custom, ...p.builtins.reverse(), ...p.namespaces, ...p.crds];
  let deleted = 0;
  const gates = [];
  for (const d of order) {
    const body = structuredClone(d.object);
    if (c.namespace && !body.metadata.namespace) body.metadata.namespace = c.namespace;
    try {
      await s.api.delete(body, undefined, undefined, undefined, undefined, 'Foreground');
      deleted++;
      gates.push({
        apiVersion: body.apiVersion,
        kind: body.kind,
        name: body.metadata.name,
        ...(body.metadata.namespace ? { namespace: body.metadata.namespace } : {}),
        absent: true,
        timeoutMs: durationMs(c.within, 5 * 60_000),
      });
      ctx.log(`deleted ${ref(body)}\n`);
    } catch (err) {
      const st = statusOf(err);
      if (st?.code === 404 || /Unrecognized API version and kind|Failed to fetch resource metadata/.test(String((err as Error).message))) continue;
      return fail(`${d.where}: deleting ${ref(body)}: ${describeError(err)}`, { retryable: true });
    }
  }
  const g = await runGates(s, gates, ctx);
  if (!g.ok) return g;
  return { ok: true, summary: `deleted ${deleted} objects (${order.length - deleted} were already gone)` };
};
