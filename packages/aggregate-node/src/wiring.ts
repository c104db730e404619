import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AggregateStoreOptions, Logger, StorageBackend } from '@tenantfold/core';
import { dataLimitsOf, stateHash } from '@tenantfold/core';
import type { JetStreamBackend, JetStreamBackendOptions } from '@tenantfold/nats';
import {
  CircuitBreaker,
  connectNats,
  guardBackend,
  openJetStreamBackend,
  PlacementStore,
} from '@tenantfold/nats';
import { SubscriptionLimits } from '@tenantfold/query/live';
import type { NodeConfig } from './config/nodeConfig.js';
import type { EngineSlot } from './engine/engineSlot.js';
import { NodeEngine } from './engine/nodeEngine.js';
import { CommandHandler } from './intake/commandHandler.js';
import { PlacementOwnership } from './intake/placementOwnership.js';
import type { TenantGate } from './intake/tenantGate.js';
import { NodeMetrics } from './metrics/nodeMetrics.js';
import { TenantMigration } from './migration/index.js';
import { QueryService } from './queries/queryService.js';
import type { StateLog } from './queries/stateReadModel.js';
import { StateReadModel } from './queries/stateReadModel.js';
import type { Dispatch } from './reactors/index.js';
import { TenantDeadLetters } from './reactors/index.js';

// The node's parts, one builder each, in the order `AggregateNode.start` builds them.

/** Where the node stores: storage names, placement bucket. */
export interface StorageOptions {
  /** Storage names (stream, buckets, subject prefix); tests isolate themselves with these. */
  readonly storage?: Partial<Omit<JetStreamBackendOptions, 'nc' | 'servers'>>;
  /** @default 'TENANT_PLACEMENT' */
  readonly placementBucket?: string;
}

/** NATS, the JetStream backend and the same backend behind the NATS circuit breaker. */
export async function openStorage(
  config: NodeConfig,
  options: StorageOptions,
  logger: Logger,
): Promise<{
  nc: NatsConnection;
  backend: JetStreamBackend;
  breaker: CircuitBreaker;
  guarded: StorageBackend;
}> {
  const nc = await connectNats(config, { name: `tenantfold-node-${config.nodeId}` });
  const backend = await openJetStreamBackend({
    ...options.storage,
    nc,
    replicas: config.streamReplicas,
    logger,
  });
  const breaker = new CircuitBreaker({ name: 'nats' });
  return { nc, backend, breaker, guarded: guardBackend(backend, breaker) };
}

/** The placement store and this node's view of what it owns there (loaded). */
export async function openPlacement(
  config: NodeConfig,
  nc: NatsConnection,
  options: StorageOptions,
  logger: Logger,
): Promise<{ placement: PlacementStore; ownership: PlacementOwnership }> {
  const placement = await PlacementStore.open(nc, { bucket: options.placementBucket });
  const ownership = new PlacementOwnership(config.nodeId, placement, logger);
  await ownership.start();
  return { placement, ownership };
}

/** The state rows of the node's tenants, in a SQLite file of its own. */
export function openStateRows(
  config: NodeConfig,
  nc: NatsConnection,
  options: StorageOptions,
  logger: Logger,
): StateReadModel {
  return StateReadModel.open({
    path: config.readModelPath || defaultReadModelPath(config.nodeId, options.storage?.streamName),
    cursorSecret: config.queryCursorSecret,
    nc,
    logger,
  });
}

/**
 * `<tmp>/tenantfold/<node>/<stream>/read-model.sqlite`: a node's file never
 * mixes two event logs. The read model can always be rebuilt from the log,
 * so by default it lives where any user can write (a container's /app is not
 * theirs); deployments put it on a volume to skip the rebuild after a restart.
 */
function defaultReadModelPath(nodeId: string, streamName = 'EVENTS'): string {
  return join(tmpdir(), 'tenantfold', nodeId, streamName, 'read-model.sqlite');
}

/** The node's metrics, the breaker's state among them. */
export function nodeMetrics(
  config: NodeConfig,
  parts: { engines: EngineSlot; states: StateReadModel; breaker: CircuitBreaker },
  logger: Logger,
): NodeMetrics {
  const { engines, states, breaker } = parts;
  const metrics = new NodeMetrics({
    tenantLabelCap: config.tenantLabelCap,
    liveActors: () => engines.loaded?.store.liveActors ?? 0,
    quarantined: () => states.model.quarantinedCount,
  });
  metrics.breakerOpen.set({ breaker: breaker.name }, 0);
  breaker.onStateChange((change) => {
    metrics.breakerOpen.set({ breaker: change.name }, change.to === 'CLOSED' ? 0 : 1);
    logger.warn(
      { breaker: change.name, from: change.from, to: change.to },
      'circuit breaker changed',
    );
  });
  return metrics;
}

/** The command path: ownership, fencing, intake, metrics; a commit wakes the reactors. */
export function commandHandler(
  config: NodeConfig,
  parts: {
    engines: EngineSlot;
    gate: TenantGate;
    metrics: NodeMetrics;
    ownership: PlacementOwnership;
  },
  logger: Logger,
): CommandHandler {
  const { engines, gate, metrics, ownership } = parts;
  return new CommandHandler({
    store: () => engines.engine.store,
    gate,
    metrics,
    ownership,
    logger,
    allowDefaultTenant: config.allowDefaultTenant,
    onCommitted: (tenant) => engines.loaded?.readModels.notify(tenant),
    intakeBytesPerTenant: config.tenantIntakeMb * 1024 * 1024,
  });
}

/** Process managers' commands take the clients' path: ownership, fencing, intake, metrics. */
export function processManagerDispatch(handler: CommandHandler): Dispatch {
  return (envelope) =>
    handler.submit(
      { tenant: typeof envelope.tenant_id === 'string' ? envelope.tenant_id : undefined },
      envelope,
    );
}

/** Loads the manifest into a new engine (at start and on each reload). */
export function engineLoader(
  config: NodeConfig,
  parts: {
    backend: JetStreamBackend;
    guarded: StorageBackend;
    engines: EngineSlot;
    states: StateReadModel;
    metrics: NodeMetrics;
    dispatch: Dispatch;
    ownership: PlacementOwnership;
    gate: TenantGate;
  },
  logger: Logger,
): () => Promise<NodeEngine> {
  const { backend, guarded, engines, states, metrics, dispatch, ownership, gate } = parts;
  const storeOptions: Partial<AggregateStoreOptions> = {
    limits: dataLimitsOf(config),
    snapshotEvery: config.snapshotEvery,
    maxRetries: config.maxRetries,
    idleTimeoutMs: config.idleTimeoutMs,
    maxLiveActors: config.maxLiveActors,
    ...(config.actorMemoryMb > 0 ? { maxLiveBytes: config.actorMemoryMb * 1024 * 1024 } : {}),
    logger,
    onRehydrated: (key, seconds) =>
      metrics.rehydrationDuration.observe({ aggregate_type: key.type }, seconds),
    commitObserver: {
      ...states.observer,
      appended: (commit) => {
        states.observer.appended?.(commit);
        engines.loaded?.readModels.appended(commit);
      },
    },
  };
  return () =>
    NodeEngine.load(config.manifestPath, {
      backend: guarded,
      readModelStorage: {
        log: backend.eventLog,
        checkpoints: guarded.checkpoints,
        deadLetters: guarded.deadLetters,
      },
      storeOptions,
      dispatch,
      owns: (tenant) => ownership.owns(tenant),
      mayDispatch: (tenant) => ownership.serves(tenant) && !gate.isClosed(tenant),
      logger,
      sweepMs: config.readModelSweepMs,
      onSkipped: (projection) => metrics.projectionSkips.inc({ projection }),
    });
}

/** The log and current engine as the state rows read them. */
export function stateLogOf(backend: JetStreamBackend, engines: EngineSlot): () => StateLog {
  return () => ({
    eventLog: backend.eventLog,
    stateOf: (key) => engines.engine.store.stateOf(key),
    refresh: (key) => {
      engines.engine.store.evict(key);
    },
  });
}

/** gRPC QueryService over the state rows. */
export function queryService(
  config: NodeConfig,
  parts: {
    nc: NatsConnection;
    engines: EngineSlot;
    states: StateReadModel;
    stateLog: () => StateLog;
    handler: CommandHandler;
    ownership: PlacementOwnership;
  },
): QueryService {
  const { nc, engines, states, stateLog, handler, ownership } = parts;
  return new QueryService({
    model: states.model,
    handler,
    ownership,
    ready: (tenant) => states.ready(tenant, stateLog()),
    types: () => engines.engine.store.aggregateTypes,
    nc,
    limits: new SubscriptionLimits({
      perTenant: config.subscriptionsPerTenant,
      total: config.subscriptionsTotal,
    }),
    allowDefaultTenant: config.allowDefaultTenant,
    waitMs: config.queryWaitMs,
    subscriberBuffer: config.subscriberBuffer,
  });
}

/** A tenant's move to or from this node, with its reactors and state rows. */
export function tenantMigration(
  config: NodeConfig,
  parts: {
    engines: EngineSlot;
    gate: TenantGate;
    ownership: PlacementOwnership;
    placement: PlacementStore;
    states: StateReadModel;
    stateLog: () => StateLog;
    backend: JetStreamBackend;
  },
  logger: Logger,
): TenantMigration {
  const { engines, gate, ownership, placement, states, stateLog, backend } = parts;
  const readModels = () => engines.engine.readModels;
  return new TenantMigration({
    nodeId: config.nodeId,
    store: () => engines.engine.store,
    log: {
      lastPosition: () => backend.eventLog.lastPosition(),
      commitsSince: (tenant, after) => backend.eventLog.readAll({ tenant }, after),
    },
    gate,
    ownership,
    placement,
    logger,
    drainTimeoutMs: config.drainTimeoutMs,
    readModels: {
      loaded: (tenant) => readModels().catchUp(tenant),
      drained: (tenant) => readModels().saveNow(tenant),
      verified: (tenant) => readModels().reload(tenant),
      released: (tenant) => readModels().forget(tenant),
    },
    stateRows: {
      build: async (tenant) => {
        await states.rebuild(tenant, stateLog());
      },
      catchUp: (tenant) => states.catchUp(tenant, stateLog()),
      put: (keys, known) => states.put(keys, stateLog(), known),
      settle: (tenant, position) => states.settle(tenant, position),
      digest: (tenant) => {
        states.flush(); // the commits of this turn belong in the proof
        return states.model.digest(tenant);
      },
      row: (tenant, type, id) => {
        const row = states.model.get(tenant, type, id);
        return row === undefined
          ? undefined
          : { version: row.version, state_hash: stateHash(row.state) };
      },
      count: (tenant) => {
        states.flush();
        return states.model.rowCount(tenant);
      },
      drop: (tenant) => {
        states.drop(tenant);
      },
    },
  });
}

/** Process managers' dead letters per tenant, for the admin routes. */
export function tenantDeadLetters(guarded: StorageBackend, engines: EngineSlot): TenantDeadLetters {
  return new TenantDeadLetters(
    guarded.deadLetters,
    guarded.checkpoints,
    () => engines.engine.readModels.processManagerNames,
  );
}
