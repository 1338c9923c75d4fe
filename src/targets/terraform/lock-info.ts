// The state-lock error of Terraform and OpenTofu (`Error acquiring the state lock`, then `Lock Info:`
// with ID, Path, Operation, Who, Version, Created, Info: statemgr.LockInfo.String()), read from the
// text output (plain with -no-color, or boxed with `│ `) or from a JSON diagnostic's detail.

export interface StateLock {
  readonly id: string;
  readonly path: string;
  readonly operation: string;
  /** `user@host` of the process that took the lock */
  readonly who: string;
  readonly version: string;
  /** as printed (Go's time format, `2026-12-01 15:21:33.123456789 +0000 UTC`) */
  readonly created: string;
  readonly info: string;
  /** the line after `Error message:` (the backend's own reason), when present */
  readonly message?: string;
}

export const LOCK_ERROR = 'Error acquiring the state lock';

const FIELDS = { ID: 'id', Path: 'path', Operation: 'operation', Who: 'who', Version: 'version', Created: 'created', Info: 'info' } as const;

/** The lock described in `text`, or undefined when it holds no lock error with a Lock Info block. */
export function parseLockError(text: string): StateLock | undefined {
  if (!text.includes(LOCK_ERROR) && !text.includes('Lock Info:')) return undefined;
  const lines = text.split('\n').map((l) => l.replace(/^\s*│ ?/, '').replace(/\r$/, ''));
  const start = lines.findIndex((l) => l.trim() === 'Lock Info:');
  if (start < 0) return undefined;
  const got: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+(ID|Path|Operation|Who|Version|Created|Info):\s?(.*)$/.exec(line);
    if (!m) break;
    got[FIELDS[m[1] as keyof typeof FIELDS]] = m[2]!.trim();
  }
  if (!got['id']) return undefined;
  const msg = lines.find((l) => l.trimStart().startsWith('Error message:'));
  return {
    id: got['id'],
    path: got['path'] ?? '',
    operation: got['operation'] ?? '',
    who: got['who'] ?? '',
    version: got['version'] ?? '',
    created: got['created'] ?? '',
    info: got['info'] ?? '',
    ...(msg ? { message: msg.trim().slice('Error message:'.length).trim() } : {}),
  };
}

/** Go's time.Time.String() (`2026-12-01 15:21:33.123456789 +0000 UTC`) as epoch ms, or NaN. */
export function parseGoTime(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d+))? ([+-]\d{2})(\d{2})/.exec(s.trim());
  if (!m) return Number.NaN;
  const ms = m[3] ? `.${m[3].slice(0, 3).padEnd(3, '0')}` : '';
  return Date.parse(`${m[1]}T${m[2]}${ms}${m[4]}:${m[5]}`);
}

/** One line for a report: who holds it, what for, since when. */
export function describeLock(l: StateLock): string {
  return `state lock ${l.id} held by ${l.who || 'unknown'} (${l.operation || 'unknown operation'}, ${l.version ? `Terraform ${l.version}, ` : ''}since ${l.created || 'unknown'})${l.path ? ` on ${l.path}` : ''}${l.info ? `, info: ${l.info}` : ''}`;
}
