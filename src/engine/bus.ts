import { createWriteStream, type WriteStream } from 'node:fs';
import { EVENT_LOG_VERSION, type CastleEvent, type EventEnvelope, type EventSink } from '../events.js';
import { redactValue, type Redactor } from './redact.js';

/** Stamps events (seq, ts), redacts them, appends them to the JSONL log and hands them to the sinks. */
export class EventBus {
  #seq = 0;
  readonly #log: WriteStream;
  readonly events: EventEnvelope[] = [];
  #sinkFailed = false;

  constructor(
    private readonly runId: string,
    private readonly redactor: Redactor,
    private readonly sinks: readonly EventSink[],
    jsonlPath: string,
  ) {
    this.#log = createWriteStream(jsonlPath, { flags: 'a' });
  }

  emit(ev: CastleEvent): EventEnvelope {
    const env = redactValue(this.redactor, { v: EVENT_LOG_VERSION, seq: ++this.#seq, ts: new Date().toISOString(), runId: this.runId, ...ev }) as EventEnvelope;
    this.events.push(env);
    this.#log.write(JSON.stringify(env) + '\n');
    for (const sink of this.sinks) {
      try {
        sink.handle(env);
      } catch (err) {
        // A broken view must not break the run; the JSONL log still has everything.
        if (!this.#sinkFailed) {
          this.#sinkFailed = true;
          this.#log.write(JSON.stringify({ v: EVENT_LOG_VERSION, seq: ++this.#seq, ts: new Date().toISOString(), runId: this.runId, type: 'warning', message: `a view failed: ${(err as Error).message}` }) + '\n');
        }
      }
    }
    return env;
  }

  async close(): Promise<void> {
    for (const sink of this.sinks) await sink.close?.();
    await new Promise<void>((r) => this.#log.end(r));
  }
}
