import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// Modules most `castle validate` runs never use, loaded on first use (required: an import loads them when the
// validator starts). With HTTP and TLS, which only --cluster loads, Node's were about 12 ms of every run's start.

/** the module `id` (a Node module, or a package with a CommonJS entry), required the first time it is asked for */
export function lazy<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}

/** for rendering a kustomization with kubectl */
export const childProcess = lazy<typeof import('node:child_process')>('node:child_process');

/** for a shipped operator release's CRDs, on a cold cache */
export const zlib = lazy<typeof import('node:zlib')>('node:zlib');

/** for the CEL ip and cidr libraries */
export const net = lazy<typeof import('node:net')>('node:net');

/** for the worker threads of big inputs */
export const workerThreads = lazy<typeof import('node:worker_threads')>('node:worker_threads');

/** for a full garbage collection, when one is worth it (heap.ts) */
export const v8 = lazy<typeof import('node:v8')>('node:v8');

/** for the cache keys of CRDs among the inputs and of imported schemas */
export const crypto = lazy<typeof import('node:crypto')>('node:crypto');
