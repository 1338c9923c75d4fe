import { readFileSync } from 'node:fs';
import { formatDiagnostics } from '../../diag/printer.js';
import type { ValidateResult } from '../index.js';
import { toSarif } from './sarif.js';

export type Format = 'text' | 'json' | 'sarif';

function toolVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Text (the shared diagnostics printer plus a summary), JSON, or SARIF 2.1.0. */
export function renderResult(result: ValidateResult, format: Format): string {
  switch (format) {
    case 'text': {
      const s = result.stats;
      const summary = `${s.documents} document${s.documents === 1 ? '' : 's'} in ${s.files} file${s.files === 1 ? '' : 's'}, ${s.validated} checked against a schema${s.unknownKind ? `, ${s.unknownKind} of unknown kind` : ''}${s.celUnevaluated ? `, ${s.celUnevaluated} CEL rule evaluation${s.celUnevaluated === 1 ? '' : 's'} not possible offline` : ''}${s.celSkipped ? `, ${s.celSkipped} transition rule${s.celSkipped === 1 ? '' : 's'} (oldSelf) not checked offline: they compare with the live object on update` : ''}${s.placeholders ? `, ${s.placeholders} finding${s.placeholders === 1 ? '' : 's'} on \${VAR} placeholders not reported (Flux substitutes them; no postBuild.substitute in the tree gives their values)` : ''}`;
      if (result.diagnostics.length === 0) return `0 errors, 0 warnings\n${summary}`;
      return `${formatDiagnostics(result.diagnostics, (f) => result.sources.get(f))}\n${summary}`;
    }
    case 'json':
      return JSON.stringify({ version: 1, ok: result.ok, stats: result.stats, diagnostics: result.diagnostics }, null, 2);
    case 'sarif':
      return JSON.stringify(toSarif(result.diagnostics, toolVersion()), null, 2);
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}

