import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { KubernetesRef } from './config.js';

const PROBE_MS = 3000;

/** host and port of the API server: `server`, or the current cluster of a kubeconfig. */
async function endpoint(ref: KubernetesRef, castleDir: string): Promise<{ host: string; port: number } | { error: string }> {
  let server = ref.server;
  if (!server && ref.kubeconfig) {
    const file = resolve(castleDir, ref.kubeconfig);
    let kc: {
      'current-context'?: string;
      contexts?: { name: string; context?: { cluster?: string } }[];
      clusters?: { name: string; cluster?: { server?: string } }[];
    };
    try {
      kc = parse(await readFile(file, 'utf8')) ?? {};
    } catch (e) {
      // a missing kubeconfig proves nothing about the cluster (never written, moved): the destroy goes on
      return { error: `kubeconfig ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    const ctxName = kc['current-context'];
    const cluster = kc.contexts?.find((c) => c.name === ctxName)?.context?.cluster ?? kc.clusters?.[0]?.name;
    server = kc.clusters?.find((c) => c.name === cluster)?.cluster?.server;
    if (!server) return { error: `kubeconfig ${file} names no server` };
  }
  if (!server) return { error: 'no server or kubeconfig given' };
  const u = new URL(server.includes('://') ? server : `https://${server}`);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 443) };
}

export type ClusterState =
  { readonly state: 'up'; readonly where: string } | { readonly state: 'gone'; readonly why: string } | { readonly state: 'unknown'; readonly why: string };

/**
 * Errors that say the API server's machine is not there (nothing listens, no host answers ARP, the route is
 * gone); a name that does not resolve now, a TLS or any other error proves nothing and the destroy goes on.
 */
const GONE_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH']);

/** Whether the cluster's API server accepts a TCP connection (refused, unreachable or silent for 3 s: gone; not configured, unreadable or any other error: unknown). */
export async function probeCluster(ref: KubernetesRef, castleDir: string, signal: AbortSignal): Promise<ClusterState> {
  const ep = await endpoint(ref, castleDir);
  if ('error' in ep) return { state: 'unknown', why: ep.error };
  const where = `${ep.host}:${ep.port}`;
  return new Promise((res) => {
    const s = connect({ host: ep.host, port: ep.port });
    const done = (r: ClusterState): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', onAbort);
      s.destroy();
      res(r);
    };
    const onAbort = (): void => done({ state: 'unknown', why: 'cancelled' });
    const t = setTimeout(() => done({ state: 'gone', why: `its API server ${where} did not answer in ${PROBE_MS / 1000} s` }), PROBE_MS);
    signal.addEventListener('abort', onAbort, { once: true });
    s.once('connect', () => done({ state: 'up', where }));
    s.once('error', (e: NodeJS.ErrnoException) =>
      done(
        GONE_CODES.has(e.code ?? '')
          ? { state: 'gone', why: `its API server ${where} ${e.code === 'ECONNREFUSED' ? 'refuses connections' : 'is unreachable'} (${e.code})` }
          : { state: 'unknown', why: `its API server ${where} could not be probed (${e.code ?? e.message})` },
      ),
    );
  });
}
