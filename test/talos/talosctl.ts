// A `talosctl` test double: put on PATH by test/talos/index.ts (no Talos node can run here). It keeps
// its nodes in a JSON state file, records every call, and answers with the real CLI's texts and exit
// codes for what Castle uses (notes: talos@ad88231 cmd/talosctl; see test/talos/README in the main README):
// errors bare on stderr with exit 1, progress on stderr, files written where the real one writes them.
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';

export interface DoubleNode {
  state: 'maintenance' | 'configured' | 'unreachable';
  role?: 'controlplane' | 'worker';
  /** etcd data directory holds data (bootstrap done) */
  etcd?: boolean;
  config?: string;
}

export interface DoubleState {
  /** client and node version, e.g. v1.15.0 */
  version: string;
  nodes: Record<string, DoubleNode>;
  /** the kubeconfig `talosctl kubeconfig` hands out once etcd is bootstrapped */
  kubeconfig?: string;
  /** `health` never finishes (until its --wait-timeout) */
  healthHangs?: boolean;
}

const statePath = process.env['TALOSCTL_DOUBLE_STATE'];

function load(): DoubleState {
  return JSON.parse(readFileSync(statePath!, 'utf8')) as DoubleState;
}
function save(s: DoubleState): void {
  writeFileSync(statePath!, JSON.stringify(s, null, 2));
}

let exitCode = 0;
function record(argv: string[], code: number): void {
  appendFileSync(`${statePath}.calls.jsonl`, JSON.stringify({ argv, code, at: Date.now() }) + '\n');
}
function die(msg: string): never {
  process.stderr.write(`${msg}\n`);
  exitCode = 1;
  throw new Exit();
}
class Exit {}

/** Short flags differ per command (website/content/v1.15/reference/cli.md): `-f` is --file for apply-config, --force for gen and kubeconfig. */
const SHORT: Record<string, Record<string, string>> = {
  'apply-config': { f: 'file', i: 'insecure', m: 'mode', p: 'config-patch' },
  apply: { f: 'file', i: 'insecure', m: 'mode', p: 'config-patch' },
  'gen config': { f: 'force', o: 'output', t: 'output-types' },
  'gen secrets': { f: 'force', o: 'output-file', p: 'from-kubernetes-pki', t: 'kubernetes-bootstrap-token' },
  kubeconfig: { f: 'force', m: 'merge' },
  version: { i: 'insecure' },
};

/** flags as cobra parses them: --a=b, --a b, -a b; repeatable ones collected; booleans given without value */
function parseArgs(argv: string[], booleans: Set<string>, command: string): { pos: string[]; flags: Map<string, string[]> } {
  const pos: string[] = [];
  const flags = new Map<string, string[]>();
  const alias: Record<string, string> = { n: 'nodes', e: 'endpoints', c: 'cluster', ...SHORT[command] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(a);
    if (!m || a === '-') {
      pos.push(a);
      continue;
    }
    const name = alias[m[1]!] ?? m[1]!;
    let val = m[2];
    if (val === undefined) val = booleans.has(name) ? 'true' : argv[++i];
    if (val === undefined) die(`flag needs an argument: ${a}`);
    flags.set(name, [...(flags.get(name) ?? []), ...(name === 'nodes' || name === 'endpoints' ? val!.split(',') : [val!])]);
  }
  return { pos, flags };
}

const one = (f: Map<string, string[]>, k: string): string | undefined => f.get(k)?.[f.get(k)!.length - 1];
const b64 = (n: number) => randomBytes(n).toString('base64');
const pem = (what: string) => Buffer.from(`-----BEGIN ${what}-----\n${b64(48)}\n-----END ${what}-----\n`).toString('base64');
const keypair = () => ({ crt: pem('CERTIFICATE'), key: pem('EC PRIVATE KEY') });
const major = (v: string): [number, number] => {
  const m = /^v?(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};
const atLeast = (v: string, maj: number, min: number) => {
  const [a, b] = major(v);
  return a > maj || (a === maj && b >= min);
};

function writeOut(path: string, text: string, force: boolean, mode = 0o644): void {
  if (existsSync(path) && !force) die(`file ${JSON.stringify(path)} already exists, use --force to overwrite`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode });
}

function genSecrets(flags: Map<string, string[]>, force: boolean): void {
  const out = resolve(one(flags, 'output-file') ?? one(flags, 'output') ?? 'secrets.yaml');
  const bundle = {
    cluster: { id: b64(32), secret: b64(32) },
    secrets: { bootstraptoken: `${randomBytes(3).toString('hex')}.${randomBytes(8).toString('hex')}`, secretboxencryptionsecret: b64(32) },
    trustdinfo: { token: `${randomBytes(3).toString('hex')}.${randomBytes(8).toString('hex')}` },
    certs: { etcd: keypair(), k8s: keypair(), k8saggregator: keypair(), k8sserviceaccount: { key: pem('EC PRIVATE KEY') }, os: keypair() },
  };
  writeOut(out, stringify(bundle), force, 0o600);
}

type Json = Record<string, any>;

function deepMerge(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Json = { ...(a as Json) };
    for (const [k, v] of Object.entries(b as Json)) out[k] = k in out ? deepMerge(out[k], v) : v;
    return out;
  }
  return b;
}

function jsonPatch(doc: Json, ops: Json[]): Json {
  for (const op of ops) {
    const parts = String(op['path'])
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let cur: any = doc;
    for (const p of parts) {
      if (cur[p] === undefined) die(`error parsing config JSON patch: missing path ${op['path']}`);
      cur = cur[p];
    }
    if (op['op'] === 'remove') Array.isArray(cur) ? cur.splice(Number(last), 1) : delete cur[last];
    else if (Array.isArray(cur) && last === '-') cur.push(op['value']);
    else cur[last] = op['value'];
  }
  return doc;
}

/** --config-patch values: @file, inline YAML/JSON, or a bare file name (load.go) */
function loadPatch(v: string): string {
  if (v.startsWith('@')) return readFileSync(v.slice(1), 'utf8');
  if (!/[\s\n]/.test(v) && !v.startsWith('[') && !v.startsWith('{')) return readFileSync(v, 'utf8');
  return v;
}

function applyPatches(docs: Json[], patches: string[]): Json[] {
  let out = docs;
  for (const p of patches) {
    const parsed = parseAllDocuments(loadPatch(p)).map((d) => d.toJS() as unknown);
    for (const d of parsed) {
      if (Array.isArray(d)) out = [jsonPatch(out[0]!, d as Json[]), ...out.slice(1)];
      else if (d && typeof d === 'object' && (d as Json)['kind'] === undefined) out = [deepMerge(out[0], d) as Json, ...out.slice(1)];
      else if (d && typeof d === 'object') {
        // documents merge by kind (and name, for named kinds)
        const same = (x: Json) => x['kind'] === (d as Json)['kind'] && x['name'] === (d as Json)['name'];
        out = out.some(same) ? out.map((x) => (same(x) ? (deepMerge(x, d) as Json) : x)) : [...out, d as Json];
      }
    }
  }
  return out;
}

/** What `gen config` takes from its flags besides the patches (defaults: the v1.15 reference). */
interface GenOptions {
  readonly disk: string;
  readonly k8s: string;
  readonly installer: string;
}

function legacyConfig(role: 'controlplane' | 'worker', name: string, endpoint: string, s: Json, o: GenOptions): Json[] {
  const host = new URL(endpoint).hostname;
  const k8s = o.k8s;
  const disk = o.disk;
  const cp = role === 'controlplane';
  return [
    {
      version: 'v1alpha1',
      debug: false,
      persist: true,
      machine: {
        type: role,
        token: s['trustdinfo']['token'],
        ca: cp ? s['certs']['os'] : { crt: s['certs']['os']['crt'], key: '' },
        certSANs: [],
        kubelet: { image: `ghcr.io/siderolabs/kubelet:${k8s}`, defaultRuntimeSeccompProfileEnabled: true, disableManifestsDirectory: true },
        network: {},
        install: { disk, image: o.installer, wipe: false },
      },
      cluster: {
        id: s['cluster']['id'],
        secret: s['cluster']['secret'],
        controlPlane: { endpoint },
        clusterName: name,
        network: { dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] },
        token: s['secrets']['bootstraptoken'],
        ...(cp ? { secretboxEncryptionSecret: s['secrets']['secretboxencryptionsecret'] } : {}),
        ca: cp ? s['certs']['k8s'] : { crt: s['certs']['k8s']['crt'], key: '' },
        ...(cp ? { apiServer: { image: `registry.k8s.io/kube-apiserver:${k8s}`, certSANs: [host] }, etcd: { ca: s['certs']['etcd'] } } : {}),
        discovery: { enabled: true, registries: { kubernetes: { disabled: true }, service: {} } },
      },
    },
  ];
}

/** Talos >= 1.14 generates the v1alpha1 document with what is left in it, and a document per moved section. */
function multiDocConfig(role: 'controlplane' | 'worker', name: string, endpoint: string, s: Json, o: GenOptions): Json[] {
  const host = new URL(endpoint).hostname;
  const k8s = o.k8s;
  const cp = role === 'controlplane';
  const doc = (kind: string, body: Json): Json => ({ apiVersion: 'v1alpha1', kind, ...body });
  return [
    {
      version: 'v1alpha1',
      debug: false,
      machine: { type: role, token: s['trustdinfo']['token'], ca: cp ? s['certs']['os'] : { crt: s['certs']['os']['crt'], key: '' }, certSANs: [] },
      cluster: { token: s['secrets']['bootstraptoken'], ...(cp ? { etcd: { ca: s['certs']['etcd'] } } : {}) },
    },
    doc('KubeClusterConfig', { clusterName: name, endpoint }),
    doc('KubeNetworkConfig', { dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] }),
    doc('DiscoveryIdentityConfig', { clusterID: s['cluster']['id'], clusterSecret: s['cluster']['secret'] }),
    doc('KubeletConfig', { image: `ghcr.io/siderolabs/kubelet:${k8s}`, defaultRuntimeSeccompProfileEnabled: true }),
    doc('UnattendedInstall', { installer: { image: o.installer } }),
    ...(cp
      ? [
          doc('KubeAPIServerCAConfig', { issuingCA: { cert: s['certs']['k8s']['crt'], key: s['certs']['k8s']['key'] } }),
          doc('KubeAggregatorCAConfig', { issuingCA: { cert: s['certs']['k8saggregator']['crt'], key: s['certs']['k8saggregator']['key'] } }),
          doc('KubeAPIServerConfig', { image: `registry.k8s.io/kube-apiserver:${k8s}`, certExtraSANs: [host] }),
        ]
      : []),
  ];
}

/** `--talos-version` generates the config an older Talos expects (the multi-document form from 1.14 on). */
function machineConfig(role: 'controlplane' | 'worker', name: string, endpoint: string, s: Json, version: string, o: GenOptions): Json[] {
  return atLeast(version, 1, 14) ? multiDocConfig(role, name, endpoint, s, o) : legacyConfig(role, name, endpoint, s, o);
}

function genConfig(pos: string[], flags: Map<string, string[]>, force: boolean, st: DoubleState): void {
  if (pos.length !== 2) die(`accepts 2 arg(s), received ${pos.length}`);
  const [name, endpoint] = pos as [string, string];
  let u: URL | undefined;
  try {
    u = new URL(endpoint);
  } catch {
    /* below */
  }
  if (!u || !u.port)
    die(`no scheme and port specified for the cluster endpoint URL\ntry: "https://${endpoint.replace(/^[a-z]+:\/\//, '').replace(/:\d+$/, '')}:6443"`);
  if (u!.protocol !== 'https:') die('the control plane endpoint URL should have scheme https://');
  const withSecrets = one(flags, 'with-secrets');
  let secrets: Json;
  if (withSecrets) secrets = parse(readFileSync(withSecrets, 'utf8')) as Json;
  else {
    process.stderr.write('generating PKI and tokens\n');
    secrets = {
      cluster: { id: b64(32), secret: b64(32) },
      secrets: { bootstraptoken: 'abcdef.0123456789abcdef', secretboxencryptionsecret: b64(32) },
      trustdinfo: { token: 'abcdef.0123456789abcdef' },
      certs: { etcd: keypair(), k8s: keypair(), k8saggregator: keypair(), k8sserviceaccount: { key: pem('EC PRIVATE KEY') }, os: keypair() },
    };
  }
  const outDir = resolve(one(flags, 'output') ?? one(flags, 'output-dir') ?? '.');
  const k8s = one(flags, 'kubernetes-version') ?? '1.37.0-rc.1';
  const gen: GenOptions = {
    disk: one(flags, 'install-disk') ?? '/dev/sda',
    k8s: k8s.startsWith('v') ? k8s : `v${k8s}`,
    installer: one(flags, 'install-image') ?? 'factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:latest',
  };
  const version = one(flags, 'talos-version') ?? st.version;
  const all = flags.get('config-patch') ?? [];
  for (const role of ['controlplane', 'worker'] as const) {
    const own = flags.get(role === 'controlplane' ? 'config-patch-control-plane' : 'config-patch-worker') ?? [];
    const docs = applyPatches(machineConfig(role, name, endpoint, secrets, version, gen), [...all, ...own]);
    const f = join(outDir, `${role}.yaml`);
    writeOut(f, docs.map((d) => stringify(d)).join('---\n'), force);
    process.stderr.write(`Created ${f}\n`);
  }
  const tc = join(outDir, 'talosconfig');
  writeOut(
    tc,
    stringify({
      context: name,
      contexts: { [name]: { endpoints: ['127.0.0.1'], ca: secrets['certs']['os']['crt'], crt: pem('CERTIFICATE'), key: pem('ED25519 PRIVATE KEY') } },
    }),
    force,
  );
  process.stderr.write(`Created ${tc}\n`);
}

function unreachable(ip: string): never {
  die(`rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ${ip}:50000: connect: connection refused"`);
}

function needEndpoints(flags: Map<string, string[]>): void {
  if (!flags.get('endpoints')?.length && !flags.get('talosconfig')) die('error constructing client: failed to determine endpoints');
}

function main(): void {
  const argv = process.argv.slice(2);
  const booleans = new Set(['insecure', 'force', 'client', 'short', 'merge', 'graceful', 'reboot', 'wait', 'dry-run', 'server']);
  const cmd: string[] = [];
  while (
    argv.length &&
    !argv[0]!.startsWith('-') &&
    cmd.length < 2 &&
    ['gen', 'secrets', 'config', 'version', 'apply-config', 'apply', 'bootstrap', 'kubeconfig', 'health', 'reset'].includes(argv[0]!)
  )
    cmd.push(argv.shift()!);
  const { pos, flags } = parseArgs(argv, booleans, cmd.join(' '));
  const st = load();
  const force = one(flags, 'force') === 'true';
  const node = flags.get('nodes')?.[0];
  switch (cmd.join(' ')) {
    case 'version':
      if (one(flags, 'client') !== 'true') needEndpoints(flags);
      process.stdout.write(
        `Client:\n\tTag:         ${st.version}\n\tSHA:         ad882317\n\tBuilt:       \n\tGo version:  go1.25.0\n\tOS/Arch:     linux/amd64\n`,
      );
      return;
    case 'gen secrets':
      return genSecrets(flags, force);
    case 'gen config':
      return genConfig(pos, flags, force, st);
    case 'apply-config':
    case 'apply': {
      const file = one(flags, 'file');
      if (!file) die('no filename supplied for configuration');
      if (!node) die('error constructing client: failed to determine endpoints');
      const n = st.nodes[node!];
      if (!n || n.state === 'unreachable') unreachable(node!);
      const mode = one(flags, 'mode') ?? 'auto';
      if (one(flags, 'insecure') === 'true') {
        // a configured node has left maintenance: its apid wants a client certificate (exact text not verified)
        if (n!.state !== 'maintenance')
          die(
            `rpc error: code = Unavailable desc = connection error: desc = "transport: authentication handshake failed: remote error: tls: certificate required"`,
          );
        if (!atLeast(st.version, 1, 13) && !['auto', 'try', 'reboot'].includes(mode))
          die(
            `error applying new configuration: rpc error: code = InvalidArgument desc = apply configuration --mode='${mode}' is not supported in maintenance mode`,
          );
      }
      let text: string;
      try {
        text = readFileSync(file!, 'utf8');
        const doc = parse(text.split(/^---$/m)[0]!) as Json;
        n!.role = doc['machine']['type'];
      } catch (err) {
        die(`${node}: error applying configuration: rpc error: code = InvalidArgument desc = failed to parse config: ${(err as Error).message}`);
      }
      n!.state = 'configured';
      n!.config = text!;
      save(st);
      if (atLeast(st.version, 1, 13)) process.stderr.write('Applied configuration without a reboot\n');
      return;
    }
    case 'bootstrap': {
      needEndpoints(flags);
      if (!node) die('error constructing client: failed to determine endpoints');
      const n = st.nodes[node!];
      if (!n || n.state === 'unreachable')
        die(
          `error executing bootstrap: ${'rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ' + node + ':50000: connect: connection refused"'}`,
        );
      if (n!.state === 'maintenance') die('error executing bootstrap: rpc error: code = FailedPrecondition desc = bootstrap is not available yet');
      if (n!.role !== 'controlplane')
        die('error executing bootstrap: rpc error: code = Unimplemented desc = bootstrap is only available on control plane nodes');
      if (n!.etcd) die('error executing bootstrap: rpc error: code = AlreadyExists desc = etcd data directory is not empty');
      n!.etcd = true;
      save(st);
      return;
    }
    case 'kubeconfig': {
      needEndpoints(flags);
      const merge = one(flags, 'merge') !== 'false';
      let path = pos[0];
      if (!path) {
        if (merge) die('the double does not merge into the default kubeconfig: pass a path and --merge=false');
        path = join(process.cwd(), 'kubeconfig');
      }
      if (path !== '-' && existsSync(path) && statSync(path).isDirectory()) path = join(path, 'kubeconfig');
      const bootstrapped = Object.values(st.nodes).some((n) => n.etcd);
      if (!bootstrapped || !st.kubeconfig) die('error copying: rpc error: code = Unavailable desc = kubeconfig is not available yet');
      if (path === '-') {
        if (merge) die('merge is not supported when writing to stdout');
        process.stdout.write(readFileSync(st.kubeconfig!, 'utf8'));
        return;
      }
      const abs = isAbsolute(path) ? path : resolve(path);
      if (existsSync(abs) && merge) die('the double does not merge kubeconfigs: use --merge=false');
      if (existsSync(abs) && !force) die(`kubeconfig file already exists, use --force to overwrite: ${JSON.stringify(abs)}`);
      mkdirSync(dirname(abs), { recursive: true });
      copyFileSync(st.kubeconfig!, abs);
      return;
    }
    case 'health': {
      needEndpoints(flags);
      const timeoutMs = durationMs(one(flags, 'wait-timeout') ?? '20m');
      const checks = [
        'etcd to be healthy',
        'etcd members to be consistent across nodes',
        'etcd members to be control plane nodes',
        'apid to be ready',
        'all nodes memory sizes',
        'all nodes disk sizes',
        'no diagnostics',
        'kubelet to be healthy',
        'all nodes to finish boot sequence',
        'all k8s nodes to report',
        'all control plane static pods to be running',
        'all control plane components to be ready',
        'all k8s nodes to report ready',
        'kube-proxy to report ready',
        'coredns to report ready',
        'all k8s nodes to report schedulable',
      ];
      const cps = Object.entries(st.nodes)
        .filter(([, n]) => n.role === 'controlplane')
        .map(([ip]) => ip);
      process.stderr.write(`discovered nodes: ${JSON.stringify(Object.keys(st.nodes))}\n`);
      const ready = Object.values(st.nodes).some((n) => n.etcd) && !st.healthHangs;
      if (!ready) {
        process.stderr.write(`waiting for etcd to be healthy: ...\n`);
        process.stderr.write(
          `waiting for etcd to be healthy: 1 error occurred:\n\t* ${cps[0] ?? node}: service "etcd" not in expected state "Running": current state [Preparing] Waiting for service "etcd" to be "up"\n\n`,
        );
        // the double's `health` waits like the real one: until its own --wait-timeout (Castle's deadline cuts it short)
        setTimeout(
          () => {
            const msg = 'rpc error: code = DeadlineExceeded desc = context deadline exceeded';
            process.stderr.write(`${atLeast(st.version, 1, 13) ? msg : `healthcheck error: ${msg}`}\n`);
            record(process.argv.slice(2), 1);
            process.exit(1);
          },
          Math.min(timeoutMs, 2 ** 31 - 1),
        );
        throw new Waiting();
      }
      for (const c of checks) {
        process.stderr.write(`waiting for ${c}: ...\n`);
        process.stderr.write(`waiting for ${c}: OK\n`);
      }
      return;
    }
    case 'reset': {
      needEndpoints(flags);
      if (!node) die('error constructing client: failed to determine endpoints');
      const n = st.nodes[node!];
      if (!n || n.state === 'unreachable')
        die(
          `error executing reset on node ${node}: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp ${node}:50000: connect: connection refused"`,
        );
      st.nodes[node!] = { state: 'maintenance' };
      save(st);
      return;
    }
    default:
      die(`unknown command ${JSON.stringify(cmd.join(' ') || argv[0] || '')} for "talosctl"`);
  }
}

class Waiting {}

function durationMs(t: string): number {
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms'];
  return ms;
}

if (!statePath) {
  process.stderr.write('talosctl double: TALOSCTL_DOUBLE_STATE is not set\n');
  process.exit(1);
}
try {
  main();
  record(process.argv.slice(2), exitCode);
  process.exit(exitCode);
} catch (e) {
  if (e instanceof Waiting) {
    // keeps running until its timer fires or it is killed; a kill is recorded as signal
    process.on('SIGTERM', () => {
      record(process.argv.slice(2), 143);
      process.exit(143);
    });
  } else if (e instanceof Exit) {
    record(process.argv.slice(2), exitCode);
    process.exit(exitCode);
  } else throw e;
}
