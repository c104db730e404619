export { ReadModelRunner } from './readModelRunner.js';
export type { ProjectionView, ReadModelRunnerOptions } from './readModelRunner.js';
export type { Dispatch } from './managerDispatch.js';
export { TenantDeadLetters } from './tenantDeadLetters.js';
export type { ReplayReport, TenantDeadLetter } from './tenantDeadLetters.js';
