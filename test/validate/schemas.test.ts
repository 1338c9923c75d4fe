import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { createRequire } from 'node:module';
import { generateCoreBundle } from '../../src/validate/schema/core-gen.js';
import { validateManifests } from '../../src/validate/index.js';
import { defaultCacheDir, listImported, shippedName } from '../../src/validate/schema/store.js';
import { CONVERTER_VERSION } from '../../src/validate/schema/crd.js';
import { importSchemas } from '../../src/validate/schemas-cmd.js';
import { cleanup, copyFixture, CRDS, runCli, tempDir, writeTree } from './helpers.js';

describe('core schemas', () => {
  it('are generated deterministically from the maintained packages, for Kubernetes 1.34', () => {
    const a = generateCoreBundle();
    const b = generateCoreBundle();
    assert.equal(JSON.stringify(a), JSON.stringify(b));
    assert.equal(a.kubernetesVersion, '1.34.0');
    const kinds = new Set(a.kinds.map((k) => `${k.group}/${k.version}/${k.kind}`));
    for (const k of [
      '/v1/Pod',
      '/v1/Service',
      'apps/v1/Deployment',
      'networking.k8s.io/v1/Ingress',
      'storage.k8s.io/v1/StorageClass',
      'batch/v1/CronJob',
      'rbac.authorization.k8s.io/v1/ClusterRole',
    ])
      assert.ok(kinds.has(k), k);
    assert.equal(a.kinds.find((k) => k.kind === 'Namespace')?.namespaced, false);
    assert.equal(a.kinds.find((k) => k.kind === 'Deployment')?.plural, 'deployments');
    // Quantity survives (from kubernetes-types), int32 formats and required fields come from client-node
    assert.deepEqual(a.defs['V1ResourceRequirements']?.props?.['limits'], { t: 'object', add: { qty: true } });
    assert.deepEqual(a.defs['V1DeploymentSpec']?.req, ['selector', 'template']);
    assert.deepEqual(a.defs['V1ContainerPort']?.props?.['containerPort'], { t: 'integer', fmt: 'int32' });
  });

  it('default cache dir follows XDG_CACHE_HOME', () => {
    const prev = process.env['XDG_CACHE_HOME'];
    process.env['XDG_CACHE_HOME'] = '/tmp/xdg-test';
    try {
      assert.equal(defaultCacheDir(), '/tmp/xdg-test/castle/schemas');
    } finally {
      if (prev === undefined) delete process.env['XDG_CACHE_HOME'];
      else process.env['XDG_CACHE_HOME'] = prev;
    }
  });
});

describe('schema cache', () => {
  it('compiles a CRD once, keyed by content hash, and reuses it', async () => {
    const cache = tempDir('castle-validate-cache-');
    try {
      const first = await validateManifests([join(CRDS, 'pgo-v5.8.9-postgresclusters.yaml')], { cacheDir: cache });
      assert.equal(first.stats.compiled, 2, 'core bundle and the PGO CRD');
      const compiled = readdirSync(join(cache, 'compiled'));
      assert.equal(compiled.length, 1);
      assert.match(compiled[0]!, /^[0-9a-f]{24}\.json$/);
      const second = await validateManifests([join(CRDS, 'pgo-v5.8.9-postgresclusters.yaml')], { cacheDir: cache });
      assert.equal(second.stats.compiled, 0);
      assert.equal(second.stats.cacheHits, 2);
      assert.ok(existsSync(join(cache, 'core')));
    } finally {
      cleanup(cache);
    }
  });

  it('names what it compiles from a shipped file by the file, so any change to it is compiled again', () => {
    const dir = tempDir();
    try {
      const f = join(dir, 'crds.yaml');
      writeFileSync(f, 'a: 1\n');
      utimesSync(f, 1000, 1000);
      const name = shippedName('builtin', f);
      assert.equal(shippedName('builtin', f), name, 'the same file, the same name');
      assert.notEqual(shippedName('operator', f), name);
      // another content of the same size, written later
      writeFileSync(f, 'a: 2\n');
      assert.notEqual(shippedName('builtin', f), name);
      // the same time, another size
      writeFileSync(f, 'a: 22\n');
      utimesSync(f, 1000, 1000);
      assert.notEqual(shippedName('builtin', f), name);
      assert.match(name, /^builtin-v\d+-[\w.+-]+-crds\.yaml-5-1000000$/);
    } finally {
      cleanup(dir);
    }
  });

  it('keeps the shipped CRDs compiled, so a preflight reads JSON instead of 2.4 MB of YAML', async () => {
    const cache = tempDir('castle-validate-cache-');
    const dir = tempDir();
    try {
      writeTree(dir, {
        'pg.yaml':
          'apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata: {name: db}\nspec:\n  postgresVersion: 16\n  colour: blue\n',
      });
      const pg = join(dir, 'pg.yaml');
      const first = await validateManifests([pg], { cacheDir: cache, builtinCrds: true, parallel: false });
      assert.ok(first.stats.compiled >= 4, `shipped CRDs compiled: ${JSON.stringify(first.stats)}`);
      const files = readdirSync(join(cache, 'builtin'));
      // named by Castle's version and the shipped file's name, size and time (shippedName)
      assert.ok(files.length >= 2 && files.every((f) => /^(builtin|operator)-v\d+-[\w.+-]+-\d+-\d+\.json$/.test(f)), files.join(','));
      assert.ok(
        files.some((f) => f.includes('pgo-v5.8.9-postgresclusters.yaml')),
        files.join(','),
      );
      const second = await validateManifests([pg], { cacheDir: cache, builtinCrds: true, parallel: false });
      assert.equal(second.stats.compiled, 0, 'everything read from the cache');
      assert.deepEqual(
        second.diagnostics.map((d) => [d.rule, d.message, d.location?.line, d.location?.col]),
        first.diagnostics.map((d) => [d.rule, d.message, d.location?.line, d.location?.col]),
      );
      assert.ok(
        first.diagnostics.some((d) => d.message.includes('colour')),
        JSON.stringify(first.diagnostics),
      );
      // a damaged entry is recompiled, not trusted
      writeFileSync(join(cache, 'builtin', files[0]!), '{"converter":');
      const third = await validateManifests([pg], { cacheDir: cache, builtinCrds: true, parallel: false });
      assert.ok(third.stats.compiled >= 1);
      assert.deepEqual(
        third.diagnostics.map((d) => d.message),
        first.diagnostics.map((d) => d.message),
      );
      // so is one that parses but holds no schemas
      writeFileSync(join(cache, 'builtin', files[0]!), JSON.stringify({ converter: CONVERTER_VERSION, crds: [{}] }));
      const fourth = await validateManifests([pg], { cacheDir: cache, builtinCrds: true, parallel: false });
      assert.ok(fourth.stats.compiled >= 1);
      assert.deepEqual(
        fourth.diagnostics.map((d) => d.message),
        first.diagnostics.map((d) => d.message),
      );
    } finally {
      cleanup(cache);
      cleanup(dir);
    }
  });
});

describe('imported CRDs', () => {
  it('are recompiled from their stored original when the converter changes', async () => {
    const cache = tempDir('castle-validate-cache-');
    try {
      const r = await importSchemas([join(CRDS, 'eso-v0.16.2-externalsecrets.yaml')], cache);
      assert.deepEqual(
        r.imported.map((i) => i.name),
        ['externalsecrets.external-secrets.io'],
      );
      const file = join(cache, 'imported', 'externalsecrets.external-secrets.io.json');
      const stale = JSON.parse(readFileSync(file, 'utf8')) as { converter: number; kinds: unknown[] };
      writeFileSync(file, JSON.stringify({ ...stale, converter: CONVERTER_VERSION - 1, kinds: [] }));
      const [info] = listImported(cache);
      assert.equal(info?.converter, CONVERTER_VERSION);
      assert.deepEqual(
        info?.kinds.map((k) => k.version),
        ['v1', 'v1beta1'],
      );
      assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { converter: number }).converter, CONVERTER_VERSION);
    } finally {
      cleanup(cache);
    }
  });
});

describe('output and exit codes', () => {
  let dir: string;
  let cache: string;
  before(() => {
    dir = tempDir();
    cache = tempDir('castle-validate-cache-');
    copyFixture('seed', dir, 'seed');
  });
  after(() => {
    cleanup(dir);
    cleanup(cache);
  });

  it('writes SARIF 2.1.0 that validates against the SARIF schema', () => {
    const r = runCli(['validate', '--cache-dir', cache, '--format', 'sarif', CRDS, 'seed/first/cluster.yaml'], dir);
    assert.equal(r.status, 1);
    const sarif = JSON.parse(r.stdout) as {
      version: string;
      runs: {
        tool: { driver: { rules: { id: string }[] } };
        results: {
          ruleId: string;
          level: string;
          locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number } } }[];
        }[];
      }[];
    };
    const require = createRequire(import.meta.url);
    const schema = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json') as Record<string, unknown>;
    // the schema is draft-04: ajv 8 reads it once `id` is `$id`
    const { $schema: _s, id, ...rest } = schema;
    const ajv = new Ajv.default({ strict: false, allErrors: true, validateSchema: false, unicodeRegExp: false });
    addFormats.default(ajv);
    const validate = ajv.compile({ ...rest, $id: String(id) });
    assert.ok(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3)));
    assert.equal(validate({ ...sarif, version: '2.0.0' }), false, 'the schema check can fail');
    assert.equal(sarif.version, '2.1.0');
    const errors = sarif.runs[0]!.results.filter((x) => x.level === 'error');
    assert.deepEqual(
      errors.map((e) => [
        e.ruleId,
        e.locations[0]!.physicalLocation.artifactLocation.uri,
        e.locations[0]!.physicalLocation.region.startLine,
        e.locations[0]!.physicalLocation.region.startColumn,
      ]),
      [
        ['schema/unknown-field', 'seed/first/cluster.yaml', 31, 9],
        ['schema/pattern', 'seed/first/cluster.yaml', 50, 13],
      ],
    );
    assert.ok(sarif.runs[0]!.tool.driver.rules.some((x) => x.id === 'schema/pattern'));
  });

  it('exits 0 when clean, 1 on warnings with --strict, 2 on bad usage', () => {
    const clean = runCli(['validate', '--cache-dir', cache, CRDS, 'seed/final/externalsecret.yaml'], dir);
    assert.equal(clean.status, 0);
    const strict = runCli(['validate', '--strict', '--cache-dir', cache, CRDS, 'seed/final/externalsecret.yaml'], dir);
    assert.equal(strict.status, 1, 'the ClusterSecretStore is not among the inputs: a warning');
    assert.equal(runCli(['validate', '--format', 'xml', 'seed'], dir).status, 2);
    const version = runCli(['validate', '--cache-dir', cache, '--kubernetes-version', '1.29', 'seed'], dir);
    assert.equal(version.status, 2);
    assert.match(version.stderr, /no core schemas for Kubernetes 1\.29: the bundled ones are for 1\.34\.0; run `castle schemas pull --core`/);
    assert.equal(runCli(['validate', '--bogus-flag', 'seed'], dir).status, 2);
    const missing = runCli(['validate', '--cache-dir', cache, 'does-not-exist.yaml'], dir);
    assert.equal(missing.status, 1);
    assert.match(missing.stdout, /error input\/not-found: does-not-exist\.yaml: no such file or directory/);
  });

  it('schemas add reports a file without CRDs', () => {
    const r = runCli(['schemas', 'add', '--cache-dir', cache, 'seed/final/cluster.yaml'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /seed\/final\/cluster\.yaml: no CustomResourceDefinition found/);
  });
});
