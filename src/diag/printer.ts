import type { Diagnostic, SourceLocation } from './diagnostic.js';

export type SourceLookup = (file: string) => string | undefined;

// the last text split into lines: findings come file by file, and splitting a file of thousands of lines for each of them costs more than checking it
let lastText: string | undefined;
let lastLines: string[] = [];

function sourceLine(lookup: SourceLookup, loc: SourceLocation): string | undefined {
  const text = lookup(loc.file);
  if (text === undefined) return undefined;
  if (text !== lastText) {
    lastText = text;
    lastLines = text.split(/\r?\n/);
  }
  return lastLines[loc.line - 1];
}

function where(loc: SourceLocation | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}: ` : '';
}

/** Widest source excerpt shown: a minified or 50 MB line is shown as a window around the column. */
const MAX_EXCERPT = 160;

/** control characters would move the terminal's cursor or ring its bell: shown as one '?' each */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/g;

/** the source line and its caret line, `indent` before each, added to `out` when the source is known */
function excerpt(lookup: SourceLookup, loc: SourceLocation, indent: string, out: string[]): void {
  const full = sourceLine(lookup, loc);
  if (full === undefined) return;
  const gutter = String(loc.line);
  const pad = ' '.repeat(gutter.length);
  let from = 0;
  if (full.length > MAX_EXCERPT) from = Math.max(0, Math.min(loc.col - 1 - MAX_EXCERPT / 2, full.length - MAX_EXCERPT));
  const head = from > 0 ? '...' : '';
  const tail = from + MAX_EXCERPT < full.length ? '...' : '';
  const cut = full.length > MAX_EXCERPT ? full.slice(from, from + MAX_EXCERPT) : full;
  const src = cut.replace(CONTROL, '?');
  const col = loc.col - from;
  // Tabs are kept so the caret lines up with what the terminal shows (most lines have none: spaces alone then).
  const before = src.slice(0, Math.max(0, col - 1));
  const lead = ' '.repeat(head.length) + (before.includes('\t') ? before.replace(/[^\t]/g, ' ') : ' '.repeat(before.length));
  const width = Math.max(1, Math.min(loc.length ?? 1, Math.max(1, src.length - (col - 1))));
  out.push(`${indent}  ${gutter} | ${head}${src}${tail}`, `${indent}  ${pad} | ${lead}${'^'.repeat(width)}`);
}

/** One printer for every diagnostic Castle shows: `file:line:col: severity rule: message`, the source line, a caret. */
export function formatDiagnostic(d: Diagnostic, lookup: SourceLookup): string {
  // parts joined once: a string built by `+=` is a tree of pieces, which cost more to write to a pipe later
  const out = [`${where(d.location)}${d.severity} ${d.rule}: ${d.message}`];
  if (d.location) excerpt(lookup, d.location, '', out);
  for (const r of d.related ?? []) {
    out.push(`  ${where(r.location)}note: ${r.message}`);
    if (r.location) excerpt(lookup, r.location, '  ', out);
  }
  if (d.hint) out.push(`  hint: ${d.hint}`);
  return out.join('\n');
}

export function formatDiagnostics(diags: readonly Diagnostic[], lookup: SourceLookup): string {
  const errors = diags.filter((d) => d.severity === 'error').length;
  const warnings = diags.filter((d) => d.severity === 'warning').length;
  const body = diags.map((d) => formatDiagnostic(d, lookup)).join('\n');
  return `${body}\n${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
}
