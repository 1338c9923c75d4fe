import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from '../helpers/cli.js';
import { copyLocalExample } from '../helpers/local-castle.js';
import { generatedCastles, HAND_WRITTEN_CASTLES, HAND_WRITTEN_MANIFESTS, type BadInput } from './corpus.js';

// Every broken input gets exit 2 (castle validate on manifests: 1, its documented "errors found") and a
// located diagnostic, never a stack trace; time and peak RSS of each run are printed (GNU time), and RSS is
// held to a generous sanity bound only.

const SEED = 1515;
const RSS_BOUND_KB = 1024 * 1024;

interface Measured {
  readonly input: string;
  readonly command: string;
  readonly code: number | null;
  readonly output: string;
  readonly seconds: number;
  readonly rssKb: number;
}

function measure(cwd: string, args: readonly string[], input: string): Promise<Measured> {
  const timeFile = join(cwd, '.time');
  const env: NodeJS.ProcessEnv = { ...process.env, CASTLE_PLAIN: '1', NO_COLOR: '1' };
  delete env['NODE_TEST_CONTEXT'];
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, process.execPath, CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      // a runaway printer must not fill the test's memory: 256 KB of output is plenty to judge
      if (output.length < 256 * 1024) output += b.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code) => {
      const [s, kb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ');
      resolve({ input, command: args[0]!, code, output, seconds: Number(s), rssKb: Number(kb) });
    });
  });
}

async function prepare(input: BadInput): Promise<{ dir: string; cleanup: () => void }> {
  if (input.file === 'castle.yaml') {
    const dir = mkdtempSync(join(tmpdir(), 'castle-badinput-'));
    writeFileSync(join(dir, 'castle.yaml'), input.content);
    return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  // a manifest case: the local example on free ports and a temp data dir, in case it were ever accepted
  const ex = await copyLocalExample('castle-badinput-');
  writeFileSync(join(ex.dir, input.file), input.content);
  return { dir: ex.dir, cleanup: () => rmSync(ex.base, { recursive: true, force: true }) };
}

async function pool<T, R>(items: readonly T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

const cacheDir = mkdtempSync(join(tmpdir(), 'castle-badinput-cache-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

test('the bad-input corpus: exit 2, a located diagnostic, no stack trace, bounded time and memory, for castle validate and castle up', async () => {
  const inputs = [...HAND_WRITTEN_CASTLES, ...generatedCastles(SEED, 16), ...HAND_WRITTEN_MANIFESTS];
  const runs = (
    await pool(inputs, 2, async (input) => {
      const { dir, cleanup } = await prepare(input);
      try {
        // a cache of its own: the corpus must not depend on, nor fill, the user's schema cache
        return [await measure(dir, ['validate', '--cache-dir', cacheDir], input.name), await measure(dir, ['up'], input.name)];
      } finally {
        cleanup();
      }
    })
  ).flat();
  const manifestCase = new Set(HAND_WRITTEN_MANIFESTS.map((m) => m.name));
  const lines = runs.map(
    (r) => `${r.command.padEnd(8)} exit ${r.code}  ${r.seconds.toFixed(2).padStart(5)} s  ${(r.rssKb / 1024).toFixed(0).padStart(4)} MB  ${r.input}`,
  );
  const maxT = runs.reduce((a, r) => (r.seconds > a.seconds ? r : a));
  const maxM = runs.reduce((a, r) => (r.rssKb > a.rssKb ? r : a));
  process.stdout.write(
    `# ${runs.length} runs of ${inputs.length} inputs\n${lines.map((l) => `# ${l}`).join('\n')}\n` +
      `# max time ${maxT.seconds.toFixed(2)} s (${maxT.command}: ${maxT.input}); max RSS ${(maxM.rssKb / 1024).toFixed(0)} MB (${maxM.command}: ${maxM.input})\n`,
  );
  const problems: string[] = [];
  for (const r of runs) {
    const expected = r.command === 'validate' && manifestCase.has(r.input) ? 1 : 2;
    const head = `${r.command} on ${r.input}`;
    if (r.code !== expected) problems.push(`${head}: exit ${r.code}, expected ${expected}\n${r.output.slice(0, 1500)}`);
    if (!/(^|\n)[^\s:][^:\n]*:\d+:\d+: error /.test(r.output))
      problems.push(`${head}: no located diagnostic (file:line:col: error)\n${r.output.slice(0, 1500)}`);
    if (/internal error|\n\s+at .+:\d+:\d+\)?\n/.test(r.output)) problems.push(`${head}: a stack trace\n${r.output.slice(0, 3000)}`);
    if (r.output.split('\n').some((l) => l.length > 2000)) problems.push(`${head}: an output line over 2,000 characters (the input was echoed whole)`);
    if (r.rssKb > RSS_BOUND_KB) problems.push(`${head}: ${(r.rssKb / 1024).toFixed(0)} MB RSS, over the ${RSS_BOUND_KB / 1024} MB sanity bound`);
  }
  assert.deepEqual(problems, []);
});
