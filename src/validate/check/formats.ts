import { durationSeconds } from './duration.js';

/**
 * The `format`s the API server's OpenAPI validation enforces (kube-openapi strfmt). Unknown formats are
 * ignored, as the API server ignores them.
 */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;

function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

/** undefined when valid, else the API server's detail text */
export function checkFormat(fmt: string, v: string): string | undefined {
  const must = `must be of type ${fmt}`;
  switch (fmt) {
    case 'date-time':
      return DATE_TIME.test(v) ? undefined : must;
    case 'date':
      return DATE.test(v) ? undefined : must;
    case 'duration':
      return durationSeconds(v) !== undefined ? undefined : must;
    case 'uuid':
      return UUID.test(v) ? undefined : must;
    case 'byte':
      return BASE64.test(v.replace(/\s/g, '')) ? undefined : `illegal base64 data`;
    case 'ipv4':
      return IPV4.test(v) ? undefined : must;
    case 'ipv6':
      return isIPv6(v) ? undefined : must;
    case 'cidr': {
      const [ip, bits, extra] = v.split('/');
      if (extra !== undefined || bits === undefined || !/^\d+$/.test(bits)) return must;
      if (IPV4.test(ip ?? '')) return Number(bits) <= 32 ? undefined : must;
      return isIPv6(ip ?? '') && Number(bits) <= 128 ? undefined : must;
    }
    case 'hostname':
      return HOSTNAME.test(v) ? undefined : must;
    default:
      return undefined;
  }
}
