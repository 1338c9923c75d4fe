import type { SecretSource } from './source.js';

/**
 * The process environment as a read-only source (CI injects secrets this way). With a prefix,
 * `get('X')` reads `${prefix}X`, so unrelated variables stay out of reach.
 */
export class EnvSource implements SecretSource {
  readonly description: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #prefix: string;

  constructor(opts: { prefix?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.#env = opts.env ?? process.env;
    this.#prefix = opts.prefix ?? '';
    this.description = this.#prefix ? `environment variables ${this.#prefix}*` : 'environment variables';
  }

  async get(key: string): Promise<string | undefined> {
    return this.#env[this.#prefix + key];
  }

  async list(): Promise<string[]> {
    return Object.keys(this.#env)
      .filter((k) => k.startsWith(this.#prefix) && this.#env[k] !== undefined)
      .map((k) => k.slice(this.#prefix.length));
  }
}
