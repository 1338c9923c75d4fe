// Run totals across history against the budget: is rebirth getting slower?
import type { Operation, RunStatus } from '../events.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { esc, n, niceStep, runStatusClass } from './report-util.js';

export interface HistoryEntry {
  readonly runId: string;
  readonly operation: Operation | string;
  readonly status: RunStatus | string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly budgetMs: number | null;
}

const WIDTH = 1040;
const HEIGHT = 240;
const LEFT = 64;
const RIGHT = 28;
const TOP = 18;
const BOTTOM = 44;
/** beyond this many runs the bars get too thin to read or hover */
export const TREND_MAX_RUNS = 40;

// A budget far above every run would flatten the bars that show the trend; it is left off the chart then.
const BUDGET_REACH = 2;

function shownRuns(runs: readonly HistoryEntry[]): HistoryEntry[] {
  return [...runs].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt)).slice(-TREND_MAX_RUNS);
}

function budgetOnChart(shown: readonly HistoryEntry[]): boolean {
  const longest = Math.max(0, ...shown.map((r) => r.durationMs));
  return shown.some((r) => r.budgetMs !== null && r.budgetMs > 0 && r.budgetMs <= longest * BUDGET_REACH);
}

export function trendLegend(runs: readonly HistoryEntry[]): string {
  const shown = shownRuns(runs);
  const budgets = [...new Set(shown.map((r) => r.budgetMs).filter((b): b is number => b !== null && b > 0))];
  const off = budgetOnChart(shown) ? '' : ' (above the chart)';
  return (
    `<div class="legend"><span><i class="sw s-succeeded"></i>succeeded</span><span><i class="sw s-failed"></i>failed</span>` +
    (budgets.length > 0 ? `<span><i class="sw budget"></i>budget ${budgets.map((b) => esc(formatDurationCompact(b))).join(', ')}${off}</span>` : '') +
    `<span><i class="sw crit"></i>this run</span></div>`
  );
}

export function trendSvg(runs: readonly HistoryEntry[], currentRunId: string): string {
  const shown = shownRuns(runs);
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const withBudget = budgetOnChart(shown);
  const top = Math.max(1000, ...shown.map((r) => r.durationMs), ...shown.map((r) => (withBudget ? (r.budgetMs ?? 0) : 0)));
  const tick = niceStep(top, 4);
  const domain = Math.ceil(top / tick) * tick;
  const y = (ms: number) => TOP + plotH - (ms / domain) * plotH;
  const slot = plotW / Math.max(shown.length, 1);
  const barW = Math.min(34, slot * 0.62);
  const cx = (i: number) => LEFT + slot * (i + 0.5);

  const parts: string[] = [];
  for (let ms = 0; ms <= domain; ms += tick) {
    parts.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${n(y(ms))}" y2="${n(y(ms))}"/>`);
    parts.push(`<text class="tick" x="${LEFT - 8}" y="${n(y(ms) + 4)}" text-anchor="end">${esc(formatDurationCompact(ms))}</text>`);
  }
  const labelEvery = Math.ceil(shown.length / 10);
  const currentAt = shown.findIndex((r) => r.runId === currentRunId);
  // The current run is always labelled; a regular label too close to it would print over it.
  const labelled = (i: number) => i === currentAt || (i % labelEvery === 0 && (currentAt < 0 || Math.abs(i - currentAt) * slot >= 90));
  shown.forEach((r, i) => {
    const h = Math.max(1, plotH - (y(r.durationMs) - TOP));
    const current = r.runId === currentRunId;
    const over = r.budgetMs !== null && r.budgetMs > 0 && r.durationMs > r.budgetMs;
    const tip =
      `${r.operation} ${r.runId}\n${r.status} · ${formatDuration(r.durationMs)}` +
      (r.budgetMs ? ` of budget ${formatDurationCompact(r.budgetMs)}${over ? ' (over)' : ''}` : '') +
      `\n${r.startedAt}`;
    parts.push(
      `<rect class="run ${runStatusClass(r.status)}${current ? ' current' : ''}" ` +
        `x="${n(cx(i) - barW / 2)}" y="${n(TOP + plotH - h)}" width="${n(barW)}" height="${n(h)}" rx="2" data-run="${esc(r.runId)}" data-duration-ms="${r.durationMs}">` +
        `<title>${esc(tip)}</title></rect>`,
    );
    if (current) parts.push(`<text class="current-label" x="${n(cx(i))}" y="${n(TOP + plotH - h - 6)}" text-anchor="middle">this run</text>`);
    if (labelled(i)) {
      parts.push(`<text class="tick" x="${n(cx(i))}" y="${HEIGHT - BOTTOM + 18}" text-anchor="middle">${esc(shortDate(r.startedAt))}</text>`);
    }
  });
  // Budgets can change between runs, so the line follows each run's own budget.
  const budget = shown
    .map((r, i) =>
      withBudget && r.budgetMs && r.budgetMs <= domain ? `${n(cx(i) - slot / 2)},${n(y(r.budgetMs))} ${n(cx(i) + slot / 2)},${n(y(r.budgetMs))}` : '',
    )
    .filter(Boolean);
  if (budget.length > 0) parts.push(`<polyline class="budget-line" points="${budget.join(' ')}"><title>budget</title></polyline>`);
  parts.push(`<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${n(y(0))}" y2="${n(y(0))}"/>`);

  return (
    `<svg class="trend" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" ` +
    `aria-label="Durations of the last ${shown.length} runs">${parts.join('')}</svg>`
  );
}

function shortDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso.slice(0, 16);
  // UTC, like every timestamp in the event log, so the chart matches the logs.
  return `${d.toISOString().slice(5, 10)} ${d.toISOString().slice(11, 16)}`;
}
