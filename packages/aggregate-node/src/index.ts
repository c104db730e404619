export { CommandHandler } from './intake/commandHandler.js';
export type {
  CallContext,
  CommandHandlerOptions,
  OwnershipCheck,
  SubmitResult,
} from './intake/commandHandler.js';
export { TenantGate } from './intake/tenantGate.js';
export { NodeMetrics, TenantLabels, OVERFLOW_TENANT_LABEL } from './metrics/nodeMetrics.js';
export type { CommandOutcome } from './metrics/nodeMetrics.js';
export { GrpcServer } from './grpc/grpcServer.js';
export type { GrpcServerOptions } from './grpc/grpcServer.js';
export { commandService, callContextOf } from './grpc/commandService.js';
export { AdminServer } from './admin/adminServer.js';
export type { AdminHooks, AdminServerOptions } from './admin/adminServer.js';
export { loadNodeConfig, NODE_SETTINGS } from './config/nodeConfig.js';
export type { NodeConfig } from './config/nodeConfig.js';
export { onTermination } from './lifecycle/signals.js';
export { AggregateNode } from './aggregateNode.js';
export type { NodeState, NodeStartOptions, DrainReport } from './aggregateNode.js';
export { PlacementOwnership } from './intake/placementOwnership.js';
