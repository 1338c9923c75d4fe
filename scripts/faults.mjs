// `npm run test:faults`: the fault matrix on the local target (test/faults/), then its table, printed and
// written to docs/faults.md. Each test file appends its rows to one JSON-lines file named by CASTLE_FAULTS_OUT.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const matrix = 'dist/test/faults/matrix';
const only = process.argv.slice(2);
const files = [
  'dist/test/faults/fast.test.js',
  ...readdirSync(matrix)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((f) => join(matrix, f)),
].filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
const tmp = mkdtempSync(join(tmpdir(), 'castle-faults-'));
const out = join(tmp, 'rows.jsonl');
const t0 = Date.now();
const env = { ...process.env, CASTLE_FAULTS_OUT: out };
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit', env });
const total = Date.now() - t0;
const rows = existsSync(out)
  ? readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
  : [];
rmSync(tmp, { recursive: true, force: true });

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const secs = (ms) => (ms ? `${(ms / 1000).toFixed(1)} s` : 'n/a');
const table = [
  '| fault | what Castle printed | data lost | manual steps | time to recover |',
  '|---|---|---|---|---|',
  ...rows.map((x) => `| ${cell(x.fault)} | ${cell(x.printed)} | ${cell(x.dataLost)} | ${cell(x.manual)} | ${secs(x.recoverMs)} |`),
].join('\n');
const failed = r.status !== 0;
const md = `# Fault matrix

Written by \`npm run test:faults\` (test/faults/, scripts/faults.mjs) on ${new Date().toISOString().slice(0, 10)}: the local target (real
PostgreSQL, pgBackRest, pgBouncer and the S3 endpoint), each fault followed by \`castle rebirth --resume\` or a rerun.
"Data lost" is checked twice: the proof's fingerprint of every table against the gate's, and a count of the rows written
through pgBouncer before the faults. "Time to recover" is the recovering command's wall time on a 2-core machine shared
with other work. The fast subset (test/faults/fast.test.ts) runs in \`npm test\`.

${table}

${rows.length} rows in ${(total / 60000).toFixed(1)} min${failed ? "; **some tests failed**: see the run's output" : ''}.
`;
process.stdout.write(`\n${table}\n\n${rows.length} rows in ${(total / 60000).toFixed(1)} min\n`);
if (only.length === 0) writeFileSync('docs/faults.md', md);
else process.stdout.write('(a filtered run: docs/faults.md not written)\n');
process.exit(r.status ?? 1);
