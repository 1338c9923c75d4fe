import type { ErrorObject } from 'ajv';
import type { Diagnostic } from '../diag/diagnostic.js';
import { locate, type PathSeg, type YamlSource } from '../diag/yaml-source.js';
import { DNS1123_LABEL_PATTERN, DURATION } from './schema.js';
import { closest } from './suggest.js';

function pointerToPath(pointer: string): PathSeg[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out || '(document)';
}

const DNS_HINT = "use lowercase letters, digits and '-', starting and ending with a letter or digit (DNS-1123 label), e.g. 'my-layer'";

export function badDuration(src: YamlSource, path: readonly PathSeg[]): Diagnostic {
  return {
    severity: 'error',
    rule: 'spec/bad-duration',
    message: `${describe(path)}: not a duration`,
    location: locate(src, path),
    hint: 'write a duration such as 500ms, 30s, 12m or 1h30m',
  };
}

/** Turns ajv errors on a YAML document into located diagnostics in Castle's words. */
export function ajvToDiagnostics(errors: readonly ErrorObject[], src: YamlSource, base: readonly PathSeg[], what: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    const path = [...base, ...pointerToPath(e.instancePath)];
    const at = describe(path);
    let d: Diagnostic;
    switch (e.keyword) {
      case 'additionalProperties': {
        const field = String(e.params.additionalProperty);
        const allowed = Object.keys((e.parentSchema as { properties?: object })?.properties ?? {});
        const guess = closest(field, allowed);
        d = {
          severity: 'error',
          rule: 'spec/unknown-field',
          message: `unknown field '${field}' in ${at === '(document)' ? what : at}`,
          location: locate(src, [...path, field], { key: true }),
          hint: guess ? `did you mean '${guess}'?` : `allowed fields: ${allowed.join(', ')}`,
        };
        break;
      }
      case 'required':
        d = {
          severity: 'error',
          rule: 'spec/missing-field',
          message: `missing required field '${String(e.params.missingProperty)}' in ${at === '(document)' ? what : at}`,
          location: locate(src, path, { key: true }),
        };
        break;
      case 'type':
        d = {
          severity: 'error',
          rule: 'spec/wrong-type',
          message: `${at} must be ${String(e.params.type)
            .replace('integer', 'a whole number')
            .replace(/^(string|array|object|number|boolean)$/, (t) => (t === 'array' || t === 'object' ? `an ${t}` : `a ${t}`))}`,
          location: locate(src, path),
        };
        break;
      case 'pattern': {
        const pattern = String(e.params.pattern);
        if (pattern === DURATION) d = badDuration(src, path);
        else if (pattern === DNS1123_LABEL_PATTERN)
          d = { severity: 'error', rule: 'spec/bad-name', message: `${at}: invalid name`, location: locate(src, path), hint: DNS_HINT };
        else d = { severity: 'error', rule: 'spec/invalid', message: `${at} must match pattern "${pattern}"`, location: locate(src, path) };
        break;
      }
      default:
        d = { severity: 'error', rule: 'spec/invalid', message: `${at} ${e.message ?? 'is invalid'}`, location: locate(src, path) };
    }
    const key = `${d.rule}|${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(d);
    }
  }
  return out;
}

export { describe as describePath };
