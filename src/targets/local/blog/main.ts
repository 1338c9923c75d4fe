// The blog daemon's entry point: `node main.js --port N --dir D` (D only names the instance), with
// its database settings in the environment (PGHOST/PGPORT/PGDATABASE/PGUSER) and the password in BLOG_DB_PASSWORD_FILE.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createBlogServer } from './server.js';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string' }, dir: { type: 'string' } }, strict: false });
const port = Number(values.port ?? process.env['BLOG_PORT']);
const host = String(values.host ?? '127.0.0.1');
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

if (!Number.isInteger(port) || port <= 0) {
  log('blog: --port N is required');
  process.exit(2);
}
const pwFile = process.env['BLOG_DB_PASSWORD_FILE'];
let password: string | undefined;
if (pwFile) {
  try {
    password = readFileSync(pwFile, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    log(`blog: cannot read BLOG_DB_PASSWORD_FILE ${pwFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    process.exit(2);
  }
}

const blog = createBlogServer({
  db: {
    host: process.env['PGHOST'] ?? '127.0.0.1',
    port: Number(process.env['PGPORT'] ?? 5432),
    database: process.env['PGDATABASE'] ?? 'blog',
    user: process.env['PGUSER'] ?? 'blog',
    ...(password !== undefined ? { password } : {}),
  },
  log,
});
blog.server.on('error', (e) => {
  log(`blog: cannot listen on ${host}:${port}: ${e.message}`);
  process.exit(1);
});
blog.server.listen(port, host, () => log(`blog: listening on http://${host}:${port}`));

let stopping = false;
const stop = (sig: string) => {
  if (stopping) return;
  stopping = true;
  log(`blog: ${sig}, shutting down`);
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  void blog.close().then(() => process.exit(0));
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
