// A self-contained HTML report of one run: opens from disk or a CI artifact, with no network, no
// script, nothing but what the events say (so nothing the events did not already carry).
import type { EventEnvelope } from '../events.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { REPORT_CSS } from './report-style.js';
import { budgetOnScale, timelineSvg } from './report-timeline.js';
import { trendLegend, trendSvg, TREND_MAX_RUNS, type HistoryEntry } from './report-trend.js';
import { STATUS_LABEL, esc, runStatusClass } from './report-util.js';
import { buildTimeline, criticalPathMs, isFailure, type RunTimeline } from '../core/timeline.js';

export type { HistoryEntry } from './report-trend.js';

export function renderReport(run: { runId: string; events: readonly EventEnvelope[] }, history: readonly HistoryEntry[]): string {
  // A log may hold more than one run (a resume appends); an id that matches nothing falls back to all.
  const own = run.events.filter((e) => e.runId === run.runId);
  const t = buildTimeline(own.length > 0 ? own : run.events);
  const castle = t.started?.castle ?? '?';
  const op = t.started?.operation ?? '?';
  const title = `${castle} · ${op} · ${t.status}`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // Belt and braces: even a tampered event cannot make the page load or run anything.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Castle · ${esc(title)}</title>`,
    `<style>${REPORT_CSS}</style></head><body><main>`,
    header(t, run.runId),
    cards(t),
    section('Timeline', legend(t) + `<div class="scroll">${timelineSvg(t)}</div>` + notRun(t)),
    `<div class="two">${section('Phases', phaseTable(t))}${section('Critical path', criticalPath(t))}</div>`,
    t.checks.length > 0 ? section('Proof', checks(t)) : '',
    failures(t),
    t.warnings.length > 0 ? section('Warnings', `<ul class="warnings">${t.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`) : '',
    section(`History of ${esc(op)} runs`, trend(t, run.runId, history)),
    `<footer>Castle run report · run ${esc(run.runId)} · event log v${esc(String(run.events[0]?.v ?? '?'))}</footer>`,
    '</main></body></html>',
  ].join('\n');
}

function section(title: string, body: string): string {
  return `<section><h2>${title}</h2>${body}</section>`;
}

function header(t: RunTimeline, runId: string): string {
  const s = t.started;
  const meta = [
    `run <code>${esc(runId)}</code>`,
    t.startedAt ? `started ${esc(t.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}` : '',
    s ? `${esc(s.file)}` : '',
    s ? `${esc(s.host)}` : '',
    s?.resumeOf ? `resumes <code>${esc(s.resumeOf)}</code>` : '',
  ].filter(Boolean);
  const reason = t.finished?.reason ? `<p class="reason">${esc(t.finished.reason)}</p>` : '';
  return (
    `<header><div class="eyebrow">Castle run report</div>` +
    `<h1>${esc(s?.castle ?? '?')} <span class="op">${esc(s?.operation ?? '?')}</span> <span class="badge ${runStatusClass(t.status)}">${esc(t.status)}</span></h1>` +
    `<p class="meta">${meta.join(' · ')}</p>${reason}</header>`
  );
}

function cards(t: RunTimeline): string {
  const counts = new Map<string, number>();
  for (const s of t.steps) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  const stepDetail = [...counts.entries()].map(([st, c]) => `${c} ${STATUS_LABEL[st as keyof typeof STATUS_LABEL] ?? st}`).join(', ');
  const b = t.budgetMs;
  let budget = '<div class="card"><div class="k">Budget</div><div class="v">none</div></div>';
  if (b !== null && b > 0) {
    const pct = (t.totalMs / b) * 100;
    const over = t.totalMs > b;
    budget =
      `<div class="card${over ? ' over' : ''}"><div class="k">Budget</div>` +
      `<div class="v">${over ? `over by ${esc(formatDuration(t.totalMs - b))}` : `${pct.toFixed(1)}% used`}</div>` +
      `<div class="d">of ${esc(formatDurationCompact(b))}</div>` +
      `<div class="meter"><span style="width:${Math.min(100, pct).toFixed(1)}%"></span></div></div>`;
  }
  return (
    `<div class="cards">` +
    `<div class="card"><div class="k">Total</div><div class="v">${esc(formatDuration(t.totalMs))}</div></div>` +
    budget +
    `<div class="card"><div class="k">Steps</div><div class="v">${t.steps.length}</div><div class="d">${esc(stepDetail)}</div></div>` +
    `<div class="card"><div class="k">Critical path</div><div class="v">${esc(formatDuration(criticalPathMs(t)))}</div>` +
    `<div class="d">${t.criticalPath.length} step${t.criticalPath.length === 1 ? '' : 's'}</div></div>` +
    `</div>`
  );
}

function legend(t: RunTimeline): string {
  const present = new Set(t.steps.filter((s) => s.startMs !== undefined).map((s) => s.status));
  const items = (['succeeded', 'failed', 'timed-out', 'cancelled', 'skipped', 'running'] as const)
    .filter((s) => present.has(s))
    .map((s) => `<span><i class="sw s-${s}"></i>${esc(STATUS_LABEL[s])}</span>`);
  if (t.criticalPath.length > 0) items.push('<span><i class="sw crit"></i>critical path</span>');
  const b = t.budgetMs;
  if (b !== null && b > 0) {
    const off = !budgetOnScale(t) ? ' (beyond the chart)' : '';
    items.push(`<span><i class="sw budget"></i>budget ${esc(formatDurationCompact(b))}${off}</span>`);
  }
  return `<div class="legend">${items.join('')}</div>`;
}

function notRun(t: RunTimeline): string {
  const never = t.steps.filter((s) => s.startMs === undefined);
  if (never.length === 0) return '';
  return `<p class="note">Not run: ${never.map((s) => `<code>${esc(s.step.id)}</code>`).join(', ')}</p>`;
}

function phaseTable(t: RunTimeline): string {
  const total = Math.max(t.totalMs, 1);
  const rows = t.phases.map((p) => {
    const left = Math.min(100, (p.startMs / total) * 100);
    const width = Math.max(0.5, Math.min(100 - left, (p.durationMs / total) * 100));
    return (
      `<tr><td>${esc(p.phase)}</td><td class="num">${esc(formatDuration(p.startMs))}</td><td class="num">${esc(formatDuration(p.durationMs))}</td>` +
      `<td class="gantt"><div><span style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></div></td></tr>`
    );
  });
  return `<table class="phases"><thead><tr><th>Phase</th><th class="num">Start</th><th class="num">Duration</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function criticalPath(t: RunTimeline): string {
  if (t.criticalPath.length === 0) return '<p class="note">No critical path recorded.</p>';
  const byId = new Map(t.steps.map((s) => [s.step.id, s]));
  const items = t.criticalPath.map((id) => {
    const s = byId.get(id);
    const took = s?.startMs !== undefined && s.endMs !== undefined ? formatDuration(s.endMs - s.startMs) : '';
    return `<li><span class="id">${esc(s?.step.label ?? id)}</span><code>${esc(id)}</code><span class="took">${esc(took)}</span></li>`;
  });
  return `<ol class="path">${items.join('')}</ol><p class="note">${esc(formatDuration(criticalPathMs(t)))} of ${esc(formatDuration(t.totalMs))} spent on the critical path.</p>`;
}

function checks(t: RunTimeline): string {
  const items = t.checks.map(
    (c) => `<li class="${c.ok ? 'ok' : 'bad'}"><span class="mark">${c.ok ? '✔' : '✖'}</span><b>${esc(c.name)}</b> ${esc(c.detail)}</li>`,
  );
  return `<ul class="checks">${items.join('')}</ul>`;
}

function failures(t: RunTimeline): string {
  const bad = t.steps.filter((s) => isFailure(s.status));
  if (bad.length === 0) return '';
  const items = bad.map(
    (s) => `<li><b>${esc(s.step.label)}</b> <code>${esc(s.step.id)}</code> ${esc(STATUS_LABEL[s.status])}${s.reason ? `<pre>${esc(s.reason)}</pre>` : ''}</li>`,
  );
  return section('Failures', `<ul class="failures">${items.join('')}</ul>`);
}

// The current run belongs on its own trend even when the caller's history was read before it ended.
function trend(t: RunTimeline, runId: string, history: readonly HistoryEntry[]): string {
  const op = t.started?.operation;
  const runs = history.filter((h) => op === undefined || h.operation === op);
  if (t.finished && t.startedAt && !runs.some((h) => h.runId === runId)) {
    runs.push({ runId, operation: op ?? '?', status: t.status, startedAt: t.startedAt, durationMs: t.totalMs, budgetMs: t.budgetMs });
  }
  if (runs.length === 0) return '<p class="note">No finished runs yet.</p>';
  const note = runs.length > TREND_MAX_RUNS ? `<p class="note">Last ${TREND_MAX_RUNS} of ${runs.length} runs.</p>` : '';
  return `${trendLegend(runs)}<div class="scroll">${trendSvg(runs, runId)}</div>${note}`;
}
