// The demo on examples/local: up (first birth or reuse), a new post written just before the wipe,
// rebirth (gate, nuclear wipe, restore from S3, proof), the HTML report, and the blog left running.
// With --clean: everything the demo started is stopped and removed (castle, object store, data, state).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { clean } from './demo-clean.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const castleDir = join(root, 'examples', 'local');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

function castle(...args) {
  console.log(`\n$ castle ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: castleDir, stdio: 'inherit' });
  if (r.status !== 0) {
    if (r.status === 2) console.error(`\ncastle ${args[0]} exited with 2 before any step: nothing was touched (the reason is above).`);
    else
      console.error(
        `\ncastle ${args[0]} exited with ${r.status}: the castle and its evidence are left as they are (castle logs, castle status); \`npm run demo -- --clean\` stops and removes it.`,
      );
    process.exit(r.status ?? 1);
  }
}

function secret(key) {
  const text = readFileSync(join(castleDir, 'secrets.env'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${key}=`));
  if (!line) throw new Error(`${key} missing from examples/local/secrets.env`);
  return line.slice(key.length + 1).replace(/^['"]|['"]$/g, '');
}

if (process.argv.includes('--clean')) process.exit(await clean(castleDir, cli));
const unknown = process.argv.slice(2).filter((a) => a !== '--clean');
if (unknown.length) {
  console.error(`npm run demo: unknown argument ${unknown.join(' ')} (the only one is --clean)`);
  process.exit(2);
}

castle('up');

// A write that reaches the database just before the rebirth: the proof must find it afterwards.
const title = `Written at ${new Date().toISOString()}, before the wipe`;
const client = new pg.Client({ host: '127.0.0.1', port: 16432, database: 'blog', user: 'blog', password: secret('BLOG_DB_PGUSER_BLOG_PASSWORD') });
await client.connect();
await client.query('INSERT INTO posts (title, body) VALUES ($1, $2)', [title, 'If you can read this after the rebirth, the data came back.']);
await client.end();
console.log(`\nwrote a new post through pgBouncer: "${title}"`);

castle('rebirth');
castle('report');

const page = await (await fetch('http://127.0.0.1:8080/')).text();
console.log(
  page.includes(title) ? `\nthe reborn blog serves the post written before the wipe: "${title}"` : '\nWARNING: the reborn blog does not show the new post',
);
console.log('\nThe castle is running:');
console.log('  blog:    http://127.0.0.1:8080/');
console.log('  runs:    (cd examples/local && node ../../dist/src/cli/main.js runs)');
console.log('  again:   npm run demo');
console.log('  remove:  npm run demo -- --clean   (stops the castle and its object store, deletes their data)');
