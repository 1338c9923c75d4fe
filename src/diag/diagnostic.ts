// Expected failures are values: a diagnostic says what is wrong, where, and what to do.
export type Severity = 'error' | 'warning' | 'info';

export interface SourceLocation {
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** 1-based */
  readonly col: number;
  /** length of the offending span on its line, for the caret underline */
  readonly length?: number;
}

export interface Diagnostic {
  readonly severity: Severity;
  /** stable id, e.g. `spec/unknown-field`, `dag/cycle` */
  readonly rule: string;
  readonly message: string;
  readonly location?: SourceLocation;
  /** what the user can do about it */
  readonly hint?: string;
  /** further locations (e.g. every edge of a cycle) */
  readonly related?: readonly { readonly message: string; readonly location?: SourceLocation }[];
}

/** The result of analysis: either a validated value or the reasons it could not be built. */
export type Analysis<T> =
  { readonly ok: true; readonly value: T; readonly warnings: readonly Diagnostic[] } | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };
