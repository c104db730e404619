// Public entry of @tenantfold/placement-controller: explicit exports.
export { runPlacementctl } from './cli/program.js';
export { EXIT } from './cli/exitCodes.js';
export type { CliIo } from './cli/output.js';
export { CONTROLLER_SETTINGS, loadControllerConfig } from './config/settings.js';
export type { ControllerConfig } from './config/settings.js';
export { connectCluster } from './cluster/cluster.js';
export type { Cluster, ClusterSettings } from './cluster/cluster.js';
export { NodeAdminClient, NodeAdminError, adminUrl } from './admin/nodeAdminClient.js';
export type {
  AggregatePosition,
  DrainReport,
  NodeAddress,
  PositionReport,
  VerifyReport,
  VerifyScope,
} from './admin/nodeAdminClient.js';
export {
  Migrator,
  MigrationInFlightError,
  MigrationSupersededError,
} from './migration/migrator.js';
export type { MigratorOptions, MigrateOptions } from './migration/migrator.js';
export { MigrationMetrics } from './migration/metrics.js';
export { DEFAULT_MIGRATION_TIMEOUTS } from './migration/types.js';
export type { MigrationResult, MigrationTimeouts, PhaseEvent } from './migration/types.js';
export { planRebalance } from './rebalance/plan.js';
export type { RebalancePlan, PlannedMove } from './rebalance/plan.js';
export { applyRebalance } from './rebalance/apply.js';
export type { ApplyOptions, RebalanceOutcome } from './rebalance/apply.js';
export { swarmStack } from './swarm/stack.js';
export type { StackImages, StackOptions } from './swarm/stack.js';
export { DEFAULT_PORTS, PORT_NAMES, resolveLayout } from './swarm/layout.js';
export type {
  Machine,
  NodeMachine,
  PortName,
  RouterPublish,
  StackLayout,
  StackNetwork,
} from './swarm/layout.js';
export { swarmConstraints, constraintsScript } from './swarm/constraints.js';
export type { RangeConstraints } from './swarm/constraints.js';
export { ControllerService } from './service/controllerService.js';
export type { ControllerServiceOptions } from './service/controllerService.js';
