export { ProgramProjection } from './programProjection.js';
export type { ProgramReactorOptions } from './programProjection.js';
export { ProgramProcessManager } from './programProcessManager.js';
