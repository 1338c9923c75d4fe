// Who listens on a TCP port, read from procfs. Hand-written rather than spawning `ss -ltnp`: iproute2 may
// be missing, and `ss` prints nothing about processes of other users without saying so.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { processCmdline } from './processes.js';

export interface Listener {
  readonly port: number;
  /** the bound address as printed by `ss`: 127.0.0.1, 0.0.0.0, ::1, :: */
  readonly address: string;
  /** owner of the socket (from /proc/net/tcp: known even when its process cannot be inspected) */
  readonly uid: number;
  readonly inode: number;
  /** processes holding the socket open; empty when none could be inspected (another user's, without root) */
  readonly processes: readonly { readonly pid: number; readonly cmdline: string }[];
}

const TCP_LISTEN = '0A';

function ipv4(hex: string): string {
  // one 32-bit word in host (little-endian) order
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function ipv6(hex: string): string {
  // four 32-bit words, each in host (little-endian) order
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return `::ffff:${bytes.slice(12).join('.')}`;
  // the longest run of zero groups becomes '::'
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The listening sockets of one /proc/net/tcp or tcp6 table: address, port, uid, inode. */
export function parseTcpTable(text: string, family: 4 | 6): { address: string; port: number; uid: number; inode: number }[] {
  const out: { address: string; port: number; uid: number; inode: number }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const [addrHex, portHex] = (f[1] ?? '').split(':');
    if (!addrHex || !portHex) continue;
    out.push({ address: family === 4 ? ipv4(addrHex) : ipv6(addrHex), port: Number.parseInt(portHex, 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

function readTable(family: 4 | 6): ReturnType<typeof parseTcpTable> {
  try {
    return parseTcpTable(readFileSync(family === 4 ? '/proc/net/tcp' : '/proc/net/tcp6', 'utf8'), family);
  } catch {
    return []; // no IPv6 on this kernel
  }
}

/** pid of every process with an open fd on one of `inodes` (only the processes this user may inspect). */
function socketOwners(inodes: ReadonlySet<number>): Map<number, number[]> {
  const owners = new Map<number, number[]>();
  if (inodes.size === 0) return owners;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or another user's
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (!m) continue;
      const inode = Number(m[1]);
      if (!inodes.has(inode)) continue;
      const pids = owners.get(inode) ?? [];
      if (!pids.includes(Number(entry))) pids.push(Number(entry));
      owners.set(inode, pids);
    }
  }
  return owners;
}

/** Whether a listener on `address` stops a bind to 127.0.0.1 on the same port (wildcards and loopback do). */
export function blocksLoopback(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Every TCP listener on one of `ports` that stops a bind to 127.0.0.1 there, with the processes holding it. */
export function listenersOn(ports: readonly number[]): Listener[] {
  const wanted = new Set(ports);
  const sockets = [...readTable(4), ...readTable(6)].filter((s) => wanted.has(s.port) && blocksLoopback(s.address));
  const owners = socketOwners(new Set(sockets.map((s) => s.inode)));
  return sockets.map((s) => ({
    ...s,
    processes: (owners.get(s.inode) ?? [])
      .sort((a, b) => a - b)
      .map((pid) => ({ pid, cmdline: processCmdline(pid) ?? '' }))
      .filter((p) => p.cmdline !== ''),
  }));
}
