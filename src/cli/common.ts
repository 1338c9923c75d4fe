import { readFileSync } from 'node:fs';
import type { Analysis, Diagnostic } from '../diag/diagnostic.js';
import { formatDiagnostics } from '../diag/printer.js';
import type { EventEnvelope, EventSink } from '../events.js';
import { loadCastle } from '../spec/load.js';
import type { CastleSpec } from '../spec/types.js';
import { PlainSink } from '../sinks/plain.js';
import { TtySink } from '../sinks/tty.js';
import { defaultRegistry } from '../targets/registry.js';

import { CliExit, EXIT_INVALID } from './exit.js';

export { CliExit, EXIT_FAILED, EXIT_INVALID, EXIT_OK } from './exit.js';

export function sourceLookup(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function printDiagnostics(diags: readonly Diagnostic[]): void {
  process.stderr.write(formatDiagnostics(diags, sourceLookup) + '\n');
}

export interface CastleOptions {
  file: string;
  stateDir?: string;
}

/** An analysis's value; its diagnostics printed, and the command ended with EXIT_INVALID when it has none. */
export function valueOrExit<T>(res: Analysis<T>): T {
  if (!res.ok) {
    printDiagnostics(res.diagnostics);
    throw new CliExit(EXIT_INVALID, '');
  }
  if (res.warnings.length > 0) printDiagnostics(res.warnings);
  return res.value;
}

export async function loadOrExit(opts: CastleOptions): Promise<CastleSpec> {
  return valueOrExit(await loadCastle(opts.file, defaultRegistry(), opts.stateDir ? { stateDir: opts.stateDir } : {}));
}

class JsonSink implements EventSink {
  handle(ev: EventEnvelope): void {
    process.stdout.write(JSON.stringify(ev) + '\n');
  }
}

/** --json streams events; a terminal gets the live tree; anything else one line per event. */
export function pickSinks(json: boolean): EventSink[] {
  if (json) return [new JsonSink()];
  if (process.stdout.isTTY && !process.env['CASTLE_PLAIN']) return [new TtySink({ stream: process.stdout })];
  return [new PlainSink((line) => process.stdout.write(line + '\n'))];
}
