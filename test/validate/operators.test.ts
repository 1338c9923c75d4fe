import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadRelease, selectReleases, shippedReleases } from '../../src/validate/schema/operators.js';
import { compareVersions } from '../../src/validate/schema/versions.js';
import { cleanup, copyFixture, runCli, tempDir, writeTree } from './helpers.js';

const ESO_KINDS = ['ClusterExternalSecret', 'ClusterPushSecret', 'ClusterSecretStore', 'ExternalSecret', 'PushSecret', 'SecretStore'];

describe('shipped operator CRDs: every ESO kind in several releases, --crds selects one', () => {
  let dir: string;
  let cache: string;
  before(() => {
    dir = tempDir();
    cache = tempDir('castle-validate-cache-');
    writeTree(dir, {
      'old.yaml':
        'apiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: a, namespace: default}\nspec:\n  secretStoreRef: {kind: SecretStore, name: s}\n  target: {name: a}\n---\napiVersion: external-secrets.io/v1beta1\nkind: SecretStore\nmetadata: {name: s, namespace: default}\nspec:\n  provider:\n    fake: {data: []}\n',
      'push.yaml':
        'apiVersion: external-secrets.io/v1alpha1\nkind: PushSecret\nmetadata: {name: p, namespace: default}\nspec:\n  secretStoreRefs: [{name: s, kind: SecretStore}]\n  selector: {secret: {name: a}}\n  data: [{match: {secretKey: k, remoteRef: {remoteKey: r}}}]\n---\napiVersion: external-secrets.io/v1\nkind: SecretStore\nmetadata: {name: s, namespace: default}\nspec:\n  provider:\n    fake: {data: []}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: default}\n',
      'newer-k8s.yaml': 'apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingAdmissionPolicyBinding\nmetadata: {name: b}\nspec: {policyName: p}\n',
    });
    copyFixture('home-ops/kubernetes/apps/external-secrets/onepassword-sdk-home-operations/app/clustersecretstore.yaml', dir, 'sdk-store.yaml');
  });
  after(() => {
    cleanup(dir);
    cleanup(cache);
  });

  it('ships ESO 0.16.2, 0.19.2, 1.3.2 and 2.9.0, each with all its kinds; the newest is the default', () => {
    assert.deepEqual(
      shippedReleases().map((r) => `${r.operator}@${r.version}`),
      ['eso@0.16.2', 'eso@0.19.2', 'eso@1.3.2', 'eso@2.9.0'],
    );
    assert.deepEqual(
      selectReleases().map((r) => r.version),
      ['2.9.0'],
    );
    assert.deepEqual(
      selectReleases(['eso@0.19']).map((r) => r.version),
      ['0.19.2'],
    );
    assert.deepEqual(
      selectReleases(['external-secrets@1']).map((r) => r.version),
      ['1.3.2'],
    );
    assert.throws(() => selectReleases(['eso@0.18']), /External Secrets Operator 0\.18 is not shipped with Castle \(0\.16\.2, 0\.19\.2, 1\.3\.2, 2\.9\.0\)/);
    assert.throws(() => selectReleases(['vault@1.0']), /--crds vault@1\.0: expected <operator>@<version>; shipped: eso@0\.16\.2\|0\.19\.2\|1\.3\.2\|2\.9\.0/);
    for (const r of shippedReleases()) {
      const kinds = loadRelease(r, cache).map((c) => c.kind);
      for (const k of ESO_KINDS) assert.ok(kinds.includes(k), `${k} in ESO ${r.version}`);
      assert.ok(kinds.includes('Password') && kinds.includes('ClusterGenerator'), `generators in ESO ${r.version}`);
    }
  });

  it('default (2.9): v1beta1 is not served, and the hint names the shipped release that serves it', () => {
    const r = runCli(['validate', '--cache-dir', cache, 'old.yaml'], dir);
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stdout,
      /^old\.yaml:1:13: error schema\/version-not-served: external-secrets\.io\/v1beta1 is not served for ExternalSecret by CRD externalsecrets\.external-secrets\.io: served versions are external-secrets\.io\/v1$/m,
    );
    assert.match(
      r.stdout,
      /hint: ExternalSecret external-secrets\.io\/v1beta1 is served by External Secrets Operator 0\.16\.2 \(shipped with Castle\): pass `--crds eso@0\.16\.2` if the cluster runs that release/,
    );
    const old = runCli(['validate', '--cache-dir', cache, '--crds', 'eso@0.16', 'old.yaml'], dir);
    assert.equal(old.status, 0, old.stdout);
    assert.match(old.stdout, /^0 errors, 0 warnings$/m);
  });

  it('PushSecret is known; a provider newer than 0.16 (onepasswordSDK) is declared in 2.9 but not in 0.16', () => {
    const push = runCli(['validate', '--cache-dir', cache, 'push.yaml'], dir);
    assert.equal(push.status, 0, push.stdout);
    assert.match(push.stdout, /3 documents in 1 file, 3 checked against a schema/);
    const sdk = runCli(['validate', '--cache-dir', cache, 'sdk-store.yaml'], dir);
    assert.equal(sdk.status, 0, sdk.stdout);
    const old = runCli(['validate', '--cache-dir', cache, '--crds', 'eso@0.16.2', 'sdk-store.yaml'], dir);
    assert.equal(old.status, 1, old.stdout);
    assert.match(old.stdout, /^sdk-store\.yaml:9:5: error schema\/unknown-field: \.spec\.provider\.onepasswordSDK: field not declared in schema$/m);
  });

  it('a bad --crds is a usage error (exit 2) that lists what is shipped', () => {
    const r = runCli(['validate', '--cache-dir', cache, '--crds', 'eso@3', 'push.yaml'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--crds eso@3: External Secrets Operator 3 is not shipped with Castle \(0\.16\.2, 0\.19\.2, 1\.3\.2, 2\.9\.0\)/);
  });

  it('a built-in kind a newer Kubernetes serves is a not-checked warning that names --kubernetes-version', () => {
    const r = runCli(['validate', '--cache-dir', cache, 'newer-k8s.yaml'], dir);
    assert.equal(r.status, 0, r.stdout);
    assert.match(
      r.stdout,
      /^newer-k8s\.yaml:1:13: warning schema\/newer-kubernetes: MutatingAdmissionPolicyBinding admissionregistration\.k8s\.io\/v1 is served from Kubernetes 1\.36; the bundled schemas are Kubernetes 1\.34\.0: not checked$/m,
    );
    assert.match(r.stdout, /pass `--kubernetes-version 1\.36` after `castle schemas pull --core` against a cluster of that version/);
  });
});

describe('release versions in order', () => {
  it('compareVersions orders as numeric collation does (the shipped releases, Kubernetes versions, prefixes, a word)', () => {
    const vs = ['0.16.2', '0.9.20', '0.19.2', '1.3.2', '2.9.0', '10.0.0', '1.31', '1.31.4', '1.31.10', '1.4', '1.36', '1', '1.31.rc1', '1.31.rc2', '5.8.9'];
    const sign = (n: number): number => Math.sign(n);
    for (const a of vs) for (const b of vs) assert.equal(sign(compareVersions(a, b)), sign(a.localeCompare(b, 'en', { numeric: true })), `${a} vs ${b}`);
    assert.deepEqual(['2.9.0', '0.16.2', '1.3.2', '0.19.2'].sort(compareVersions), ['0.16.2', '0.19.2', '1.3.2', '2.9.0']);
  });
});
