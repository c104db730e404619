export {
  DEFAULT_ISOLATES_PER_PROGRAM,
  MAX_ISOLATES_PER_PROGRAM,
  ProgramRuntime,
  contentHash,
} from './programRuntime.js';
export type { ProgramRuntimeOptions, ProgramRuntimeStats } from './programRuntime.js';
export {
  DEFAULT_PROGRAM_LIMITS,
  PROGRAM_LIMIT_KEYS,
  PROGRAM_LIMIT_RANGES,
  limitProblem,
  resolveLimits,
} from './limits.js';
export type { ProgramLimits } from './limits.js';
export type { Program, ProgramSource, CallOptions, CallOutcome, BatchMode } from './program.js';
export { PROGRAM_FUNCTIONS } from './bootstrap.js';
export type { ProgramFunction } from './bootstrap.js';
