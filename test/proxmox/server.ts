// An in-process Proxmox VE API server for tests and benches: HTTPS on 127.0.0.1 with a certificate made by
// openssl, API tokens, every request's parameters checked against the committed schema subset (400 with
// Proxmox's `errors` map), asynchronous tasks with UPIDs that take time and can fail, both kinds of lock,
// and the errors the real server gives (shapes and texts from /work/shared/notes/proxmox-api.md, which cites
// qemu-server, pve-common, pve-manager and pve-http-server sources). It is a double: no VM ever runs.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureTls } from '../../src/s3/tls.js';
import { checkParams, loadSchema, matchEndpoint, type PveSchema } from './schema.js';

export interface Vm {
  vmid: number;
  node: string;
  status: 'running' | 'stopped';
  config: Record<string, string>;
  /** when the guest agent answers (ms epoch), set on start */
  agentAt?: number;
  createdAt: number;
}

export interface Task {
  readonly upid: string;
  readonly node: string;
  readonly type: string;
  readonly id: string;
  readonly user: string;
  readonly starttime: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  endtime?: number;
  readonly log: string[];
}

export interface Fault {
  readonly method?: string;
  /** substring or regex of the request path */
  readonly path?: string | RegExp;
  readonly status: number;
  readonly reason: string;
  readonly body?: unknown;
  /** the request is carried out and only its answer is lost (a 596 between pveproxy and the client) */
  readonly after?: boolean;
  /** how many requests it answers (default 1) */
  times?: number;
}

export interface TaskFault {
  readonly type: string;
  /** the VM the task works on (for a clone: the new id) */
  readonly vmid?: number;
  /** `fail`: TASK ERROR with `message` (and the task's own cleanup); `crash`: the worker dies, its lock stays, exit status "unexpected status" */
  readonly mode: 'fail' | 'crash';
  readonly message?: string;
  times?: number;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly params: Record<string, string>;
  readonly status: number;
  readonly endpoint?: string;
  readonly at: number;
  /** the task the request started, when it answered with one */
  readonly upid?: string;
}

export interface ServerOptions {
  readonly nodes?: Readonly<Record<string, { memoryGiB: number; cpus: number; delayMs?: number }>>;
  /** ms each task type takes (qmclone, qmstart, qmstop, qmdestroy, qmcreate, resize); default 30 */
  readonly taskMs?: Readonly<Record<string, number>>;
  /** ms after start until the guest agent answers */
  readonly agentMs?: number;
  /** delay of a 401 (the real server waits 3 s) */
  readonly authFailMs?: number;
}

const MAX_BODY = 512 * 1024;
const hex = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');

let tlsDir: string | undefined;
/** One CA and server certificate per test process (openssl). */
export async function testTls(): Promise<{ caPem: string; cert: string; key: string; fingerprint: string }> {
  tlsDir ??= mkdtempSync(join(tmpdir(), 'castle-pve-tls-'));
  const r = await ensureTls(tlsDir);
  if (!r.ok) throw new Error(r.reason);
  const cert = readFileSync(r.value.files.cert, 'utf8');
  return {
    caPem: readFileSync(r.value.files.caCert, 'utf8'),
    cert,
    key: readFileSync(r.value.files.key, 'utf8'),
    fingerprint: new X509Certificate(cert).fingerprint256,
  };
}

export class FakeProxmox {
  readonly vms = new Map<number, Vm>();
  readonly tasks = new Map<string, Task>();
  readonly tokens = new Map<string, string>();
  /** root@pam's password, for POST /access/ticket; tickets issued (valid until the server stops) */
  rootPassword?: string;
  readonly #tickets = new Map<string, { user: string; csrf: string }>();
  readonly requests: RecordedRequest[] = [];
  readonly faults: Fault[] = [];
  readonly taskFaults: TaskFault[] = [];
  /** the most tasks of each type that ran at the same time (parallelism seen by the server) */
  readonly maxRunning = new Map<string, number>();
  /** exceptions in the double itself (a test should assert there are none) */
  readonly bugs: string[] = [];
  readonly nodes: Record<string, { memoryGiB: number; cpus: number; delayMs?: number }>;
  readonly taskMs: Record<string, number>;
  agentMs: number;
  readonly #authFailMs: number;
  readonly #schema: PveSchema = loadSchema();
  #server?: Server;
  #pid = 0x1000;
  #timers = new Set<NodeJS.Timeout>();
  port = 0;

  constructor(o: ServerOptions = {}) {
    this.nodes = { ...(o.nodes ?? { pve: { memoryGiB: 32, cpus: 16 } }) };
    this.taskMs = { ...(o.taskMs ?? {}) };
    this.agentMs = o.agentMs ?? 20;
    this.#authFailMs = o.authFailMs ?? 3000;
  }

  async start(): Promise<this> {
    const tls = await testTls();
    // a bug in the double answers 500 and is kept for the test to see, instead of leaving the client hanging
    this.#server = createServer(
      { cert: tls.cert, key: tls.key },
      (req, res) =>
        void this.#handle(req, res).catch((e: Error) => {
          this.bugs.push(e.message);
          if (!res.headersSent)
            this.#send(res, { method: req.method ?? '?', path: req.url ?? '?', params: {} }, 500, `test server bug: ${e.message}`, { data: null });
        }),
    );
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  get endpoint(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#server?.closeAllConnections();
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
  }

  addToken(id: string, secret = randomBytes(16).toString('hex')): string {
    this.tokens.set(id, secret);
    return secret;
  }

  /** a VM as if made earlier (by anyone) */
  addVm(
    vmid: number,
    o: {
      node?: string;
      name?: string;
      tags?: string;
      status?: 'running' | 'stopped';
      template?: boolean;
      memory?: number;
      cores?: number;
      lock?: string;
      agent?: boolean;
    } = {},
  ): Vm {
    const config: Record<string, string> = {
      name: o.name ?? `vm${vmid}`,
      memory: String(o.memory ?? 2048),
      cores: String(o.cores ?? 1),
      scsihw: 'virtio-scsi-single',
      scsi0: `local-lvm:${o.template ? 'base' : 'vm'}-${vmid}-disk-0,size=8G`,
      net0: `virtio=${this.#mac()},bridge=vmbr0`,
    };
    if (o.tags) config['tags'] = normalizeTags(o.tags);
    if (o.template) config['template'] = '1';
    if (o.lock) config['lock'] = o.lock;
    if (o.agent) config['agent'] = '1';
    const vm: Vm = {
      vmid,
      node: o.node ?? Object.keys(this.nodes)[0]!,
      status: o.status ?? 'stopped',
      config,
      createdAt: 0,
      ...(o.status === 'running' ? { agentAt: 0 } : {}),
    };
    this.vms.set(vmid, vm);
    return vm;
  }

  /** what `qm unlock` does on the node */
  unlock(vmid: number): void {
    delete this.vms.get(vmid)?.config['lock'];
  }

  /** requests that changed something (the mutating methods) */
  mutations(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  #mac(): string {
    const b = randomBytes(5);
    return ['BC', ...[...b].map((x) => hex(x, 2))].join(':');
  }

  #delay(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        r();
      }, ms);
      this.#timers.add(t);
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://x');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) return this.#send(res, { method, path: url.pathname, params: {} }, 413, 'Request Entity Too Large', { data: null });
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks).toString('utf8');
    const path = url.pathname.replace(/^\/api2\/json/, '');
    const rec = { method, path, params: {} as Record<string, string> };
    if (!url.pathname.startsWith('/api2/json/')) return this.#send(res, rec, 501, 'no such uri', { data: null });
    if (!['GET', 'POST', 'PUT', 'DELETE'].includes(method)) return this.#send(res, rec, 501, `method '${method}' not available`, { data: null });
    if ((method === 'GET' || method === 'DELETE') && body.length > 0)
      return this.#send(res, rec, 501, `Unexpected content for method '${method}'`, { data: null });

    // a ticket (cookie, with the CSRF token on changes) takes precedence over a token; logging in needs neither
    const login = method === 'POST' && path === '/access/ticket';
    const cookie = /(?:^|;\s*)PVEAuthCookie=([^;]+)/.exec(req.headers['cookie'] ?? '')?.[1];
    const auth = req.headers['authorization'] ?? '';
    const m = /^PVEAPIToken[= ](.+)$/.exec(auth);
    let tokenId = '';
    let user = '';
    if (login) {
      user = 'world';
    } else if (cookie) {
      const t = this.#tickets.get(decodeURIComponent(cookie));
      if (!t) {
        await this.#delay(this.#authFailMs);
        return this.#send(res, rec, 401, 'Authentication failed!', undefined);
      }
      if (method !== 'GET' && req.headers['csrfpreventiontoken'] !== t.csrf)
        return this.#send(res, rec, 401, 'Permission denied - invalid csrf token', undefined);
      user = t.user;
    } else {
      // token auth: PVEAPIToken=USER@REALM!TOKENID=SECRET, split at the last '='
      if (!m) return this.#send(res, rec, 401, 'No ticket', undefined);
      const value = decodeURIComponent(m[1]!);
      const eq = value.lastIndexOf('=');
      tokenId = value.slice(0, eq);
      if (eq < 0 || this.tokens.get(tokenId) !== value.slice(eq + 1)) {
        await this.#delay(this.#authFailMs);
        return this.#send(res, rec, 401, 'Authentication failed!', undefined);
      }
      user = tokenId;
    }

    // a slow node answers late (pveproxy forwards to it)
    const nodeInPath = /^\/nodes\/([^/]+)/.exec(path)?.[1];
    const slow = nodeInPath ? this.nodes[nodeInPath]?.delayMs : undefined;
    if (slow) await this.#delay(slow);

    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    if (body) {
      const ct = req.headers['content-type'] ?? '';
      if (ct.includes('application/json')) {
        for (const [k, v] of Object.entries(JSON.parse(body) as Record<string, unknown>))
          if (!(k in params)) params[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
      } else for (const [k, v] of new URLSearchParams(body)) if (!(k in params)) params[k] = v;
    }
    rec.params = { ...params };

    const fault = this.faults.find(
      (f) => (!f.method || f.method === method) && (!f.path || (typeof f.path === 'string' ? path.includes(f.path) : f.path.test(path))) && (f.times ?? 1) > 0,
    );
    if (fault) fault.times = (fault.times ?? 1) - 1;
    if (fault && !fault.after) return this.#send(res, rec, fault.status, fault.reason, fault.body);

    const ep = matchEndpoint(this.#schema, method, path);
    if (!ep) return this.#send(res, rec, 501, `Method '${method} ${path}' not implemented`, { data: null });
    for (const [k, v] of Object.entries(ep.pathParams)) {
      if (k in params && params[k] !== v)
        return this.#send(
          res,
          rec,
          400,
          'Parameter verification failed.',
          { data: null, errors: { [k]: 'duplicate parameter (already defined in URI) with conflicting values!' } },
          ep.key,
        );
      params[k] = v;
    }
    const errors = checkParams(ep.endpoint, params);
    // a token is never root@pam, even root@pam's own
    if ('skiplock' in params && !errors['skiplock'] && user !== 'root@pam') errors['skiplock'] = 'Only root may use this option.';
    if (Object.keys(errors).length) return this.#send(res, rec, 400, 'Parameter verification failed.', { data: null, errors }, ep.key);
    if (tokenId && !ep.endpoint.allowtoken) return this.#send(res, rec, 403, 'Permission check failed (API tokens are not allowed)', { data: null }, ep.key);

    const out = login ? this.#login(params) : this.#route(ep.key, params, user);
    if (fault) return this.#send(res, rec, fault.status, fault.reason, fault.body, ep.key);
    if ('error' in out && out.status === 401) {
      await this.#delay(this.#authFailMs);
      return this.#send(res, rec, 401, out.error, undefined, ep.key);
    }
    if ('error' in out) return this.#send(res, rec, out.status, out.error.split('\n')[0]!, { data: null, message: out.error + '\n' }, ep.key);
    return this.#send(res, rec, 200, 'OK', { data: out.data ?? null, ...(out.total !== undefined ? { total: out.total } : {}) }, ep.key);
  }

  #send(
    res: ServerResponse,
    rec: { method: string; path: string; params: Record<string, string> },
    status: number,
    reason: string,
    body: unknown,
    endpoint?: string,
  ): void {
    const data = (body as { data?: unknown } | undefined)?.data;
    this.requests.push({
      ...rec,
      status,
      at: Date.now(),
      ...(endpoint ? { endpoint } : {}),
      ...(typeof data === 'string' && data.startsWith('UPID:') ? { upid: data } : {}),
    });
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, reason, {
      'Content-Type': 'application/json;charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
      Server: 'pve-api-daemon/3.0',
      'Cache-Control': 'max-age=0',
      Pragma: 'no-cache',
    });
    res.end(text);
  }

  #login(p: Record<string, string>): { data?: unknown; total?: number } | { status: number; error: string } {
    const user = p['realm'] && !p['username']!.includes('@') ? `${p['username']}@${p['realm']}` : p['username']!;
    if (user !== 'root@pam' || this.rootPassword === undefined || p['password'] !== this.rootPassword) return { status: 401, error: 'authentication failure' };
    const ticket = `PVE:root@pam:${hex(Math.floor(Date.now() / 1000), 8)}::${randomBytes(24).toString('base64')}`;
    const csrf = `${hex(Math.floor(Date.now() / 1000), 8)}:${randomBytes(16).toString('base64').replace(/=+$/, '')}`;
    this.#tickets.set(ticket, { user, csrf });
    return { data: { username: user, ticket, CSRFPreventionToken: csrf, clustername: 'fake' } };
  }

  #noConf(vmid: string | number, node: string): { status: number; error: string } {
    return { status: 500, error: `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist` };
  }

  #vmOn(params: Record<string, string>): Vm | undefined {
    const vm = this.vms.get(Number(params['vmid']));
    return vm && vm.node === params['node'] ? vm : undefined;
  }

  #route(key: string, p: Record<string, string>, user: string): { data?: unknown; total?: number } | { status: number; error: string } {
    const node = p['node'];
    if (node !== undefined && !this.nodes[node])
      return { status: 500, error: `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known` };
    switch (key) {
      case 'GET /cluster/resources': {
        const vms = [...this.vms.values()].map((vm) => ({
          id: `qemu/${vm.vmid}`,
          vmid: vm.vmid,
          node: vm.node,
          type: 'qemu',
          status: vm.config['lock'] === 'clone' && !vm.config['name'] ? 'unknown' : vm.status,
          ...(vm.config['name']
            ? {
                name: vm.config['name'],
                maxmem: Number(vm.config['memory'] ?? 512) * 2 ** 20,
                maxcpu: Number(vm.config['cores'] ?? 1),
                template: vm.config['template'] ? 1 : 0,
              }
            : {}),
          ...(vm.config['tags'] ? { tags: vm.config['tags'] } : {}),
          ...(vm.config['lock'] ? { lock: vm.config['lock'] } : {}),
        }));
        const nodes = Object.entries(this.nodes).map(([n, x]) => ({
          id: `node/${n}`,
          node: n,
          type: 'node',
          status: 'online',
          maxmem: x.memoryGiB * 2 ** 30,
          maxcpu: x.cpus,
        }));
        const t = p['type'];
        return { data: t === 'vm' ? vms : t === 'node' ? nodes : t === undefined ? [...nodes, ...vms] : [] };
      }
      case 'GET /nodes/{node}/status': {
        const n = this.nodes[node!]!;
        const total = n.memoryGiB * 2 ** 30;
        const used = [...this.vms.values()]
          .filter((v) => v.node === node && v.status === 'running')
          .reduce((a, v) => a + Number(v.config['memory'] ?? 512) * 2 ** 20, 2 ** 30);
        return {
          data: {
            memory: { total, used, free: total - used, available: total - used },
            cpuinfo: { cpus: n.cpus, cores: n.cpus / 2, sockets: 1, model: 'Fake CPU' },
            cpu: 0.02,
            uptime: 1000,
            loadavg: ['0.1', '0.1', '0.1'],
            pveversion: 'pve-manager/9.1.3/fake',
          },
        };
      }
      case 'GET /nodes/{node}/qemu/{vmid}/config': {
        const vm = this.#vmOn(p);
        if (!vm) return this.#noConf(p['vmid']!, node!);
        const digest = createHash('sha1').update(JSON.stringify(vm.config)).digest('hex');
        return { data: { ...vm.config, digest } };
      }
      case 'GET /nodes/{node}/qemu/{vmid}/status/current': {
        const vm = this.#vmOn(p);
        if (!vm) return this.#noConf(p['vmid']!, node!);
        return {
          data: {
            vmid: vm.vmid,
            status: vm.status,
            qmpstatus: vm.status,
            name: vm.config['name'] ?? `VM ${vm.vmid}`,
            cpus: Number(vm.config['cores'] ?? 1),
            maxmem: Number(vm.config['memory'] ?? 512) * 2 ** 20,
            ha: { managed: 0 },
            ...(vm.config['lock'] ? { lock: vm.config['lock'] } : {}),
            ...(vm.config['tags'] ? { tags: vm.config['tags'] } : {}),
            ...(vm.config['agent'] ? { agent: 1 } : {}),
            ...(vm.config['template'] ? { template: 1 } : {}),
          },
        };
      }
      case 'PUT /nodes/{node}/qemu/{vmid}/config': {
        const vm = this.#vmOn(p);
        if (!vm) return this.#noConf(p['vmid']!, node!);
        const { node: _n, vmid: _v, delete: del, digest, skiplock, ...set } = p;
        const deleting = (del ?? '').split(/[,;\s]+/).filter(Boolean);
        // the permission check on `lock` runs before the lock check
        if (('lock' in set || deleting.includes('lock')) && user !== 'root@pam') return { status: 500, error: "only root can set 'lock' config" };
        if (digest && digest !== createHash('sha1').update(JSON.stringify(vm.config)).digest('hex'))
          return { status: 500, error: 'checksum mismatch (file change by other user?)' };
        if (vm.config['lock'] && skiplock !== '1') return { status: 500, error: `VM is locked (${vm.config['lock']})` };
        if (Object.keys(set).length === 0 && !del) return { status: 500, error: 'no options specified' };
        for (const [k, v] of Object.entries(set))
          vm.config[k] = k === 'tags' ? normalizeTags(v) : k === 'net0' && !/=[0-9A-F:]{17}/i.test(v) ? v.replace(/^(\w+)/, `$1=${this.#mac()}`) : v;
        for (const k of deleting) delete vm.config[k];
        return { data: null };
      }
      case 'POST /nodes/{node}/qemu/{vmid}/clone':
        return this.#clone(p, user);
      case 'POST /nodes/{node}/qemu':
        return this.#create(p, user);
      case 'PUT /nodes/{node}/qemu/{vmid}/resize': {
        const vm = this.#vmOn(p);
        if (!vm) return this.#noConf(p['vmid']!, node!);
        return this.#task(node!, 'resize', p['vmid']!, user, (log) => {
          if (vm.config['lock']) return `VM is locked (${vm.config['lock']})`;
          const drive = vm.config[p['disk']!];
          if (!drive) return `disk '${p['disk']}' does not exist`;
          const cur = Number(/size=(\d+)G/.exec(drive)?.[1] ?? 0);
          const want = Number(/^\+?(\d+)/.exec(p['size']!)?.[1]);
          const next = p['size']!.startsWith('+') ? cur + want : want;
          if (next < cur) return 'shrinking disks is not supported';
          vm.config[p['disk']!] = drive.replace(/size=\d+G/, `size=${next}G`);
          log(`Image resized to ${next}G`);
          return undefined;
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/start': {
        const vm = this.#vmOn(p);
        const vmid = p['vmid']!;
        return this.#task(node!, 'qmstart', vmid, user, () => {
          if (!vm || !this.vms.has(vm.vmid)) return `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`;
          if (vm.config['template']) return "you can't start a vm if it's a template";
          if (vm.config['lock'] && vm.config['lock'] !== 'suspended') return `VM is locked (${vm.config['lock']})`;
          if (vm.status === 'running') return `VM ${vmid} already running`;
          vm.status = 'running';
          vm.agentAt = Date.now() + this.agentMs;
          return undefined;
        });
      }
      case 'POST /nodes/{node}/qemu/{vmid}/status/stop': {
        const vm = this.#vmOn(p);
        const vmid = p['vmid']!;
        return this.#task(node!, 'qmstop', vmid, user, () => {
          if (!vm || !this.vms.has(vm.vmid)) return `unable to find configuration file for VM ${vmid} on node '${node}'`;
          if (vm.status !== 'running') return undefined;
          if (vm.config['lock']) return `VM is locked (${vm.config['lock']})`;
          vm.status = 'stopped';
          delete vm.agentAt;
          return undefined;
        });
      }
      case 'DELETE /nodes/{node}/qemu/{vmid}': {
        const vm = this.#vmOn(p);
        if (!vm) return this.#noConf(p['vmid']!, node!);
        if (vm.config['protection'] === '1') return { status: 500, error: `can't remove VM ${vm.vmid} - protection mode enabled` };
        if (vm.status === 'running') return { status: 500, error: `VM ${vm.vmid} is running - destroy failed` };
        return this.#task(
          node!,
          'qmdestroy',
          p['vmid']!,
          user,
          () => {
            if (vm.config['lock']) return `VM is locked (${vm.config['lock']})`;
            if (vm.status === 'running') return `VM ${vm.vmid} is running - destroy failed`;
            vm.config['lock'] = 'destroyed';
            return undefined;
          },
          (log) => {
            // the config goes last, after the disks
            if (p['destroy-unreferenced-disks'] === '1') log(`Removing unreferenced disks of VM ${vm.vmid}`);
            this.vms.delete(vm.vmid);
            return undefined;
          },
        );
      }
      case 'POST /nodes/{node}/qemu/{vmid}/agent/ping': {
        const vm = this.#vmOn(p);
        if (!vm) return this.#noConf(p['vmid']!, node!);
        if (!vm.config['agent'] || /^(0|enabled=0)/.test(vm.config['agent'])) return { status: 500, error: 'No QEMU guest agent configured' };
        if (vm.status !== 'running') return { status: 500, error: `VM ${vm.vmid} is not running` };
        if ((vm.agentAt ?? Infinity) > Date.now()) return { status: 500, error: 'QEMU guest agent is not running' };
        return { data: { result: {} } };
      }
      case 'GET /nodes/{node}/tasks': {
        const vmid = p['vmid'];
        const src = p['source'] ?? 'archive';
        const list = [...this.tasks.values()]
          .filter(
            (t) =>
              t.node === node &&
              (vmid === undefined || t.id === vmid) &&
              (p['typefilter'] === undefined || t.type === p['typefilter']) &&
              (src === 'all' || (src === 'active') === (t.status === 'running')),
          )
          .map((t) => ({
            upid: t.upid,
            node: t.node,
            pid: 0,
            pstart: 0,
            starttime: t.starttime,
            type: t.type,
            id: t.id,
            user: t.user,
            ...(t.status === 'stopped' ? { status: t.exitstatus, endtime: t.endtime } : {}),
          }));
        return { data: list.slice(0, Number(p['limit'] ?? 50)) };
      }
      case 'GET /nodes/{node}/tasks/{upid}/status': {
        const upid = p['upid']!;
        if (!/^UPID:/.test(upid)) return { status: 400, error: 'unable to parse worker upid' };
        const t = this.tasks.get(upid);
        if (!t || t.node !== node) return { status: 400, error: 'no such task' };
        const [u, tokenid] = t.user.split('!');
        return {
          data: {
            upid: t.upid,
            node: t.node,
            pid: 0,
            pstart: 0,
            starttime: t.starttime,
            type: t.type,
            id: t.id,
            user: u,
            ...(tokenid ? { tokenid } : {}),
            status: t.status,
            ...(t.exitstatus ? { exitstatus: t.exitstatus } : {}),
          },
        };
      }
      case 'GET /nodes/{node}/tasks/{upid}/log': {
        const t = this.tasks.get(p['upid']!);
        if (!t || t.node !== node) return { status: 400, error: 'no such task' };
        const lines = t.log.length ? t.log : ['no content'];
        const start = Number(p['start'] ?? 0);
        const limit = Number(p['limit'] ?? 50);
        return { data: lines.slice(start, start + limit).map((l, i) => ({ n: start + i + 1, t: l })), total: lines.length };
      }
      default:
        return { status: 501, error: `Method '${key}' not implemented` };
    }
  }

  /** the first task fault that matches, consumed */
  #taskFault(type: string, vmid: string): TaskFault | undefined {
    const f = this.taskFaults.find((x) => x.type === type && (x.vmid === undefined || String(x.vmid) === vmid) && (x.times ?? 1) > 0);
    if (f) f.times = (f.times ?? 1) - 1;
    return f;
  }

  /**
   * Forks a worker: returns the UPID at once; `begin` runs at once (the checks after the fork), `finish`
   * after the task's time. A returned string is the TASK ERROR.
   */
  #task(
    node: string,
    type: string,
    id: string,
    user: string,
    begin: (log: (l: string) => void) => string | undefined,
    finish?: (log: (l: string) => void) => string | undefined,
    vmidForFault = id,
    cleanup?: () => void,
  ): { data: string } {
    const now = Math.floor(Date.now() / 1000);
    const upid = `UPID:${node}:${hex(++this.#pid, 8)}:${hex(this.#pid * 7, 8)}:${hex(now, 8)}:${type}:${id}:${user}:`;
    const t: Task = { upid, node, type, id, user, starttime: now, status: 'running', log: [] };
    this.tasks.set(upid, t);
    const running = [...this.tasks.values()].filter((x) => x.type === type && x.status === 'running').length;
    this.maxRunning.set(type, Math.max(this.maxRunning.get(type) ?? 0, running));
    const log = (l: string): void => void t.log.push(l);
    const end = (err: string | undefined, crash = false): void => {
      t.status = 'stopped';
      t.endtime = Math.floor(Date.now() / 1000);
      if (crash) t.exitstatus = 'unexpected status';
      else if (err) {
        log(`TASK ERROR: ${err}`);
        t.exitstatus = err.replace(/\n/g, ' ');
      } else {
        log('TASK OK');
        t.exitstatus = 'OK';
      }
    };
    const fault = this.#taskFault(type, vmidForFault);
    // a lock timeout is the worker's first step (the flock): nothing else happened
    const flockTimeout = fault?.mode === 'fail' && /can't lock file|got lock request timeout/.test(fault.message ?? '');
    if (flockTimeout) log('trying to acquire lock...');
    const early = flockTimeout ? undefined : begin(log);
    const ms = (this.taskMs[type] ?? 30) + (this.nodes[node]?.delayMs ?? 0);
    void this.#delay(early ? Math.min(ms, 10) : ms).then(() => {
      if (early) return end(early);
      if (fault?.mode === 'crash') return end(undefined, true);
      if (fault?.mode === 'fail') {
        if (!flockTimeout) cleanup?.();
        return end(fault.message ?? 'injected failure');
      }
      end(finish?.(log));
    });
    return { data: upid };
  }

  #clone(p: Record<string, string>, user: string): { data: string } | { status: number; error: string } {
    const node = p['node']!;
    const src = this.#vmOn(p);
    if (!src) return this.#noConf(p['vmid']!, node);
    if (src.config['lock']) return { status: 500, error: `VM is locked (${src.config['lock']})` };
    const full = p['full'] === '1' || !src.config['template'];
    if (!full && p['storage']) return { status: 500, error: "parameter 'storage' not allowed for linked clones" };
    if (!full && p['format']) return { status: 500, error: "parameter 'format' not allowed for linked clones" };
    const newid = Number(p['newid']);
    const existing = this.vms.get(newid);
    if (existing && existing.node === node) return { status: 500, error: `unable to create VM ${newid}: config file already exists` };
    const target = p['target'] ?? node;
    if (!this.nodes[target]) return { status: 500, error: `no such cluster node '${target}'` };
    const cleanup = (): void => void (this.vms.get(newid)?.config['lock'] === 'clone' && this.vms.delete(newid));
    return this.#task(
      node,
      'qmclone',
      String(src.vmid),
      user,
      (log) => {
        if (this.vms.has(newid)) return `close (rename) atomic file '/etc/pve/nodes/${node}/qemu-server/${newid}.conf' failed: File exists`;
        // the new VM exists at once, locked, with nothing else in its config
        this.vms.set(newid, { vmid: newid, node: target, status: 'stopped', config: { lock: 'clone' }, createdAt: Date.now() });
        log(`create ${full ? 'full' : 'linked'} clone of drive scsi0 (${src.config['scsi0']?.split(',')[0]})`);
        return undefined;
      },
      (log) => {
        const vm = this.vms.get(newid);
        if (!vm) return `clone failed: VM ${newid} vanished`;
        const { template: _t, lock: _l, ...copy } = src.config;
        vm.config = {
          ...copy,
          name: p['name'] ?? `Copy-of-VM-${src.config['name']}`,
          scsi0: (src.config['scsi0'] ?? '').replace(/(base|vm)-\d+-disk-0/, `vm-${newid}-disk-0`),
          net0: (src.config['net0'] ?? '').replace(/=[0-9A-F:]{17}/i, `=${this.#mac()}`),
        };
        log(`creating a clone of VM ${src.vmid} with ID ${newid}`);
        return undefined;
      },
      String(newid),
      cleanup,
    );
  }

  #create(p: Record<string, string>, user: string): { data: string } | { status: number; error: string } {
    const node = p['node']!;
    const vmid = Number(p['vmid']);
    const other = this.vms.get(vmid);
    if (other) return { status: 500, error: `unable to create VM ${vmid} - VM ${vmid} already exists on node '${other.node}'` };
    const { node: _n, vmid: _v, start, ...config } = p;
    if (config['tags']) config['tags'] = normalizeTags(config['tags']);
    for (const k of Object.keys(config))
      if (/^(scsi|ide|sata|virtio)\d+$/.test(k)) config[k] = config[k]!.replace(/^([^:,]+):(\d+)(?=,|$)/, `$1:vm-${vmid}-disk-${k},size=$2G`);
    this.vms.set(vmid, { vmid, node, status: 'stopped', config: { ...config, lock: 'create' }, createdAt: Date.now() });
    return this.#task(
      node,
      'qmcreate',
      String(vmid),
      user,
      () => undefined,
      () => {
        const vm = this.vms.get(vmid);
        if (vm) delete vm.config['lock'];
        if (start === '1' && vm) {
          vm.status = 'running';
          vm.agentAt = Date.now() + this.agentMs;
        }
        return undefined;
      },
      String(vmid),
      () => void this.vms.delete(vmid),
    );
  }
}

/** lowercased, deduplicated, sorted, joined with `;` (the datacenter defaults) */
export function normalizeTags(s: string): string {
  return [
    ...new Set(
      s
        .split(/[;,\s]+/)
        .filter(Boolean)
        .map((t) => t.toLowerCase()),
    ),
  ]
    .sort()
    .join(';');
}
