// The gate and proof rules that do not depend on who runs PostgreSQL: the local target (its own
// processes) and the kubernetes target (PGO, reached through a port-forward) both use these, so a
// backup counts, a repo belongs to a system and restored data match by the same rules everywhere.
import pg from 'pg';
import { fail, ok, type Result } from '../core/result.js';
import type { OpOptions } from '../os/exec.js';
import { sleep } from '../os/sleep.js';
import { backupInfoKey, parseBackupInfo, type BackupInfo, type RepoBackup } from './backup-info.js';
import {
  compareFingerprints,
  fingerprintCluster,
  formatMismatch,
  type Conn,
  type Fingerprint,
  type FingerprintDiff,
  type FingerprintOptions,
} from './fingerprint.js';
import type { RepoBucket } from './pgbackrest.js';
import type { GateRecord } from './rebirth.js';

/** backup.info of a stanza in a repo reached through the S3 API (`bucket`: src/s3 s3Bucket). */
export async function readRepoBackupInfo(
  bucket: Pick<RepoBucket, 'readText'>,
  repoPath: string,
  stanza: string,
  signal?: AbortSignal,
): Promise<Result<BackupInfo>> {
  const key = backupInfoKey(repoPath, stanza);
  const r = await bucket.readText(key, signal);
  if (!r.ok) return r;
  try {
    return ok(parseBackupInfo(r.value));
  } catch (err) {
    return fail(`${key} is not a readable pgBackRest backup.info: ${(err as Error).message}`);
  }
}

/** system_identifier of the server behind `conn`. */
export async function systemIdVia(conn: Conn, o: { signal?: AbortSignal } = {}): Promise<Result<string>> {
  const c = new pg.Client({ ...conn, database: 'postgres', application_name: 'castle' });
  c.on('error', () => {});
  const onAbort = () => void c.end().catch(() => {});
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await c.connect();
    const r = await c.query('SELECT system_identifier::text AS id FROM pg_control_system()');
    return ok(String(r.rows[0]?.id));
  } catch (err) {
    return fail(`cannot read the system identifier: ${(err as Error).message}`);
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await c.end().catch(() => {});
  }
}

/**
 * pg_switch_wal() on the primary behind `conn`, then waits until pg_stat_archiver reports that
 * segment (or a later one) archived; archiving failing after the switch is a clear refusal.
 */
export async function flushWalVia(conn: Conn, o: OpOptions & { timeoutMs?: number } = {}): Promise<Result<{ segment: string; waitedMs: number }>> {
  const started = Date.now();
  const c = new pg.Client({ ...conn, database: 'postgres', application_name: 'castle-flush' });
  c.on('error', () => {});
  try {
    await c.connect();
    // a WAL record first: with nothing written since the last switch, pg_switch_wal() does nothing and
    // names the segment in use, which would not be archived until something else fills it
    await c.query(`SELECT pg_logical_emit_message(false, 'castle', 'flush')`);
    const sw = (await c.query(`SELECT pg_walfile_name(pg_switch_wal()) AS seg, now() AS at, current_setting('archive_mode') AS mode`)).rows[0] as {
      seg: string;
      at: Date;
      mode: string;
    };
    if (sw.mode === 'off') return fail('archive_mode is off on the primary: writes after the last backup could not be saved');
    const timeoutMs = o.timeoutMs ?? 60_000;
    for (;;) {
      const st = (await c.query('SELECT last_archived_wal, last_archived_time, last_failed_wal, last_failed_time, failed_count FROM pg_stat_archiver'))
        .rows[0] as Record<string, unknown>;
      const last = (st['last_archived_wal'] as string | null) ?? null;
      if (last && /^[0-9A-F]{24}/.test(last) && last.slice(0, 24) >= sw.seg) return ok({ segment: sw.seg, waitedMs: Date.now() - started });
      const failedAt = st['last_failed_time'] as Date | null;
      const archivedAt = st['last_archived_time'] as Date | null;
      if (failedAt && failedAt.getTime() > sw.at.getTime() && (!archivedAt || failedAt > archivedAt))
        return fail(
          `WAL archiving is failing on the primary: last_failed_wal ${String(st['last_failed_wal'])} at ${failedAt.toISOString()} (failed_count ${String(st['failed_count'])})`,
        );
      if (Date.now() - started > timeoutMs)
        return fail(`WAL segment ${sw.seg} was not archived within ${Math.round(timeoutMs / 1000)} s (last archived: ${last ?? 'none'})`);
      if (o.signal?.aborted) return fail('WAL flush cancelled');
      // the archiver reports through a statistics view only: there is nothing to wait on but the view
      await sleep(50, o.signal);
    }
  } catch (err) {
    return fail(`cannot switch WAL on the primary: ${(err as Error).message}`);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * The gate's fingerprint, started beside its backup (both read the same quiesced database; the WAL flush after both
 * still decides what a restore holds, so a row written in between makes the proof fail, never pass). `done(ms)` is
 * told how long it took; `stop` cancels it (the gate refused) and waits until its connections are closed.
 */
export function fingerprintBeside(
  conn: Conn,
  o: FingerprintOptions,
  done: (ms: number) => void,
): { readonly result: Promise<Result<Fingerprint>>; stop(): Promise<void> } {
  const stopped = new AbortController();
  const t = Date.now();
  const result = fingerprintCluster(conn, { ...o, signal: o.signal ? AbortSignal.any([o.signal, stopped.signal]) : stopped.signal }).then(
    (r) => {
      done(Date.now() - t);
      return r;
    },
    (err: unknown) => fail(`fingerprint: ${(err as Error).message}`),
  );
  return {
    result,
    stop: async () => {
      stopped.abort();
      await result;
    },
  };
}

/** The backup that proves the gate: `label` when known, else the newest one finished after `notBefore`; of the stanza's current database. */
export function pickBackup(info: BackupInfo, repo: string, o: { label?: string; notBefore?: Date }): Result<RepoBackup> {
  const bk = o.label ? info.backups.find((x) => x.label === o.label) : info.backups[info.backups.length - 1];
  if (!bk)
    return fail(
      o.label ? `backup ${o.label} is not listed in ${repo}'s backup.info (${info.backups.length} backups listed)` : `${repo}'s backup.info lists no backup`,
    );
  if (!(bk.size > 0)) return fail(`backup ${bk.label} is listed with size 0 in ${repo}`);
  if (o.notBefore && bk.stopTime.getTime() < o.notBefore.getTime() - 5000)
    return fail(
      o.label
        ? `backup ${bk.label} in ${repo} stopped at ${bk.stopTime.toISOString()}, before this gate started`
        : `the newest backup in ${repo}, ${bk.label}, stopped at ${bk.stopTime.toISOString()}, before this gate started: the new backup is not there`,
    );
  if (bk.dbId !== info.current.dbId) return fail(`backup ${bk.label} belongs to db-id ${bk.dbId}, not the stanza's current db-id ${info.current.dbId}`);
  return ok(bk);
}

/** Refuses a restore from a repo whose stanza belongs to another database system than the gate's. */
export function repoBelongsTo(info: BackupInfo, systemId: string, where: string): Result {
  if (info.current.systemId !== systemId)
    return fail(
      `${where} belongs to database system ${info.current.systemId}, the castle's gate backed up system ${systemId}: refusing to restore from it (another cluster wrote to this repo, or it is the wrong bucket/path)`,
    );
  return ok(undefined);
}

export interface DataProof {
  readonly fingerprint: Fingerprint | null;
  readonly diffs: readonly FingerprintDiff[];
}

/** Same system as the gate, the repo still the gate's, and the data identical to the gate's fingerprint. */
export async function compareWithGate(
  conn: Conn,
  gate: GateRecord,
  systemId: string,
  repoSystemId: string | null,
  o: OpOptions & { fingerprintParallel?: number; evidence?: (extra: Record<string, unknown>) => string } = {},
): Promise<Result<DataProof>> {
  const ev = o.evidence ?? (() => '');
  if (systemId !== gate.systemId) return fail(`proof failed: the restored cluster is system ${systemId}, the gate backed up system ${gate.systemId}${ev({})}`);
  if (repoSystemId !== null && repoSystemId !== gate.systemId)
    return fail(`proof failed: the S3 repo now belongs to system ${repoSystemId}, not the castle's ${gate.systemId}${ev({})}`);
  if (!gate.fingerprint) return ok({ fingerprint: null, diffs: [] });
  // a gate saved by another Castle version: its digests mean something else, so neither a match nor a mismatch is true
  const mismatch = formatMismatch(gate.fingerprint);
  if (mismatch) return fail(`proof cannot compare the data: ${mismatch}${ev({})}`);
  const fp = await fingerprintCluster(conn, { ...o, reference: gate.fingerprint, ...(o.fingerprintParallel ? { parallel: o.fingerprintParallel } : {}) });
  if (!fp.ok) return fail(`proof: ${fp.reason}`);
  const diffs = compareFingerprints(gate.fingerprint, fp.value);
  if (diffs.length) {
    const more = diffs.length > 3 ? ` (+${diffs.length - 3} more)` : '';
    return fail(
      `proof failed: data differs from the gate's fingerprint: ${diffs
        .slice(0, 3)
        .map((d) => d.detail)
        .join('; ')}${more}${ev({ after: fp.value, diffs })}`,
    );
  }
  return ok({ fingerprint: fp.value, diffs });
}

export interface AppCheck {
  readonly url: string;
  readonly database: string;
  readonly query: string;
}

/** Reads a value from the database and looks for it in the page the app serves: the app is up and serves the restored data. */
export async function appServesValue(conn: Conn, app: AppCheck, signal: AbortSignal): Promise<{ ok: boolean; detail: string }> {
  let expected: string;
  const c = new pg.Client({ ...conn, database: app.database, application_name: 'castle-proof' });
  c.on('error', () => {});
  try {
    await c.connect();
    expected = String(Object.values((await c.query(app.query)).rows[0] ?? {})[0] ?? '');
  } catch (err) {
    return { ok: false, detail: `the query for the expected value failed: ${(err as Error).message}` };
  } finally {
    await c.end().catch(() => {});
  }
  if (!expected) return { ok: false, detail: `the query returned nothing to look for: ${app.query}` };
  try {
    const res = await fetch(app.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
    const body = await res.text();
    const esc = expected.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const found = res.ok && (body.includes(expected) || body.includes(esc));
    return {
      ok: found,
      detail: found ? `GET ${app.url}: ${res.status}, shows "${expected}" from the database` : `GET ${app.url}: ${res.status}, "${expected}" not in the page`,
    };
  } catch (err) {
    return { ok: false, detail: `GET ${app.url}: ${(err as Error).message}` };
  }
}
