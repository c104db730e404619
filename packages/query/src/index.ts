// @tenantfold/query: the SQLite state read model (keyset pages, signed
// cursors, expression indexes, quarantine), the filter's SQL back end, and the
// embedded store's query engine. This entry loads better-sqlite3; the filter
// language (`@tenantfold/query/language`) and the live-subscription parts
// (`@tenantfold/query/live`) are subpaths of their own that do not.
export { compileFilter } from './sql/index.js';
export type { SqlFragment, SqlParam } from './sql/index.js';
export {
  ReadModel,
  DEFAULT_LIMIT,
  MAX_LIMIT,
  MAX_PAGE_BYTES,
  stateDigest,
  changeOf,
  parseIndexPath,
} from './readModel/index.js';
export type {
  ReadModelOptions,
  StateChange,
  StateRow,
  AppliedChange,
  QueryRequest,
  QueryPage,
  TenantSummary,
  OpenReport,
  OpenStatus,
  IndexChanges,
  QuarantinedRow,
} from './readModel/index.js';
export {
  sqliteQueryEngine,
  STORE_READ_MODEL_FILE,
  latestStates,
  commitName,
  quarantineIn,
  initialPages,
  initialSet,
} from './store/index.js';
export type { SqliteQueryEngineOptions, StateSource, UnfoldableState } from './store/index.js';
