export { ReadModel } from './readModel.js';
export { DEFAULT_LIMIT, MAX_LIMIT, MAX_PAGE_BYTES } from './queryPlanner.js';
export { stateDigest } from './stateDigest.js';
export type { ReadModelOptions } from './readModel.js';
export { changeOf } from './types.js';
export type {
  StateChange,
  StateRow,
  AppliedChange,
  QueryRequest,
  QueryPage,
  TenantSummary,
} from './types.js';
export type { OpenReport, OpenStatus } from './database.js';
export type { IndexChanges } from './indexes.js';
export { parseIndexPath } from './indexes.js';
export type { QuarantinedRow } from './quarantine.js';
