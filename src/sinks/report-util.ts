// Shared by the report's HTML and SVG parts.
import type { StepTiming } from '../core/timeline.js';

/** Everything from events is untrusted text: labels, reasons and check details can hold markup. */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITY[c] ?? c);
}
const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Coordinates are rounded so the markup stays small and diffs between reports stay readable. */
export function n(x: number): string {
  return String(Math.round(x * 100) / 100);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const STEPS = [
  100,
  200,
  500,
  SECOND,
  2 * SECOND,
  5 * SECOND,
  10 * SECOND,
  15 * SECOND,
  30 * SECOND,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  60 * MINUTE,
  120 * MINUTE,
  240 * MINUTE,
  480 * MINUTE,
];

/** A tick spacing people count in (10s, 30s, 1m, 5m…) giving about `count` ticks over `spanMs`. */
export function niceStep(spanMs: number, count: number): number {
  const raw = spanMs / Math.max(1, count);
  return STEPS.find((s) => s >= raw) ?? Math.ceil(raw / (480 * MINUTE)) * 480 * MINUTE;
}

export type BarStatus = StepTiming['status'];

export const STATUS_LABEL: Record<BarStatus, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  'timed-out': 'timed out',
  cancelled: 'cancelled',
  skipped: 'skipped',
  running: 'unfinished',
  pending: 'not run',
};

/** History may hold statuses from older Castle versions, so any string maps to a colour. */
export function runStatusClass(status: string): string {
  return status === 'succeeded' ? 'ok' : status === 'running' || status === 'interrupted' ? 'warn' : 'bad';
}
