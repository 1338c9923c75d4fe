import { Optional, type Environment } from '@marcbachmann/cel-js';
import { listTypeContains, listTypeEqual } from './cel-lists.js';
import { nameProblems } from './names.js';
import { re2 } from './regex.js';
import { net } from '../builtins-lazy.js';

/**
 * The CEL libraries the API server adds to the standard environment for CRD validation rules
 * (k8s.io/apiserver/pkg/cel/library and cel-go ext): lists, regex, url, ip, cidr, quantity,
 * semver, format, sets, strings (version 2). cel-js ships the standard library and optionals;
 * these are written here because no JS package implements them. Errors they raise are the
 * object's fault (the server rejects it with `<error> evaluating rule: ...`): RuleError.
 */
export class RuleError extends Error {}

function fail(message: string): never {
  throw new RuleError(message);
}

/** `a.Equal(b)` as the server decides it, with set and map lists of the object compared as cel-lists.ts says */
function celEquals(a: unknown, b: unknown): boolean {
  return listTypeEqual(a, b, plainEquals);
}

/** CEL equality over the values cel-js binds (bigint ints, number doubles, strings, lists, maps) */
function plainEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'bigint' || typeof b === 'bigint' || typeof a === 'number' || typeof b === 'number') {
    return (typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number') && Number(a) === Number(b);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => plainEquals(x, b[i]));
  if (a instanceof Map || b instanceof Map) return false;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (a && b && typeof a === 'object' && typeof b === 'object' && a.constructor === b.constructor && !Array.isArray(a) && a.constructor !== Object)
    return Number(a) === Number(b);
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => plainEquals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return false;
}

function isZeroValue(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === 0n || v === '') return true;
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length === 0;
  if (v instanceof Map) return v.size === 0;
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.keys(v).length === 0;
  return false;
}

function compare(a: unknown, b: unknown): number {
  if ((typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number')) {
    if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
    return Number(a) < Number(b) ? -1 : Number(a) > Number(b) ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof Quantity && b instanceof Quantity) return a.compareTo(b);
  // cel-js durations and timestamps (Date) order by their numeric value
  if (
    a &&
    b &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    a.constructor === b.constructor &&
    typeof (a as { valueOf(): unknown }).valueOf() === 'number'
  ) {
    const x = Number(a);
    const y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a instanceof Semver && b instanceof Semver) return a.compareTo(b);
  return fail(`no such overload: comparison of ${typeof a} and ${typeof b}`);
}

// ---- quantity: resource.Quantity, exact as a fraction ----

const QTY = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?[0-9]+))?$/;
const BIN: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DEC: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

export class Quantity {
  constructor(
    readonly n: bigint,
    readonly d: bigint,
  ) {}

  static parse(s: string): Quantity | undefined {
    const m = QTY.exec(s);
    if (!m) return undefined;
    const [, sign, digits, suffix, exp] = m;
    const [int, frac = ''] = digits!.split('.');
    let n = BigInt(`${int || '0'}${frac}`) * (sign === '-' ? -1n : 1n);
    let d = 10n ** BigInt(frac.length);
    if (suffix && BIN[suffix]) n *= BIN[suffix]!;
    const e = suffix && DEC[suffix] !== undefined ? DEC[suffix]! : exp !== undefined ? Number(exp) : 0;
    if (Math.abs(e) > 100) return undefined;
    if (e > 0) n *= 10n ** BigInt(e);
    else if (e < 0) d *= 10n ** BigInt(-e);
    return new Quantity(n, d);
  }

  compareTo(o: Quantity): number {
    const l = this.n * o.d;
    const r = o.n * this.d;
    return l < r ? -1 : l > r ? 1 : 0;
  }

  add(o: Quantity): Quantity {
    return new Quantity(this.n * o.d + o.n * this.d, this.d * o.d);
  }

  neg(): Quantity {
    return new Quantity(-this.n, this.d);
  }
}

function quantity(s: string): Quantity {
  return Quantity.parse(s) ?? fail("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

// ---- semver (blang/semver, strict) ----

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export class Semver {
  constructor(
    readonly major: bigint,
    readonly minor: bigint,
    readonly patch: bigint,
    readonly pre: readonly string[],
  ) {}

  static parse(s: string): Semver | undefined {
    const m = SEMVER.exec(s);
    if (!m) return undefined;
    return new Semver(BigInt(m[1]!), BigInt(m[2]!), BigInt(m[3]!), m[4] ? m[4].split('.') : []);
  }

  compareTo(o: Semver): number {
    for (const [a, b] of [
      [this.major, o.major],
      [this.minor, o.minor],
      [this.patch, o.patch],
    ] as const) {
      if (a !== b) return a < b ? -1 : 1;
    }
    if (this.pre.length === 0 || o.pre.length === 0) return this.pre.length === o.pre.length ? 0 : this.pre.length === 0 ? 1 : -1;
    for (let i = 0; i < Math.min(this.pre.length, o.pre.length); i++) {
      const a = this.pre[i]!;
      const b = o.pre[i]!;
      if (a === b) continue;
      const na = /^\d+$/.test(a);
      const nb = /^\d+$/.test(b);
      if (na && nb) return BigInt(a) < BigInt(b) ? -1 : 1;
      if (na !== nb) return na ? -1 : 1;
      return a < b ? -1 : 1;
    }
    return Math.sign(this.pre.length - o.pre.length);
  }
}

// ---- ip and cidr (netip semantics: no zones, no IPv4-mapped IPv6) ----

export class IP {
  constructor(
    readonly family: 4 | 6,
    readonly bits: bigint,
  ) {}

  static parse(s: string): IP | undefined {
    const { isIPv4, isIPv6 } = net();
    if (isIPv4(s)) {
      // netip refuses leading zeros, as net.isIPv4 does
      return new IP(
        4,
        s.split('.').reduce((n, p) => (n << 8n) | BigInt(p), 0n),
      );
    }
    if (!isIPv6(s) || s.includes('%')) return undefined;
    let head = s;
    let v4tail: bigint | undefined;
    const last = s.slice(s.lastIndexOf(':') + 1);
    if (last.includes('.')) {
      // an IPv4-mapped address is refused by the Kubernetes ip library
      if (/^::ffff:/i.test(s)) return undefined;
      v4tail = IP.parse(last)?.bits;
      head = `${s.slice(0, s.lastIndexOf(':') + 1)}0:0`;
    }
    const [l, r] = head.includes('::') ? head.split('::') : [head, undefined];
    const left = l ? l.split(':') : [];
    const right = r ? r.split(':') : [];
    const groups = r === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
    let bits = groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
    if (v4tail !== undefined) bits = (bits & ~0xffffffffn) | v4tail;
    return new IP(6, bits);
  }

  get width(): bigint {
    return this.family === 4 ? 32n : 128n;
  }

  inRange(prefix: bigint, len: bigint): boolean {
    return this.bits >> (this.width - len) === prefix >> (this.width - len);
  }

  toString(): string {
    if (this.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((this.bits >> s) & 255n)).join('.');
    const g = Array.from({ length: 8 }, (_, i) => Number((this.bits >> BigInt(112 - 16 * i)) & 0xffffn));
    // the longest run of zero groups (two or more) becomes ::
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8;) {
      if (g[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && g[j] === 0) j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    const hex = g.map((x) => x.toString(16));
    if (best === -1) return hex.join(':');
    return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
  }
}

export class CIDR {
  constructor(
    readonly ip: IP,
    readonly prefix: bigint,
  ) {}

  static parse(s: string): CIDR | undefined {
    const i = s.indexOf('/');
    if (i === -1) return undefined;
    const ip = IP.parse(s.slice(0, i));
    const len = s.slice(i + 1);
    if (!ip || !/^(0|[1-9]\d{0,2})$/.test(len) || BigInt(len) > ip.width) return undefined;
    return new CIDR(ip, BigInt(len));
  }

  contains(ip: IP): boolean {
    return ip.family === this.ip.family && ip.inRange(this.ip.bits, this.prefix);
  }

  masked(): CIDR {
    const shift = this.ip.width - this.prefix;
    return new CIDR(new IP(this.ip.family, (this.ip.bits >> shift) << shift), this.prefix);
  }
}

// ---- url (Go's url.Parse, as the Kubernetes url library requires it: absolute URI or absolute path) ----

export class CelURL {
  constructor(
    readonly scheme: string,
    readonly host: string,
    readonly path: string,
    readonly query: string,
  ) {}

  static parse(s: string): CelURL | undefined {
    if (/[\x00-\x1f\x7f]/.test(s)) return undefined;
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/.exec(s);
    if (m) {
      const host = m[2]!.replace(/^[^@]*@/, '');
      // Go's url.Parse: a port is digits after the last colon of a host that has no other colon
      const bare = host.startsWith('[') ? host.slice(host.indexOf(']') + 1) : host;
      if (host.startsWith('[') ? bare !== '' && !/^:\d*$/.test(bare) : bare.includes(':') && !/^[^:]*:\d*$/.test(bare)) return undefined;
      return new CelURL(m[1]!, host, m[3]!, m[4] ?? '');
    }
    const p = /^(\/[^?#]*)(?:\?([^#]*))?(?:#.*)?$/.exec(s);
    if (p) return new CelURL('', '', p[1]!, p[2] ?? '');
    return undefined;
  }

  get hostname(): string {
    const h = this.host;
    if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
    const i = h.lastIndexOf(':');
    return i === -1 ? h : h.slice(0, i);
  }

  get port(): string {
    const h = this.host;
    const close = h.lastIndexOf(']');
    const i = h.lastIndexOf(':');
    return i > close ? h.slice(i + 1) : '';
  }
}

// ---- format library: the API server's name validations ----

const FORMATS: Record<string, (s: string) => string[]> = {
  dns1123Label: (s) => nameProblems('label', s),
  dns1123Subdomain: (s) => nameProblems('subdomain', s),
  dns1035Label: (s) => nameProblems('dns1035', s),
  qualifiedName: (s) => qualifiedName(s),
  labelValue: (s) => labelValue(s),
  uuid: (s) => (/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s) ? [] : ['does not match the UUID format']),
  byte: (s) => (/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s) ? [] : ['invalid base64']),
  date: (s) => (/^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) ? [] : ['an RFC3339 date']),
  datetime: (s) =>
    /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s)) ? [] : ['an RFC3339 date-time'],
};

const QNAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function qualifiedName(s: string): string[] {
  const parts = s.split('/');
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  const out: string[] = [];
  if (parts.length > 2)
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  if (parts.length === 2) {
    if (parts[0] === '') out.push('prefix part must be non-empty');
    else out.push(...nameProblems('subdomain', parts[0]!).map((m) => `prefix part ${m}`));
  }
  if (name === '') out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  if (name !== '' && !QNAME.test(name))
    out.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  return out;
}

function labelValue(s: string): string[] {
  const out: string[] = [];
  if (s.length > 63) out.push('must be no more than 63 characters');
  if (s !== '' && !QNAME.test(s))
    out.push(
      "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
    );
  return out;
}

class Format {
  constructor(readonly check: (s: string) => string[]) {}
}
class FormatNamespace {}
class SetsNamespace {}
class StringsNamespace {}

// ---- strings (cel-go ext, version 2) ----

function formatString(f: string, args: unknown[]): string {
  let i = 0;
  return f.replace(/%(\.\d+)?([sdfeboxX%])/g, (_, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (a === undefined) fail('index out of range for format string');
    switch (verb) {
      case 's':
        return typeof a === 'string'
          ? a
          : typeof a === 'bigint' || typeof a === 'number' || typeof a === 'boolean'
            ? String(a)
            : JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
      case 'd':
        return typeof a === 'bigint' ? a.toString() : fail('error during formatting: decimal clause can only be used on integers');
      case 'f':
        return Number(a).toFixed(prec ? Number(prec.slice(1)) : 6);
      case 'e':
        return Number(a)
          .toExponential(prec ? Number(prec.slice(1)) : 6)
          .replace(/e([+-])(\d)$/, 'e$10$2');
      case 'b':
        return typeof a === 'bigint' ? a.toString(2) : fail('error during formatting: binary clause can only be used on integers');
      case 'o':
        return typeof a === 'bigint' ? a.toString(8) : fail('error during formatting: octal clause can only be used on integers');
      case 'x':
        return typeof a === 'bigint'
          ? a.toString(16)
          : typeof a === 'string'
            ? Buffer.from(a).toString('hex')
            : fail('error during formatting: only integers and strings can be formatted as hex');
      default:
        return typeof a === 'bigint'
          ? a.toString(16).toUpperCase()
          : typeof a === 'string'
            ? Buffer.from(a).toString('hex').toUpperCase()
            : fail('error during formatting: only integers and strings can be formatted as hex');
    }
  });
}

/** code points, not UTF-16 units: CEL strings index by code point */
function cps(s: string): string[] {
  return [...s];
}

export function registerKubernetesLibraries(e: Environment): void {
  const fn = (sig: string, h: (...a: never[]) => unknown): void => {
    e.registerFunction(sig, h as (...a: unknown[]) => unknown);
  };

  // optionals (cel-go): equal when both are empty or both hold equal values; ofNonZeroValue is empty for a zero value
  e.registerOperator(
    'optional<dyn> == optional<dyn>',
    (a: Optional, b: Optional) => a.hasValue() === b.hasValue() && (!a.hasValue() || celEquals(a.value(), b.value())),
  );
  fn('OptionalNamespace.ofNonZeroValue(dyn): optional<dyn>', (_ns: unknown, v: unknown) => (isZeroValue(v) ? Optional.none() : Optional.of(v)));

  // lists
  fn('list.isSorted(): bool', (l: unknown[]) => l.every((x, i) => i === 0 || compare(l[i - 1], x) <= 0));
  fn('list.sum(): dyn', (l: unknown[]) => {
    if (l.length === 0) return 0n;
    const first = l[0] as { addDuration?: (o: unknown) => unknown };
    if (typeof first?.addDuration === 'function')
      return l.slice(1).reduce((a: unknown, b) => (a as { addDuration(o: unknown): unknown }).addDuration(b), first);
    if (l.every((x) => typeof x === 'bigint')) {
      const s = (l as bigint[]).reduce((a, b) => a + b, 0n);
      return s > INT64_MAX || s < INT64_MIN ? fail('integer overflow') : s;
    }
    return l.reduce((a: number, b) => a + Number(b), 0);
  });
  fn('list.min(): dyn', (l: unknown[]) => (l.length === 0 ? fail('min called on empty list') : l.reduce((a, b) => (compare(b, a) < 0 ? b : a))));
  fn('list.max(): dyn', (l: unknown[]) => (l.length === 0 ? fail('max called on empty list') : l.reduce((a, b) => (compare(b, a) > 0 ? b : a))));
  fn('list.indexOf(dyn): int', (l: unknown[], x: unknown) => BigInt(l.findIndex((y) => celEquals(y, x))));
  fn('list.lastIndexOf(dyn): int', (l: unknown[], x: unknown) => {
    for (let i = l.length - 1; i >= 0; i--) if (celEquals(l[i], x)) return BigInt(i);
    return -1n;
  });

  // regex
  const compiled = (p: string) => {
    const r = re2(p);
    return r instanceof Error ? fail(`invalid regex: ${r.message}`) : r;
  };
  fn('string.find(string): string', (s: string, p: string) => {
    const m = compiled(p).matcher(s);
    return m.find() ? (m.group() ?? '') : '';
  });
  const findAll = (s: string, p: string, limit: bigint): string[] => {
    const out: string[] = [];
    const m = compiled(p).matcher(s);
    while ((limit < 0n || BigInt(out.length) < limit) && m.find()) out.push(m.group() ?? '');
    return out;
  };
  fn('string.findAll(string): list<string>', (s: string, p: string) => findAll(s, p, -1n));
  fn('string.findAll(string, int): list<string>', (s: string, p: string, n: bigint) => findAll(s, p, n));

  // url
  e.registerType('URL', CelURL);
  const url = (s: string): CelURL => CelURL.parse(s) ?? fail(`URL parse error during conversion from string: ${s}`);
  fn('url(string): URL', url);
  fn('isURL(string): bool', (s: string) => CelURL.parse(s) !== undefined);
  fn('URL.getScheme(): string', (u: CelURL) => u.scheme);
  fn('URL.getHost(): string', (u: CelURL) => u.host);
  fn('URL.getHostname(): string', (u: CelURL) => u.hostname);
  fn('URL.getPort(): string', (u: CelURL) => u.port);
  // Go's EscapedPath: bytes outside the path's allowed set percent-encoded
  fn('URL.getEscapedPath(): string', (u: CelURL) => u.path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu, (c) => encodeURIComponent(c)));
  fn('URL.getQuery(): map<string, list<string>>', (u: CelURL) => {
    const out = new Map<string, string[]>();
    for (const [k, v] of new URLSearchParams(u.query)) out.set(k, [...(out.get(k) ?? []), v]);
    return out;
  });

  // ip and cidr
  e.registerType('net.IP', IP);
  e.registerType('net.CIDR', CIDR);
  const ip = (s: string): IP => IP.parse(s) ?? fail(`IP Address "${s}" parse error during conversion from string: ParseAddr("${s}"): unable to parse IP`);
  fn('ip(string): net.IP', ip);
  fn('isIP(string): bool', (s: string) => IP.parse(s) !== undefined);
  fn('net.IP.family(): int', (a: IP) => BigInt(a.family));
  fn('net.IP.isUnspecified(): bool', (a: IP) => a.bits === 0n);
  fn('net.IP.isLoopback(): bool', (a: IP) => (a.family === 4 ? a.inRange(0x7f000000n, 8n) : a.bits === 1n));
  fn('net.IP.isLinkLocalMulticast(): bool', (a: IP) => (a.family === 4 ? a.inRange(0xe0000000n, 24n) : a.inRange(0xff02n << 112n, 16n)));
  fn('net.IP.isLinkLocalUnicast(): bool', (a: IP) => (a.family === 4 ? a.inRange(0xa9fe0000n, 16n) : a.inRange(0xfe80n << 112n, 10n)));
  fn('net.IP.isGlobalUnicast(): bool', (a: IP) => {
    if (a.bits === 0n) return false;
    if (a.family === 4) return a.bits !== 0xffffffffn && !a.inRange(0x7f000000n, 8n) && !a.inRange(0xe0000000n, 4n) && !a.inRange(0xa9fe0000n, 16n);
    return a.bits !== 1n && !a.inRange(0xffn << 120n, 8n) && !a.inRange(0xfe80n << 112n, 10n);
  });
  fn('net.IP.string(): string', (a: IP) => a.toString());
  const cidr = (s: string): CIDR =>
    CIDR.parse(s) ??
    fail(
      `network address parse error during conversion from string: network address parse error during conversion from string: netip.ParsePrefix("${s}"): bad prefix`,
    );
  fn('cidr(string): net.CIDR', cidr);
  fn('isCIDR(string): bool', (s: string) => CIDR.parse(s) !== undefined);
  fn('net.CIDR.containsIP(net.IP): bool', (c: CIDR, a: IP) => c.contains(a));
  fn('net.CIDR.containsIP(string): bool', (c: CIDR, s: string) => c.contains(ip(s)));
  fn('net.CIDR.containsCIDR(net.CIDR): bool', (c: CIDR, o: CIDR) => o.prefix >= c.prefix && c.contains(o.ip));
  fn('net.CIDR.containsCIDR(string): bool', (c: CIDR, s: string) => {
    const o = cidr(s);
    return o.prefix >= c.prefix && c.contains(o.ip);
  });
  fn('net.CIDR.ip(): net.IP', (c: CIDR) => c.ip);
  fn('net.CIDR.masked(): net.CIDR', (c: CIDR) => c.masked());
  fn('net.CIDR.prefixLength(): int', (c: CIDR) => c.prefix);

  // quantity
  e.registerType('Quantity', Quantity);
  fn('quantity(string): Quantity', quantity);
  fn('isQuantity(string): bool', (s: string) => Quantity.parse(s) !== undefined);
  fn('Quantity.isInteger(): bool', (q: Quantity) => q.n % q.d === 0n && q.n / q.d <= INT64_MAX && q.n / q.d >= INT64_MIN);
  fn('Quantity.asInteger(): int', (q: Quantity) => {
    if (q.n % q.d !== 0n) fail('cannot convert value to integer');
    const v = q.n / q.d;
    return v > INT64_MAX || v < INT64_MIN ? fail('cannot convert value to integer') : v;
  });
  fn('Quantity.asApproximateFloat(): double', (q: Quantity) => Number(q.n) / Number(q.d));
  fn('Quantity.sign(): int', (q: Quantity) => BigInt(Math.sign(Number(q.n))));
  fn('Quantity.add(Quantity): Quantity', (a: Quantity, b: Quantity) => a.add(b));
  fn('Quantity.add(int): Quantity', (a: Quantity, b: bigint) => a.add(new Quantity(b, 1n)));
  fn('Quantity.sub(Quantity): Quantity', (a: Quantity, b: Quantity) => a.add(b.neg()));
  fn('Quantity.sub(int): Quantity', (a: Quantity, b: bigint) => a.add(new Quantity(-b, 1n)));
  fn('Quantity.compareTo(Quantity): int', (a: Quantity, b: Quantity) => BigInt(a.compareTo(b)));
  fn('Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.compareTo(b) > 0);
  fn('Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.compareTo(b) < 0);

  // semver
  e.registerType('Semver', Semver);
  fn('semver(string): Semver', (s: string) => Semver.parse(s) ?? fail(`could not parse "${s}" as semver`));
  fn('isSemver(string): bool', (s: string) => Semver.parse(s) !== undefined);
  fn('Semver.major(): int', (v: Semver) => v.major);
  fn('Semver.minor(): int', (v: Semver) => v.minor);
  fn('Semver.patch(): int', (v: Semver) => v.patch);
  fn('Semver.compareTo(Semver): int', (a: Semver, b: Semver) => BigInt(a.compareTo(b)));
  fn('Semver.isGreaterThan(Semver): bool', (a: Semver, b: Semver) => a.compareTo(b) > 0);
  fn('Semver.isLessThan(Semver): bool', (a: Semver, b: Semver) => a.compareTo(b) < 0);

  // format
  e.registerType('FormatNamespace', FormatNamespace);
  e.registerType('Format', Format);
  e.registerConstant('format', 'FormatNamespace', new FormatNamespace());
  for (const [name, check] of Object.entries(FORMATS)) fn(`FormatNamespace.${name}(): Format`, () => new Format(check));
  fn('FormatNamespace.named(string): optional<Format>', (_: unknown, name: string) =>
    FORMATS[name] ? Optional.of(new Format(FORMATS[name]!)) : Optional.none(),
  );
  fn('Format.validate(string): optional<list<string>>', (f: Format, s: string) => {
    const errs = f.check(s);
    return errs.length ? Optional.of(errs) : Optional.none();
  });

  // sets
  e.registerType('SetsNamespace', SetsNamespace);
  e.registerConstant('sets', 'SetsNamespace', new SetsNamespace());
  // cel-go ext/sets.go: `list.Contains(elem)` for each element of the other list
  const has = (l: unknown[], x: unknown): boolean => listTypeContains(l, x, plainEquals);
  fn('SetsNamespace.contains(list, list): bool', (_: unknown, a: unknown[], b: unknown[]) => b.every((x) => has(a, x)));
  fn('SetsNamespace.equivalent(list, list): bool', (_: unknown, a: unknown[], b: unknown[]) => b.every((x) => has(a, x)) && a.every((x) => has(b, x)));
  fn('SetsNamespace.intersects(list, list): bool', (_: unknown, a: unknown[], b: unknown[]) => a.some((x) => has(b, x)));

  // strings, version 2 (what cel-js lacks of it)
  fn('string.charAt(int): string', (s: string, i: bigint) => {
    const c = cps(s);
    if (i < 0n || i > BigInt(c.length)) fail(`index out of range: ${i}`);
    return c[Number(i)] ?? '';
  });
  fn('string.replace(string, string): string', (s: string, a: string, b: string) => s.split(a).join(b));
  fn('string.replace(string, string, int): string', (s: string, a: string, b: string, n: bigint) => {
    if (n < 0n) return s.split(a).join(b);
    let out = s;
    let from = 0;
    for (let k = 0n; k < n; k++) {
      const i = out.indexOf(a, from);
      if (i === -1) break;
      out = out.slice(0, i) + b + out.slice(i + a.length);
      from = i + b.length + (a === '' ? 1 : 0);
    }
    return out;
  });
  fn('string.reverse(): string', (s: string) => cps(s).reverse().join(''));
  fn('string.format(list): string', (s: string, args: unknown[]) => formatString(s, args));
  e.registerType('StringsNamespace', StringsNamespace);
  e.registerConstant('strings', 'StringsNamespace', new StringsNamespace());
  fn('StringsNamespace.quote(string): string', (_: unknown, s: string) => JSON.stringify(s));
}
