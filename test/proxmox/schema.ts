// Parameter checks of the Proxmox VE API, written after pve-common's PVE::JSONSchema (check_prop, check_type,
// check_format, parse_property_string), against the committed subset of the official API schema. Hand-written
// because the schema is Proxmox's own dialect (0/1 booleans, `[n]` properties, property strings, named formats),
// which no JSON Schema library validates. Messages are Proxmox's.
import { readFileSync } from 'node:fs';

export interface PveProp {
  readonly type?: string;
  readonly optional?: number;
  readonly format?: string | Record<string, PveProp>;
  readonly pattern?: string;
  readonly enum?: readonly string[];
  readonly minimum?: number | string;
  readonly maximum?: number | string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly default_key?: number;
  readonly alias?: string;
  readonly keyAlias?: string;
}

export interface PveEndpoint {
  readonly allowtoken?: number;
  readonly parameters: { readonly additionalProperties?: number; readonly properties?: Record<string, PveProp> };
  readonly returns?: unknown;
}

export interface PveSchema {
  readonly source: string;
  readonly endpoints: Record<string, PveEndpoint>;
}

export const SCHEMA_FILE = new URL('../../../test/proxmox/pve-api-subset.json', import.meta.url);

let cached: PveSchema | undefined;
export function loadSchema(): PveSchema {
  return (cached ??= JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as PveSchema);
}

/** `GET /nodes/{node}/qemu/{vmid}/config` for a concrete path, with the path's parameters. */
export function matchEndpoint(
  schema: PveSchema,
  method: string,
  path: string,
): { key: string; endpoint: PveEndpoint; pathParams: Record<string, string> } | undefined {
  const segs = path.split('/').filter(Boolean);
  for (const [key, endpoint] of Object.entries(schema.endpoints)) {
    const [m, tpl] = key.split(' ') as [string, string];
    if (m !== method) continue;
    const t = tpl.split('/').filter(Boolean);
    if (t.length !== segs.length) continue;
    const pathParams: Record<string, string> = {};
    let okay = true;
    t.forEach((s, i) => {
      const v = segs[i]!;
      if (s.startsWith('{')) pathParams[s.slice(1, -1)] = decodeURIComponent(v);
      else if (s !== v) okay = false;
    });
    if (okay) return { key, endpoint, pathParams };
  }
  return undefined;
}

const NAME = '[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?';
const IPV4 = '(?:(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const ipv4 = new RegExp(`^${IPV4}$`);
const isIp = (s: string): boolean => ipv4.test(s) || (/^[0-9a-fA-F:.]+$/.test(s) && s.includes(':'));
const cidr4 = (s: string): boolean => {
  const [a, m, extra] = s.split('/');
  return extra === undefined && a !== undefined && ipv4.test(a) && m !== undefined && /^\d+$/.test(m) && Number(m) <= 32;
};
const cidr6 = (s: string): boolean => {
  const [a, m, extra] = s.split('/');
  return extra === undefined && a !== undefined && isIp(a) && a.includes(':') && m !== undefined && /^\d+$/.test(m) && Number(m) <= 128;
};
const volumeId = /^(?:[a-z][a-z0-9\-_.]*[a-z0-9]):(.+)$/i;

/** Named formats (PVE::JSONSchema register_format): a reason when the value does not fit, else undefined. */
const FORMATS: Record<string, (v: string) => string | undefined> = {
  'pve-vmid': (v) => (/^[1-9][0-9]{2,8}$/.test(v) ? undefined : 'value does not look like a valid VM ID'),
  'pve-node': (v) => (new RegExp(`^${NAME}$`).test(v) ? undefined : 'value does not look like a valid node name'),
  'dns-name': (v) => (new RegExp(`^(?:${NAME}\\.)*${NAME}$`).test(v) ? undefined : 'value does not look like a valid DNS name'),
  'pve-tag-list': (v) =>
    v
      .split(/[;,\s]+/)
      .filter(Boolean)
      .every((t) => /^[a-z0-9_][a-z0-9_\-+.]*$/i.test(t))
      ? undefined
      : 'invalid characters in tag',
  'pve-storage-id': (v) => (/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v) ? undefined : `storage ID '${v}' contains illegal characters`),
  'pve-configid-list': (v) =>
    v
      .split(/[;,\s]+/)
      .filter(Boolean)
      .map((c) => (/^[a-z][a-z0-9_-]+$/i.test(c) ? undefined : `invalid configuration ID '${c}'`))
      .find(Boolean),
  'pve-bridge-id': (v) => (/^[-_.\w\d]+$/.test(v) ? undefined : `'${v}' is not a valid bridge name`),
  'mac-addr': (v) => (/^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v) ? undefined : `value '${v}' does not look like a valid unicast MAC address`),
  'address-list': (v) =>
    v
      .split(/[,;\s]+/)
      .filter(Boolean)
      .map((a) => (isIp(a) ? undefined : `value '${a}' does not look like a valid address`))
      .find(Boolean),
  urlencoded: (v) => (/^[-%a-zA-Z0-9_.!~*'()]*$/.test(v) ? undefined : `invalid urlencoded string: ${v}`),
  'pve-volume-id': (v) => (volumeId.test(v) ? undefined : `unable to parse volume ID '${v}'`),
  'pve-volume-id-or-qm-path': (v) => (v === 'none' || v === 'cdrom' || v.startsWith('/') || volumeId.test(v) ? undefined : `unable to parse volume ID '${v}'`),
  'disk-size': (v) => (/^\d+(\.\d+)?[KMGT]?$/.test(v) ? undefined : `unable to parse size '${v}'`),
  'pve-qm-boot': (v) => {
    const o = parsePropString(v, { legacy: { default_key: 1, type: 'string' }, order: { type: 'string' } });
    if ('error' in o) return o.error;
    if (o.value['legacy'] !== undefined && !/^[acdn]{1,4}$/.test(o.value['legacy'])) return `value '${o.value['legacy']}' does not match the legacy boot order`;
    const bad = (o.value['order'] ?? '')
      .split(';')
      .filter(Boolean)
      .find((d) => !/^(ide|sata|scsi|virtio|net|efidisk|tpmstate|hostpci|usb)\d+$/.test(d));
    return bad ? `invalid boot device '${bad}'` : undefined;
  },
  'pve-qm-ipconfig': (v) => {
    const o = parsePropString(v, undefined);
    if ('error' in o) return o.error;
    for (const [k, x] of Object.entries(o.value)) {
      if (k === 'ip' && !(x === 'dhcp' || cidr4(x))) return `invalid IPv4 CIDR '${x}'`;
      if (k === 'gw' && !ipv4.test(x)) return `invalid IPv4 gateway '${x}'`;
      if (k === 'ip6' && !(x === 'dhcp' || x === 'auto' || cidr6(x))) return `invalid IPv6 CIDR '${x}'`;
      if (k === 'gw6' && !(isIp(x) && x.includes(':'))) return `invalid IPv6 gateway '${x}'`;
      if (!['ip', 'gw', 'ip6', 'gw6'].includes(k)) return `invalid key '${k}'`;
    }
    if (o.value['gw'] && !o.value['ip']) return 'gateway specified without specifying an IP address';
    return undefined;
  },
};

/** Perl stringified regexes (`(?^:...)`, `(?^i:...)`) as JavaScript ones, anchored as check_prop does. */
function perlRegex(p: string): RegExp {
  const flags = /\(\?\^i:/.test(p) ? 'i' : '';
  return new RegExp(`^(?:${p.replace(/\(\?\^i?:/g, '(?:')})$`, flags);
}

function parsePropString(value: string, format: Record<string, PveProp> | undefined): { value: Record<string, string> } | { error: string } {
  const out: Record<string, string> = {};
  const defaultKey = format ? Object.keys(format).find((k) => format[k]!.default_key) : undefined;
  for (const part of value.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let k = eq < 0 ? undefined : part.slice(0, eq);
    const v = eq < 0 ? part : part.slice(eq + 1);
    if (k === undefined) {
      // `virtio` alone is the default key's value, unless it is itself a key alias with no value
      if (!defaultKey) return { error: `value without key, but schema does not define a default key` };
      k = defaultKey;
    }
    const p = format?.[k];
    if (p?.keyAlias && p.alias) {
      out[p.keyAlias] = k;
      k = p.alias;
    } else if (p?.alias) k = p.alias;
    if (k in out) return { error: `duplicate key in comma-separated list property: ${k}` };
    out[k] = v;
  }
  return { value: out };
}

function parseBoolean(v: string): string | undefined {
  if (/^(?:1|on|yes|true)$/i.test(v)) return '1';
  if (/^(?:0|off|no|false)$/i.test(v)) return '0';
  return undefined;
}

/** check_prop for one value; `inPropString` relaxes booleans as parse_property_string does. */
function checkValue(value: string, p: PveProp, inPropString: boolean): string[] {
  const errs: string[] = [];
  const type = p.type ?? 'string';
  let v = value;
  if (type === 'boolean') {
    const b = inPropString ? parseBoolean(v) : v === '1' || v === '0' ? v : undefined;
    if (b === undefined) return [`type check ('boolean') failed - got '${value}'`];
    v = b;
  } else if (type === 'integer') {
    if (!/^[+-]?\d+$/.test(v)) return [`type check ('integer') failed - got '${value}'`];
  } else if (type === 'number') {
    if (!/^[+-]?(\d+\.\d*|\d*\.?\d+)([eE][+-]?\d+)?$/.test(v)) return [`type check ('number') failed - got '${value}'`];
  }
  // the format is checked first: a VM id of 99 fails on its format, not on its minimum
  if (typeof p.format === 'string') {
    const f = FORMATS[p.format];
    if (!f) throw new Error(`the Proxmox test server does not know format '${p.format}': add it to test/proxmox/schema.ts`);
    const why = f(v);
    if (why) return [`invalid format - ${why}\n`];
  } else if (p.format && typeof p.format === 'object') {
    const fmt = p.format;
    const parsed = parsePropString(v, fmt);
    if ('error' in parsed) return [`invalid format - format error\n${parsed.error}\n`];
    const sub: string[] = [];
    for (const [k, x] of Object.entries(parsed.value)) {
      const sp = fmt[k];
      if (!sp) sub.push(`${k}: property is not defined in schema and the schema does not allow additional properties`);
      else for (const e of checkValue(x, sp, true)) sub.push(`${k}: ${e}`);
    }
    for (const [k, sp] of Object.entries(fmt))
      if (!sp.alias && !sp.optional && !(k in parsed.value)) sub.push(`${k}: property is missing and it is not optional`);
    if (sub.length) return [`invalid format - format error\n${sub.join('\n')}\n`];
  }
  if (type === 'integer' || type === 'number') {
    const n = Number(v);
    if (p.minimum !== undefined && n < Number(p.minimum)) errs.push(`value must have a minimum value of ${p.minimum}`);
    if (p.maximum !== undefined && n > Number(p.maximum)) errs.push(`value must have a maximum value of ${p.maximum}`);
  }
  if (type === 'string') {
    if (p.maxLength !== undefined && v.length > p.maxLength) errs.push(`value may only be ${p.maxLength} characters long`);
    if (p.minLength !== undefined && v.length < p.minLength) errs.push(`value must be at least ${p.minLength} characters long`);
    if (p.pattern !== undefined && !perlRegex(p.pattern).test(v)) errs.push('value does not match the regex pattern');
  }
  if (p.enum && !p.enum.includes(v)) errs.push(`value '${v}' does not have a value in the enumeration '${p.enum.join(', ')}'`);
  return errs;
}

/** The schema property for a parameter name, `net0` matching `net[n]`. */
export function propFor(props: Record<string, PveProp>, name: string): PveProp | undefined {
  if (props[name]) return props[name];
  const m = /^([a-z]+)(\d+)$/.exec(name);
  return m ? props[`${m[1]}[n]`] : undefined;
}

/**
 * The `errors` map Proxmox answers a request with (400 "Parameter verification failed."), empty when
 * the parameters (path, query and body together, as strings) fit the endpoint's schema.
 */
export function checkParams(endpoint: PveEndpoint, params: Record<string, string>): Record<string, string> {
  const props = endpoint.parameters.properties ?? {};
  const errors: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    const p = propFor(props, k);
    if (!p) {
      if (!endpoint.parameters.additionalProperties) errors[k] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    const e = checkValue(v, p, false);
    if (e.length) errors[k] = e.join('\n');
  }
  for (const [k, p] of Object.entries(props)) if (!p.optional && !k.endsWith('[n]') && !(k in params)) errors[k] = 'property is missing and it is not optional';
  return errors;
}
