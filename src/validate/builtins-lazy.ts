import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Node modules most `castle validate` runs never use, loaded on first use (required: an import loads them when the
// validator starts). With HTTP and TLS, which only --cluster loads, they were about 12 ms of every run's start.

/** for rendering a kustomization with kubectl */
export function childProcess(): typeof import('node:child_process') {
  return require('node:child_process') as typeof import('node:child_process');
}

/** for a shipped operator release's CRDs, on a cold cache */
export function zlib(): typeof import('node:zlib') {
  return require('node:zlib') as typeof import('node:zlib');
}

/** for the CEL ip and cidr libraries */
export function net(): typeof import('node:net') {
  return require('node:net') as typeof import('node:net');
}

/** for the worker threads of big inputs */
export function workerThreads(): typeof import('node:worker_threads') {
  return require('node:worker_threads') as typeof import('node:worker_threads');
}

/** for a full garbage collection, when one is worth it (heap.ts) */
export function v8(): typeof import('node:v8') {
  return require('node:v8') as typeof import('node:v8');
}

/** for the cache keys of CRDs among the inputs and of imported schemas */
export function crypto(): typeof import('node:crypto') {
  return require('node:crypto') as typeof import('node:crypto');
}
