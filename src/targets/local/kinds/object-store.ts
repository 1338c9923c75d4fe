import { createServer } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localCredentials, runningS3Pid, startS3Server } from '../../../s3/server.js';
import type { StepContext, StepKind } from '../../../core/step.js';
import type { LocalSession } from '../session.js';
import { DEFAULT_S3_PORT, expandManifests, fail, objectStorePort, opOptions, openSecrets, S3_KEY_ID, S3_KEY_SECRET, type Fail } from '../env.js';
import { loadLocalClusterModel } from '../manifests.js';
import { Redactor } from '../../../secrets/redactor.js';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * The S3 endpoint on loopback that holds the castle's backups. It lives outside the castle: `down`
 * never stops it, and a rebirth restores from it. Its credentials go into the castle's secret source,
 * where the ExternalSecret that renders pgBackRest's s3.conf reads them.
 */
export const run: StepKind<Record<string, never>, LocalSession>['run'] = async (_c, ctx, session) => {
  if (ctx.section === 'down') {
    ctx.note('the object store is not part of the castle: left running');
    return { ok: true, summary: 'left running (immortal)' };
  }
  const local = session.local;
  // the castle as an earlier step of this run read it (a rebirth's gate), else its manifests
  let cluster = session.envs.get('backup')?.model;
  if (!cluster) {
    const model = await loadLocalClusterModel(expandManifests(local.manifests), local.config.cluster ? { clusterName: local.config.cluster } : {});
    if (!model.ok) return fail(`the data layer's manifests are not usable: ${model.diagnostics.map((d) => d.message).join('; ')}`);
    cluster = model.value;
  }
  const repo1 = cluster.repos.find((r) => r.name === 'repo1');
  if (!repo1 || repo1.kind !== 's3') return fail(`PostgresCluster '${cluster.name}' has no S3 repo1 for the object store to serve`);
  const dir = local.objectStoreDir;
  const pid = runningS3Pid(dir);
  const statePort = pid !== null ? portOfState(dir) : null;
  if (ctx.operation === 'rebirth' && pid !== null && statePort !== null && existsSync(join(dir, 'credentials.json'))) {
    // The gate of this run reached it and the wipe does not touch it: a daemon that still runs is left to the
    // database step's probe, which runs beside that step's first request (one probe, not three, between wipe and restore)
    const synced = await syncCredentials(local, ctx);
    if (synced) return synced;
    return { ok: true, summary: `reused https://localhost:${statePort} (pid ${pid}), bucket ${repo1.bucket}: the database step's probe checks it answers` };
  }
  let port = statePort ?? objectStorePort(local);
  if (pid === null && !local.objectStorePort) {
    // an unconfigured port: the first free one from the default, remembered in the store's state
    for (port = Math.max(port, DEFAULT_S3_PORT); !(await portFree(port)) && port < DEFAULT_S3_PORT + 100; port++);
  }
  const started = await startS3Server({ dir, port, bucket: repo1.bucket, region: repo1.region, ...opOptions(ctx) });
  if (!started.ok) return fail(started.reason, true);
  const synced = await syncCredentials(local, ctx);
  if (synced) return synced;
  return {
    ok: true,
    summary: `${started.value.reused ? 'reused' : 'started'} ${started.value.target.endpoint} (pid ${started.value.pid}), bucket ${repo1.bucket}`,
  };
};

/** The port a running endpoint of `dir` listens on, from its state file. */
function portOfState(dir: string): number | null {
  try {
    const port = (JSON.parse(readFileSync(join(dir, 's3.json'), 'utf8')) as { port?: unknown }).port;
    return typeof port === 'number' ? port : null;
  } catch {
    return null;
  }
}

/** The endpoint's credentials into the castle's secret source (what the ExternalSecret of s3.conf reads); a failure or nothing. */
async function syncCredentials(local: LocalSession['local'], ctx: StepContext): Promise<Fail | undefined> {
  const creds = localCredentials(local.objectStoreDir);
  ctx.secret(creds.secretAccessKey);
  ctx.secret(creds.accessKeyId);
  const redactor = new Redactor();
  const source = await openSecrets(local, redactor);
  if ('ok' in source) return source;
  if (!source.set) return fail(`${source.description} is read-only: store ${S3_KEY_ID} and ${S3_KEY_SECRET} of the local S3 endpoint there`);
  if ((await source.get(S3_KEY_ID)) !== creds.accessKeyId) await source.set(S3_KEY_ID, creds.accessKeyId);
  if ((await source.get(S3_KEY_SECRET)) !== creds.secretAccessKey) await source.set(S3_KEY_SECRET, creds.secretAccessKey);
  return undefined;
}
