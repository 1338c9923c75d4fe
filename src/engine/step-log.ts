import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { stepLogFile } from './run-dir.js';
import type { Redactor } from './redact.js';

/** One log file per step, opened on first write (most in-process steps never write). */
export class StepLogs {
  readonly #streams = new Map<string, WriteStream>();
  constructor(
    private readonly runDir: string,
    private readonly redactor: Redactor,
  ) {}

  write(stepId: string, text: string): void {
    let s = this.#streams.get(stepId);
    if (!s) {
      const file = stepLogFile(this.runDir, stepId);
      mkdirSync(dirname(file), { recursive: true });
      s = createWriteStream(file, { flags: 'a' });
      this.#streams.set(stepId, s);
    }
    s.write(this.redactor.redact(text));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#streams.values()].map((s) => new Promise<void>((r) => s.end(r))));
    this.#streams.clear();
  }
}
