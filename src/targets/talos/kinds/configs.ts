import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { checkMachineConfigFile, formatDiagnostic } from '../machine-config.js';
import type { TalosSession } from '../session.js';
import { talosError } from '../talosctl.js';

export const DEFAULT_SECRETS_KEY = 'TALOS_SECRETS_BUNDLE';

/**
 * Machine configs from the castle: talosctl present and recent enough, the secrets bundle from the
 * secret source (generated once and stored there, so regenerated configs share the PKI and the
 * secretbox key), patches checked against Talos's schema, `gen config` per role, the result checked too.
 */
export const run: StepKind<Record<string, never>, TalosSession>['run'] = async (_c, ctx, session) => {
  const t = await session.talosctl(ctx);
  if (!t.ok) return t;
  const b = session.block;
  const patches = { all: b.patches?.all ?? [], controlPlane: b.patches?.controlPlane ?? [], worker: b.patches?.worker ?? [] };
  const problems: string[] = [];
  for (const p of [...patches.all, ...patches.controlPlane, ...patches.worker]) {
    const f = resolve(ctx.castleDir, p);
    if (!existsSync(f)) {
      problems.push(`${f}: patch file not found (talos.patches in castle.yaml)`);
      continue;
    }
    for (const d of checkMachineConfigFile(f, { patch: true })) {
      if (d.severity === 'error') problems.push(formatDiagnostic(d));
      else ctx.log(`${formatDiagnostic(d)}\n`);
    }
  }
  if (problems.length) return fail(`Talos patches do not match the machine-config schema:\n${problems.join('\n')}`, { retryable: false });

  mkdirSync(session.generated, { recursive: true, mode: 0o700 });
  chmodSync(session.dir, 0o700);
  const src = await session.secrets();
  if (!src.ok) return src;
  const key = b.secrets?.key ?? DEFAULT_SECRETS_KEY;
  const bundleFile = join(session.dir, 'secrets.yaml');
  const stored = await src.value.get(key);
  if (stored) {
    writeFileSync(bundleFile, Buffer.from(stored, 'base64').toString('utf8'), { mode: 0o600 });
    ctx.log(`secrets bundle from ${src.value.description} (${key})\n`);
  } else {
    const g = await t.value.run(['gen', 'secrets', '--output-file', bundleFile, '--force'], ctx);
    if (g.code !== 0) return fail(`talosctl gen secrets: ${talosError(g)}`);
    chmodSync(bundleFile, 0o600);
    if (!src.value.set)
      return fail(`${src.value.description} is read-only: store the bundle of \`talosctl gen secrets\` under ${key} (base64) yourself`, { retryable: false });
    await src.value.set(key, readFileSync(bundleFile).toString('base64'));
    ctx.note(`new secrets bundle stored in ${src.value.description} as ${key}`);
  }
  const args = ['gen', 'config', b.clusterName, b.endpoint, '--with-secrets', bundleFile, '--output', session.generated, '--force'];
  for (const p of patches.all) args.push('--config-patch', `@${resolve(ctx.castleDir, p)}`);
  for (const p of patches.controlPlane) args.push('--config-patch-control-plane', `@${resolve(ctx.castleDir, p)}`);
  for (const p of patches.worker) args.push('--config-patch-worker', `@${resolve(ctx.castleDir, p)}`);
  if (b.installDisk) args.push('--install-disk', b.installDisk);
  if (b.talosVersion) args.push('--talos-version', b.talosVersion);
  if (b.kubernetesVersion) args.push('--kubernetes-version', b.kubernetesVersion);
  const g = await t.value.run(args, ctx);
  if (g.code !== 0) return fail(`talosctl gen config: ${talosError(g)}`, { retryable: false });
  const generated = ['controlplane.yaml', 'worker.yaml'].map((f) => join(session.generated, f));
  for (const f of [...generated, session.talosconfig]) if (existsSync(f)) chmodSync(f, 0o600);
  const found = generated.flatMap((f) => checkMachineConfigFile(f));
  for (const d of found.filter((x) => x.severity !== 'error')) ctx.log(`${formatDiagnostic(d)}\n`);
  const bad = found.filter((x) => x.severity === 'error').map(formatDiagnostic);
  if (bad.length)
    return fail(`the generated machine configs do not match Talos's schema (talosctl ${t.value.version}):\n${bad.join('\n')}`, { retryable: false });
  return {
    ok: true,
    summary: `machine configs for ${b.controlPlane.length} control plane and ${(b.workers ?? []).length} worker nodes (talosctl ${t.value.version})`,
  };
};
