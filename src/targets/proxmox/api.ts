// The Proxmox VE REST client: HTTPS with node:https (fetch cannot take a CA or pin a fingerprint without
// undici, which is not a dependency), API token auth, Proxmox's error shapes, and retries of what Proxmox
// says is transient (lock timeouts, 59x proxy errors, 502-504, dropped connections) with backoff.
import { request as httpsRequest, Agent, type AgentOptions } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { ok, type Failure } from '../../core/result.js';
import { withRetries } from '../../os/retry.js';

export type TlsTrust =
  { readonly kind: 'ca'; readonly caPem: string } | { readonly kind: 'fingerprint'; readonly sha256: string } | { readonly kind: 'insecure' };

export interface ApiOptions {
  /** https://host:8006 */
  readonly endpoint: string;
  /** `USER@REALM!TOKENID`; without a token, a ticket (root@pam, to clear a stale lock) or no auth at all (to log in) */
  readonly tokenId?: string;
  readonly tokenSecret?: string;
  readonly ticket?: { readonly ticket: string; readonly csrf: string };
  readonly trust: TlsTrust;
  readonly maxSockets?: number;
  /** attempts for a transient failure, the first included */
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** ms without an answer before a request counts as lost (a transient failure); default 60 s */
  readonly requestTimeoutMs?: number;
  /** one line per retry and per failure (never a secret) */
  readonly log?: (line: string) => void;
}

/** A failed API call: the HTTP status, Proxmox's per-parameter errors and its message. */
export interface ApiFailure extends Failure {
  readonly status: number;
  readonly errors?: Readonly<Record<string, string>>;
}

export type ApiResult<T> = { readonly ok: true; readonly value: T } | ApiFailure;

export type Params = Readonly<Record<string, string | number | boolean | undefined>>;

const LOCK_TIMEOUT = /can't lock file '[^']+' - got timeout|cfs-lock '[^']+' error: got lock request timeout/;
const TRANSIENT_NET = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED']);

/** Lock contention and proxy/daemon overload: the same request succeeds a moment later. */
export function isTransient(f: ApiFailure): boolean {
  return (
    f.status === 0 ||
    f.status === 502 ||
    f.status === 503 ||
    f.status === 504 ||
    f.status === 595 ||
    f.status === 596 ||
    (f.status === 500 && LOCK_TIMEOUT.test(f.reason))
  );
}

export const isLockTimeout = (text: string): boolean => LOCK_TIMEOUT.test(text);

const normFp = (s: string): string => s.replace(/[^0-9a-f]/gi, '').toUpperCase();

/** Pins the server certificate by its SHA-256 fingerprint: the socket is handed to HTTP only after it matched, so no header (the token) reaches another server. */
class PinnedAgent extends Agent {
  readonly #sha256: string;
  constructor(opts: AgentOptions, sha256: string) {
    super({ ...opts, rejectUnauthorized: false });
    this.#sha256 = normFp(sha256);
  }
  override createConnection(options: ConnectionOptions, cb: (err: Error | null, s?: Duplex) => void): Duplex | undefined {
    const sock: TLSSocket = tlsConnect({ ...options, rejectUnauthorized: false });
    const onError = (e: Error): void => cb(e);
    sock.once('error', onError);
    sock.once('secureConnect', () => {
      sock.off('error', onError);
      const got = normFp(sock.getPeerCertificate().fingerprint256 ?? '');
      if (got === this.#sha256) cb(null, sock);
      else {
        sock.destroy();
        cb(
          Object.assign(new Error(`the server's certificate fingerprint is ${got.replace(/(..)(?!$)/g, '$1:')}, not the pinned one`), {
            code: 'CASTLE_FINGERPRINT',
          }),
        );
      }
    });
    return undefined;
  }
}

export class PveApi {
  readonly #base: URL;
  readonly #auth: Record<string, string>;
  readonly #agent: Agent;
  readonly #opts: ApiOptions;
  /** every call made (method, path, parameters) with its status: tests check each against the schema */
  readonly journal: { method: string; path: string; params: Record<string, string>; status: number; auth: 'token' | 'ticket' | 'none' }[] = [];
  recordJournal = false;

  constructor(opts: ApiOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.endpoint.replace(/\/+$/, '') + '/api2/json/');
    this.#auth =
      opts.tokenId !== undefined
        ? { Authorization: `PVEAPIToken=${opts.tokenId}=${opts.tokenSecret ?? ''}` }
        : opts.ticket
          ? { Cookie: `PVEAuthCookie=${encodeURIComponent(opts.ticket.ticket)}` }
          : {};
    const base: AgentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 12 };
    const t = opts.trust;
    switch (t.kind) {
      case 'ca':
        this.#agent = new Agent({ ...base, ca: t.caPem, rejectUnauthorized: true });
        break;
      case 'fingerprint':
        this.#agent = new PinnedAgent(base, t.sha256);
        break;
      case 'insecure':
        this.#agent = new Agent({ ...base, rejectUnauthorized: false });
        break;
      default: {
        const never: never = t;
        throw new Error(`unknown TLS trust ${String(never)}`);
      }
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  get endpoint(): string {
    return this.#base.origin;
  }

  /** One call with retries of transient failures. */
  async call<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, params: Params = {}, signal?: AbortSignal): Promise<ApiResult<T>> {
    const attempts = this.#opts.attempts ?? 6;
    return withRetries(() => this.#once<T>(method, path, params, signal), {
      backoff: { attempts, firstMs: this.#opts.backoffMs ?? 250, maxMs: this.#opts.maxBackoffMs ?? 5000 },
      retryable: (r) => !r.ok && isTransient(r),
      onRetry: (r, i, delay) => this.#opts.log?.(`${method} ${path}: ${r.ok ? '' : r.reason} (transient, retry ${i}/${attempts - 1} in ${delay} ms)`),
      signal,
    });
  }

  get<T>(path: string, params?: Params, signal?: AbortSignal): Promise<ApiResult<T>> {
    return this.call<T>('GET', path, params, signal);
  }
  post<T>(path: string, params?: Params, signal?: AbortSignal): Promise<ApiResult<T>> {
    return this.call<T>('POST', path, params, signal);
  }
  put<T>(path: string, params?: Params, signal?: AbortSignal): Promise<ApiResult<T>> {
    return this.call<T>('PUT', path, params, signal);
  }
  delete<T>(path: string, params?: Params, signal?: AbortSignal): Promise<ApiResult<T>> {
    return this.call<T>('DELETE', path, params, signal);
  }

  #once<T>(method: string, path: string, params: Params, signal?: AbortSignal): Promise<ApiResult<T>> {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (v !== undefined) flat[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    const form = new URLSearchParams(flat).toString();
    const url = new URL(path.replace(/^\/+/, ''), this.#base);
    // GET and DELETE take only the query string (a body gets 501 from pveproxy)
    const inQuery = method === 'GET' || method === 'DELETE';
    if (inQuery && form) url.search = form;
    const body = inQuery ? undefined : Buffer.from(form);
    const display = `${method} ${path}`;
    return new Promise((resolve) => {
      const done = (r: ApiResult<T>): void => {
        if (this.recordJournal)
          this.journal.push({
            method,
            path,
            params: flat,
            status: r.ok ? 200 : r.status,
            auth: this.#opts.tokenId !== undefined ? 'token' : this.#opts.ticket ? 'ticket' : 'none',
          });
        resolve(r);
      };
      const req = httpsRequest(
        url,
        {
          method,
          agent: this.#agent,
          headers: {
            ...this.#auth,
            // tickets need the CSRF token on every call that changes something; tokens never do
            ...(this.#opts.ticket && method !== 'GET' ? { CSRFPreventionToken: this.#opts.ticket.csrf } : {}),
            Accept: 'application/json',
            ...(body ? { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': body.length } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => done({ ok: false, status: 0, reason: `${display}: ${e.message}`, retryable: true }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            let json: { data?: unknown; errors?: Record<string, string>; message?: string } | undefined;
            try {
              json = text ? (JSON.parse(text) as typeof json) : undefined;
            } catch {
              json = undefined;
            }
            if (status === 200) {
              if (json === undefined) return done({ ok: false, status, reason: `${display}: the answer is not JSON` });
              return done(ok(json.data as T));
            }
            const reason = res.statusMessage ?? '';
            const errs = json?.errors;
            const detail = errs
              ? Object.entries(errs)
                  .map(([k, v]) => `${k}: ${v.trim()}`)
                  .join('; ')
              : (json?.message?.trim() ?? '');
            const what =
              status === 401
                ? `authentication failed (${reason}): check the token id and secret and that the token exists and is not expired`
                : `${status} ${reason}${detail && detail !== reason ? `: ${detail}` : ''}`;
            done({
              ok: false,
              status,
              reason: `${display}: ${what}`,
              ...(errs ? { errors: errs } : {}),
              retryable: status !== 401 && status !== 403 && status !== 400,
            });
          });
        },
      );
      req.setTimeout(this.#opts.requestTimeoutMs ?? 60_000, () =>
        req.destroy(Object.assign(new Error(`no answer within ${Math.round((this.#opts.requestTimeoutMs ?? 60_000) / 1000)} s`), { code: 'ETIMEDOUT' })),
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (signal?.aborted) return done({ ok: false, status: -1, reason: `${display}: aborted`, retryable: false });
        const code = e.code ?? '';
        if (code === 'CASTLE_FINGERPRINT') return done({ ok: false, status: -1, reason: `${display}: ${e.message}`, retryable: false });
        done({
          ok: false,
          status: TRANSIENT_NET.has(code) ? 0 : -1,
          reason: `${display}: ${e.message}${code ? ` (${code})` : ''}`,
          retryable: TRANSIENT_NET.has(code),
        });
      });
      req.end(body);
    });
  }
}
