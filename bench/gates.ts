import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { castleRunState } from '../src/engine/run-state.js';
import { executePlan } from '../src/engine/execute.js';
import { Redactor } from '../src/engine/redact.js';
import { StepLogs } from '../src/engine/step-log.js';
import { buildPlan } from '../src/plan/plan.js';
import { analyzeCastle } from '../src/spec/load.js';
import { defaultRegistry } from '../src/targets/registry.js';
import { KubeTestServer } from '../test/kubernetes/index.js';

/**
 * `npm run bench -- gates [--gates N]`: N `kubernetes.wait` steps in a row, run by the engine against the
 * Kubernetes API test server. Each Deployment is made ready once its gate's watch is open; the figure is
 * the time from that status change on the server to the engine starting the next step.
 */
export async function benchGates(args: readonly string[]): Promise<void> {
  const n = Number(args[args.indexOf('--gates') + 1] ?? 200) || 200;
  const dir = mkdtempSync(join(tmpdir(), 'castle-bench-gates-'));
  const srv = await KubeTestServer.start({ dir: join(dir, 'server') });
  try {
    for (let i = 0; i < n; i++)
      srv.put({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `app-${i}`, namespace: 'default' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: `app-${i}` } },
          template: { metadata: { labels: { app: `app-${i}` } }, spec: { containers: [{ name: 'a', image: 'nginx' }] } },
        },
      });
    const yaml = stringify({
      name: 'gates',
      target: 'kubernetes',
      kubernetes: { kubeconfig: srv.kubeconfigPath },
      layers: [
        {
          name: 'gates',
          apply: Array.from({ length: n }, (_, i) => ({
            wait: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: `app-${i}`, within: '30s' },
          })),
        },
      ],
    });
    const spec = analyzeCastle(join(dir, 'castle.yaml'), yaml, defaultRegistry());
    if (!spec.ok) throw new Error(JSON.stringify(spec.diagnostics));
    const plan = buildPlan(spec.value, { operation: 'up' });
    if (!plan.ok) throw new Error('plan failed');
    const readyAt = new Map<number, number>();
    const latencies: number[] = [];
    // a gate's watch is open: the deployment rolls out now
    srv.onRequest((r) => {
      const m = /\/deployments\?.*watch=true.*fieldSelector=metadata\.name%3Dapp-(\d+)/.exec(r.path);
      if (!m || readyAt.has(Number(m[1]))) return;
      const i = Number(m[1]);
      setImmediate(() => {
        readyAt.set(i, performance.now());
        srv.patchStatus(
          'apps/v1',
          'Deployment',
          'default',
          `app-${i}`,
          (o) => void (o['status'] = { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 }),
          'deployment-controller',
        );
      });
    });
    const stepIndex = new Map(plan.value.steps.map((s, i) => [s.id, i] as const));
    const redactor = new Redactor();
    const t0 = Date.now();
    const res = await executePlan(plan.value, {
      runId: 'bench',
      runDir: join(dir, 'run'),
      runs: castleRunState(dir),
      concurrency: 1,
      failFast: true,
      signal: new AbortController().signal,
      redactor,
      logs: new StepLogs(join(dir, 'run'), redactor),
      resumes: [],
      emit: (ev) => {
        if (ev.type !== 'step-started') return;
        const i = stepIndex.get(ev.stepId);
        if (i === undefined || i === 0) return;
        const prev = readyAt.get(i - 1);
        if (prev !== undefined) latencies.push(performance.now() - prev);
      },
    });
    const wall = Date.now() - t0;
    if (res.status !== 'succeeded') throw new Error(`the run ${res.status}`);
    const sorted = [...latencies].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
    const noWatch = readyAt.size < n ? ` (${n - readyAt.size} gates were ready at their LIST, not measured)` : '';
    process.stdout.write(
      `gates: ${n} kubernetes.wait steps in a row through the engine, ${latencies.length} measured (the last gate has no next step)${noWatch}\n` +
        `  condition true on the server -> next step started: median ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms (target: median < 50 ms)\n` +
        `  whole run ${(wall / 1000).toFixed(2)} s (${(wall / n).toFixed(1)} ms per gate: discovery, LIST, WATCH, event, next step)\n`,
    );
  } finally {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
