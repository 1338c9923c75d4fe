// pgBackRest's backup.info: which backups a repo holds and which database system its stanza belongs to.
// INI (the one parser, ./pgbackrest-ini.ts) whose values are JSON; system ids are 64-bit, kept as strings.

import { parseIni, type IniSection } from './pgbackrest-ini.js';

export interface RepoBackup {
  readonly label: string;
  readonly type: 'full' | 'diff' | 'incr';
  /** size of the database at backup time (bytes) */
  readonly size: number;
  /** bytes stored in the repo for this backup (compressed, delta) */
  readonly repoSizeDelta: number;
  readonly repoSize: number;
  readonly startTime: Date;
  readonly stopTime: Date;
  readonly archiveStart: string | null;
  readonly archiveStop: string | null;
  readonly prior: string | null;
  readonly dbId: number;
}

export interface RepoDbHistory {
  readonly dbId: number;
  readonly systemId: string;
  readonly version: string;
}

export interface BackupInfo {
  readonly backups: RepoBackup[];
  /** the stanza's current database (what new backups belong to) */
  readonly current: RepoDbHistory;
  readonly history: RepoDbHistory[];
}

/** Where a repo keeps a stanza's backup.info, relative to the repo root (an S3 key, or a path below repo2). */
export function backupInfoKey(repoPath: string, stanza: string): string {
  return [repoPath.replace(/^\/+|\/+$/g, ''), 'backup', stanza, 'backup.info'].filter((p) => p.length).join('/');
}

/** JSON.parse that keeps integers above 2^53 exact by turning `"db-system-id":123...` into strings first. */
function parseJsonBig(value: string): Record<string, unknown> {
  return JSON.parse(value.replace(/"(db-system-id)":(\d+)/g, '"$1":"$2"')) as Record<string, unknown>;
}

const NONE: IniSection = { name: '', options: {}, lists: {} };

/** Parses backup.info; throws on text that is not one (callers say which file). */
export function parseBackupInfo(text: string): BackupInfo {
  const ini = parseIni(text);
  if (!ini.ok) throw new Error(`line ${ini.line}: ${ini.message}`);
  const section = (name: string) => ini.sections[name] ?? NONE;
  const backups: RepoBackup[] = [];
  for (const [label, v] of Object.entries(section('backup:current').options)) {
    const j = parseJsonBig(v);
    const num = (k: string) => Number(j[k] ?? 0);
    backups.push({
      label,
      type: String(j['backup-type']) as RepoBackup['type'],
      size: num('backup-info-size'),
      repoSize: num('backup-info-repo-size'),
      repoSizeDelta: num('backup-info-repo-size-delta'),
      startTime: new Date(num('backup-timestamp-start') * 1000),
      stopTime: new Date(num('backup-timestamp-stop') * 1000),
      archiveStart: (j['backup-archive-start'] as string | undefined) ?? null,
      archiveStop: (j['backup-archive-stop'] as string | undefined) ?? null,
      prior: (j['backup-prior'] as string | undefined) ?? null,
      dbId: num('db-id'),
    });
  }
  backups.sort((a, b) => a.stopTime.getTime() - b.stopTime.getTime() || a.label.localeCompare(b.label));
  const db = section('db').options;
  const current: RepoDbHistory = {
    dbId: Number(db['db-id'] ?? 0),
    systemId: db['db-system-id'] ?? '',
    version: (db['db-version'] ?? '').replace(/^"|"$/g, ''),
  };
  const history: RepoDbHistory[] = [];
  for (const [id, v] of Object.entries(section('db:history').options)) {
    const j = parseJsonBig(v);
    history.push({ dbId: Number(id), systemId: String(j['db-system-id'] ?? ''), version: String(j['db-version'] ?? '') });
  }
  history.sort((a, b) => a.dbId - b.dbId);
  return { backups, current, history };
}
