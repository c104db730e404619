/**
 * Sandboxed decide/evolve programs (isolated-vm) and the `aggregates.yaml`
 * manifest that names them.
 */
export {
  DEFAULT_ISOLATES_PER_PROGRAM,
  MAX_ISOLATES_PER_PROGRAM,
  ProgramRuntime,
  contentHash,
  DEFAULT_PROGRAM_LIMITS,
  PROGRAM_LIMIT_RANGES,
  PROGRAM_FUNCTIONS,
} from './sandbox/index.js';
export type {
  ProgramRuntimeOptions,
  ProgramRuntimeStats,
  ProgramLimits,
  Program,
  ProgramSource,
  ProgramFunction,
  CallOptions,
  CallOutcome,
} from './sandbox/index.js';
export { ProgramDecider } from './decider/index.js';
export type { ProgramDeciderOptions } from './decider/index.js';
export {
  loadManifest,
  loadManifestPrograms,
  loadProgramDeciders,
  ManifestError,
} from './manifest/index.js';
export { ProgramProjection, ProgramProcessManager } from './reactors/index.js';
export type { ProgramReactorOptions } from './reactors/index.js';
export type {
  LoadProgramDecidersOptions,
  Manifest,
  ManifestIssue,
  AggregateDefinition,
  ProgramFile,
  QuerySettings,
  ReactorDefinition,
  ManifestPrograms,
} from './manifest/index.js';
