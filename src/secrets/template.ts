// The subset of ESO's engineVersion v2 templates (Go text/template + sprig) that config files need:
// `{{ .KEY }}`, `{{ index . "key-with-dash" }}`, string literals, pipes into a few sprig functions,
// `{{- -}}` trim markers and `{{/* comments */}}`. Anything else is refused with its position.

export type TemplateResult =
  | { readonly ok: true; readonly text: string; readonly keysUsed: readonly string[] }
  | { readonly ok: false; readonly message: string; /** offset into the template */ readonly offset: number; readonly length: number };

type Fn = (args: string[]) => string | { error: string };

const FUNCS: Record<string, { arity: number; fn: Fn }> = {
  b64enc: { arity: 1, fn: ([s]) => Buffer.from(s!, 'utf8').toString('base64') },
  b64dec: {
    arity: 1,
    fn: ([s]) => {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s!.trim())) return { error: 'b64dec: value is not valid base64' };
      return Buffer.from(s!.trim(), 'base64').toString('utf8');
    },
  },
  upper: { arity: 1, fn: ([s]) => s!.toUpperCase() },
  lower: { arity: 1, fn: ([s]) => s!.toLowerCase() },
  trim: { arity: 1, fn: ([s]) => s!.trim() },
  quote: { arity: 1, fn: ([s]) => JSON.stringify(s!) },
  squote: { arity: 1, fn: ([s]) => `'${s!}'` },
  toString: { arity: 1, fn: (a: string[]) => a[0]! },
  // sprig's `default D V`: V when non-empty, else D (so `.X | default "d"` works too).
  default: { arity: 2, fn: ([d, v]) => (v === '' ? d! : v!) },
};

export const SUPPORTED_TEMPLATE_FUNCTIONS: readonly string[] = [...Object.keys(FUNCS), 'index'].sort();

interface Token {
  readonly kind: 'field' | 'string' | 'ident' | 'dot' | 'pipe';
  readonly text: string;
  readonly offset: number;
}

type Fail = { ok: false; message: string; offset: number; length: number };

function fail(message: string, offset: number, length = 1): Fail {
  return { ok: false, message, offset, length: Math.max(1, length) };
}

function lex(src: string, base: number): Token[] | Fail {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '|') {
      out.push({ kind: 'pipe', text: '|', offset: base + i });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\' && j + 1 < src.length) {
          const n = src[j + 1]!;
          s += ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[n] ?? n;
          j += 2;
        } else {
          s += src[j];
          j++;
        }
      }
      if (j >= src.length) return fail('unterminated string literal', base + i);
      out.push({ kind: 'string', text: s, offset: base + i });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j === -1) return fail('unterminated raw string literal', base + i);
      out.push({ kind: 'string', text: src.slice(i + 1, j), offset: base + i });
      i = j + 1;
      continue;
    }
    if (c === '.') {
      const m = /^\.([A-Za-z_][A-Za-z0-9_]*)?/.exec(src.slice(i))!;
      if (m[1]) out.push({ kind: 'field', text: m[1], offset: base + i });
      else out.push({ kind: 'dot', text: '.', offset: base + i });
      i += m[0].length;
      if (src[i] === '.') return fail('nested fields (.A.B) are not supported: secret data is flat', base + i);
      continue;
    }
    const m = /^[A-Za-z_$][A-Za-z0-9_]*/.exec(src.slice(i));
    if (m) {
      out.push({ kind: 'ident', text: m[0], offset: base + i });
      i += m[0].length;
      continue;
    }
    return fail(`unexpected character '${c}' in template action`, base + i);
  }
  return out;
}

/** Renders `template` with `data` (secret key -> value). Missing keys are errors, as ESO's missingkey=error. */
export function renderTemplate(template: string, data: ReadonlyMap<string, string>): TemplateResult {
  const used = new Set<string>();
  let out = '';
  let pos = 0;
  let trimNextLeading = false;
  while (pos < template.length) {
    const open = template.indexOf('{{', pos);
    let text = open === -1 ? template.slice(pos) : template.slice(pos, open);
    if (trimNextLeading) text = text.replace(/^\s+/, '');
    trimNextLeading = false;
    if (open === -1) {
      out += text;
      break;
    }
    let inner = open + 2;
    if (template[inner] === '-' && /\s/.test(template[inner + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      inner += 1;
    }
    out += text;
    const close = template.indexOf('}}', inner);
    if (close === -1) return fail('unclosed action: missing }}', open, 2);
    let end = close;
    if (template[close - 1] === '-' && /\s/.test(template[close - 2] ?? '')) {
      trimNextLeading = true;
      end = close - 1;
    }
    const body = template.slice(inner, end);
    pos = close + 2;
    if (/^\s*\/\*[\s\S]*\*\/\s*$/.test(body)) continue;
    const r = evalAction(body, inner, data, used);
    if (!r.ok) return r;
    out += r.value;
  }
  return { ok: true, text: out, keysUsed: [...used] };
}

function evalAction(body: string, base: number, data: ReadonlyMap<string, string>, used: Set<string>): { ok: true; value: string } | Fail {
  const toks = lex(body, base);
  if (!Array.isArray(toks)) return toks;
  if (toks.length === 0) return fail('empty action {{ }}', base);
  const cmds: Token[][] = [[]];
  for (const t of toks) {
    if (t.kind === 'pipe') cmds.push([]);
    else cmds[cmds.length - 1]!.push(t);
  }
  let piped: string | undefined;
  for (const cmd of cmds) {
    if (cmd.length === 0) return fail('empty command in pipeline', base);
    const r = evalCommand(cmd, piped, data, used);
    if (!r.ok) return r;
    piped = r.value;
  }
  return { ok: true, value: piped ?? '' };
}

function operand(t: Token, data: ReadonlyMap<string, string>, used: Set<string>): { ok: true; value: string } | Fail {
  switch (t.kind) {
    case 'string':
      return { ok: true, value: t.text };
    case 'field': {
      const v = data.get(t.text);
      if (v === undefined) return fail(`map has no entry for key "${t.text}"`, t.offset, t.text.length + 1);
      used.add(t.text);
      return { ok: true, value: v };
    }
    case 'dot':
      return fail('`.` alone is the whole secret map: use .KEY or index . "KEY"', t.offset);
    default:
      return fail(`unexpected '${t.text}'`, t.offset, t.text.length);
  }
}

function evalCommand(cmd: Token[], piped: string | undefined, data: ReadonlyMap<string, string>, used: Set<string>): { ok: true; value: string } | Fail {
  const head = cmd[0]!;
  if (head.kind !== 'ident') {
    if (cmd.length > 1) return fail(`'${head.text}' is not a function`, head.offset, head.text.length);
    if (piped !== undefined) return fail('a value cannot receive a pipe: put a function after |', head.offset);
    return operand(head, data, used);
  }
  const name = head.text;
  if (name === 'index') {
    const args = cmd.slice(1);
    if (args.length !== 2 || args[0]!.kind !== 'dot' || args[1]!.kind !== 'string') {
      return fail('index is supported as `index . "KEY"`', head.offset, name.length);
    }
    const key = args[1]!.text;
    const v = data.get(key);
    if (v === undefined) return fail(`map has no entry for key "${key}"`, args[1]!.offset, key.length + 2);
    used.add(key);
    return { ok: true, value: v };
  }
  const f = Object.hasOwn(FUNCS, name) ? FUNCS[name] : undefined;
  if (!f) {
    const kw = ['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block'].includes(name);
    return fail(
      kw
        ? `'${name}' actions are not supported by castle's local template renderer`
        : `unsupported template function '${name}' (supported: ${SUPPORTED_TEMPLATE_FUNCTIONS.join(', ')})`,
      head.offset,
      name.length,
    );
  }
  const args: string[] = [];
  for (const t of cmd.slice(1)) {
    const r = operand(t, data, used);
    if (!r.ok) return r;
    args.push(r.value);
  }
  if (piped !== undefined) args.push(piped);
  if (args.length !== f.arity) {
    return fail(`${name} takes ${f.arity} argument${f.arity > 1 ? 's' : ''}, got ${args.length}`, head.offset, name.length);
  }
  const v = f.fn(args);
  if (typeof v !== 'string') return fail(v.error, head.offset, name.length);
  return { ok: true, value: v };
}
