import { locate, type PathSeg } from '../../diag/yaml-source.js';
import type { Diagnostic, Severity, SourceLocation } from '../../diag/diagnostic.js';
import type { ManifestDoc } from '../documents.js';

/** Where a path inside a manifest sits in its file. */
export function locateIn(d: ManifestDoc, path: readonly PathSeg[], key = false): SourceLocation {
  return locate(d.src, [...d.base, ...path], { doc: d.doc, key });
}

export function diag(d: ManifestDoc, severity: Severity, rule: string, message: string, path: readonly PathSeg[], o: { key?: boolean; hint?: string } = {}): Diagnostic {
  return { severity, rule, message, location: locateIn(d, path, o.key ?? false), ...(o.hint ? { hint: o.hint } : {}) };
}

export function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i === -1 ? '' : apiVersion.slice(0, i);
}

/** `<Kind>/<namespace>/<name>` for messages */
export function describe(d: ManifestDoc): string {
  return `${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name}`;
}
