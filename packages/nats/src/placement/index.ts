export { PlacementStore } from './store.js';
export type { PlacementWatch } from './watch.js';
export type { PlacementStoreOptions, WriteOptions, NodeRegistration } from './store.js';
export { PlacementConflictError, PlacementEntryError } from './errors.js';
export { createPlacement } from './snapshot.js';
export type { PlacementInput } from './snapshot.js';
export {
  resolveOwner,
  ringDistribution,
  movesIfNodeAdded,
  movesIfNodeRemoved,
  tenantRing,
} from './resolveOwner.js';
export type { TenantRing, RingDistribution, TenantMove, MovePlan } from './resolveOwner.js';
export {
  checkNodeId,
  nodeKey,
  pinKey,
  migrationKey,
  RING_KEY,
  MAX_VNODES,
  MAX_WEIGHT,
} from './codec.js';
export {
  DEFAULT_PLACEMENT_BUCKET,
  DEFAULT_VNODES,
  NODE_STATUSES,
  MIGRATION_PHASES,
} from './types.js';
export type {
  NodeStatus,
  NodeRecord,
  RingSettings,
  Pin,
  MigrationPhase,
  MigrationRecord,
  Stored,
  Placement,
  PlacementIssue,
} from './types.js';
