import http from 'node:http';
import pg from 'pg';

export interface BlogServerOptions {
  /** connections go through pgBouncer: host/port are pgBouncer's */
  readonly db: pg.PoolConfig;
  /** /healthz answers 503 when `select 1` takes longer than this */
  readonly healthTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface BlogServer {
  readonly server: http.Server;
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function page(title: string, body: string): string {
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>${esc(title)}</title></head>\n<body>\n${body}\n</body></html>\n`;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_r, reject) => {
    t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** The blog: `/` lists post titles, `/posts/:id` shows one, `/healthz` proves the database answers. */
export function createBlogServer(opts: BlogServerOptions): BlogServer {
  const healthTimeoutMs = opts.healthTimeoutMs ?? 2000;
  const log = opts.log ?? (() => undefined);
  const pool = new pg.Pool({
    max: 5,
    connectionTimeoutMillis: healthTimeoutMs,
    idleTimeoutMillis: 10_000,
    query_timeout: healthTimeoutMs * 2,
    ...opts.db,
  });
  // An idle connection dropped by pgBouncer/PostgreSQL must not bring the blog down.
  pool.on('error', (e) => log(`pool: idle connection error: ${e.message}`));

  const send = (res: http.ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };

  const server = http.createServer(async (req, res) => {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    let status = 500;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        status = 405;
        send(res, status, 'text/plain; charset=utf-8', 'method not allowed\n');
      } else if (url.pathname === '/healthz') {
        const t0 = performance.now();
        try {
          await withTimeout(pool.query('select 1'), healthTimeoutMs, 'select 1');
          const latencyMs = Math.round((performance.now() - t0) * 100) / 100;
          status = 200;
          send(res, status, 'application/json', JSON.stringify({ status: 'ok', db: 'up', latencyMs }) + '\n');
        } catch (e) {
          status = 503;
          send(res, status, 'application/json', JSON.stringify({ status: 'unavailable', db: 'down', error: (e as Error).message }) + '\n');
        }
      } else if (url.pathname === '/') {
        const r = await pool.query<{ id: number; title: string }>('select id, title from posts order by id');
        const items = r.rows.map((p) => `<li><a href="/posts/${esc(p.id)}">${esc(p.title)}</a></li>`).join('\n');
        status = 200;
        send(res, status, 'text/html; charset=utf-8', page('Blog', `<h1>Blog</h1>\n<ul>\n${items}\n</ul>`));
      } else if (/^\/posts\/\d+$/.test(url.pathname)) {
        const id = Number(url.pathname.slice('/posts/'.length));
        // Beyond int4 no post can exist; asking PostgreSQL would only produce an error.
        const r =
          id > 2147483647
            ? { rows: [] }
            : await pool.query<{ id: number; title: string; body: string }>('select id, title, body from posts where id = $1', [id]);
        const p = r.rows[0];
        if (!p) {
          status = 404;
          send(res, status, 'text/html; charset=utf-8', page('Not found', `<h1>No post ${id}</h1>`));
        } else {
          status = 200;
          send(
            res,
            status,
            'text/html; charset=utf-8',
            page(p.title, `<article><h1>${esc(p.title)}</h1>\n<div>${esc(p.body)}</div></article>\n<p><a href="/">all posts</a></p>`),
          );
        }
      } else {
        status = 404;
        send(res, status, 'text/plain; charset=utf-8', 'not found\n');
      }
    } catch (e) {
      // Database trouble on a page: 503 says "try again", which is what a reborn castle needs.
      status = 503;
      if (!res.headersSent) send(res, status, 'text/plain; charset=utf-8', 'database unavailable\n');
      log(`error on ${url.pathname}: ${(e as Error).message}`);
    } finally {
      log(`${req.method} ${url.pathname} ${status} ${Math.round(performance.now() - started)}ms`);
    }
  });
  server.keepAliveTimeout = 2000;

  return {
    server,
    pool,
    close: async () => {
      // Keep-alive sockets would hold close() open until they time out.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      // A query stuck behind a dead database must not delay shutdown.
      await Promise.race([pool.end().catch(() => undefined), new Promise((r) => setTimeout(r, 300).unref())]);
    },
  };
}
