import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addressType, selectGhosts } from '../../src/targets/terraform/ghosts.js';
import { describeLock, parseGoTime, parseLockError } from '../../src/targets/terraform/lock-info.js';
import { formatDiagnostic, parseUiLine, UiReport } from '../../src/targets/terraform/ui-stream.js';

// Lines as Terraform 1.x prints them with -json (shapes from HashiCorp's machine-readable UI reference
// and internal/command/views/json).
const STREAM = [
  '{"@level":"info","@message":"Terraform 1.9.8","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:00.000000Z","terraform":"1.9.8","type":"version","ui":"1.2"}',
  '{"@level":"info","@message":"proxmox_vm_qemu.cp: Plan to create","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:00.100000Z","change":{"resource":{"addr":"proxmox_vm_qemu.cp","module":"","resource":"proxmox_vm_qemu.cp","implied_provider":"proxmox","resource_type":"proxmox_vm_qemu","resource_name":"cp","resource_key":null},"action":"create"},"type":"planned_change"}',
  '{"@level":"info","@message":"Plan: 2 to add, 0 to change, 1 to destroy.","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:00.200000Z","changes":{"add":2,"change":0,"import":0,"remove":1,"operation":"plan"},"type":"change_summary"}',
  '{"@level":"info","@message":"proxmox_vm_qemu.cp: Creating...","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:00.300000Z","hook":{"resource":{"addr":"proxmox_vm_qemu.cp","resource_type":"proxmox_vm_qemu"},"action":"create"},"type":"apply_start"}',
  '{"@level":"info","@message":"proxmox_vm_qemu.cp: Still creating... [10s elapsed]","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:10.300000Z","hook":{"resource":{"addr":"proxmox_vm_qemu.cp"},"action":"create","elapsed_seconds":10},"type":"apply_progress"}',
  '{"@level":"info","@message":"proxmox_vm_qemu.cp: Creation complete after 42s [id=421]","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:42.300000Z","hook":{"resource":{"addr":"proxmox_vm_qemu.cp"},"action":"create","id_key":"id","id_value":"421","elapsed_seconds":42.5},"type":"apply_complete"}',
  '{"@level":"info","@message":"talos_machine_bootstrap.this: Creation errored after 3s","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:45.000000Z","hook":{"resource":{"addr":"talos_machine_bootstrap.this"},"action":"create","elapsed_seconds":3},"type":"apply_errored"}',
  '{"@level":"error","@message":"Error: bootstrap failed","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:45.100000Z","diagnostic":{"severity":"error","summary":"bootstrap failed","detail":"connection refused\\nretry later","address":"talos_machine_bootstrap.this","range":{"filename":"main.tf","start":{"line":12,"column":3,"byte":200},"end":{"line":12,"column":40,"byte":237}}},"type":"diagnostic"}',
  '{"@level":"info","@message":"Outputs: 2","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:46.000000Z","outputs":{"endpoint":{"sensitive":false,"type":"string","value":"10.0.0.5"},"token":{"sensitive":true,"type":"string"}},"type":"outputs"}',
  '{"@level":"info","@message":"Apply complete! Resources: 1 added, 0 changed, 1 destroyed.","@module":"terraform.ui","@timestamp":"2026-12-01T10:00:47.000000Z","changes":{"add":1,"change":0,"import":0,"remove":1,"operation":"apply"},"type":"change_summary"}',
];

test('the JSON UI stream becomes counts, per-resource durations, diagnostics with file:line and outputs', () => {
  const r = new UiReport();
  const notes = STREAM.map((l) => parseUiLine(l)).map((m) => (m ? r.take(m) : 'NOT PARSED'));
  assert.ok(!notes.includes('NOT PARSED'));
  assert.equal(r.version, 'Terraform 1.9.8');
  assert.deepEqual(r.plan, { add: 2, change: 0, import: 0, remove: 1, operation: 'plan' });
  assert.deepEqual(r.result, { add: 1, change: 0, import: 0, remove: 1, operation: 'apply' });
  assert.deepEqual(r.completed, [{ addr: 'proxmox_vm_qemu.cp', action: 'create', seconds: 42.5 }]);
  assert.deepEqual(r.errored, [{ addr: 'talos_machine_bootstrap.this', action: 'create', seconds: 3 }]);
  assert.ok(notes.includes('plan: 2 to add, 0 to change, 1 to destroy'));
  assert.ok(notes.includes('proxmox_vm_qemu.cp: create done in 42.5s'));
  assert.ok(notes.includes('proxmox_vm_qemu.cp: still creating (10s)'));
  assert.equal(r.errors().length, 1);
  assert.equal(
    formatDiagnostic(r.errors()[0]!, 'live/engine'),
    'live/engine/main.tf:12:3: Error: bootstrap failed: connection refused (talos_machine_bootstrap.this)',
  );
  assert.deepEqual(r.outputs, { endpoint: { sensitive: false, type: 'string', value: '10.0.0.5' }, token: { sensitive: true, type: 'string' } });
});

test('lines that are not UI messages are left to the log; another major UI version is reported', () => {
  assert.equal(parseUiLine('time=2026-12-01T10:00:00Z level=info msg=Downloading Terraform configurations'), undefined);
  assert.equal(parseUiLine('{"not":"a ui message"}'), undefined);
  assert.equal(parseUiLine('{broken'), undefined);
  const r = new UiReport();
  r.take(parseUiLine('{"@level":"info","@message":"Terraform 9.0.0","type":"version","ui":"2.0"}')!);
  assert.match(r.unsupported ?? '', /2\.0/);
});

const LOCK_PLAIN = `
Error: Error acquiring the state lock

Error message: ConditionalCheckFailedException: The conditional request failed
Lock Info:
  ID:        3d20d141-88c4-bb14-d677-88c5c9ec329a
  Path:      tazlab-terraform-state/platform/terraform.tfstate
  Operation: OperationTypeApply
  Who:       taz@tazpod
  Version:   1.9.8
  Created:   2026-07-23 21:13:45.004096153 +0000 UTC
  Info:      

Terraform acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
`;

test('the state-lock error is read from plain text, from the boxed form and from a JSON diagnostic', () => {
  const expected = {
    id: '3d20d141-88c4-bb14-d677-88c5c9ec329a',
    path: 'tazlab-terraform-state/platform/terraform.tfstate',
    operation: 'OperationTypeApply',
    who: 'taz@tazpod',
    version: '1.9.8',
    created: '2026-07-23 21:13:45.004096153 +0000 UTC',
    info: '',
    message: 'ConditionalCheckFailedException: The conditional request failed',
  };
  assert.deepEqual(parseLockError(LOCK_PLAIN), expected);
  const boxed = [
    '╷',
    ...LOCK_PLAIN.trim()
      .split('\n')
      .map((l) => (l ? `│ ${l}` : '│ ')),
    '╵',
  ].join('\n');
  assert.deepEqual(parseLockError(boxed), expected);
  const diag = JSON.stringify({
    '@level': 'error',
    '@message': 'Error: Error acquiring the state lock',
    type: 'diagnostic',
    diagnostic: { severity: 'error', summary: 'Error acquiring the state lock', detail: LOCK_PLAIN.split('\n').slice(3).join('\n') },
  });
  const m = parseUiLine(diag);
  assert.ok(m && m.type === 'diagnostic');
  assert.deepEqual(parseLockError(`${m.diagnostic.summary}\n${m.diagnostic.detail}`), expected);
  assert.equal(parseLockError('Error: Error acquiring the state lock\n\nError message: resource not found\n'), undefined);
  assert.equal(parseGoTime(expected.created), Date.parse('2026-07-23T21:13:45.004Z'));
  assert.match(describeLock(expected), /held by taz@tazpod \(OperationTypeApply, Terraform 1\.9\.8, since 2026-07-23 21:13:45/);
});

test('ghost selection: managed resources of the listed types, inside modules, keys with dots, never data sources', () => {
  assert.deepEqual(addressType('module.vms["a.b"].proxmox_vm_qemu.worker[1]'), { type: 'proxmox_vm_qemu', data: false });
  assert.deepEqual(addressType('module.talos.data.talos_client_configuration.this'), { type: 'talos_client_configuration', data: true });
  const state = [
    'proxmox_vm_qemu.cp',
    'module.w.proxmox_vm_qemu.worker["x.y"]',
    'talos_machine_secrets.this',
    'data.talos_image_factory_urls.this',
    'local_file.kubeconfig',
  ];
  assert.deepEqual(selectGhosts(state, ['proxmox_vm_qemu']), ['proxmox_vm_qemu.cp', 'module.w.proxmox_vm_qemu.worker["x.y"]']);
  assert.deepEqual(selectGhosts(state, true), [
    'proxmox_vm_qemu.cp',
    'module.w.proxmox_vm_qemu.worker["x.y"]',
    'talos_machine_secrets.this',
    'local_file.kubeconfig',
  ]);
});
