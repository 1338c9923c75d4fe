// The `proxmox:` block of castle.yaml: where the cluster is, how Castle authenticates, and the castle's machines.

/** memory and disk sizes: an integer is MiB (memory) or GiB (disk); strings take a unit */
export type Size = number | string;

export type WaitSpec = { readonly agent: true } | { readonly port: number };

export interface MachineSpec {
  readonly vmid: number;
  readonly name: string;
  readonly role?: string;
  /** defaults to the block's `node` */
  readonly node?: string;
  readonly cores: number;
  readonly sockets?: number;
  readonly memory: Size;
  /** size of the boot disk (scsi0): grown after a clone, allocated when created from an ISO */
  readonly disk?: Size;
  /** static IPv4 through cloud-init (ipconfig0), without the prefix (the network's `prefix` is used) */
  readonly ip?: string;
  readonly wait?: WaitSpec;
}

export interface HostSpec {
  readonly memory: Size;
  readonly cpus: number;
}

export interface ProxmoxConfig {
  readonly endpoint: string;
  readonly token: {
    /** `USER@REALM!TOKENID` */
    readonly id: string;
    /** environment variable holding the token secret */
    readonly secretEnv?: string;
    /** or a dotenv file (relative to castle.yaml) and the key in it */
    readonly dotenv?: string;
    readonly key?: string;
  };
  readonly tls: { readonly ca?: string; readonly fingerprint?: string; readonly insecure?: boolean };
  /** the node the machines live on unless they say otherwise */
  readonly node: string;
  /** declared hosts, for the budget when no server can be asked (`castle plan`) */
  readonly hosts?: Readonly<Record<string, HostSpec>>;
  /** what the castle must leave to each host */
  readonly reserve?: { readonly memory?: Size; readonly cpus?: number };
  readonly storage?: string;
  /** `node`: where the template lives (default `node`); machines on other nodes are cloned with `target` (shared storage) */
  readonly source: { readonly template?: number; readonly node?: string; readonly full?: boolean; readonly iso?: string };
  readonly network?: {
    readonly bridge: string;
    readonly vlan?: number;
    readonly prefix?: number;
    readonly gateway?: string;
    readonly nameservers?: readonly string[];
  };
  /** the ownership tag; default `castle-<castle name>` */
  readonly tag?: string;
  /** VM ids that exist without the tag and that the castle takes over (the wipe destroys them) */
  readonly adopt?: readonly number[];
  readonly wait?: WaitSpec;
  /** clears a stale lock left by an interrupted task as root@pam (password in an environment variable); without it the wipe reports `qm unlock` */
  readonly unlock?: { readonly user: 'root@pam'; readonly passwordEnv: string };
  readonly polling?: { readonly firstMs?: number; readonly maxMs?: number };
  readonly machines: readonly MachineSpec[];
}

const size = {
  oneOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?\\s*(M|MiB|G|GiB|T|TiB)$' },
  ],
};
const vmid = { type: 'integer', minimum: 100, maximum: 999999999 };
const nodeName = { type: 'string', pattern: '^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$' };
const ipv4 = '^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$';
const wait = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['agent'], properties: { agent: { const: true } } },
    { type: 'object', additionalProperties: false, required: ['port'], properties: { port: { type: 'integer', minimum: 1, maximum: 65535 } } },
  ],
};

export const proxmoxBlockSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['endpoint', 'token', 'tls', 'node', 'source', 'machines'],
  properties: {
    endpoint: { type: 'string', pattern: '^https://[^/\\s]+(:[0-9]+)?/?$', description: 'https://HOST:8006' },
    token: {
      type: 'object',
      additionalProperties: false,
      required: ['id'],
      properties: {
        id: { type: 'string', pattern: '^[^\\s@!=:]+@[A-Za-z][A-Za-z0-9._-]*![A-Za-z][A-Za-z0-9._-]*$', description: 'USER@REALM!TOKENID' },
        secretEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
        dotenv: { type: 'string', minLength: 1 },
        key: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1, description: "PEM file of the CA that signed pveproxy's certificate" },
        fingerprint: { type: 'string', pattern: '^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$', description: 'SHA-256 fingerprint of the server certificate' },
        insecure: { type: 'boolean', description: 'accept any certificate (warned on every run)' },
      },
    },
    node: nodeName,
    hosts: {
      type: 'object',
      propertyNames: nodeName,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['memory', 'cpus'],
        properties: { memory: size, cpus: { type: 'integer', minimum: 1 } },
      },
    },
    reserve: { type: 'object', additionalProperties: false, properties: { memory: size, cpus: { type: 'integer', minimum: 0 } } },
    storage: { type: 'string', pattern: '^[a-zA-Z][a-zA-Z0-9\\-_.]*[a-zA-Z0-9]$' },
    source: {
      type: 'object',
      additionalProperties: false,
      properties: {
        template: vmid,
        node: nodeName,
        full: { type: 'boolean' },
        iso: { type: 'string', pattern: '^[a-zA-Z][a-zA-Z0-9\\-_.]*[a-zA-Z0-9]:iso/.+$' },
      },
    },
    network: {
      type: 'object',
      additionalProperties: false,
      required: ['bridge'],
      properties: {
        bridge: { type: 'string', pattern: '^[-_.\\w]+$' },
        vlan: { type: 'integer', minimum: 1, maximum: 4094 },
        prefix: { type: 'integer', minimum: 1, maximum: 32 },
        gateway: { type: 'string', pattern: ipv4 },
        nameservers: { type: 'array', items: { type: 'string', pattern: ipv4 } },
      },
    },
    tag: { type: 'string', pattern: '^[a-z0-9_][a-z0-9_\\-+.]*$', description: 'lowercase: Proxmox lowercases tags' },
    adopt: { type: 'array', items: vmid },
    wait,
    unlock: {
      type: 'object',
      additionalProperties: false,
      required: ['user', 'passwordEnv'],
      properties: {
        user: { const: 'root@pam', description: 'only root@pam may skip a lock' },
        passwordEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      },
    },
    polling: {
      type: 'object',
      additionalProperties: false,
      properties: { firstMs: { type: 'integer', minimum: 10 }, maxMs: { type: 'integer', minimum: 10 } },
    },
    machines: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['vmid', 'name', 'cores', 'memory'],
        properties: {
          vmid,
          name: { type: 'string', pattern: '^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?\\.)*[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$' },
          role: { type: 'string', minLength: 1 },
          node: nodeName,
          cores: { type: 'integer', minimum: 1 },
          sockets: { type: 'integer', minimum: 1 },
          memory: size,
          disk: size,
          ip: { type: 'string', pattern: ipv4 },
          wait,
        },
      },
    },
  },
} as const;

const UNIT: Record<string, number> = { M: 1, MiB: 1, G: 1024, GiB: 1024, T: 1024 * 1024, TiB: 1024 * 1024 };

/** MiB of a size; a bare number is in `bareUnit` */
export function mib(s: Size, bareUnit: 'MiB' | 'GiB' = 'MiB'): number {
  if (typeof s === 'number') return bareUnit === 'GiB' ? s * 1024 : s;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)$/.exec(s);
  return m ? Math.round(Number(m[1]) * (UNIT[m[2]!] ?? NaN)) : NaN;
}

/** `24 GiB`, `1.5 GiB`, `512 MiB` */
export function showMib(n: number): string {
  if (Math.abs(n) >= 1024) {
    const g = n / 1024;
    return `${Number.isInteger(g) ? g : g.toFixed(1)} GiB`;
  }
  return `${n} MiB`;
}

export const tagOf = (c: ProxmoxConfig, castleName: string): string => c.tag ?? `castle-${castleName.toLowerCase().replace(/[^a-z0-9_\-+.]/g, '-')}`;

export const nodeOf = (c: ProxmoxConfig, m: MachineSpec): string => m.node ?? c.node;

/** VM ids to adopt: the block's list and, for one run, `--adopt 421` (which the CLI passes as CASTLE_PROXMOX_ADOPT=421) */
export function adoptedIds(c: ProxmoxConfig, env: NodeJS.ProcessEnv = process.env): Set<number> {
  const fromEnv = (env['CASTLE_PROXMOX_ADOPT'] ?? '')
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(Number)
    .filter(Number.isInteger);
  return new Set([...(c.adopt ?? []), ...fromEnv]);
}
