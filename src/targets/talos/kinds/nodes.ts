import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StepKind } from '../../../core/step.js';
import { fail } from '../../../core/result.js';
import { sleep } from '../../../os/sleep.js';
import { durationMs, type WithinConfig } from '../config.js';
import type { TalosSession } from '../session.js';
import { talosError } from '../talosctl.js';

const appliedFile = (s: TalosSession) => join(s.dir, 'applied.json');

/** Machine configs to the nodes in maintenance mode (apply-config --insecure), once per config: a node that got this config already is left alone. */
export const runApply: StepKind<Record<string, never>, TalosSession>['run'] = async (_c, ctx, session) => {
  const t = await session.talosctl(ctx);
  if (!t.ok) return t;
  const applied: Record<string, string> = existsSync(appliedFile(session)) ? JSON.parse(readFileSync(appliedFile(session), 'utf8')) : {};
  const nodes = [
    ...session.block.controlPlane.map((ip) => [ip, 'controlplane'] as const),
    ...(session.block.workers ?? []).map((ip) => [ip, 'worker'] as const),
  ];
  let sent = 0;
  for (const [ip, role] of nodes) {
    const file = join(session.generated, `${role}.yaml`);
    if (!existsSync(file)) return fail(`${file} is missing: the talos.configs step makes it`, { retryable: false });
    const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
    if (applied[ip] === hash) {
      ctx.log(`${ip}: this ${role} config is already applied\n`);
      continue;
    }
    ctx.note(`applying the ${role} config to ${ip}`);
    const r = await t.value.run(['apply-config', '--insecure', '--nodes', ip, '--file', file], ctx);
    if (r.code !== 0) return fail(`talosctl apply-config to ${ip} (${role}): ${talosError(r)}`, { retryable: /Unavailable|DeadlineExceeded/.test(r.stderr) });
    applied[ip] = hash;
    writeFileSync(appliedFile(session), JSON.stringify(applied, null, 2));
    sent++;
  }
  return { ok: true, summary: sent ? `configs applied to ${sent} nodes` : 'every node already has its config' };
};

const clientArgs = (s: TalosSession) => ['--nodes', s.firstControlPlane, '--endpoints', s.firstControlPlane, '--talosconfig', s.talosconfig];

/**
 * etcd bootstrapped once on the first control plane node. `AlreadyExists: etcd data directory is not
 * empty` means it was done; "not available yet" and connection errors are retried (as Talos's own
 * provisioner does) until the deadline; anything else fails.
 */
export const runBootstrap: StepKind<WithinConfig, TalosSession>['run'] = async (c, ctx, session) => {
  const t = await session.talosctl(ctx);
  if (!t.ok) return t;
  const deadline = Date.now() + durationMs(c.within, 10 * 60_000);
  for (let attempt = 1; ; attempt++) {
    const r = await t.value.run(['bootstrap', ...clientArgs(session)], ctx);
    if (r.code === 0) return { ok: true, summary: `etcd bootstrapped on ${session.firstControlPlane}` };
    const err = talosError(r);
    if (/code = AlreadyExists desc = etcd data directory is not empty/.test(r.stderr))
      return { ok: true, summary: `etcd already bootstrapped on ${session.firstControlPlane}` };
    const transient = /code = (FailedPrecondition|Unavailable|DeadlineExceeded|Canceled)|connection refused|error reading from server: EOF/.test(r.stderr);
    if (!transient) return fail(`talosctl bootstrap on ${session.firstControlPlane}: ${err}`, { retryable: false });
    if (Date.now() > deadline || ctx.signal.aborted)
      return fail(`talosctl bootstrap on ${session.firstControlPlane} did not succeed before the deadline (${attempt} attempts); last: ${err}`, {
        retryable: true,
      });
    ctx.note(`bootstrap not possible yet (${err.replace(/^.*desc = /, '')}); retrying`);
    await sleep(1000, ctx.signal);
  }
};

/** The cluster's kubeconfig into the castle's state (talos/kubeconfig, mode 0600), never merged into ~/.kube/config. */
export const runKubeconfig: StepKind<Record<string, never>, TalosSession>['run'] = async (_c, ctx, session) => {
  const t = await session.talosctl(ctx);
  if (!t.ok) return t;
  const r = await t.value.run(['kubeconfig', session.kubeconfig, '--merge=false', '--force', ...clientArgs(session)], ctx);
  if (r.code !== 0) return fail(`talosctl kubeconfig: ${talosError(r)}`, { retryable: true });
  if (!existsSync(session.kubeconfig)) return fail(`talosctl kubeconfig exited 0 but wrote no ${session.kubeconfig}`);
  // it holds the cluster's admin credentials
  chmodSync(session.kubeconfig, 0o600);
  return { ok: true, summary: `kubeconfig in ${session.kubeconfig}` };
};

/**
 * `talosctl health` under Castle's own deadline: --wait-timeout is set to it and the process is
 * killed at it. Before Talos 1.13 each check also stopped at 5 minutes whatever --wait-timeout said,
 * so a DeadlineExceeded before Castle's deadline runs health again.
 */
export const runHealth: StepKind<WithinConfig, TalosSession>['run'] = async (c, ctx, session) => {
  const t = await session.talosctl(ctx);
  if (!t.ok) return t;
  const total = durationMs(c.within, 15 * 60_000);
  const deadline = Date.now() + total;
  const b = session.block;
  let last = '';
  for (;;) {
    const left = deadline - Date.now();
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.max(1, left))]);
    const args = [
      'health',
      ...clientArgs(session),
      '--wait-timeout',
      `${Math.max(1, Math.ceil(left / 1000))}s`,
      '--control-plane-nodes',
      b.controlPlane.join(','),
    ];
    if (b.workers?.length) args.push('--worker-nodes', b.workers.join(','));
    const r = await t.value.run(args, ctx, { signal });
    const waiting = r.stderr.split('\n').filter((l) => l.startsWith('waiting for '));
    last = waiting[waiting.length - 1] ?? last;
    if (r.code === 0) return { ok: true, summary: `healthy: ${waiting.filter((l) => l.endsWith(': OK')).length} checks OK` };
    if (ctx.signal.aborted) return fail('cancelled');
    if (Date.now() >= deadline || r.aborted) {
      const detail = r.stderr.slice(r.stderr.lastIndexOf('waiting for ')).trim() || last;
      return fail(`the Talos cluster is not healthy after ${Math.round(total / 1000)} s (Castle's deadline); talosctl last said: ${detail}`, {
        retryable: true,
      });
    }
    if (!/DeadlineExceeded|context deadline exceeded/.test(r.stderr)) return fail(`talosctl health: ${talosError(r)}`, { retryable: true });
    ctx.note('talosctl health stopped at its own per-check limit (Talos < 1.13): running it again');
  }
};

/** Down: the nodes back to maintenance mode; a node that does not answer is gone already. */
export const runReset: StepKind<Record<string, never>, TalosSession>['run'] = async (_c, ctx, session) => {
  const t = await session.talosctl(ctx);
  if (!t.ok) return t;
  const nodes = [...(session.block.workers ?? []), ...session.block.controlPlane];
  let reset = 0;
  for (const ip of nodes) {
    const r = await t.value.run(['reset', '--graceful=false', '--reboot', '--nodes', ip, '--endpoints', ip, '--talosconfig', session.talosconfig], ctx);
    if (r.code === 0) reset++;
    else if (!/connection refused|no route to host|Unavailable/.test(r.stderr)) return fail(`talosctl reset of ${ip}: ${talosError(r)}`, { retryable: true });
  }
  if (existsSync(appliedFile(session))) writeFileSync(appliedFile(session), '{}');
  return { ok: true, summary: `${reset} nodes reset, ${nodes.length - reset} already gone` };
};
