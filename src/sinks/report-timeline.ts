// The run as a Gantt chart: one bar per step, rows grouped by section then layer, parallel steps of a
// layer stacked on lanes so none hides another.
import type { Section } from '../events.js';
import { formatDuration, formatDurationCompact } from '../core/duration.js';
import { STATUS_LABEL, esc, n, niceStep } from './report-util.js';
import type { RunTimeline, StepTiming } from '../core/timeline.js';

const WIDTH = 1040;
const GUTTER = 190;
const RIGHT = 28;
const PLOT = WIDTH - GUTTER - RIGHT;
const AXIS = 34;
const ROW = 24;
const BAR = 16;
const SECTION_ROW = 24;
const BOTTOM = 12;
// Zero-length steps (skips) still get a visible bar; lanes are assigned on drawn extents so even
// these never overlap a neighbour.
const MIN_BAR_PX = 3;
const CHAR_PX = 6.4;
// A budget far beyond the run would squash every bar into a corner; it is drawn only when near.
const BUDGET_REACH = 1.25;

interface Placed {
  readonly s: StepTiming;
  readonly x: number;
  readonly w: number;
  lane: number;
}

/** Greedy interval partitioning in pixel space: each bar takes the lowest lane already free at its x. */
export function assignLanes<T extends { x: number; w: number; lane: number }>(bars: T[]): number {
  const laneEnds: number[] = [];
  // Stable sort: steps starting together keep plan order, top to bottom.
  for (const b of [...bars].sort((a, c) => a.x - c.x)) {
    let lane = laneEnds.findIndex((end) => end <= b.x);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = b.x + b.w;
    b.lane = lane;
  }
  return laneEnds.length;
}

function lastEndMs(t: RunTimeline): number {
  return Math.max(t.totalMs, ...t.steps.map((s) => s.endMs ?? 0));
}

export function budgetOnScale(t: RunTimeline): boolean {
  return t.budgetMs !== null && t.budgetMs > 0 && t.budgetMs <= Math.max(lastEndMs(t), 1) * BUDGET_REACH;
}

export function timelineSvg(t: RunTimeline): string {
  const started = t.steps.filter((s) => s.startMs !== undefined);
  const lastEnd = lastEndMs(t);
  const budget = budgetOnScale(t) ? t.budgetMs : null;
  const span = Math.max(lastEnd, budget ?? 0, 1000);
  const tick = niceStep(span, 8);
  const domain = Math.ceil(span / tick) * tick;
  const scale = PLOT / domain;
  const x = (ms: number) => GUTTER + ms * scale;
  const critical = new Set(t.criticalPath);

  const body: string[] = [];
  const centres = new Map<string, { x0: number; x1: number; y: number }>();
  let y = AXIS;
  for (const [section, layers] of group(started)) {
    body.push(`<rect class="band" x="0" y="${y}" width="${WIDTH}" height="${SECTION_ROW}"/>`);
    body.push(`<text class="section" x="12" y="${y + 16}">${esc(section.toUpperCase())}</text>`);
    y += SECTION_ROW;
    for (const [layer, steps] of layers) {
      const bars: Placed[] = steps.map((s) => {
        const x0 = x(s.startMs ?? 0);
        return { s, x: x0, w: Math.max(MIN_BAR_PX, x(s.endMs ?? t.totalMs) - x0), lane: 0 };
      });
      const lanes = assignLanes(bars);
      const height = lanes * ROW;
      body.push(`<g class="layer" data-layer="${esc(layer)}" data-section="${esc(section)}">`);
      body.push(`<line class="sep" x1="0" x2="${WIDTH}" y1="${y + height}" y2="${y + height}"/>`);
      body.push(`<text class="layer-label" x="24" y="${n(y + height / 2 + 4)}">${esc(clip(layer, 24))}<title>${esc(`${section} / ${layer}`)}</title></text>`);
      for (const b of bars) {
        const top = y + b.lane * ROW + (ROW - BAR) / 2;
        centres.set(b.s.step.id, { x0: b.x, x1: b.x + b.w, y: top + BAR / 2 });
        body.push(bar(b, top, critical.has(b.s.step.id), x));
        body.push(label(b, top, bars));
      }
      body.push('</g>');
      y += height;
    }
  }
  const plotBottom = y;
  const height = plotBottom + BOTTOM;

  const axis: string[] = [];
  for (let ms = 0; ms <= domain; ms += tick) {
    const tx = n(x(ms));
    axis.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${AXIS - 6}" y2="${plotBottom}"/>`);
    axis.push(`<text class="tick" x="${tx}" y="${AXIS - 12}" text-anchor="middle">${esc(formatDurationCompact(ms))}</text>`);
  }

  // Links go under the bars so they never cross a label; the budget and end lines go on top.
  const links: string[] = [];
  const overlay: string[] = [];
  const path = t.criticalPath.map((id) => centres.get(id)).filter((c) => c !== undefined);
  for (let i = 1; i < path.length; i++) {
    const a = path[i - 1]!;
    const b = path[i]!;
    links.push(`<path class="crit-link" d="M${n(a.x1)} ${n(a.y)} C${n(a.x1 + 10)} ${n(a.y)} ${n(b.x0 - 10)} ${n(b.y)} ${n(b.x0)} ${n(b.y)}"/>`);
  }
  if (budget !== null) {
    const bx = n(x(budget));
    overlay.push(
      `<g class="budget"><line x1="${bx}" x2="${bx}" y1="${AXIS - 6}" y2="${plotBottom}"/>` +
        `<text x="${n(x(budget) - 4)}" y="${AXIS + 14}" text-anchor="end">budget ${esc(formatDurationCompact(budget))}</text></g>`,
    );
  }
  const end = n(x(t.totalMs));
  overlay.push(
    `<line class="end" x1="${end}" x2="${end}" y1="${AXIS - 6}" y2="${plotBottom}"><title>run ended at ${esc(formatDuration(t.totalMs))}</title></line>`,
  );

  return (
    `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `role="img" aria-label="Timeline of ${started.length} steps over ${esc(formatDuration(t.totalMs))}" data-domain-ms="${domain}" data-plot-x="${GUTTER}" data-plot-width="${PLOT}">` +
    [...axis, ...links, ...body, ...overlay].join('') +
    '</svg>'
  );
}

function bar(b: Placed, top: number, critical: boolean, x: (ms: number) => number): string {
  const s = b.s;
  const tip = [
    `${s.step.label} (${s.step.id})`,
    `${STATUS_LABEL[s.status]} · starts +${formatDuration(s.startMs ?? 0)} · took ${formatDuration((s.endMs ?? s.startMs ?? 0) - (s.startMs ?? 0))}` +
      (s.attempts > 1 ? ` · ${s.attempts} attempts` : ''),
    ...(critical ? ['on the critical path'] : []),
    ...(s.reason ? [s.reason] : []),
  ].join('\n');
  // Failed attempts are washed out up to the last retry, so the attempt that counted stands out.
  const lastRetry = Math.max(...s.retriesAtMs.filter((r) => x(r) > b.x + 1 && x(r) < b.x + b.w));
  const retries = Number.isFinite(lastRetry)
    ? `<rect class="retry" x="${n(b.x)}" y="${n(top)}" width="${n(x(lastRetry) - b.x)}" height="${BAR}" rx="3">` +
      `<title>${esc(`${s.retriesAtMs.length} failed attempt${s.retriesAtMs.length === 1 ? '' : 's'} before this one`)}</title></rect>`
    : '';
  return (
    `<rect class="bar s-${s.status}${critical ? ' crit' : ''}" x="${n(b.x)}" y="${n(top)}" width="${n(b.w)}" height="${BAR}" rx="3" ` +
    `data-step="${esc(s.step.id)}" data-start-ms="${s.startMs ?? 0}" data-end-ms="${s.endMs ?? ''}" data-lane="${b.lane}">` +
    `<title>${esc(tip)}</title></rect>${retries}`
  );
}

// Inside the bar when it fits, else just after it if the lane is clear up to the next bar.
function label(b: Placed, top: number, all: readonly Placed[]): string {
  const text = b.s.step.label;
  const need = text.length * CHAR_PX + 12;
  const baseline = n(top + BAR / 2 + 4);
  if (need <= b.w) return `<text class="bar-label in" x="${n(b.x + 6)}" y="${baseline}">${esc(text)}</text>`;
  const next = Math.min(GUTTER + PLOT + RIGHT, ...all.filter((o) => o.lane === b.lane && o.x >= b.x + b.w && o !== b).map((o) => o.x));
  if (b.x + b.w + need <= next) return `<text class="bar-label out" x="${n(b.x + b.w + 5)}" y="${baseline}">${esc(text)}</text>`;
  return '';
}

function group(steps: readonly StepTiming[]): Map<Section, Map<string, StepTiming[]>> {
  const order: Section[] = ['gate', 'down', 'up', 'proof'];
  const out = new Map<Section, Map<string, StepTiming[]>>();
  for (const section of order) {
    const layers = new Map<string, StepTiming[]>();
    for (const s of steps.filter((st) => st.step.section === section)) layers.set(s.step.layer, [...(layers.get(s.step.layer) ?? []), s]);
    if (layers.size > 0) out.set(section, layers);
  }
  return out;
}

function clip(s: string, max: number): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}
