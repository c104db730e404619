export { ReadModelRunner, checkpointName } from './readModelRunner.js';
export type { Dispatch, ProjectionView, ReadModelRunnerOptions } from './readModelRunner.js';
export { TenantDeadLetters } from './tenantDeadLetters.js';
export type { ReplayReport, TenantDeadLetter } from './tenantDeadLetters.js';
