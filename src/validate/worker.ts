import { parentPort, workerData } from 'node:worker_threads';
import { analyzeFiles, type AnalyzeOptions } from './analyze.js';
import type { InputFile } from './inputs.js';
import type { CrdInfo } from './schema/crd.js';
import { loadRegistry } from './schema/registry-load.js';

/** One worker analyses one share of the files and posts its FileAnalysis back (see pool.ts). */
export interface WorkerInput {
  cacheDir: string;
  kubernetesVersion: string | undefined;
  crds: CrdInfo[];
  options: AnalyzeOptions;
  files: InputFile[];
}

const input = workerData as WorkerInput;
try {
  const registry = loadRegistry(input.cacheDir, input.kubernetesVersion);
  for (const c of input.crds) registry.addCrd(c);
  parentPort?.postMessage({ ok: true, analysis: analyzeFiles(input.files, registry, input.options) });
} catch (e) {
  parentPort?.postMessage({ ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
}
