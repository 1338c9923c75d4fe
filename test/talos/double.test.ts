// The talosctl double against the v1.15 CLI reference (website/content/v1.15/reference/cli.md): short
// flags per command (-f is --file for apply-config but --force for gen and kubeconfig, -m is --mode or
// --merge), gen config honouring --kubernetes-version, --install-image and --talos-version, and the
// refusals' texts (existing files without --force).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { installTalosctl } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'castle-talosctl-double-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = join(dir, 'cluster-kubeconfig');
const talos = installTalosctl(join(dir, 'double'), { nodes: { '10.5.0.2': 'maintenance' }, kubeconfig });
spawnSync('sh', ['-c', `printf 'apiVersion: v1\\nkind: Config\\n' > '${kubeconfig}'`]);

function talosctl(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(talos.bin, 'talosctl'), args, { cwd: dir, encoding: 'utf8', env: { ...process.env, ...talos.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const docs = (f: string): Record<string, any>[] => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Record<string, any>);

test('gen secrets and gen config: -o and -f as the reference has them, existing files refused without --force', () => {
  const bundle = join(dir, 'secrets.yaml');
  assert.equal(talosctl('gen', 'secrets', '-o', bundle).code, 0);
  const again = talosctl('gen', 'secrets', '-o', bundle);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `file ${JSON.stringify(bundle)} already exists, use --force to overwrite\n`);
  assert.equal(talosctl('gen', 'secrets', '-o', bundle, '-f').code, 0, '-f is --force under gen');

  const out = join(dir, 'out');
  const g = talosctl(
    'gen',
    'config',
    'tazlab',
    'https://10.5.0.2:6443',
    '--with-secrets',
    bundle,
    '-o',
    out,
    '--kubernetes-version',
    '1.34.1',
    '--install-image',
    'factory.talos.dev/nocloud-installer/ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515:v1.15.0',
  );
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stderr, new RegExp(`^Created ${join(out, 'controlplane.yaml')}\nCreated ${join(out, 'worker.yaml')}\nCreated ${join(out, 'talosconfig')}\n$`));
  const cp = docs(join(out, 'controlplane.yaml'));
  assert.equal(cp.find((d) => d['kind'] === 'KubeletConfig')!['image'], 'ghcr.io/siderolabs/kubelet:v1.34.1');
  assert.match(cp.find((d) => d['kind'] === 'UnattendedInstall')!['installer']['image'], /nocloud-installer\/ce4c98.*:v1\.15\.0$/);
  assert.equal(talosctl('gen', 'config', 'tazlab', 'https://10.5.0.2:6443', '--with-secrets', bundle, '-o', out).code, 1, 'existing outputs need --force');

  // --talos-version v1.12: the config a 1.12 node expects, the v1alpha1 document with everything in it
  const old = join(dir, 'old');
  assert.equal(talosctl('gen', 'config', 'tazlab', 'https://10.5.0.2:6443', '--with-secrets', bundle, '-o', old, '--talos-version', 'v1.12').code, 0);
  const legacy = docs(join(old, 'worker.yaml'));
  assert.equal(legacy.length, 1);
  assert.equal(legacy[0]!['machine']['kubelet']['image'], 'ghcr.io/siderolabs/kubelet:v1.37.0-rc.1', "the reference's default Kubernetes version");
  assert.equal(legacy[0]!['machine']['install']['disk'], '/dev/sda');
});

test('apply-config -f is the file and -i insecure; kubeconfig -m=false -f writes where told, and refuses to overwrite without -f', () => {
  const file = join(dir, 'out', 'controlplane.yaml');
  const a = talosctl('apply-config', '-i', '-n', '10.5.0.2', '-f', file);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stderr, 'Applied configuration without a reboot\n');
  assert.equal(talosctl('bootstrap', '-n', '10.5.0.2', '-e', '10.5.0.2').code, 0);
  const path = join(dir, 'state', 'kubeconfig');
  assert.equal(talosctl('kubeconfig', path, '-m=false', '-n', '10.5.0.2', '-e', '10.5.0.2').code, 0);
  assert.ok(existsSync(path));
  const again = talosctl('kubeconfig', path, '-m=false', '-n', '10.5.0.2', '-e', '10.5.0.2');
  assert.equal(again.code, 1);
  assert.equal(again.stderr, `kubeconfig file already exists, use --force to overwrite: ${JSON.stringify(path)}\n`);
  assert.equal(talosctl('kubeconfig', path, '-m=false', '-f', '-n', '10.5.0.2', '-e', '10.5.0.2').code, 0, '-f is --force for kubeconfig');
});
