import type { Diagnostic, SourceLocation } from './diagnostic.js';

export type SourceLookup = (file: string) => string | undefined;

function sourceLine(lookup: SourceLookup, loc: SourceLocation): string | undefined {
  const text = lookup(loc.file);
  if (text === undefined) return undefined;
  const lines = text.split(/\r?\n/);
  return lines[loc.line - 1];
}

function where(loc: SourceLocation | undefined): string {
  return loc ? `${loc.file}:${loc.line}:${loc.col}: ` : '';
}

function excerpt(lookup: SourceLookup, loc: SourceLocation): string[] {
  const src = sourceLine(lookup, loc);
  if (src === undefined) return [];
  const gutter = String(loc.line);
  const pad = ' '.repeat(gutter.length);
  // Tabs are kept so the caret lines up with what the terminal shows.
  const lead = src.slice(0, Math.max(0, loc.col - 1)).replace(/[^\t]/g, ' ');
  const width = Math.max(1, Math.min(loc.length ?? 1, Math.max(1, src.length - (loc.col - 1))));
  return [`  ${gutter} | ${src}`, `  ${pad} | ${lead}${'^'.repeat(width)}`];
}

/** One printer for every diagnostic Castle shows: `file:line:col: severity rule: message`, the source line, a caret. */
export function formatDiagnostic(d: Diagnostic, lookup: SourceLookup): string {
  const out = [`${where(d.location)}${d.severity} ${d.rule}: ${d.message}`];
  if (d.location) out.push(...excerpt(lookup, d.location));
  for (const r of d.related ?? []) {
    out.push(`  ${where(r.location)}note: ${r.message}`);
    if (r.location) out.push(...excerpt(lookup, r.location).map((l) => '  ' + l));
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
