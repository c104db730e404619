export { CommandHandler } from './intake/commandHandler.js';
export type {
  CommandHandlerOptions,
  OwnershipCheck,
  SubmitResult,
} from './intake/commandHandler.js';
export { TenantGate } from './intake/tenantGate.js';
export { NodeMetrics, TenantLabels, OVERFLOW_TENANT_LABEL } from './metrics/nodeMetrics.js';
export type { CommandOutcome } from './metrics/nodeMetrics.js';
export { GrpcServer } from './grpc/grpcServer.js';
export type { GrpcServerOptions } from './grpc/grpcServer.js';
export { commandService } from './grpc/commandService.js';
export { AdminServer } from './admin/adminServer.js';
export type { AdminHooks, AdminRequest, AdminServerOptions } from './admin/adminServer.js';
export { loadNodeConfig, NODE_SETTINGS } from './config/nodeConfig.js';
export type { NodeConfig } from './config/nodeConfig.js';
export { onTermination } from './lifecycle/signals.js';
export { AggregateNode } from './aggregateNode.js';
export type { NodeState, NodeStartOptions } from './aggregateNode.js';
export { TenantMigration } from './migration/index.js';
export type {
  AggregatePosition,
  DrainReport,
  ReleaseReport,
  TenantMigrationOptions,
  VerifyMismatch,
  VerifyReport,
  WarmReport,
} from './migration/index.js';
export { NodeEngine } from './engine/nodeEngine.js';
export type { NodeEngineDeps } from './engine/nodeEngine.js';
export { ReadModelRunner, TenantDeadLetters } from './reactors/index.js';
export type {
  ProjectionView,
  ReadModelRunnerOptions,
  ReplayReport,
  TenantDeadLetter,
} from './reactors/index.js';
export { PlacementOwnership, isFenced } from './intake/placementOwnership.js';
