import { lazyKind, type StepKind } from '../../core/step.js';
import type { Target } from '../../core/target.js';
import {
  applySchema,
  blockSchema,
  deleteSchema,
  kubernetesTargetName,
  nodesSchema,
  pgoBackupSchema,
  pgoProofSchema,
  pgoRepoCheckSchema,
  secretSchema,
  waitSchema,
  type ApplyConfig,
  type DeleteConfig,
  type KubernetesBlock,
  type PgoRepoCheckConfig,
} from './config.js';
import { kubeSession, type KubeTargetSession } from './session.js';

const manifestList = (m: string | readonly string[]): string[] => (typeof m === 'string' ? [m] : [...m]);

/** The kubernetes target: server-side apply, watch-based readiness gates, and the PGO data layer (backup gate, restore check, proof). */
export const kubernetesTarget: Target<KubernetesBlock, KubeTargetSession> = {
  name: kubernetesTargetName,
  description: 'a Kubernetes cluster through its API: server-side apply as field manager castle, readiness gates on LIST+WATCH, PGO backups and proofs',
  block: { schema: blockSchema },
  kinds: [
    lazyKind<ApplyConfig, KubeTargetSession>(
      {
        name: 'apply',
        description: 'server-side apply of manifests (CRDs, namespaces, the rest), then wait until each object is ready',
        schema: applySchema,
        manifests: (c) => manifestList(c.manifests),
        label: (c) => `apply ${manifestList(c.manifests).join(' ')}`,
      },
      () => import('./kinds/apply.js'),
    ),
    lazyKind(
      { name: 'wait', description: 'wait (LIST+WATCH) until an object, or every object a selector matches, is ready', schema: waitSchema },
      async () => ({ run: (await import('./kinds/wait.js')).runWait }),
    ),
    lazyKind({ name: 'nodes', description: 'wait until the cluster has its nodes, all Ready', schema: nodesSchema }, async () => ({
      run: (await import('./kinds/wait.js')).runNodes,
    })),
    lazyKind<DeleteConfig, KubeTargetSession>(
      {
        name: 'delete',
        description: 'delete what manifests declare and wait until it is gone; skipped at once when the cluster is gone',
        schema: deleteSchema,
        manifests: (c) => manifestList(c.manifests),
      },
      () => import('./kinds/delete.js'),
    ),
    lazyKind(
      {
        name: 'secret',
        description: "server-side apply a Secret whose values come from the operator's environment (or a dotenv file), masked in every log",
        schema: secretSchema,
      },
      () => import('./kinds/secret.js'),
    ),
    lazyKind(
      {
        name: 'pgoBackup',
        description: 'backup gate on a PGO cluster: WAL flushed, manual backup by PGO, confirmed in S3, data fingerprinted',
        schema: pgoBackupSchema,
        backupGate: true,
      },
      () => import('./kinds/pgo-backup.js'),
    ),
    lazyKind<PgoRepoCheckConfig, KubeTargetSession>(
      {
        name: 'pgoRepoCheck',
        description: "before a PostgresCluster comes back from its repo: the repo's system id is the gate's",
        schema: pgoRepoCheckSchema,
        manifests: (c) => [c.manifest],
      },
      () => import('./kinds/pgo-repo-check.js'),
    ),
    lazyKind(
      {
        name: 'pgoProof',
        description: 'proof after a rebirth: same system id, same data fingerprint, the app serving a value from the database',
        schema: pgoProofSchema,
      },
      () => import('./kinds/pgo-proof.js'),
    ),
  ] as StepKind<any, KubeTargetSession>[],
  describe: (config) => [
    `Kubernetes API from ${config?.kubeconfig ?? "the castle's state (talos/kubeconfig)"}${config?.context ? `, context ${config.context}` : ''}`,
  ],
  session: kubeSession,
};
