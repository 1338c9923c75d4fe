import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { substitute } from '../../src/validate/inputs.js';
import { validateIn, validateTexts } from './helpers.js';

// Real GitOps trees: Flux post-build substitution, the paths Flux and Argo CD apply, Components.

const FLUX = (path: string, vars?: Record<string, string>): string =>
  `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: default}\nspec:\n  interval: 10m\n  sourceRef: {kind: GitRepository, name: flux-system}\n  path: ${path}\n  prune: true\n${
    vars
      ? `  postBuild:\n    substitute:\n${Object.entries(vars)
          .map(([k, v]) => `      ${k}: "${v}"`)
          .join('\n')}\n`
      : ''
  }`;

const PVC =
  'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: "${APP}-data", namespace: default}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: "${CAPACITY:=5Gi}"}}\n';
const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "${APP}", namespace: default}\ndata: {k: v}\n';

describe('GitOps trees', () => {
  it('follows a Flux Kustomization path from the cluster directory and substitutes its variables', async () => {
    const r = await validateIn(
      {
        'repo/clusters/prod/apps.yaml': FLUX('./apps/web', { APP: 'web', CAPACITY: '10Gi' }),
        'repo/apps/web/kustomization.yaml': 'resources: [pvc.yaml, cm.yaml]\n',
        'repo/apps/web/pvc.yaml': PVC,
        'repo/apps/web/cm.yaml': CM,
        'repo/apps/other/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Applied}\n',
      },
      ['repo/clusters/prod'],
    );
    // only the cluster directory is given; what Flux applies from ./apps/web is checked too, apps/other is not
    assert.equal(r.stats.documents, 3);
    assert.equal(r.stats.files, 3);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
    assert.equal(r.stats.placeholders, 0);
  });

  it('reports a real defect that a substituted value makes, with the value the cluster gets', async () => {
    const r = await validateTexts({
      'repo/clusters/prod/apps.yaml': FLUX('./apps/web', { APP: 'Bad_Name' }),
      'repo/apps/web/cm.yaml': CM,
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.location?.file, d.rule]),
      [['repo/apps/web/cm.yaml', 'names/subdomain']],
    );
    assert.match(r.diagnostics.find((d) => d.rule === 'names/subdomain')!.message, /"Bad_Name"/);
  });

  it('never reports an unsubstituted placeholder as a literal value, and counts what it did not check', async () => {
    const r = await validateTexts({ 'loose/pvc.yaml': PVC, 'loose/cm.yaml': CM.replace('${APP}', '${UNKNOWN}') });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity !== 'info'),
      [],
    );
    assert.ok(r.stats.placeholders >= 2, `placeholders ${r.stats.placeholders}`);
  });

  it('follows Argo CD Application source paths', async () => {
    const r = await validateTexts({
      'repo/argo/app.yaml':
        'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: default}\nspec:\n  project: default\n  source: {repoURL: "https://example.com/repo.git", path: apps/argo}\n  destination: {server: "https://kubernetes.default.svc", namespace: default}\n',
      'repo/apps/argo/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: default}\n',
    });
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.location?.file, d.rule]),
      [['repo/apps/argo/cm.yaml', 'names/subdomain']],
    );
  });

  it('does not check a Kustomize Component on its own', async () => {
    const r = await validateTexts({
      'repo/components/common/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [ns.yaml]\n',
      'repo/components/common/ns.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: _}\n',
    });
    assert.deepEqual(
      r.diagnostics.map((d) => d.rule),
      ['input/kustomize-component'],
    );
    assert.equal(r.stats.documents, 0);
  });

  it('takes postBuild.substituteFrom variables from the ConfigMaps and Secrets of the tree, as Flux does', async () => {
    const b64 = (v: string): string => Buffer.from(v).toString('base64');
    const ks =
      'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: web, namespace: flux-system}\nspec:\n  interval: 10m\n  sourceRef: {kind: GitRepository, name: flux-system}\n  path: ./apps/web\n  prune: true\n  postBuild:\n    substitute: {CAPACITY: 20Gi}\n    substituteFrom:\n      - {kind: ConfigMap, name: cluster-settings}\n      - {kind: Secret, name: cluster-secrets}\n      - {kind: Secret, name: sops-secrets}\n      - {kind: ConfigMap, name: optional-settings, optional: true}\n      - {kind: ConfigMap, name: made-in-cluster}\n';
    const tree = (owner: string): Record<string, string> => ({
      'repo/.git/HEAD': 'ref: refs/heads/main\n',
      'repo/clusters/prod/web.yaml': ks,
      // outside the directory given: found in the Git tree, as Flux finds them in the cluster
      'repo/flux/vars/settings.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-settings, namespace: flux-system}\ndata:\n  APP: web\n  CAPACITY: not-a-quantity\n  OWNER: Not_Valid\n  not-a-variable: x\n`,
      'repo/flux/vars/secret.yaml': `apiVersion: v1\nkind: Secret\nmetadata: {name: cluster-secrets, namespace: flux-system}\ndata:\n  OWNER: ${b64(owner)}\n`,
      'repo/flux/vars/sops.yaml':
        'apiVersion: v1\nkind: Secret\nmetadata: {name: sops-secrets, namespace: flux-system}\nstringData:\n  DOMAIN: ENC[AES256_GCM,data:q2Jf,iv:a,tag:b,type:str]\nsops: {version: 3.9.0}\n',
      'repo/apps/web/kustomization.yaml': 'resources: [pvc.yaml, cm.yaml]\n',
      'repo/apps/web/pvc.yaml': PVC,
      'repo/apps/web/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "${OWNER}-${APP}", namespace: default}\ndata: {host: "${DOMAIN}"}\n',
    });
    const good = await validateIn(tree('team-a'), ['repo/clusters/prod']);
    // APP from the ConfigMap, CAPACITY inline over the ConfigMap's, OWNER from the Secret over the ConfigMap's
    assert.deepEqual(
      good.diagnostics.filter((d) => d.severity !== 'info').map((d) => d.message),
      ['Namespace "flux-system" is not defined in the validated manifests'],
    );
    // the encrypted DOMAIN stays a placeholder; an object the cluster makes is named, an optional one is not
    assert.equal(good.stats.placeholders, 0, 'DOMAIN sits in a data value, which any string satisfies');
    assert.deepEqual(
      good.diagnostics.filter((d) => d.rule === 'input/substitute-from').map((d) => d.message),
      ['Flux Kustomization web: ConfigMap made-in-cluster of postBuild.substituteFrom is not in this tree: its variables are not substituted'],
    );
    const bad = await validateIn(tree('Team_A'), ['repo/clusters/prod']);
    assert.deepEqual(
      bad.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.location?.file, d.rule]),
      [['repo/apps/web/cm.yaml', 'names/subdomain']],
    );
    assert.match(bad.diagnostics.find((d) => d.rule === 'names/subdomain')!.message, /"Team_A-web"/);
  });

  it('takes substituteFrom variables from a file given beside the tree, which is read again from disk for them', async () => {
    const ks =
      'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: web, namespace: flux-system}\nspec:\n  interval: 10m\n  sourceRef: {kind: GitRepository, name: flux-system}\n  path: ./apps/web\n  prune: true\n  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: outside-settings}\n';
    const r = await validateIn(
      {
        'repo/.git/HEAD': 'ref: refs/heads/main\n',
        'repo/clusters/prod/web.yaml': ks,
        'repo/apps/web/kustomization.yaml': 'resources: [cm.yaml]\n',
        'repo/apps/web/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "${APP}", namespace: default}\ndata: {k: v}\n',
        // no Flux word, no variable, no CRD: its text is not held while the inputs are collected
        'other/vars.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: outside-settings, namespace: flux-system}\ndata:\n  APP: Bad_Name\n',
      },
      ['repo/clusters/prod', 'other/vars.yaml'],
    );
    assert.deepEqual(
      r.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.location?.file, d.rule]),
      [['repo/apps/web/cm.yaml', 'names/subdomain']],
    );
    assert.match(r.diagnostics.find((d) => d.rule === 'names/subdomain')!.message, /"Bad_Name"/);
    assert.equal(r.stats.placeholders, 0);
    assert.equal(r.stats.documents, 3);
  });

  it('substitutes as Flux envsubst does', () => {
    assert.equal(substitute('a: ${A}\nb: ${B:=5Gi}\nc: ${C}\nd: ${D:-x}\n', { A: '1' }), 'a: 1\nb: 5Gi\nc: ${C}\nd: x\n');
  });
});
