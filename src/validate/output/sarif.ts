import type { Diagnostic } from '../../diag/diagnostic.js';
import { ruleDescription } from './rules.js';

/** SARIF 2.1.0, as GitHub code scanning reads it: one run, rules listed once, results by ruleIndex. */
export function toSarif(diags: readonly Diagnostic[], toolVersion: string): object {
  const ruleIds = [...new Set(diags.map((d) => d.rule))].sort();
  const rules = ruleIds.map((id) => ({ id, shortDescription: { text: ruleDescription(id) }, helpUri: 'https://github.com/castle/castle#validate' }));
  const results = diags.map((d) => {
    const r: Record<string, unknown> = {
      ruleId: d.rule,
      ruleIndex: ruleIds.indexOf(d.rule),
      level: d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'note',
      message: { text: d.hint ? `${d.message}\nhint: ${d.hint}` : d.message },
    };
    if (d.location) {
      const region: Record<string, number> = { startLine: d.location.line, startColumn: d.location.col };
      if (d.location.length) region['endColumn'] = d.location.col + d.location.length;
      r['locations'] = [{ physicalLocation: { artifactLocation: { uri: sarifUri(d.location.file) }, region } }];
    }
    return r;
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'castle', informationUri: 'https://github.com/castle/castle', version: toolVersion, rules } }, results }],
  };
}

function sarifUri(file: string): string {
  const plain = file.replace(/ \(rendered\)$/, '').replace(/\\/g, '/');
  return plain.split('/').map(encodeURIComponent).join('/').replace(/^%2F/, '/');
}
