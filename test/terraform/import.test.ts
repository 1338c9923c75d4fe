import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { castle } from '../helpers/cli.js';

const FIXTURE = fileURLToPath(new URL('../../../test/terraform/fixtures/live', import.meta.url));

// The seed's live tree: what each module's dependency/dependencies blocks say.
const EDGES: Record<string, string[]> = {
  secrets: [],
  platform: ['secrets'],
  engine: ['platform'],
  networking: ['engine'],
  storage: ['engine'],
  gitops: ['engine', 'networking', 'secrets', 'storage'],
  data: ['gitops', 'storage'],
  apps: ['data', 'networking'],
};

const made: string[] = [];
process.on('exit', () => {
  if (!process.env['CASTLE_KEEP_TEST_DIRS']) for (const d of made) rmSync(d, { recursive: true, force: true });
});

function work(): string {
  const d = mkdtempSync(join(tmpdir(), 'castle-tg-import-'));
  made.push(d);
  return d;
}

test('castle import terragrunt: the seed-shaped tree becomes a castle whose plan has the same edges', () => {
  const dir = work();
  cpSync(FIXTURE, join(dir, 'live'), { recursive: true });
  const r = castle(dir, ['import', 'terragrunt', 'live']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*castle\.yaml: 8 layers/);
  // the includes are reported where they are, not followed
  assert.match(
    r.stderr,
    /live\/platform\/terragrunt\.hcl:2:10: warning import\/include: include "root" is not followed: .*find_in_parent_folders\(\) is only known when Terragrunt runs/,
  );
  const yaml = readFileSync(join(dir, 'castle.yaml'), 'utf8');
  assert.match(
    yaml,
    /# from live\/gitops\/terragrunt\.hcl \(source \.\.\/\.\.\/modules\/\/flux\)\n\s+#\s+dependency "engine" -> engine at live\/gitops\/terragrunt\.hcl:14:17/,
  );
  assert.match(yaml, /dependencies -> storage at live\/gitops\/terragrunt\.hcl:23:29/);

  const plan = castle(dir, ['plan', '--json']);
  assert.equal(plan.code, 0, plan.stderr);
  const p = JSON.parse(plan.stdout) as { steps: { id: string; kind: string; deps: string[] }[] };
  const got: Record<string, string[]> = {};
  for (const s of p.steps) {
    assert.equal(s.kind, 'terraform.apply');
    got[s.id.split('/')[1]!] = s.deps.map((d) => d.split('/')[1]!).sort();
  }
  assert.deepEqual(got, EDGES);
  const down = castle(dir, ['plan', '--operation', 'down', '--json']);
  assert.equal(down.code, 0, down.stderr);
  assert.ok((JSON.parse(down.stdout) as { steps: { kind: string }[] }).steps.every((s) => s.kind === 'terraform.destroy'));
  assert.equal(castle(dir, ['import', 'terragrunt', 'live']).code, 2, 'an existing castle.yaml is not overwritten without --force');
  // without Terragrunt on the machine, nothing starts
  const up = castle(dir, ['up'], { PATH: '' });
  assert.equal(up.code, 2);
  assert.match(up.stderr, /error terraform\/binary: terragrunt is not on PATH/);
});

function tree(files: Record<string, string>): string {
  const dir = work();
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(join(dir, 'live', p, '..'), { recursive: true });
    writeFileSync(join(dir, 'live', p), text);
  }
  return dir;
}

test('a dependency cycle is a located error naming every edge (exit 2)', () => {
  const dir = tree({
    'a/terragrunt.hcl': 'dependency "b" {\n  config_path = "../b"\n}\n',
    'b/terragrunt.hcl': 'dependencies {\n  paths = ["../c"]\n}\n',
    'c/terragrunt.hcl': '# c needs a\ndependency "a" {\n  config_path = "../a"\n}\n',
  });
  const r = castle(dir, ['import', 'terragrunt', 'live', '--stdout']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /live\/a\/terragrunt\.hcl:2:17: error import\/cycle: dependency cycle: a -> b -> c -> a/);
  assert.match(r.stderr, /b depends on c \(dependencies\)/);
  assert.match(r.stderr, /live\/c\/terragrunt\.hcl:3:17/);
});

test('a missing dependency path, an unresolvable config_path and bad HCL are located errors (exit 2)', () => {
  const dir = tree({
    'a/terragrunt.hcl': 'dependency "gone" {\n  config_path = "../nowhere"\n}\ndependency "env" {\n  config_path = "${find_in_parent_folders("env")}/x"\n}\n',
    'b/terragrunt.hcl': 'locals {\n  other = get_env("X")\n}\ndependency "x" {\n  config_path = local.other\n}\n',
    'c/terragrunt.hcl': 'dependency "a" {\n  config_path = \n}\n',
  });
  const r = castle(dir, ['import', 'terragrunt', 'live', '--stdout']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /live\/a\/terragrunt\.hcl:2:17: error import\/missing-dependency: dependency "gone": .*nowhere does not exist/);
  assert.match(
    r.stderr,
    /live\/a\/terragrunt\.hcl:5:20: error import\/unresolvable: dependency "env": config_path cannot be resolved statically: find_in_parent_folders\(\) is only known when Terragrunt runs/,
  );
  assert.match(
    r.stderr,
    /live\/b\/terragrunt\.hcl:2:11: error import\/unresolvable: dependency "x": config_path cannot be resolved statically: local\.other \(used at .*live\/b\/terragrunt\.hcl:5:17\): get_env\(\) is only known/,
  );
  assert.match(r.stderr, /live\/c\/terragrunt\.hcl:\d+:\d+: error import\/syntax: HCL syntax error/);
  assert.equal(r.stdout, '');
});

test("the old layout's root terragrunt.hcl is configuration, not a layer; a disabled dependency is no edge", () => {
  const dir = tree({
    'terragrunt.hcl': 'remote_state {\n  backend = "s3"\n}\n',
    'a/terragrunt.hcl': 'include {\n  path = find_in_parent_folders()\n}\nterraform {\n  source = "../modules//a"\n}\n',
    'b/terragrunt.hcl':
      'terraform {\n  source = "../modules//b"\n}\ndependency "a" {\n  config_path = "../a"\n}\ndependency "old" {\n  config_path = "../old"\n  enabled     = false\n}\n',
  });
  const r = castle(dir, ['import', 'terragrunt', 'live', '--stdout']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /live\/terragrunt\.hcl:1:1: warning import\/root-config: a root configuration/);
  assert.match(r.stdout, /- name: a\n/);
  assert.match(r.stdout, /- name: b\n\s+dependsOn: \[ a \]\n/);
  assert.doesNotMatch(r.stdout, /- name: live|- name: root|-> old/);
});
