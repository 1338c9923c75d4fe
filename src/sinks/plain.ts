// One line per event for CI and detached logs: greppable, no cursor movement, no colour.
import type { EventEnvelope, EventSink } from '../events.js';
import { assertNever } from '../events.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { budgetLine } from './summary.js';

export class PlainSink implements EventSink {
  constructor(private readonly write: (line: string) => void) {}

  handle(ev: EventEnvelope): void {
    this.write(`${ev.ts} ${describe(ev)}`);
  }
}

export function describe(ev: EventEnvelope): string {
  switch (ev.type) {
    case 'run-started': {
      const budget = ev.budgetMs === null ? 'no budget' : `budget ${formatDurationCompact(ev.budgetMs)}`;
      const resume = ev.resumeOf ? `, resuming ${ev.resumeOf}` : '';
      return `run ${ev.runId} started: ${ev.operation} ${ev.castle} (${ev.file}, ${plural(ev.steps.length, 'step')}, ${budget}, concurrency ${ev.concurrency}, pid ${ev.pid}@${ev.host}${resume})`;
    }
    case 'lock-taken-over': {
      const p = ev.previous;
      return `lock taken over from run ${p.runId} (${p.operation}, pid ${p.pid}@${p.host}, since ${p.since}): ${flat(ev.reason)}`;
    }
    case 'step-started':
      return `${ev.stepId} started (attempt ${ev.attempt})`;
    case 'step-retrying':
      return `${ev.stepId} attempt ${ev.attempt} failed, retrying in ${formatDuration(ev.delayMs)}: ${flat(ev.reason)}`;
    case 'step-finished': {
      const bug = ev.bug ? ' [bug]' : '';
      const reason = ev.reason ? `: ${flat(ev.reason)}` : '';
      const summary = ev.summary ? ` -- ${flat(ev.summary)}` : '';
      return `${ev.stepId} ${ev.status}${bug} in ${formatDuration(ev.durationMs)} (${plural(ev.attempts, 'attempt')})${reason}${summary}`;
    }
    case 'step-note':
      return `${ev.stepId}: ${flat(ev.message)}`;
    case 'check':
      return `${ev.stepId} check ${flat(ev.name)} ${ev.ok ? 'passed' : 'FAILED'}: ${flat(ev.detail)}`;
    case 'signal':
      return `signal ${ev.signal}: ${flat(ev.action)}`;
    case 'warning':
      return `warning: ${flat(ev.message)}`;
    case 'run-finished': {
      const reason = ev.reason ? `: ${flat(ev.reason)}` : '';
      return `run ${ev.runId} ${ev.status}${reason}; ${budgetLine(ev.durationMs, ev.budgetMs)}`;
    }
    default:
      return assertNever(ev);
  }
}

// A message that spans lines would break "one event, one line" and confuse anything tailing the log.
function flat(s: string): string {
  return s.replace(/\r?\n/g, '\\n');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
