/**
 * The one shape of an expected failure in Castle: a value, never an exception (exceptions are bugs).
 * `retryable: false` says a retry cannot help (bad credentials, a refused safety check).
 */
export interface Failure {
  readonly ok: false;
  readonly reason: string;
  readonly retryable?: boolean;
}

export type Result<T = void> = { readonly ok: true; readonly value: T } | Failure;

export const ok = <T>(value: T): { readonly ok: true; readonly value: T } => ({ ok: true, value });

export const fail = (reason: string, opts: { retryable?: boolean } = {}): Failure =>
  opts.retryable === undefined ? { ok: false, reason } : { ok: false, reason, retryable: opts.retryable };
