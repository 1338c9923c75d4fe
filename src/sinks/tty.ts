// The live task tree for an interactive terminal. All it knows comes from events; it only decides
// when to redraw.
import { createLogUpdate } from 'log-update';
import type { EventEnvelope, EventSink } from '../events.js';
import { TreeState, renderFrame } from './tty-tree.js';

export interface TtySinkOptions {
  readonly stream: NodeJS.WriteStream;
  /** clock for elapsed times and the spinner; tests pin it */
  readonly now?: () => number;
  /** defaults to what the stream says it supports (and NO_COLOR) */
  readonly color?: boolean;
}

// Fast enough for a smooth spinner, slow enough that a burst of events costs one redraw.
const FRAME_MS = 80;
const HIDE_CURSOR = '\x1b[?25l';
const DEFAULT_COLUMNS = 80;
const DEFAULT_ROWS = 24;
const SHOW_CURSOR = '\x1b[?25h';

export class TtySink implements EventSink {
  private readonly state = new TreeState();
  private readonly stream: NodeJS.WriteStream;
  private readonly now: () => number;
  private readonly color: boolean;
  // log-update 6 hides the cursor on process.stderr whatever stream it writes to, so it is told not
  // to touch the cursor and this sink does it on its own stream.
  private readonly log: ReturnType<typeof createLogUpdate>;
  private ticker: NodeJS.Timeout | undefined;
  private deferred: NodeJS.Timeout | undefined;
  private lastDraw = -Infinity;
  private stopped = false;

  constructor(options: TtySinkOptions) {
    this.stream = options.stream;
    this.now = options.now ?? Date.now;
    this.color = options.color ?? (!process.env['NO_COLOR'] && (this.stream.hasColors?.() ?? false));
    this.log = createLogUpdate(sized(this.stream), { showCursor: true });
  }

  handle(ev: EventEnvelope): void {
    if (this.stopped) return;
    this.state.apply(ev);
    if (ev.type === 'run-finished') {
      this.finish();
      return;
    }
    if (!this.ticker) {
      this.stream.write(HIDE_CURSOR);
      // Keeps spinners and elapsed times moving while no events arrive; never keeps the process alive.
      this.ticker = setInterval(() => this.draw(), FRAME_MS);
      this.ticker.unref();
    }
    this.requestDraw();
  }

  close(): void {
    // A run cut off before run-finished still leaves its last known tree on screen.
    if (!this.stopped) this.finish();
  }

  private requestDraw(): void {
    const since = performance.now() - this.lastDraw;
    if (since >= FRAME_MS) this.draw();
    else if (!this.deferred) {
      this.deferred = setTimeout(() => this.draw(), FRAME_MS - since);
      this.deferred.unref();
    }
  }

  private draw(): void {
    if (this.stopped) return;
    clearTimeout(this.deferred);
    this.deferred = undefined;
    this.lastDraw = performance.now();
    // One row stays free: log-update counts the newline it appends as a line of its own.
    this.log(this.frame((this.stream.rows || DEFAULT_ROWS) - 1));
  }

  private finish(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.deferred);
    // log-update trims frames to the screen height; the final tree is written directly so it is whole.
    this.log.clear();
    this.log.done();
    this.stream.write(this.frame(undefined) + '\n' + SHOW_CURSOR);
  }

  private frame(rows: number | undefined): string {
    // Capped so the time column stays near the labels on wide terminals.
    const width = Math.max(20, Math.min(this.stream.columns || DEFAULT_COLUMNS, 81) - 1);
    return renderFrame(this.state, { now: this.now(), width, color: this.color, maxLines: rows });
  }

  /** The current frame without colour, for callers that want to show it elsewhere. */
  snapshot(): string {
    return renderFrame(this.state, { now: this.now(), width: 80, color: false });
  }
}

// A pseudo-terminal that was never sized (CI runners, `script`) reports 0x0; log-update would then wrap
// every frame to nothing and trim it to no lines, so it is given the usual 80x24 instead.
function sized(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  const view = {
    write: (chunk: string) => stream.write(chunk),
    get columns() {
      return stream.columns || DEFAULT_COLUMNS;
    },
    get rows() {
      return stream.rows || DEFAULT_ROWS;
    },
    isTTY: true,
  };
  return view as unknown as NodeJS.WriteStream;
}
