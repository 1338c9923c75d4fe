// What the live tree knows, built only from events, and how it is drawn. Kept apart from TtySink so
// a frame can be computed (and tested) without a terminal or timers.
import type { EventEnvelope, PlannedStepInfo, Section, StepStatus } from '../events.js';
import { assertNever } from '../events.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';

type Of<T extends EventEnvelope['type']> = Extract<EventEnvelope, { type: T }>;
export type LiveStatus = StepStatus | 'pending' | 'running' | 'retrying';

interface StepState {
  readonly info: PlannedStepInfo;
  status: LiveStatus;
  attempt: number;
  /** epoch ms, from event timestamps */
  start: number | undefined;
  end: number | undefined;
  retryAt: number | undefined;
  note: string | undefined;
  reason: string | undefined;
  checks: { ok: boolean; text: string }[];
}

export class TreeState {
  started: Of<'run-started'> | undefined;
  finished: Of<'run-finished'> | undefined;
  readonly steps = new Map<string, StepState>();
  /** warnings, signals and lock take-overs, oldest first */
  readonly notices: string[] = [];

  apply(ev: EventEnvelope): void {
    const at = Date.parse(ev.ts);
    switch (ev.type) {
      case 'run-started':
        this.started = ev;
        for (const info of ev.steps) this.steps.set(info.id, blank(info));
        break;
      case 'step-started': {
        const s = this.step(ev.stepId);
        s.start ??= at;
        s.status = 'running';
        s.attempt = ev.attempt;
        s.retryAt = undefined;
        break;
      }
      case 'step-retrying': {
        const s = this.step(ev.stepId);
        s.status = 'retrying';
        s.retryAt = at + ev.delayMs;
        s.reason = ev.reason;
        break;
      }
      case 'step-finished': {
        const s = this.step(ev.stepId);
        s.status = ev.status;
        s.attempt = ev.attempts;
        s.end = at;
        s.start ??= at;
        s.reason = ev.reason;
        break;
      }
      case 'step-note':
        this.step(ev.stepId).note = ev.message;
        break;
      case 'check':
        this.step(ev.stepId).checks.push({ ok: ev.ok, text: `${ev.name}: ${ev.detail}` });
        break;
      case 'warning':
        this.notices.push(`! ${ev.message}`);
        break;
      case 'signal':
        this.notices.push(`! ${ev.signal}: ${ev.action}`);
        break;
      case 'lock-taken-over':
        this.notices.push(`! lock taken over from pid ${ev.previous.pid}@${ev.previous.host}: ${ev.reason}`);
        break;
      case 'run-finished':
        this.finished = ev;
        break;
      default:
        assertNever(ev);
    }
  }

  // Events for a step the plan did not list still show, under the layer its id names.
  private step(id: string): StepState {
    let s = this.steps.get(id);
    if (!s) {
      const [section, layer] = id.split('/');
      const known: Section = section === 'gate' || section === 'down' || section === 'proof' ? section : 'up';
      s = blank({ id, layer: layer ?? id, section: known, label: id, kind: '?', deps: [] });
      this.steps.set(id, s);
    }
    return s;
  }
}

function blank(info: PlannedStepInfo): StepState {
  return { info, status: 'pending', attempt: 0, start: undefined, end: undefined, retryAt: undefined, note: undefined, reason: undefined, checks: [] };
}

export interface RenderOptions {
  readonly now: number;
  readonly width: number;
  readonly color: boolean;
  /** live frames must fit the terminal; the final frame is printed whole */
  readonly maxLines?: number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const MARK: Record<Exclude<LiveStatus, 'running'>, string> = {
  pending: '·',
  retrying: '↻',
  succeeded: '✔',
  failed: '✖',
  'timed-out': '✖',
  cancelled: '⊘',
  skipped: '⊘',
};

type Paint = (s: string) => string;
interface Palette {
  readonly green: Paint;
  readonly red: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
  readonly dim: Paint;
  readonly bold: Paint;
}
const sgr =
  (open: number, close: number): Paint =>
  (s) =>
    `\x1b[${open}m${s}\x1b[${close}m`;
const COLOR: Palette = { green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
const id: Paint = (s) => s;
const NO_COLOR: Palette = { green: id, red: id, yellow: id, cyan: id, dim: id, bold: id };

interface Line {
  readonly text: string;
  readonly time?: string;
  readonly paint?: Paint;
}

export function renderFrame(state: TreeState, o: RenderOptions): string {
  const p = o.color ? COLOR : NO_COLOR;
  const head = header(state, o.now, p);
  const sections = groups(state);
  let body = tree(sections, o.now, p, false);
  const notices = state.notices.slice(-3).map((n) => ({ text: n, paint: p.yellow }));
  const room = o.maxLines === undefined ? Infinity : o.maxLines - 1 - notices.length;
  // Finished layers matter least while others run: fold them before cutting anything.
  if (body.length > room) body = tree(sections, o.now, p, true);
  if (body.length > room) {
    const keep = Math.max(0, room - 1);
    body = [...body.slice(0, keep), { text: `  … ${body.length - keep} more lines`, paint: p.dim }];
  }
  return [head, ...[...body, ...notices].map((l) => layout(l, o.width))].join('\n');
}

function header(state: TreeState, now: number, p: Palette): string {
  const s = state.started;
  const name = `castle ${s?.castle ?? '?'} · ${s?.operation ?? '?'}`;
  const f = state.finished;
  const budgetMs = f ? f.budgetMs : (s?.budgetMs ?? null);
  const elapsed = f ? f.durationMs : s ? now - Date.parse(s.ts) : 0;
  let budget = '';
  if (budgetMs !== null && budgetMs > 0) {
    const pct = `${((elapsed / budgetMs) * 100).toFixed(1)}%`;
    const over = elapsed > budgetMs;
    budget = ` of budget ${formatDurationCompact(budgetMs)} (${pct}${over ? ', OVER BUDGET' : ''})`;
    if (over) budget = p.red(budget);
  }
  const status = f ? ` · ${paintStatus(f.status, p)(f.status)}` : '';
  return `${p.bold(name)}${status} · ${formatDuration(elapsed)}${budget}`;
}

function paintStatus(status: string, p: Palette): Paint {
  return status === 'succeeded' ? p.green : status === 'interrupted' ? p.yellow : p.red;
}

type Groups = Map<Section, Map<string, StepState[]>>;

function groups(state: TreeState): Groups {
  const out: Groups = new Map();
  for (const s of state.steps.values()) {
    const layers = out.get(s.info.section) ?? new Map<string, StepState[]>();
    out.set(s.info.section, layers);
    layers.set(s.info.layer, [...(layers.get(s.info.layer) ?? []), s]);
  }
  return out;
}

function tree(sections: Groups, now: number, p: Palette, foldFinished: boolean): Line[] {
  const lines: Line[] = [];
  for (const [section, layers] of sections) {
    const all = [...layers.values()].flat();
    lines.push({ text: p.bold(section), time: span(all, now) });
    for (const [layer, steps] of layers) {
      const status = aggregate(steps);
      lines.push({ text: `  ${mark(status, now, p)} ${layer}`, time: span(steps, now) });
      if (foldFinished && status !== 'running' && status !== 'retrying' && status !== 'failed') continue;
      for (const s of steps) lines.push(...stepLines(s, now, p));
    }
  }
  return lines;
}

function stepLines(s: StepState, now: number, p: Palette): Line[] {
  const lines: Line[] = [{ text: `    ${mark(s.status, now, p)} ${s.info.label}${suffix(s, now, p)}`, time: span([s], now) }];
  const under = s.status === 'running' ? s.note : s.status === 'retrying' || s.status === 'failed' || s.status === 'timed-out' ? s.reason : undefined;
  if (under) lines.push({ text: `      └ ${firstLine(under)}`, paint: s.status === 'running' ? p.dim : p.red });
  // Proof checks are the point of a rebirth: each one stays visible under its step.
  for (const c of s.checks) lines.push({ text: `      ${c.ok ? p.green('✔') : p.red('✖')} ${firstLine(c.text)}` });
  return lines;
}

function suffix(s: StepState, now: number, p: Palette): string {
  switch (s.status) {
    case 'running':
      return s.attempt > 1 ? p.dim(` (attempt ${s.attempt})`) : '';
    case 'retrying':
      return p.yellow(` (retry ${s.attempt + 1} in ${formatDuration(Math.max(0, (s.retryAt ?? now) - now))})`);
    case 'failed':
    case 'timed-out':
    case 'cancelled':
      return p.red(` ${s.status}${s.attempt > 1 ? ` after ${s.attempt} attempts` : ''}`);
    case 'skipped':
      return p.dim(' skipped');
    case 'succeeded':
      return s.attempt > 1 ? p.dim(` (${s.attempt} attempts)`) : '';
    case 'pending':
      return '';
    default:
      return assertNever(s.status);
  }
}

function mark(status: LiveStatus, now: number, p: Palette): string {
  switch (status) {
    case 'running':
      return p.cyan(SPINNER[Math.floor(now / 80) % SPINNER.length]!);
    case 'succeeded':
      return p.green(MARK[status]);
    case 'failed':
    case 'timed-out':
      return p.red(MARK[status]);
    case 'retrying':
      return p.yellow(MARK[status]);
    case 'pending':
    case 'cancelled':
    case 'skipped':
      return p.dim(MARK[status]);
    default:
      return assertNever(status);
  }
}

/** A layer is as bad as its worst step, and running while any step is. */
function aggregate(steps: readonly StepState[]): LiveStatus {
  const has = (...st: LiveStatus[]) => steps.some((s) => st.includes(s.status));
  if (has('running')) return 'running';
  if (has('retrying')) return 'retrying';
  if (has('failed', 'timed-out')) return 'failed';
  if (has('pending')) return 'pending';
  if (has('cancelled')) return 'cancelled';
  if (steps.every((s) => s.status === 'skipped')) return 'skipped';
  return 'succeeded';
}

function span(steps: readonly StepState[], now: number): string | undefined {
  const starts = steps.map((s) => s.start).filter((x): x is number => x !== undefined);
  if (starts.length === 0) return undefined;
  const open = steps.some((s) => s.start !== undefined && s.end === undefined);
  const end = open ? now : Math.max(...steps.map((s) => s.end ?? 0));
  return formatDuration(Math.max(0, end - Math.min(...starts)));
}

// Times sit in one right-hand column; a long label is cut rather than pushing them off-screen.
function layout(line: Line, width: number): string {
  const time = line.time ?? '';
  const room = Math.max(10, width - time.length - 2);
  const plain = stripAnsi(line.text);
  const text = plain.length > room ? cut(plain, room) : line.text;
  const pad = time ? ' '.repeat(Math.max(1, width - Math.min(plain.length, room) - time.length)) : '';
  const painted = line.paint ? line.paint(text) : text;
  return time ? `${painted}${pad}${time}` : painted;
}

// Colour codes make slicing a painted string unsafe; a cut line losing its colour is acceptable.
function cut(plain: string, room: number): string {
  return plain.slice(0, room - 1) + '…';
}

const ANSI = /\x1b\[[0-9;]*m/g;
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

function firstLine(s: string): string {
  return s.split(/\r?\n/)[0] ?? '';
}
