import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, copyFixture, runCli, tempDir } from './helpers.js';
import { requirement } from '../helpers/requires.js';

const KUBECTL = requirement(
  ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].some((p) => existsSync(p)),
  'kubectl not installed: the Flux Kustomizations of the tree need rendering',
);

/** `file:line:col: severity rule: message` lines of the text output */
function findings(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^\S.*:\d+:\d+: (error|warning) /.test(l));
}

// The two findings Castle must report on this tree, and why neither is a defect of Castle: the tree
// targets Kubernetes 1.36, where MutatingAdmissionPolicy is GA; the bundled schemas are 1.34, which do
// not serve admissionregistration.k8s.io/v1 MutatingAdmissionPolicy, so Castle says it did not check them.
const NEWER_K8S = [
  'kubernetes/apps/o11y/grafana-operator/instance (Flux Kustomization grafana-instance):1:13: warning schema/newer-kubernetes: MutatingAdmissionPolicy admissionregistration.k8s.io/v1 is served from Kubernetes 1.36; the bundled schemas are Kubernetes 1.34.0: not checked',
  'kubernetes/apps/o11y/grafana-operator/instance (Flux Kustomization grafana-instance):42:13: warning schema/newer-kubernetes: MutatingAdmissionPolicyBinding admissionregistration.k8s.io/v1 is served from Kubernetes 1.36; the bundled schemas are Kubernetes 1.34.0: not checked',
];

// Acceptance (issue 14): a real public Flux homelab (onedr0p/home-ops, WTFPL) as a new user runs it.
describe('onedr0p/home-ops, a real Flux tree', () => {
  let dir: string;
  let cache: string;
  before(() => {
    dir = tempDir();
    cache = tempDir('castle-validate-cache-');
    copyFixture('home-ops', dir, 'home-ops');
  });
  after(() => {
    cleanup(dir);
    cleanup(cache);
  });

  it('castle validate kubernetes: no error, and the only warnings say what the bundled Kubernetes cannot check', { skip: KUBECTL.skip }, () => {
    KUBECTL.check();
    const r = runCli(['validate', '--cache-dir', cache, 'kubernetes'], join(dir, 'home-ops'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.deepEqual(findings(r.stdout), NEWER_K8S, r.stdout);
    assert.match(r.stdout, /^0 errors, 2 warnings$/m);
    // every Flux Kustomization's path was followed: the apps' HelmReleases and ExternalSecrets were read
    assert.match(r.stdout, /no schema for HelmRelease helm\.toolkit\.fluxcd\.io\/v2 \(68 documents\)/);
    const m = /(\d+) documents in (\d+) files, (\d+) checked against a schema/.exec(r.stdout);
    assert.ok(m && Number(m[1]) > 500 && Number(m[3]) > 100, r.stdout.slice(-400));
    // Components are checked through the Kustomizations that use them, never alone
    assert.doesNotMatch(r.stdout, /Invalid value: "_"/);
    assert.match(r.stdout, /components\/kopiur\/backup\/kustomization\.yaml:1:1: info input\/kustomize-component/);
  });

  it('with every YAML file passed explicitly: the same verdict (files a kustomization transforms are read through it)', { skip: KUBECTL.skip }, () => {
    KUBECTL.check();
    const list = listYaml(join(dir, 'home-ops'));
    const r = runCli(['validate', '--cache-dir', cache, ...list], join(dir, 'home-ops'));
    assert.equal(r.status, 0, r.stdout);
    const found = findings(r.stdout);
    // the rendered grafana-instance and the file on its own: the same two kinds, not checked on 1.34
    assert.equal(found.length, 4, found.join('\n'));
    assert.ok(
      found.every((l) =>
        /warning schema\/newer-kubernetes: MutatingAdmissionPolicy(Binding)? admissionregistration\.k8s\.io\/v1 is served from Kubernetes 1\.36/.test(l),
      ),
      found.join('\n'),
    );
  });

  it('a defect planted in an app-level ExternalSecret (under a Flux path) is reported', { skip: KUBECTL.skip }, () => {
    KUBECTL.check();
    const broken = tempDir();
    try {
      copyFixture('home-ops', broken, 'home-ops');
      const f = join(broken, 'home-ops/kubernetes/apps/default/autobrr/app/externalsecret.yaml');
      const text = readFileSync(f, 'utf8');
      assert.match(text, /kind: ClusterSecretStore/);
      writeFileSync(f, text.replace('kind: ClusterSecretStore', 'kind: ClusterSecretStor'));
      // the app's Flux Kustomization alone: its path is followed from it
      const r = runCli(['validate', '--cache-dir', cache, 'kubernetes/apps/default/autobrr/ks.yaml'], join(broken, 'home-ops'));
      assert.equal(r.status, 1, r.stdout);
      // found in what the Flux Kustomization autobrr builds (its path, its components, its namespace)
      assert.match(
        r.stdout,
        /^kubernetes\/apps\/default\/autobrr\/app \(Flux Kustomization autobrr\):\d+:\d+: error schema\/enum: spec\.secretStoreRef\.kind: Unsupported value: "ClusterSecretStor": supported values: "SecretStore", "ClusterSecretStore"$/m,
      );
      assert.equal(findings(r.stdout).filter((l) => / error /.test(l)).length, 1, r.stdout);
    } finally {
      cleanup(broken);
    }
  });
});

function listYaml(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push(p);
    }
  };
  walk('kubernetes');
  return out.sort();
}
