import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { stepLogFile } from './run-dir.js';
import type { Redactor } from './redact.js';

/**
 * One log file per step, opened on first write (most in-process steps never write). A log that
 * cannot be written (a full disk, a folder gone) is reported once and dropped: the step goes on,
 * its failure reason still carries the output's tail.
 */
export class StepLogs {
  readonly #streams = new Map<string, WriteStream>();
  readonly #failed = new Set<string>();
  constructor(
    private readonly runDir: string,
    private readonly redactor: Redactor,
    private readonly onError: (stepId: string, file: string, message: string) => void = () => {},
  ) {}

  write(stepId: string, text: string): void {
    if (this.#failed.has(stepId)) return;
    let s = this.#streams.get(stepId);
    if (!s) {
      const file = stepLogFile(this.runDir, stepId);
      try {
        mkdirSync(dirname(file), { recursive: true });
      } catch (err) {
        this.#fail(stepId, file, err);
        return;
      }
      s = createWriteStream(file, { flags: 'a' });
      s.on('error', (err) => this.#fail(stepId, file, err));
      this.#streams.set(stepId, s);
    }
    s.write(this.redactor.redact(text));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#streams.values()].map((s) => new Promise<void>((r) => s.end(() => r()))));
    this.#streams.clear();
  }

  #fail(stepId: string, file: string, err: unknown): void {
    if (this.#failed.has(stepId)) return;
    this.#failed.add(stepId);
    this.#streams.get(stepId)?.destroy();
    this.#streams.delete(stepId);
    this.onError(stepId, file, (err as Error).message);
  }
}
