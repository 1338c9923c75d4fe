import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { cleanup, copyFixture, CRDS, runCli, tempDir } from './helpers.js';
import { requirement } from '../helpers/requires.js';

const KUBECTL = requirement(
  ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].some((p) => existsSync(p)),
  'kubectl not installed: the blog kustomization needs rendering',
);

// Acceptance: no false positives on a realistic homelab GitOps tree (Flux, HelmReleases, Longhorn,
// MetalLB, Traefik, PGO, ESO, a blog Deployment/Service/Ingress).
describe('homelab GitOps tree', () => {
  let dir: string;
  let cache: string;
  before(() => {
    dir = tempDir();
    cache = tempDir('castle-validate-cache-');
    copyFixture('homelab', dir, 'homelab');
  });
  after(() => {
    cleanup(dir);
    cleanup(cache);
  });

  it('validates with no error and no warning', { skip: KUBECTL.skip }, () => {
    KUBECTL.check();
    const r = runCli(['validate', '--cache-dir', cache, '--strict', CRDS, 'homelab'], dir);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /^0 errors, 0 warnings$/m);
    // the blog's kustomization (namespace, commonLabels, configMapGenerator) was rendered by kubectl
    assert.doesNotMatch(r.stdout, /kustomize-unavailable|kustomize-failed/);
    // PostgresCluster, ExternalSecret, ClusterSecretStore, StorageClasses, Deployment, Service, Ingress... were checked
    const m = /(\d+) documents in \d+ files, (\d+) checked against a schema/.exec(r.stdout);
    assert.ok(m && Number(m[2]) >= 20, r.stdout);
    // kinds without a schema (Flux, MetalLB, Traefik) are listed as such, never passed silently
    assert.match(r.stdout, /info schema\/unknown-kind: no schema for HelmRelease helm\.toolkit\.fluxcd\.io\/v2 \(5 documents\)/);
  });

  it('catches a typo planted in the tree, at its line', () => {
    const broken = tempDir();
    try {
      copyFixture('homelab', broken, 'homelab');
      const r0 = runCli(['validate', '--cache-dir', cache, '--no-kustomize', CRDS, 'homelab/apps/tazlab-db'], broken);
      assert.equal(r0.status, 0, r0.stdout);
      copyFixture('seed/first/cluster.yaml', broken, 'homelab/apps/tazlab-db/cluster.yaml');
      const r = runCli(['validate', '--cache-dir', cache, '--no-kustomize', CRDS, 'homelab/apps/tazlab-db'], broken);
      assert.equal(r.status, 1);
      assert.match(r.stdout, /^homelab\/apps\/tazlab-db\/cluster\.yaml:31:9: error schema\/unknown-field: /m);
    } finally {
      cleanup(broken);
    }
  });
});
