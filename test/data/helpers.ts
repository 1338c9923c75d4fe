// Shared helpers of the data tests: temp dirs, free loopback ports, cleanup by pid.
import { createServer } from 'node:net';
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

/** A free TCP port on 127.0.0.1 (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Collects log lines (to print on failure) and checks no secret leaks into them. */
export function collector(): { log: (t: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { log: (t: string) => void lines.push(t), lines };
}
