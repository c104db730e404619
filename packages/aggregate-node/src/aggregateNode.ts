import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { Logger } from '@tenantfold/core';
import {
  AggregateStore,
  isJsonObject,
  stateHash,
  TenantId,
  ValidationError,
} from '@tenantfold/core';
import type { JetStreamBackendOptions } from '@tenantfold/nats';
import {
  CircuitBreaker,
  guardBackend,
  openJetStreamBackend,
  PlacementStore,
} from '@tenantfold/nats';
import { loadManifest, loadProgramDeciders } from '@tenantfold/programs';
import { pino } from 'pino';
import { AdminServer } from './admin/adminServer.js';
import type { NodeConfig } from './config/nodeConfig.js';
import { commandService } from './grpc/commandService.js';
import { GrpcServer } from './grpc/grpcServer.js';
import { CommandHandler } from './intake/commandHandler.js';
import { PlacementOwnership } from './intake/placementOwnership.js';
import { TenantGate } from './intake/tenantGate.js';
import { NodeMetrics } from './metrics/nodeMetrics.js';

/** Lifecycle: STARTING → RUNNING → DRAINING (SIGTERM) → STOPPED. */
export type NodeState = 'STARTING' | 'RUNNING' | 'DRAINING' | 'STOPPED';

export interface NodeStartOptions {
  readonly logger?: Logger;
  /** Storage names (stream, buckets, subject prefix); tests isolate themselves with these. */
  readonly storage?: Partial<Omit<JetStreamBackendOptions, 'nc' | 'servers'>>;
  /** @default 'TENANT_PLACEMENT' */
  readonly placementBucket?: string;
  /** How often the node refreshes its heartbeat in placement. @default 2_000 ms */
  readonly heartbeatMs?: number;
}

export interface DrainReport {
  readonly tenant_id: string;
  readonly aggregates: ReadonlyArray<{
    type: string;
    id: string;
    version: number;
    position: number;
    state_hash: string;
  }>;
  readonly drained_at: string;
}

/** One aggregate node: the engine on JetStream, served over gRPC to the tenants placement gives it. */
export class AggregateNode {
  state: NodeState = 'STARTING';
  private heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    readonly config: NodeConfig,
    private readonly parts: {
      nc: NatsConnection;
      store: AggregateStore;
      placement: PlacementStore;
      ownership: PlacementOwnership;
      gate: TenantGate;
      breaker: CircuitBreaker;
      grpc: GrpcServer;
      admin: AdminServer;
      logger: Logger;
    },
    readonly grpcPort: number,
    readonly adminPort: number,
  ) {}

  static async start(config: NodeConfig, options: NodeStartOptions = {}): Promise<AggregateNode> {
    const logger: Logger =
      options.logger ?? pino({ level: config.logLevel, base: { node_id: config.nodeId } });
    const deciders = await loadProgramDeciders(await loadManifest(config.manifestPath));
    const nc = await connect({
      servers: [...config.natsServers],
      name: `tenantfold-node-${config.nodeId}`,
      noAsyncTraces: true,
      ...(config.natsUser === '' ? {} : { user: config.natsUser, pass: config.natsPassword }),
      ...(config.natsToken === '' ? {} : { token: config.natsToken }),
    });
    const backend = await openJetStreamBackend({
      ...options.storage,
      nc,
      replicas: config.streamReplicas,
      logger,
    });
    const breaker = new CircuitBreaker({ name: 'nats' });
    // Created after the store it observes; the store's rehydration hook reads it late.
    // eslint-disable-next-line prefer-const
    let metrics: NodeMetrics | undefined;
    let builder = AggregateStore.builder(guardBackend(backend, breaker)).with({
      snapshotEvery: config.snapshotEvery,
      maxRetries: config.maxRetries,
      idleTimeoutMs: config.idleTimeoutMs,
      maxLiveActors: config.maxLiveActors,
      logger,
      onRehydrated: (key, seconds) =>
        metrics?.rehydrationDuration.observe({ aggregate_type: key.type }, seconds),
    });
    for (const decider of deciders) builder = builder.aggregate(decider);
    const store = await builder.open();
    metrics = new NodeMetrics({
      tenantLabelCap: config.tenantLabelCap,
      liveActors: () => store.liveActors,
    });
    const breakerGauge = metrics.breakerOpen;
    breakerGauge.set({ breaker: breaker.name }, 0);
    breaker.onStateChange((change) => {
      breakerGauge.set({ breaker: change.name }, change.to === 'CLOSED' ? 0 : 1);
      logger.warn(
        { breaker: change.name, from: change.from, to: change.to },
        'circuit breaker changed',
      );
    });
    const placement = await PlacementStore.open(nc, { bucket: options.placementBucket });
    const ownership = new PlacementOwnership(config.nodeId, placement, logger);
    await ownership.start();
    const gate = new TenantGate();
    const handler = new CommandHandler({
      store,
      gate,
      metrics,
      ownership,
      logger,
      allowDefaultTenant: config.allowDefaultTenant,
    });
    const grpc = new GrpcServer(config.grpcListen, { CommandService: commandService(handler) });
    const grpcPort = (await grpc.start()).port;
    // eslint-disable-next-line prefer-const -- assigned after the admin hooks that close over it
    let node: AggregateNode;
    const admin = new AdminServer(
      { ...config.adminListen, token: config.adminToken, logger },
      {
        health: () => Promise.resolve(node.health()),
        ready: () => node.readiness(),
        metrics: async () => ({
          contentType: metrics.registry.contentType,
          body: await metrics.registry.metrics(),
        }),
        admin: {
          'GET /tenants': () => node.tenants(),
          'POST /drain': (body) => node.drain(tenantOfBody(body)),
          'POST /resume': (body) => Promise.resolve(node.resume(tenantOfBody(body))),
        },
      },
    );
    const adminPort = (await admin.start()).port;
    node = new AggregateNode(
      config,
      { nc, store, placement, ownership, gate, breaker, grpc, admin, logger },
      grpcPort,
      adminPort,
    );
    await placement.registerNode(
      {
        id: config.nodeId,
        grpcAddress: `${config.advertiseHost}:${grpcPort}`,
        adminAddress: `${config.advertiseHost}:${adminPort}`,
        tenantRange: config.tenantRange,
      },
      { expectedRevision: (await placement.getNode(config.nodeId))?.revision ?? 0 },
    );
    node.heartbeat = setInterval(() => {
      placement
        .heartbeat(config.nodeId)
        .catch((error: unknown) => logger.warn({ err: error }, 'heartbeat failed'));
    }, options.heartbeatMs ?? 2_000);
    node.heartbeat.unref();
    node.state = 'RUNNING';
    logger.info({ grpcPort, adminPort, aggregateTypes: store.aggregateTypes }, 'node running');
    return node;
  }

  health(): { ok: boolean } & Record<string, unknown> {
    const natsConnected = !this.parts.nc.isClosed();
    const breaker = this.parts.breaker.state;
    return {
      ok: natsConnected && breaker !== 'OPEN' && this.state !== 'STOPPED',
      state: this.state,
      nats: natsConnected ? 'connected' : 'closed',
      breaker,
      live_aggregates: this.parts.store.liveActors,
    };
  }

  readiness(): { ready: boolean; reason?: string } {
    if (this.state !== 'RUNNING') return { ready: false, reason: `node is ${this.state}` };
    if (this.parts.breaker.state === 'OPEN')
      return { ready: false, reason: 'NATS circuit breaker open' };
    if (!this.parts.ownership.loaded) return { ready: false, reason: 'placement not loaded' };
    return { ready: true };
  }

  /** Tenants with aggregates in storage that this node owns, with their aggregate counts. */
  async tenants(): Promise<Array<{ tenant_id: string; aggregates: number; in_flight: number }>> {
    const counts = new Map<TenantId, number>();
    for await (const key of this.parts.store.backend.eventLog.streams()) {
      if (this.parts.ownership.owns(key.tenant))
        counts.set(key.tenant, (counts.get(key.tenant) ?? 0) + 1);
    }
    return [...counts].map(([tenant, aggregates]) => ({
      tenant_id: tenant,
      aggregates,
      in_flight: this.parts.gate.inFlight(tenant),
    }));
  }

  /**
   * Stops intake for one tenant, waits for its in-flight commands, flushes
   * snapshots, and reports every aggregate's last position and state hash.
   */
  async drain(tenant: TenantId): Promise<DrainReport> {
    await this.parts.gate.close(tenant, this.config.drainTimeoutMs);
    await this.parts.store.flush();
    const aggregates: DrainReport['aggregates'][number][] = [];
    for await (const key of this.parts.store.backend.eventLog.streams({ tenant })) {
      const snapshot = await this.parts.store.stateOf(key);
      aggregates.push({
        type: key.type,
        id: key.id,
        version: snapshot.version,
        position: snapshot.position,
        state_hash: stateHash(snapshot.state),
      });
    }
    this.parts.logger.info({ tenant_id: tenant, aggregates: aggregates.length }, 'tenant drained');
    return { tenant_id: tenant, aggregates, drained_at: new Date().toISOString() };
  }

  resume(tenant: TenantId): { tenant_id: string; resumed: true } {
    this.parts.gate.reopen(tenant);
    return { tenant_id: tenant, resumed: true };
  }

  /** Graceful stop: not ready, no intake, in-flight finished, snapshots flushed, placement left, NATS drained. */
  async stop(): Promise<void> {
    if (this.state === 'STOPPED' || this.state === 'DRAINING') return;
    this.state = 'DRAINING';
    const { gate, grpc, store, placement, ownership, nc, admin, logger } = this.parts;
    clearInterval(this.heartbeat);
    await gate
      .closeAll(this.config.drainTimeoutMs)
      .catch((error: unknown) => logger.warn({ err: error }, 'drain timed out'));
    await grpc.stop(this.config.drainTimeoutMs);
    await placement
      .setNodeStatus(this.config.nodeId, 'down')
      .catch((error: unknown) => logger.warn({ err: error }, 'could not leave placement'));
    ownership.stop();
    await store.close();
    await nc.drain();
    await admin.stop();
    this.state = 'STOPPED';
    logger.info({}, 'node stopped');
  }
}

function tenantOfBody(body: unknown): TenantId {
  if (!isJsonObject(body) || typeof body.tenant_id !== 'string') {
    throw new ValidationError('body must be {"tenant_id": "..."}', 'tenant_id');
  }
  return TenantId.parse(body.tenant_id);
}
