import { connect } from 'node:net';
import { runProcess } from '../../os/process.js';
import { sleep } from '../../os/sleep.js';
import { parseDuration } from '../../core/duration.js';
import type { StepContext, StepKind } from '../../core/step.js';

export interface WaitForConfig {
  readonly tcp?: string;
  readonly http?: string;
  readonly status?: number;
  readonly command?: string;
  readonly interval?: string;
}

function tcpOnce(target: string, signal: AbortSignal): Promise<string | undefined> {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(i + 1));
  return new Promise((resolve) => {
    const sock = connect({ host, port, signal });
    sock.setTimeout(2000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(undefined);
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve(`${target}: no answer within 2s`);
    });
    sock.once('error', (e) => resolve(`${target}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
  });
}

async function httpOnce(url: string, want: number, signal: AbortSignal): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]) });
    await res.arrayBuffer();
    return res.status === want ? undefined : `${url}: HTTP ${res.status} (waiting for ${want})`;
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return `${url}: ${cause ?? (e as Error).message}`;
  }
}

async function commandOnce(cmd: string, ctx: StepContext): Promise<string | undefined> {
  const exit = await runProcess('/bin/sh', ['-c', cmd], {
    cwd: ctx.castleDir,
    signal: ctx.signal,
    onOutput: ctx.log,
    killGraceMs: ctx.killGraceMs,
    env: process.env,
  });
  return exit.state === 'exited' && exit.code === 0 ? undefined : `${cmd}: ${exit.state === 'exited' ? `exit ${exit.code}` : exit.state}`;
}

/** A readiness gate instead of a sleep: polls until a port answers, a URL returns a status, or a command succeeds. */
export const waitForKind: StepKind<WaitForConfig, undefined> = {
  name: 'waitFor',
  description: 'poll until a TCP port accepts, an HTTP URL answers with a status, or a command exits 0',
  schema: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      tcp: { type: 'string', pattern: '^.+:[0-9]{1,5}$', description: 'host:port' },
      http: { type: 'string', pattern: '^https?://' },
      status: { type: 'integer', minimum: 100, maximum: 599 },
      command: { type: 'string', minLength: 1 },
      interval: { type: 'string' },
    },
  },
  label: (c) => `wait for ${c.tcp ?? c.http ?? c.command ?? '?'}`,
  async run(c, ctx) {
    const interval = parseDuration(c.interval ?? '250ms') ?? 250;
    let last = '';
    let polls = 0;
    while (!ctx.signal.aborted) {
      polls++;
      const problems = (
        await Promise.all([
          c.tcp ? tcpOnce(c.tcp, ctx.signal) : undefined,
          c.http ? httpOnce(c.http, c.status ?? 200, ctx.signal) : undefined,
          c.command ? commandOnce(c.command, ctx) : undefined,
        ])
      ).filter((p): p is string => p !== undefined);
      if (problems.length === 0) return { ok: true, summary: `ready after ${polls} poll${polls === 1 ? '' : 's'}` };
      if (problems.join('; ') !== last) {
        last = problems.join('; ');
        ctx.log(`not ready: ${last}\n`);
        ctx.note(`waiting: ${last}`);
      }
      await sleep(interval, ctx.signal);
    }
    return { ok: false, reason: `not ready: ${last || 'stopped before the first poll'}` };
  },
};
