// The machine-readable UI of `terraform|tofu apply|destroy -json` (ui "1.x": Terraform >= 1.1, OpenTofu
// 1.6+), read one line at a time into step notes. Unknown message types and fields are ignored, as
// the UI's compatibility rules ask; a major version other than 1 is reported.

export interface ResourceAddr {
  readonly addr: string;
  readonly resource_type?: string;
}

export interface DiagRange {
  readonly filename: string;
  readonly start: { readonly line: number; readonly column: number };
}

export interface TfDiagnostic {
  readonly severity: 'error' | 'warning';
  readonly summary: string;
  readonly detail?: string;
  readonly address?: string;
  readonly range?: DiagRange;
}

export interface ChangeCounts {
  readonly add: number;
  readonly change: number;
  readonly import?: number;
  readonly remove: number;
  readonly operation: 'plan' | 'apply' | 'destroy';
}

export interface OutputValue {
  readonly value?: unknown;
  readonly type?: unknown;
  readonly sensitive: boolean;
}

/** The messages Castle acts on; everything else is `other`. */
export type UiMessage =
  | { readonly type: 'version'; readonly ui: string; readonly tool: string }
  | { readonly type: 'planned_change'; readonly addr: string; readonly action: string }
  | { readonly type: 'change_summary'; readonly changes: ChangeCounts }
  | { readonly type: 'apply_start'; readonly addr: string; readonly action: string }
  | { readonly type: 'apply_progress'; readonly addr: string; readonly action: string; readonly elapsed: number }
  | { readonly type: 'apply_complete'; readonly addr: string; readonly action: string; readonly elapsed: number }
  | { readonly type: 'apply_errored'; readonly addr: string; readonly action: string; readonly elapsed: number }
  | { readonly type: 'diagnostic'; readonly diagnostic: TfDiagnostic }
  | { readonly type: 'outputs'; readonly outputs: Readonly<Record<string, OutputValue>> }
  | { readonly type: 'other'; readonly message: string; readonly level: string };

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** One line of the stream, or undefined when it is not a UI message (Terragrunt's own log lines, text). */
export function parseUiLine(line: string): UiMessage | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  let m: Json;
  try {
    m = obj(JSON.parse(t));
  } catch {
    return undefined;
  }
  const type = str(m['type']);
  if (!type || !('@message' in m)) return undefined;
  const hook = obj(m['hook']);
  const addr = str(obj(hook['resource'])['addr']);
  const action = str(hook['action']);
  switch (type) {
    case 'version':
      return { type, ui: str(m['ui']), tool: str(m['@message']) };
    case 'planned_change': {
      const c = obj(m['change']);
      return { type, addr: str(obj(c['resource'])['addr']), action: str(c['action']) };
    }
    case 'change_summary': {
      const c = obj(m['changes']);
      const op = str(c['operation']);
      return {
        type,
        changes: {
          add: num(c['add']),
          change: num(c['change']),
          import: num(c['import']),
          remove: num(c['remove']),
          operation: op === 'apply' || op === 'destroy' ? op : 'plan',
        },
      };
    }
    case 'apply_start':
      return { type, addr, action };
    case 'apply_progress':
    case 'apply_complete':
    case 'apply_errored':
      return { type, addr, action, elapsed: num(hook['elapsed_seconds']) };
    case 'diagnostic': {
      const d = obj(m['diagnostic']);
      const r = obj(d['range']);
      const start = obj(r['start']);
      const range = str(r['filename']) ? { filename: str(r['filename']), start: { line: num(start['line']), column: num(start['column']) } } : undefined;
      return {
        type,
        diagnostic: {
          severity: d['severity'] === 'warning' ? 'warning' : 'error',
          summary: str(d['summary']),
          ...(str(d['detail']) ? { detail: str(d['detail']) } : {}),
          ...(str(d['address']) ? { address: str(d['address']) } : {}),
          ...(range ? { range } : {}),
        },
      };
    }
    case 'outputs': {
      const out: Record<string, OutputValue> = {};
      for (const [k, v] of Object.entries(obj(m['outputs']))) {
        const o = obj(v);
        out[k] = { sensitive: o['sensitive'] === true, ...('value' in o ? { value: o['value'] } : {}), ...('type' in o ? { type: o['type'] } : {}) };
      }
      return { type, outputs: out };
    }
    default:
      return { type: 'other', message: str(m['@message']), level: str(m['@level']) };
  }
}

/** `main.tf:12:3: Error: summary (address)`: where a diagnostic points, then what it says. */
export function formatDiagnostic(d: TfDiagnostic, moduleDir?: string): string {
  const where = d.range ? `${moduleDir ? `${moduleDir.replace(/\/$/, '')}/` : ''}${d.range.filename}:${d.range.start.line}:${d.range.start.column}: ` : '';
  const detail = d.detail ? `: ${d.detail.split('\n').find((l) => l.trim()) ?? ''}` : '';
  return `${where}${d.severity === 'error' ? 'Error' : 'Warning'}: ${d.summary}${detail}${d.address ? ` (${d.address})` : ''}`;
}

const secs = (s: number): string => (s >= 60 ? `${Math.floor(s / 60)}m${Math.round(s % 60)}s` : `${Math.round(s * 10) / 10}s`);

/** What a stream told: summaries, per-resource durations, diagnostics, outputs. Feed it lines; it says which deserve a note. */
export class UiReport {
  plan: ChangeCounts | undefined;
  result: ChangeCounts | undefined;
  readonly diagnostics: TfDiagnostic[] = [];
  readonly completed: { addr: string; action: string; seconds: number }[] = [];
  readonly errored: { addr: string; action: string; seconds: number }[] = [];
  outputs: Readonly<Record<string, OutputValue>> | undefined;
  version: string | undefined;
  unsupported: string | undefined;

  /** the note for this message, if it deserves one */
  take(m: UiMessage): string | undefined {
    switch (m.type) {
      case 'version':
        this.version = m.tool;
        if (m.ui && !m.ui.startsWith('1.')) this.unsupported = `machine-readable UI ${m.ui} (Castle reads 1.x)`;
        return undefined;
      case 'planned_change':
        return undefined;
      case 'change_summary':
        if (m.changes.operation === 'plan') {
          this.plan = m.changes;
          return `plan: ${m.changes.add} to add, ${m.changes.change} to change, ${m.changes.remove} to destroy`;
        }
        this.result = m.changes;
        return m.changes.operation === 'destroy'
          ? `destroyed ${m.changes.remove}`
          : `applied: ${m.changes.add} added, ${m.changes.change} changed, ${m.changes.remove} destroyed`;
      case 'apply_start':
        return `${m.addr}: ${m.action} started`;
      case 'apply_progress':
        return `${m.addr}: still ${m.action === 'delete' ? 'destroying' : m.action === 'create' ? 'creating' : m.action} (${secs(m.elapsed)})`;
      case 'apply_complete':
        this.completed.push({ addr: m.addr, action: m.action, seconds: m.elapsed });
        return `${m.addr}: ${m.action} done in ${secs(m.elapsed)}`;
      case 'apply_errored':
        this.errored.push({ addr: m.addr, action: m.action, seconds: m.elapsed });
        return `${m.addr}: ${m.action} failed after ${secs(m.elapsed)}`;
      case 'diagnostic':
        this.diagnostics.push(m.diagnostic);
        return undefined;
      case 'outputs':
        this.outputs = m.outputs;
        return undefined;
      case 'other':
        return undefined;
      default: {
        const never: never = m;
        return never;
      }
    }
  }

  errors(): TfDiagnostic[] {
    return this.diagnostics.filter((d) => d.severity === 'error');
  }
}
