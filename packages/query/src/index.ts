// @tenantfold/query: the filter language, its SQL and in-memory back ends,
// the SQLite state read model, and the pieces live subscriptions are made of.
export {
  parseFilter,
  parseSort,
  formatFilter,
  formatSort,
  formatField,
  FilterSyntaxError,
  MAX_FILTER_LENGTH,
  MAX_FILTER_DEPTH,
  MAX_SORT_KEYS,
} from './language/index.js';
export type {
  Filter,
  Field,
  Literal,
  ComparisonOp,
  SortKey,
  RowFieldName,
} from './language/index.js';
export { matches } from './evaluate/index.js';
export type { FilterTarget } from './evaluate/index.js';
export { compileFilter } from './sql/index.js';
export type { SqlFragment, SqlParam } from './sql/index.js';
export {
  ReadModel,
  DEFAULT_LIMIT,
  MAX_LIMIT,
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
  classifyChange,
  LiveSet,
  SubscriberBuffer,
  SlowSubscriberError,
  DEFAULT_SUBSCRIBER_BUFFER,
  notificationOf,
  stateSubject,
  encodeNotification,
  decodeNotification,
  SubscriptionLimits,
  TooManySubscriptionsError,
  DEFAULT_SUBSCRIPTIONS_PER_TENANT,
  DEFAULT_SUBSCRIPTIONS_TOTAL,
} from './live/index.js';
export type { ChangeKind, StateNotification, SubscriptionLimitsOptions } from './live/index.js';
export {
  sqliteQueryEngine,
  STORE_READ_MODEL_FILE,
  latestStates,
  quarantineIn,
  initialSet,
} from './store/index.js';
export type { SqliteQueryEngineOptions, StateSource, UnfoldableState } from './store/index.js';
