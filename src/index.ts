// Castle as a library: `import { loadCastle, buildPlan, runCastle, defaultRegistry } from 'castle'`.
// What is exported here is the public API; everything else under dist/ is internal.

// the core contract a target implements
export { ok, fail, type Failure, type Result } from './core/result.js';
export { lazyKind, type StepCheckContext, type StepContext, type StepKind, type StepResult } from './core/step.js';
export { GENERIC_TARGET, type PreflightContext, type SessionFactory, type Target } from './core/target.js';
export { TargetRegistry, type ResolvedKind } from './core/registry.js';

// the targets Castle ships
export { defaultRegistry } from './targets/registry.js';
export { genericTarget } from './targets/generic/index.js';

// castle.yaml: loading and diagnostics
export { analyzeCastle, loadCastle } from './spec/load.js';
export type { CastleSpec, LayerSpec, StepSpec } from './spec/types.js';
export type { Analysis, Diagnostic, Severity, SourceLocation } from './diag/diagnostic.js';
export { formatDiagnostic, formatDiagnostics, type SourceLookup } from './diag/printer.js';

// planning
export { buildPlan, criticalPath, layerWaves, stepInfo, type Plan, type PlannedStep, type PlanOptions } from './plan/plan.js';
export { stepHashes } from './plan/step-hash.js';

// running, and what a run leaves behind
export { runCastle, type RunOutcome, type RunRequest } from './engine/session.js';
export type { ResumeFrom } from './engine/resume.js';
export { Redactor } from './engine/redact.js';
export { listRuns, readSummary, type RunSummary } from './engine/history.js';
export {
  EVENT_LOG_VERSION,
  type CastleEvent,
  type EventEnvelope,
  type EventSink,
  type LockInfo,
  type Operation,
  type PlannedStepInfo,
  type RunStatus,
  type Section,
  type StepStatus,
} from './events.js';
