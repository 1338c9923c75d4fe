// Castle as a library, the way a user gets it: `npm pack`, the tarball unpacked into an app's
// node_modules (its dependencies linked from this checkout's: the test runs offline), then the app
// imports 'castle', type-checks against its declarations and runs a castle of its own target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRegistry } from '../../src/targets/registry.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

function run(cmd: string, args: readonly string[], cwd: string): string {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
  });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const APP = `import { analyzeCastle, buildPlan, runCastle, stepHashes, TargetRegistry, defaultRegistry, genericTarget, ok, fail } from 'castle';
import type { EventEnvelope, EventSink, StepKind, Target } from 'castle';

interface Greeting { readonly to: string }
interface Session { readonly greeted: string[] }

const greet: StepKind<Greeting, Session> = {
  name: 'greet',
  description: 'says hello, in process',
  schema: { type: 'object', properties: { to: { type: 'string' } }, required: ['to'], additionalProperties: false },
  label: (c) => 'greet ' + c.to,
  run: async (config, ctx, session) => {
    session.greeted.push(config.to);
    ctx.note('hello ' + config.to);
    return config.to === 'nobody' ? fail('nobody to greet', { retryable: false }) : { ok: true, summary: 'greeted ' + session.greeted.join(', ') };
  },
};
const hello: Target<undefined, Session> = {
  name: 'hello',
  description: 'a target of the app',
  kinds: [greet],
  session: { open: async () => ok({ greeted: [] }) },
};

const registry = new TargetRegistry().register(genericTarget).register(hello, { asDefault: true });
const yaml = [
  'name: app',
  'layers:',
  '  - name: first',
  '    apply: [{greet: {to: world}}]',
  '  - name: second',
  '    dependsOn: [first]',
  '    apply: [{hello.greet: {to: castle}}, {run: "echo ran > ran.txt"}]',
].join('\\n');
const castle = analyzeCastle(process.cwd() + '/castle.yaml', yaml, registry, { stateDir: process.cwd() + '/.castle' });
if (!castle.ok) throw new Error(JSON.stringify(castle.diagnostics));
const plan = buildPlan(castle.value, { operation: 'up' });
if (!plan.ok) throw new Error(JSON.stringify(plan.diagnostics));
const seen: EventEnvelope[] = [];
const sink: EventSink = { handle: (e) => void seen.push(e) };
const outcome = await runCastle({ plan: plan.value, sinks: [sink], signal: new AbortController().signal });
if (outcome.state !== 'finished') throw new Error('refused');
const bad = analyzeCastle('/x/castle.yaml', 'name: bad\\nlayers:\\n  - name: l\\n    apply: [{greet: {to: 1}}]\\n', registry);
console.log(JSON.stringify({
  status: outcome.status,
  steps: plan.value.steps.map((s) => s.id + ' ' + s.spec.qualified),
  hashes: stepHashes(plan.value).size,
  sinkSawAll: seen.length > 0 && seen.length === outcome.events.length,
  summaries: outcome.events.flatMap((e) => (e.type === 'step-finished' && e.summary ? [e.summary] : [])),
  defaultTargets: defaultRegistry().targets().map((t) => t.name),
  badAt: bad.ok ? null : bad.diagnostics.map((d) => d.location?.line),
}));
`;

test('npm pack: the tarball installs and its public API imports, type-checks and runs the way a user would', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'castle-pack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], ROOT)) as { filename: string; files: { path: string }[] }[];
  const files = packed[0]!.files.map((f) => f.path);
  for (const f of [
    'package.json',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'dist/src/core/step.d.ts',
    'dist/blog/blog.cjs',
    'schema/castle.schema.json',
    'scripts/s3rver-patch.mjs',
    'patches/s3rver-3.7.1-fixes.diff',
  ])
    assert.ok(files.includes(f), `${f} is in the tarball`);
  assert.deepEqual(
    files.filter((f) => f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.startsWith('src/') || f.endsWith('secrets.env')),
    [],
    'no tests, sources or secrets',
  );

  const app = join(work, 'app');
  const modules = join(app, 'node_modules');
  mkdirSync(modules, { recursive: true });
  run('tar', ['-xzf', join(work, packed[0]!.filename), '-C', modules], work);
  renameSync(join(modules, 'package'), join(modules, 'castle'));
  // the package's own dependencies, as npm would have installed them
  symlinkSync(join(ROOT, 'node_modules'), join(modules, 'castle', 'node_modules'), 'dir');
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { castle: '0.1.0' } }));
  writeFileSync(join(app, 'main.ts'), APP);
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        outDir: 'out',
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        skipLibCheck: false,
      },
      files: ['main.ts'],
    }),
  );
  // the user's compiler checks the app against the package's declarations (and only through `exports`)
  run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
  const out = JSON.parse(run(process.execPath, ['out/main.js'], app)) as Record<string, unknown>;
  assert.deepEqual(out, {
    status: 'succeeded',
    steps: ['up/first/0 hello.greet', 'up/second/0 hello.greet', 'up/second/1 run'],
    hashes: 3,
    sinkSawAll: true,
    summaries: ['greeted world', 'greeted world, castle'],
    // every target this checkout registers, as the package's own registry lists them
    defaultTargets: defaultRegistry()
      .targets()
      .map((t) => t.name),
    badAt: [4],
  });

  // internals stay internal
  writeFileSync(join(app, 'deep.mjs'), "await import('castle/dist/src/engine/lock.js');\n");
  const deep = spawnSync(process.execPath, ['deep.mjs'], { cwd: app, encoding: 'utf8' });
  assert.notEqual(deep.status, 0);
  assert.match(deep.stderr, /ERR_PACKAGE_PATH_NOT_EXPORTED/);
});
