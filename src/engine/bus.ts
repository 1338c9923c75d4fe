import { closeSync, open } from 'node:fs';
import { EVENT_LOG_VERSION, type CastleEvent, type EventEnvelope, type EventSink } from '../events.js';
import { redactValue, type Redactor } from './redact.js';
import { writeAllSync } from './write-all.js';

/**
 * Stamps events (seq, ts), redacts them, appends them to the JSONL log and hands them to the sinks.
 *
 * The log is written with one synchronous append per turn of the event loop (everything emitted while
 * handling one I/O callback, e.g. a step's end and the next step's start): a stream would hand every
 * line to the thread pool, and those cross-thread wake-ups cost more than the write itself on a
 * machine busy starting processes; and appending after the turn's work puts the write after the
 * next step's spawn, not before it. Followers (`castle logs -f`, detach watchers) still see each
 * event within the same turn.
 */
export class EventBus {
  #seq = 0;
  #fd: number | undefined;
  readonly #opened: Promise<void>;
  #pending: string[] = [];
  #flushQueued = false;
  #logError: string | undefined;
  readonly events: EventEnvelope[] = [];
  #sinkFailed = false;

  constructor(
    private readonly runId: string,
    private readonly redactor: Redactor,
    private readonly sinks: readonly EventSink[],
    jsonlPath: string,
    /** settles once the log's folder exists (or could not be made: then opening says why) */
    folder: Promise<unknown> = Promise.resolve(),
  ) {
    // opened off the main thread: creating a file costs a few hundred µs that the first steps need more
    this.#opened = new Promise((resolve) => {
      const opened = (err: NodeJS.ErrnoException | null, fd?: number): void => {
        if (err) this.#logError = err.message;
        else this.#fd = fd;
        resolve();
        this.#flush();
      };
      folder.then(
        () => open(jsonlPath, 'a', 0o644, opened),
        (err: NodeJS.ErrnoException) => opened(err),
      );
    });
  }

  emit(ev: CastleEvent): EventEnvelope {
    const env = redactValue(this.redactor, { v: EVENT_LOG_VERSION, seq: ++this.#seq, ts: new Date().toISOString(), runId: this.runId, ...ev }) as EventEnvelope;
    this.events.push(env);
    this.#append(JSON.stringify(env));
    for (const sink of this.sinks) {
      try {
        sink.handle(env);
      } catch (err) {
        // A broken view must not break the run; the JSONL log still has everything.
        if (!this.#sinkFailed) {
          this.#sinkFailed = true;
          this.#append(
            JSON.stringify({
              v: EVENT_LOG_VERSION,
              seq: ++this.#seq,
              ts: new Date().toISOString(),
              runId: this.runId,
              type: 'warning',
              message: `a view failed: ${(err as Error).message}`,
            }),
          );
        }
      }
    }
    return env;
  }

  /** Why the JSONL log stopped being written (a full disk, say), if it did: the run itself goes on. */
  get logError(): string | undefined {
    return this.#logError;
  }

  #append(line: string): void {
    this.#pending.push(line + '\n');
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#pending.length === 0) return;
    if (this.#logError !== undefined) {
      this.#pending = []; // the log is lost: nothing more reaches it
      return;
    }
    if (this.#fd === undefined) return; // still opening: written once open
    const text = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join('');
    this.#pending = [];
    try {
      writeAllSync(this.#fd, text);
    } catch (err) {
      this.#logError = (err as Error).message;
    }
  }

  async close(): Promise<void> {
    try {
      for (const sink of this.sinks) await sink.close?.();
    } finally {
      await this.#opened;
      this.#flush();
      if (this.#fd !== undefined) {
        closeSync(this.#fd);
        this.#fd = undefined;
      }
    }
  }
}
