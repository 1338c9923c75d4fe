// The Kubernetes session of a run: one KubeConfig (from the castle's state, written by the talos
// target, or from a path in the `kubernetes:` block; never the user's ~/.kube/config), the object API
// with its discovery cache, and the watch client the readiness gates use.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiException, KubeConfig, KubernetesObjectApi, Watch, type KubernetesObject, type V1APIResource } from '@kubernetes/client-node';
import { fail, ok, type Result } from '../../core/result.js';

export type Obj = Record<string, any>;

/** KubernetesObjectApi with its discovery exposed: the gates need the plural to build watch paths. */
export class CastleObjectApi extends KubernetesObjectApi {
  resourceOf(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    return this.resource(apiVersion, kind);
  }
  /** drops the discovery cache (a CRD just became Established) */
  forget(apiVersion: string): void {
    delete (this as unknown as { apiVersionResourceCache: Record<string, unknown> }).apiVersionResourceCache[apiVersion];
  }
}

export interface KubeSession {
  readonly kc: KubeConfig;
  readonly api: CastleObjectApi;
  readonly watch: Watch;
  readonly kubeconfigPath: string;
  readonly server: string;
}

export interface KubernetesBlock {
  /** kubeconfig file (relative to castle.yaml); default: the one the talos target wrote to the castle's state */
  readonly kubeconfig?: string;
  /** context inside the kubeconfig (default: its current-context) */
  readonly context?: string;
}

/** Where the talos target leaves the cluster's kubeconfig inside the castle's state directory. */
export const stateKubeconfig = (stateDir: string): string => join(stateDir, 'talos', 'kubeconfig');

export function openKube(block: KubernetesBlock | undefined, castleDir: string, stateDir: string): Result<KubeSession> {
  const path = block?.kubeconfig ? resolve(castleDir, block.kubeconfig) : stateKubeconfig(stateDir);
  if (!existsSync(path))
    return fail(
      block?.kubeconfig
        ? `kubeconfig ${path} (kubernetes.kubeconfig in castle.yaml) does not exist`
        : `no kubeconfig in the castle's state (${path}): the talos layer writes it; run its layer first or set kubernetes.kubeconfig`,
      { retryable: false },
    );
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    return fail(`cannot read kubeconfig ${path}: ${(err as Error).message}`, { retryable: false });
  }
  if (block?.context) {
    if (!kc.getContextObject(block.context)) return fail(`kubeconfig ${path} has no context '${block.context}' (kubernetes.context)`, { retryable: false });
    kc.setCurrentContext(block.context);
  }
  const server = kc.getCurrentCluster()?.server;
  if (!server) return fail(`kubeconfig ${path} has no cluster for its current context`, { retryable: false });
  return ok({ kc, api: kc.makeApiClient(CastleObjectApi), watch: new Watch(kc), kubeconfigPath: path, server });
}

/** The API server's Status from a client-node error (body is raw text), or null for a network error. */
export function statusOf(err: unknown): { code: number; reason?: string; message: string; details?: Obj } | null {
  if (err instanceof ApiException) {
    try {
      const b = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (b && typeof b === 'object' && typeof b.message === 'string')
        return { code: err.code, ...(b.reason ? { reason: b.reason } : {}), message: b.message, ...(b.details ? { details: b.details } : {}) };
    } catch {
      /* not JSON */
    }
    return { code: err.code, message: String(err.body ?? err.message).slice(0, 500) };
  }
  return null;
}

/** One line for an error from the API or the network. */
export function describeError(err: unknown): string {
  const st = statusOf(err);
  if (st) return `${st.code}${st.reason ? ` ${st.reason}` : ''}: ${st.message}`;
  const e = err as Error & { cause?: Error & { code?: string }; code?: string };
  const code = e?.cause?.code ?? e?.code;
  return `${e?.message ?? String(err)}${code && !String(e?.message).includes(code) ? ` (${code})` : ''}`;
}

export const ref = (o: KubernetesObject): string => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;
