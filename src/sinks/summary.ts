// The end-of-run table printed after the live tree: where the time went, against the budget.
import type { EventEnvelope } from '../events.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { buildTimeline, criticalPathMs, isFailure, type RunTimeline } from '../core/timeline.js';

export function formatSummary(events: readonly EventEnvelope[]): string {
  const t = buildTimeline(events);
  const out: string[] = [headline(t), ''];
  out.push(...phaseTable(t), '');
  out.push(budgetLine(t.totalMs, t.budgetMs));
  if (t.criticalPath.length > 0) {
    out.push(`critical path ${t.criticalPath.join(' -> ')} (${formatDuration(criticalPathMs(t))})`);
  }
  const failed = t.steps.filter((s) => isFailure(s.status));
  if (failed.length > 0) {
    out.push('', 'not done:');
    for (const s of failed) out.push(`  ✖ ${s.step.id} ${s.status}${s.reason ? `: ${oneLine(s.reason)}` : ''}`);
  }
  if (t.checks.length > 0) {
    out.push('', 'proof:');
    for (const c of t.checks) out.push(`  ${c.ok ? '✔' : '✖'} ${oneLine(c.name)}: ${oneLine(c.detail)}`);
  }
  if (t.warnings.length > 0) {
    out.push('', 'warnings:');
    for (const w of t.warnings) out.push(`  ! ${oneLine(w)}`);
  }
  return out.join('\n');
}

function headline(t: RunTimeline): string {
  const castle = t.started?.castle ?? '?';
  const op = t.started?.operation ?? '?';
  const why = t.finished?.reason ? `: ${oneLine(t.finished.reason)}` : '';
  const status = t.status === 'running' ? 'unfinished (the log has no run-finished)' : t.status;
  return `${op} ${castle}: ${status}${why}`;
}

function phaseTable(t: RunTimeline): string[] {
  const rows = t.phases.map((p) => [p.phase, formatDuration(p.startMs), formatDuration(p.durationMs)] as const);
  const head = ['phase', 'start', 'duration'] as const;
  const w = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)));
  // Times are right-aligned so their units line up and lengths compare at a glance.
  const line = (r: readonly [string, string, string]) => `${r[0].padEnd(w[0]!)}  ${r[1].padStart(w[1]!)}  ${r[2].padStart(w[2]!)}`.trimEnd();
  return [line(head), ...rows.map(line)];
}

/** `total 1m02.3s of budget 12m (8.7%)`, or the overrun spelled out so it cannot be missed. */
export function budgetLine(totalMs: number, budgetMs: number | null): string {
  const total = `total ${formatDuration(totalMs)}`;
  if (budgetMs === null || budgetMs <= 0) return `${total} (no budget)`;
  const budget = `of budget ${formatDurationCompact(budgetMs)}`;
  if (totalMs > budgetMs) return `${total} ${budget}: OVER BUDGET by ${formatDuration(totalMs - budgetMs)}`;
  return `${total} ${budget} (${((totalMs / budgetMs) * 100).toFixed(1)}%)`;
}

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, ' ');
}
