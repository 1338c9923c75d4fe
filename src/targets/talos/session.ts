import { join, resolve } from 'node:path';
import { fail, ok, type Result } from '../../core/result.js';
import type { StepContext } from '../../core/step.js';
import type { SessionFactory } from '../../core/target.js';
import { DotenvSource } from '../../secrets/dotenv.js';
import type { SecretSource } from '../../secrets/source.js';
import { talosTargetName, type TalosBlock } from './config.js';
import { findTalosctl, type Talosctl } from './talosctl.js';

/** What the talos kinds share in a run: the block, talosctl (checked once), the secret source, the state paths. */
export class TalosSession {
  #talosctl: Talosctl | undefined;
  #source: SecretSource | undefined;
  constructor(
    readonly block: TalosBlock,
    readonly castleDir: string,
    readonly stateDir: string,
  ) {}

  get dir(): string {
    return join(this.stateDir, talosTargetName);
  }
  get generated(): string {
    return join(this.dir, 'generated');
  }
  get talosconfig(): string {
    return join(this.generated, 'talosconfig');
  }
  get kubeconfig(): string {
    return join(this.dir, 'kubeconfig');
  }
  get firstControlPlane(): string {
    return this.block.controlPlane[0]!;
  }

  async talosctl(ctx: StepContext): Promise<Result<Talosctl>> {
    if (this.#talosctl) return ok(this.#talosctl);
    const t = await findTalosctl(this.block.talosctl ?? 'talosctl', this.block.minVersion ?? 'v1.12.0', ctx);
    if (t.ok) this.#talosctl = t.value;
    return t;
  }

  async secrets(): Promise<Result<SecretSource>> {
    if (this.#source) return ok(this.#source);
    const file = resolve(this.castleDir, this.block.secrets?.dotenv ?? 'secrets.env');
    const s = await DotenvSource.open(file, { create: true });
    if (!s.ok) return fail(`the secret source of the talos block: ${s.reason}`, { retryable: false });
    this.#source = s.value;
    return ok(s.value);
  }
}

export const talosSession: SessionFactory<TalosBlock, TalosSession> = {
  open: async (config, ctx) =>
    config
      ? ok(new TalosSession(config, ctx.castleDir, ctx.stateDir))
      : fail('this step belongs to the talos target: add a `talos:` block to castle.yaml (clusterName, endpoint, controlPlane)', { retryable: false }),
};
