import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { castle, castleDir, events, runIds } from '../helpers/cli.js';
import { allText, DOUBLE, setModule, TERRAGRUNT, tfCastle, tfState } from './helpers.js';

const TOKEN = 'pve-token-4f9a1c77-very-secret';
const SENSITIVE = 'talos-machine-secret-0b8e';

const notes = (dir: string): string[] => events(dir).flatMap((e) => (e.type === 'step-note' ? [`${e.stepId}: ${e.message}`] : []));

test('a full up: init, the JSON progress as notes, outputs passed to the layers after, secrets masked and never in argv', () => {
  const dir = tfCastle(
    `  - name: platform
    apply: [{terraform.apply: {cwd: platform}}]
    destroy: [{terraform.destroy: {cwd: platform}}]
  - name: engine
    dependsOn: [platform]
    apply: [{terraform.apply: {cwd: engine, outputsFrom: [platform]}}]
    destroy: [{terraform.destroy: {cwd: engine, outputsFrom: [platform]}}]
`,
    {
      platform: {
        requireEnv: ['PROXMOX_VE_API_TOKEN'],
        resources: [
          { type: 'proxmox_vm_qemu', name: 'cp', id: '421', seconds: 1 },
          { type: 'proxmox_vm_qemu', name: 'worker', id: '431' },
        ],
        outputs: { control_plane_ip: { value: '192.0.2.10' }, machine_secret: { value: SENSITIVE, sensitive: true } },
      },
      engine: {
        variables: ['control_plane_ip', 'machine_secret'],
        resources: [{ type: 'talos_machine_bootstrap', name: 'this', id: 'boot' }],
        outputs: { endpoint: { value: 'https://${var.control_plane_ip}:6443' }, secret_seen: { value: '${var.machine_secret}', sensitive: true } },
      },
    },
    '  secrets: {dotenv: secrets.env, vars: [PROXMOX_VE_API_TOKEN]}\n',
  );
  writeFileSync(join(dir, 'secrets.env'), `PROXMOX_VE_API_TOKEN=${TOKEN}\n`, { mode: 0o600 });
  const r = castle(dir, ['up']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  // the engine module got the platform's outputs as TF_VAR_ values, the sensitive one included
  assert.equal(tfState(dir, 'engine').outputs['endpoint']!.value, 'https://192.0.2.10:6443');
  assert.equal(tfState(dir, 'engine').outputs['secret_seen']!.value, SENSITIVE);
  const n = notes(dir);
  assert.ok(n.includes(`up/platform/0: ${DOUBLE} init`), 'a module never initialised is initialised first');
  for (const expected of [
    'up/platform/0: plan: 2 to add, 0 to change, 0 to destroy',
    'up/platform/0: proxmox_vm_qemu.cp: create started',
    'up/platform/0: proxmox_vm_qemu.cp: still creating (1s)',
    'up/platform/0: proxmox_vm_qemu.cp: create done in 1s',
    'up/platform/0: applied: 2 added, 0 changed, 0 destroyed',
    'up/platform/0: outputs: control_plane_ip, machine_secret (sensitive)',
    'up/engine/0: talos_machine_bootstrap.this: create done in 0s',
  ]) {
    assert.ok(n.includes(expected), `note ${expected} in:\n${n.join('\n')}`);
  }
  assert.match(r.stdout, /up\/platform\/0 succeeded .* -- 2 added, 0 changed, 0 destroyed/);
  // the outputs survive the run (a --resume or a later run reads them); the token and the sensitive output appear in no log, event or report
  const state = JSON.parse(readFileSync(join(dir, '.castle/terraform/outputs/platform.json'), 'utf8'));
  assert.equal(state.outputs.control_plane_ip.value, '192.0.2.10');
  const logs = allText(join(dir, '.castle', 'runs')) + r.stdout + r.stderr;
  assert.ok(!logs.includes(TOKEN), 'the provider token is masked');
  assert.ok(!logs.includes(SENSITIVE), 'a sensitive output is masked');
  // what Castle recorded of the commands it ran (their argv) holds no secret either
  assert.ok(!allText(join(dir, '.castle', 'terraform', 'ledger')).includes(TOKEN));

  // a second up is a no-op apply, and the down destroys in reverse order with the variables it needs
  assert.equal(castle(dir, ['up']).code, 0);
  assert.ok(notes(dir).some((x) => x === 'up/platform/0: plan: 0 to add, 0 to change, 0 to destroy'));
  const down = castle(dir, ['down']);
  assert.equal(down.code, 0, down.stdout + down.stderr);
  assert.deepEqual(tfState(dir, 'platform').resources, []);
  assert.ok(notes(dir).includes('down/platform/0: destroyed 2'));
  assert.equal(runIds(dir).length, 3);
});

test("a failing apply: the resource's failure and its diagnostic with file:line:col in the step's reason", () => {
  const dir = tfCastle(
    `  - name: engine
    apply: [{terraform.apply: {cwd: live/engine}}]
`,
    {
      'live/engine': {
        resources: [
          { type: 'talos_machine_configuration_apply', name: 'cp', id: 'cp' },
          {
            type: 'talos_machine_bootstrap',
            name: 'this',
            id: 'boot',
            seconds: 1,
            fail: {
              summary: 'error bootstrapping the cluster',
              detail: 'rpc error: code = Unavailable desc = connection refused',
              filename: 'bootstrap.tf',
              line: 12,
              column: 3,
            },
          },
        ],
      },
    },
  );
  const r = castle(dir, ['up']);
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /up\/engine\/0 failed .*apply failed: live\/engine\/bootstrap\.tf:12:3: Error: error bootstrapping the cluster: rpc error: code = Unavailable desc = connection refused \(talos_machine_bootstrap\.this\)/,
  );
  const n = notes(dir);
  assert.ok(n.includes('up/engine/0: talos_machine_bootstrap.this: create failed after 1s'), n.join('\n'));
  assert.ok(n.includes('up/engine/0: talos_machine_configuration_apply.cp: create done in 0s'));
  const log = readFileSync(join(dir, '.castle', 'runs', runIds(dir).pop()!, 'steps', 'up__engine__0.log'), 'utf8');
  assert.match(log, /bootstrap\.tf:12:3: Error: error bootstrapping the cluster/);
});

test('--resume: the outputs of a layer applied by the failed run come from the state dir', () => {
  const engine = (fail: boolean) => ({
    variables: ['control_plane_ip'],
    resources: [
      {
        type: 'talos_machine_bootstrap',
        name: 'this',
        id: 'boot',
        ...(fail ? { fail: { summary: 'bootstrap timed out', filename: 'main.tf', line: 3, column: 1 } } : {}),
      },
    ],
    outputs: { endpoint: { value: 'https://${var.control_plane_ip}:6443' } },
  });
  const dir = tfCastle(
    `  - name: platform
    apply: [{terraform.apply: {cwd: platform}}]
  - name: engine
    dependsOn: [platform]
    apply: [{terraform.apply: {cwd: engine, outputsFrom: [platform]}}]
`,
    {
      platform: { resources: [{ type: 'proxmox_vm_qemu', name: 'cp', id: '421' }], outputs: { control_plane_ip: { value: '192.0.2.10' } } },
      engine: engine(true),
    },
  );
  assert.equal(castle(dir, ['up']).code, 1);
  setModule(dir, 'engine', engine(false));
  const r = castle(dir, ['up', '--resume']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(!events(dir).some((e) => e.type === 'step-started' && e.stepId === 'up/platform/0'), 'the platform is not applied again');
  assert.equal(tfState(dir, 'engine').outputs['endpoint']!.value, 'https://192.0.2.10:6443');
});

test('Terragrunt as the wrapper: no explicit init (it auto-inits), state commands through `run --`, its log lines kept out of the notes', () => {
  const dir = castleDir(
    `name: tg\ntarget: terraform\nterraform: {binary: ${TERRAGRUNT}, env: {TF_DOUBLE_CLOUD: cloud}}\nlayers:\n  - name: platform\n    apply: [{terraform.apply: {cwd: live/platform, ghostAfterWipe: true}}]\n    destroy: [{run: "rm -f live/platform/cloud/*"}]\n`,
    'castle-tg-',
  );
  setModule(dir, 'live/platform', { resources: [{ type: 'proxmox_vm_qemu', name: 'cp', id: '421', goneBehavior: 'error' }] });
  assert.equal(castle(dir, ['up']).code, 0);
  assert.ok(!notes(dir).some((x) => x.endsWith(' init')), 'Castle leaves init to Terragrunt');
  const r = castle(dir, ['rebirth', '--no-backup', '--i-accept-data-loss']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.ok(notes(dir).includes('up/platform/0: ghost state: removed 1 (proxmox_vm_qemu.cp)'));
  const log = readFileSync(join(dir, '.castle', 'runs', runIds(dir).pop()!, 'steps', 'up__platform__0.log'), 'utf8');
  assert.ok(log.includes(`$ ${TERRAGRUNT} run -- state rm proxmox_vm_qemu.cp`));
  assert.ok(log.includes(`$ ${TERRAGRUNT} apply -input=false -no-color -json -auto-approve`));
  assert.match(log, /INFO {3}Running command: terraform apply/);
  assert.ok(!notes(dir).some((x) => x.includes('Running command')), "Terragrunt's own lines stay in the log");
});

test('terraform.plan with expectNoChanges: a check that fails on drift, with the counts', () => {
  const dir = tfCastle(
    `  - name: platform
    apply: [{terraform.apply: {cwd: platform}}]
  - name: drift
    dependsOn: [platform]
    apply: [{terraform.plan: {cwd: other}}, {terraform.plan: {cwd: other, expectNoChanges: true}}]
`,
    {
      platform: { resources: [{ type: 'proxmox_vm_qemu', name: 'cp', id: '421' }] },
      other: { resources: [{ type: 'proxmox_vm_qemu', name: 'w', id: '431' }] },
    },
  );
  const r = castle(dir, ['up']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /up\/drift\/0 succeeded .* -- 1 to add, 0 to change, 0 to destroy/);
  assert.match(r.stdout, /up\/drift\/1 failed .*plan of other has changes: 1 to add, 0 to change, 0 to destroy/);
  const checks = events(dir).flatMap((e) => (e.type === 'check' ? [`${e.name}: ${e.ok} ${e.detail}`] : []));
  assert.deepEqual(checks, ['no drift in other: false 1 to add, 0 to change, 0 to destroy']);
  assert.deepEqual(tfState(dir, 'platform').resources.length, 1);
});
