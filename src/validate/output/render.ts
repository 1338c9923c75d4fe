import { castleVersion } from '../../core/version.js';
import { formatDiagnostic } from '../../diag/printer.js';
import type { Diagnostic } from '../../diag/diagnostic.js';
import type { ValidateResult, ValidateStats } from '../index.js';
import { toSarif } from './sarif.js';

export type Format = 'text' | 'json' | 'sarif';

/** Text (the shared diagnostics printer plus a summary), JSON, or SARIF 2.1.0. */
export function renderResult(result: ValidateResult, format: Format): string {
  return [...renderChunks(result, format)].join('');
}

/**
 * The same output in pieces, one diagnostic at a time for text and JSON: 400,000 findings printed
 * as one string would double the memory they take.
 */
export function* renderChunks(result: ValidateResult, format: Format): Generator<string> {
  if (format === 'json') {
    const whole = { ok: result.ok, stats: result.stats };
    if (result.diagnostics.length === 0) {
      yield jsonEmpty(whole);
      return;
    }
    let first = true;
    for (const d of result.diagnostics) {
      yield `${first ? jsonHead() : ',\n'}${jsonItem(d)}`;
      first = false;
    }
    yield `\n  ]${jsonTail(whole)}`;
    return;
  }
  if (format === 'text' && result.diagnostics.length > 0) {
    const lookup = (f: string): string | undefined => result.sources.get(f);
    let errors = 0;
    let warnings = 0;
    for (const d of result.diagnostics) {
      if (d.severity === 'error') errors++;
      else if (d.severity === 'warning') warnings++;
      yield `${formatDiagnostic(d, lookup)}\n`;
    }
    yield `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n${summaryLine(result.stats)}`;
    return;
  }
  yield whole(result, format);
}

/**
 * The JSON output is JSON.stringify({ version, diagnostics, ok, stats }, null, 2), printed in pieces:
 * the counts come after the findings, so that the findings are printed as they come (StreamRenderer).
 * jsonHead() is what comes before the first finding, `[` and its newline included.
 */
export function jsonHead(): string {
  return '{\n  "version": 1,\n  "diagnostics": [\n';
}

type Counts = { readonly ok: boolean; readonly stats: ValidateStats };

/** the whole output of a run without findings */
export function jsonEmpty(whole: Counts): string {
  return JSON.stringify({ version: 1, diagnostics: [], ...whole }, null, 2);
}

/** what comes after the `]` that ends `diagnostics` */
export function jsonTail(whole: Counts): string {
  const s = jsonEmpty(whole);
  return s.slice(s.indexOf('[]') + 2);
}

/**
 * One finding as JSON.stringify(whole, null, 2) prints it among the items of `diagnostics` (depth 2),
 * its keys in the order of the Diagnostic type. Written out for that type's keys: 40,000 findings
 * took 25 ms, against 45-50 ms printed by JSON.stringify at that depth and cut out (stringifyItem). A
 * finding with related locations or another key is printed by JSON.stringify.
 */
export function jsonItem(d: Diagnostic): string {
  for (const k in d) if (!ITEM_KEYS.has(k)) return stringifyItem(d);
  if (d.related !== undefined || d.severity === undefined || d.rule === undefined || d.message === undefined) return stringifyItem(d);
  const q = JSON.stringify;
  let s = `    {\n      "severity": ${q(d.severity)},\n      "rule": ${q(d.rule)},\n      "message": ${q(d.message)}`;
  const l = d.location;
  if (l !== undefined) {
    for (const k in l) if (!LOCATION_KEYS.has(k)) return stringifyItem(d);
    if (l.file === undefined || l.line === undefined || l.col === undefined) return stringifyItem(d);
    s += `,\n      "location": {\n        "file": ${q(l.file)},\n        "line": ${q(l.line)},\n        "col": ${q(l.col)}`;
    s += l.length === undefined ? '\n      }' : `,\n        "length": ${q(l.length)}\n      }`;
  }
  if (d.hint !== undefined) s += `,\n      "hint": ${q(d.hint)}`;
  return `${s}\n    }`;
}

const ITEM_KEYS = new Set(['severity', 'rule', 'message', 'location', 'hint', 'related']);
const LOCATION_KEYS = new Set(['file', 'line', 'col', 'length']);

/** jsonItem by JSON.stringify: printed at that depth inside two lists and cut out (a fifth of the cost of indenting each line) */
export function stringifyItem(d: Diagnostic): string {
  const s = JSON.stringify([[d]], null, 2);
  // `[\n  [\n` before it, `\n  ]\n]` after
  return s.slice(6, s.length - 6);
}

export function summaryLine(s: ValidateStats): string {
  return `${s.documents} document${s.documents === 1 ? '' : 's'} in ${s.files} file${s.files === 1 ? '' : 's'}, ${s.validated} checked against a schema${s.unknownKind ? `, ${s.unknownKind} of unknown kind` : ''}${s.celUnevaluated ? `, ${s.celUnevaluated} CEL rule evaluation${s.celUnevaluated === 1 ? '' : 's'} not possible offline` : ''}${s.celSkipped ? `, ${s.celSkipped} transition rule${s.celSkipped === 1 ? '' : 's'} (oldSelf) not checked: they compare with the live object on update (--cluster checks them)` : ''}${s.celNotEstimated ? `, ${s.celNotEstimated} CRD rule${s.celNotEstimated === 1 ? '' : 's'} whose estimated cost could not be computed offline (the API server checks it when the CRD is applied)` : ''}${s.ratcheted ? `, ${s.ratcheted} error${s.ratcheted === 1 ? '' : 's'} on values unchanged from the live objects ratcheted (as the API server does)` : ''}${s.placeholders ? `, ${s.placeholders} finding${s.placeholders === 1 ? '' : 's'} on \${VAR} placeholders not reported (Flux substitutes them; no postBuild.substitute in the tree gives their values)` : ''}`;
}

function whole(result: ValidateResult, format: Format): string {
  switch (format) {
    case 'text':
      return `0 errors, 0 warnings\n${summaryLine(result.stats)}`;
    case 'json':
      return JSON.stringify({ version: 1, diagnostics: result.diagnostics, ok: result.ok, stats: result.stats }, null, 2);
    case 'sarif':
      return JSON.stringify(toSarif(result.diagnostics, castleVersion), null, 2);
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}
