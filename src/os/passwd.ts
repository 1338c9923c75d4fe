// The one user lookup: the passwd entry of an account. Read from /etc/passwd, where `useradd` (the
// only way Castle creates its user) writes it; NSS sources (LDAP) are not consulted.

import { readFile } from 'node:fs/promises';

export interface UserIds {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

// an account found once stays (a run never deletes one); a missing one is looked up again (it may be being created)
const found = new Map<string, UserIds>();

/** The passwd entry of `name`, or undefined. */
export async function lookupUser(name: string): Promise<UserIds | undefined> {
  const cached = found.get(name);
  if (cached) return cached;
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) {
      const u: UserIds = { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' };
      found.set(name, u);
      return u;
    }
  }
  return undefined;
}
