// Shared helpers of the data tests: temp dirs, free loopback ports, cleanup by pid.
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `castle-${prefix}-`));
  chmodSync(d, 0o755); // the unprivileged postgres user must traverse it
  return d;
}

export function rmDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
}

export { freePort } from '../helpers/ports.js';

/** Collects log lines (to print on failure) and checks no secret leaks into them. */
export function collector(): { log: (t: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (t: string) => void lines.push(t), lines };
}
