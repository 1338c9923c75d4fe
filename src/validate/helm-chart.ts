import { existsSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

// A Helm chart in a tree is not a set of manifests: its templates are Go templates that become YAML only when
// rendered, Chart.yaml and values.yaml are the chart's own files. Its crds/ folder is plain CRDs Helm applies as
// they are, so those are read (and give their schemas to the custom resources of the tree).

export const CHART_FILE = 'Chart.yaml';

/** the chart directory `abs` is in, and whether it is one of the chart's CRD files */
export function chartOf(abs: string): { readonly dir: string; readonly crd: boolean } | undefined {
  for (let d = dirname(abs); dirname(d) !== d; d = dirname(d)) {
    if (existsSync(join(d, CHART_FILE))) return { dir: d, crd: relative(d, abs).split(sep)[0] === 'crds' };
  }
  return undefined;
}

export function isChart(dir: string): boolean {
  return existsSync(join(dir, CHART_FILE));
}

/** why a chart's templates are not checked, and how to check them */
export function chartNotice(chartDir: string): string {
  return `${chartDir} is a Helm chart: its crds/ are read; its templates are manifests only once rendered: \`helm template ${chartDir} | castle validate -\``;
}
