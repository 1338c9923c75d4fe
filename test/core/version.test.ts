import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { castle, castleDir, CLI } from '../helpers/cli.js';

test('castle --version prints the version of package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = castle(castleDir('name: v\nlayers: []\n'), ['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('the castle command runs as its first lines say, as the kernel runs it: sh, which runs Node with its options', () => {
  const [first, second] = readFileSync(CLI, 'utf8').split('\n', 2);
  assert.equal(first, '#!/bin/sh');
  assert.match(second!, /^\/\/usr\/bin\/env true; .*; exec node --v8-pool-size=0 --max-semi-space-size=8 --initial-old-space-size=48 "\$0" "\$@"$/);
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}` };
  const r = spawnSync('/bin/sh', [CLI, '--version'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
  assert.equal(r.stderr, '');
  // the options reach Node: the same line, with Node printing its own options instead of running castle
  const own = spawnSync('/bin/sh', ['-c', second!.replace('"$0" "$@"', `-p "process.execArgv.slice(0, -2).join(' ')"`)], { encoding: 'utf8', env });
  assert.equal(own.stdout.trim(), '--v8-pool-size=0 --max-semi-space-size=8 --initial-old-space-size=48', own.stderr);
});

test('castle validate starts Node without NODE_EXTRA_CA_CERTS (Node 20 reads the certificates at start), and gives it back to what it runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'castle-ca-'));
  try {
    // a kustomization with a patch is rendered by kubectl: here a stand-in that records the variable it was given
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n');
    writeFileSync(join(dir, 'app', 'kustomization.yaml'), 'resources: [cm.yaml]\npatches: [{patch: "metadata: {name: a}"}]\n');
    writeFileSync(
      join(dir, 'bin', 'kubectl'),
      `#!/bin/sh\nprintf '%s' "\${NODE_EXTRA_CA_CERTS-unset}" > "$CA_SEEN"\nprintf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a, namespace: default}\\n'\n`,
    );
    chmodSync(join(dir, 'bin', 'kubectl'), 0o755);
    const seen = join(dir, 'seen');
    const preload = join(dir, 'preload.mjs');
    writeFileSync(preload, "process.stderr.write(`at start: ${process.env.NODE_EXTRA_CA_CERTS ?? 'unset'}\\n`);\n");
    const env = {
      ...process.env,
      PATH: `${join(dir, 'bin')}:${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
      NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
      CA_SEEN: seen,
      // what Node was started with, printed before castle's own code runs
      NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`,
    };
    const run = (args: string[]): SpawnSyncReturns<string> => spawnSync('/bin/sh', [CLI, ...args], { encoding: 'utf8', env, cwd: dir });
    const v = run(['validate', '--cache-dir', join(dir, 'cache'), 'app']);
    assert.match(v.stderr, /^at start: unset$/m, v.stderr);
    assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
    assert.equal(readFileSync(seen, 'utf8'), join(dir, 'ca.pem'), 'kubectl was given the variable back');
    // any other command, and validate against a cluster (TLS), start with it as they were given it
    for (const args of [
      ['--version'],
      ['validate', '--help', '--cluster'],
      ['validate', '--kubeconfig=k', '--help'],
      ['validate', '--help', '--context', 'c'],
    ]) {
      const r = run(args);
      assert.match(r.stderr, new RegExp(`^at start: ${join(dir, 'ca.pem').replace(/[.]/g, '\\.')}$`, 'm'), `${args.join(' ')}: ${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('castle validate runs the validator bundled into one file, which finds what its modules find', () => {
  const dir = mkdtempSync(join(tmpdir(), 'castle-bundle-'));
  try {
    writeFileSync(join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: nowhere}\ndata: {k: v}\n');
    // the modules each run loads, recorded by a resolve hook in a file: the hook runs on its own thread, whose stderr
    // Node may drop when the main thread exits first
    const hook = join(dir, 'hook.mjs');
    const log = join(dir, 'loaded.txt');
    writeFileSync(
      hook,
      "import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(`import { appendFileSync } from 'node:fs'; export async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.CASTLE_TEST_LOADED, r.url + String.fromCharCode(10)); return r; }`));\n",
    );
    const env = {
      ...process.env,
      PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
      NODE_OPTIONS: `--import=${pathToFileURL(hook).href}`,
      CASTLE_TEST_LOADED: log,
    };
    const args = ['validate', '--format', 'json', '--cache-dir', join(dir, 'cache'), join(dir, 'cm.yaml')];
    const bundled = spawnSync('/bin/sh', [CLI, ...args], { encoding: 'utf8', env });
    const loaded = readFileSync(log, 'utf8').split('\n');
    const seen = `exit ${String(bundled.status)} ${String(bundled.signal)}\n${bundled.stderr}\nloaded:\n${loaded.join('\n')}`;
    assert.ok(
      loaded.some((l) => l.startsWith('file:') && l.endsWith('/dist/src/cli/main.js')),
      seen,
    );
    assert.ok(
      loaded.some((l) => l.endsWith('/dist/src/validate/cli.bundle.js')),
      seen,
    );
    assert.ok(!loaded.some((l) => /\/dist\/src\/validate\/(index|analyze|cli)\.js$/.test(l)), seen);
    // the same findings from the modules themselves (the CLI's fallback when no bundle is built)
    const plain = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `process.argv.splice(1, 0, 'castle'); await (await import(${JSON.stringify(pathToFileURL(join(dirname(CLI), 'validate-main.js')).href)})).main();`,
        ...args,
      ],
      { encoding: 'utf8' },
    );
    const findings = (out: string): unknown => (JSON.parse(out) as { diagnostics: unknown }).diagnostics;
    assert.equal(bundled.status, 1, bundled.stderr);
    assert.equal(plain.status, 1, plain.stderr);
    assert.ok((findings(bundled.stdout) as unknown[]).length >= 2, bundled.stdout);
    assert.deepEqual(findings(bundled.stdout), findings(plain.stdout));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
