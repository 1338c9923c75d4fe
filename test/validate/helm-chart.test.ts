import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, cleanup, runCli, tempDir, validateIn, validateTexts, writeTree } from './helpers.js';

// A Helm chart in a tree: its templates are Go templates (YAML only once rendered), Chart.yaml and values.yaml are
// the chart's own files, its crds/ (and its subcharts' crds/) are plain CRDs that give the tree's custom resources
// their schemas.

const CRD = (kind: string, group: string): string =>
  `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ${kind.toLowerCase()}s.${group}}\nspec:\n  group: ${group}\n  names: {kind: ${kind}, plural: ${kind.toLowerCase()}s, singular: ${kind.toLowerCase()}, listKind: ${kind}List}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec:\n              type: object\n              properties:\n                size: {type: integer}\n`;
const CR = (kind: string, group: string): string => `apiVersion: ${group}/v1\nkind: ${kind}\nmetadata: {name: w, namespace: default}\nspec: {size: "big"}\n`;

const CHART: Record<string, string> = {
  'repo/charts/widgets/Chart.yaml': 'apiVersion: v2\nname: widgets\nversion: 0.1.0\n',
  'repo/charts/widgets/values.yaml': 'replicas: 1\n',
  'repo/charts/widgets/templates/deploy.yaml':
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n{{- if .Values.x }}\n  foo: bar\n{{- end }}\n',
  'repo/charts/widgets/crds/widget.yaml': CRD('Widget', 'example.com'),
  'repo/charts/widgets/charts/gadgets/Chart.yaml': 'apiVersion: v2\nname: gadgets\nversion: 0.1.0\n',
  'repo/charts/widgets/charts/gadgets/crds/gadget.yaml': CRD('Gadget', 'example.org'),
  'repo/apps/w.yaml': `${CR('Widget', 'example.com')}---\n${CR('Gadget', 'example.org')}`,
};

const errors = (diags: readonly { severity: string; rule: string; location?: { file: string; line: number } }[]): string[] =>
  diags.filter((d) => d.severity === 'error').map((d) => `${d.location?.file}:${d.location?.line} ${d.rule}`);

describe('Helm charts in a tree', () => {
  it('reads the CRDs of a chart and its subcharts, never its templates, Chart.yaml or values.yaml as manifests', async () => {
    const r = await validateTexts(CHART);
    // both custom resources are checked against the chart's CRDs; no YAML error from the templates
    assert.deepEqual(errors(r.diagnostics), ['repo/apps/w.yaml:4 schema/type', 'repo/apps/w.yaml:9 schema/type']);
    assert.deepEqual(
      r.diagnostics.filter((d) => d.rule === 'input/helm-chart').map((d) => d.location?.file),
      ['repo/charts/widgets/Chart.yaml', 'repo/charts/widgets/charts/gadgets/Chart.yaml'],
    );
    assert.match(r.diagnostics.find((d) => d.rule === 'input/helm-chart')!.message, /helm template repo\/charts\/widgets \| castle validate -/);
  });

  it('gives the same verdict when every file is passed explicitly', () => {
    const dir = tempDir();
    try {
      writeTree(dir, CHART);
      const files = Object.keys(CHART).map((f) => f.replace(/^repo\//, ''));
      const r = runCli(['validate', '--cache-dir', join(dir, 'cache'), ...files], join(dir, 'repo'));
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.deepEqual(
        r.stdout.split('\n').filter((l) => / error /.test(l)),
        [
          'apps/w.yaml:4:14: error schema/type: spec.size: Invalid value: "string": must be of type integer',
          'apps/w.yaml:9:14: error schema/type: spec.size: Invalid value: "string": must be of type integer',
        ],
      );
      assert.match(r.stdout, /^2 errors, 0 warnings$/m);
    } finally {
      cleanup(dir);
    }
  });

  it('follows a Flux HelmRelease whose chart is a path of a GitRepository to the CRDs it installs', async () => {
    const release =
      'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: widgets, namespace: default}\nspec:\n  interval: 10m\n  chart:\n    spec:\n      chart: ./charts/widgets\n      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n';
    const { 'repo/apps/w.yaml': cr, ...chart } = CHART;
    const files = { ...chart, 'repo/.git/HEAD': 'ref: refs/heads/main\n', 'repo/clusters/prod/release.yaml': release, 'repo/clusters/prod/w.yaml': cr! };
    const r = await validateIn(files, ['repo/clusters/prod']);
    assert.deepEqual(errors(r.diagnostics), ['repo/clusters/prod/w.yaml:4 schema/type', 'repo/clusters/prod/w.yaml:9 schema/type']);
    // without the release, the chart is not part of what the cluster gets: the kinds are unknown
    const without = await validateIn({ ...files, 'repo/clusters/prod/release.yaml': '' }, ['repo/clusters/prod']);
    assert.deepEqual(errors(without.diagnostics), []);
    assert.equal(without.stats.unknownKind, 2);
  });

  it('reads manifests from standard input with `-` (helm template ... | castle validate -)', () => {
    const dir = tempDir();
    try {
      const r = spawnSync(process.execPath, [CLI, 'validate', '--cache-dir', join(dir, 'cache'), '-'], {
        cwd: dir,
        input: `${CRD('Widget', 'example.com')}---\n${CR('Widget', 'example.com')}`,
        encoding: 'utf8',
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^<stdin>:24:14: error schema\/type: spec\.size: Invalid value: "string": must be of type integer$/m);
      assert.match(r.stdout, /2 documents in 1 file/);
    } finally {
      cleanup(dir);
    }
  });
});
