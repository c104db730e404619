import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger, StorageBackend, TenantId } from '@tenantfold/core';
import { dataLimitsOf, Uuid } from '@tenantfold/core';
import type { CircuitBreaker, JetStreamBackend, PlacementStore } from '@tenantfold/nats';
import { DEFAULT_PLACEMENT_BUCKET } from '@tenantfold/nats';
import { commandSubject } from '@tenantfold/wire';
import { pino } from 'pino';
import { adminRoutes } from './admin/adminRoutes.js';
import { AdminServer } from './admin/adminServer.js';
import type { NodeConfig } from './config/nodeConfig.js';
import { EngineSlot } from './engine/engineSlot.js';
import type { NodeEngine } from './engine/nodeEngine.js';
import { commandService } from './grpc/commandService.js';
import { GrpcServer } from './grpc/grpcServer.js';
import type { CommandHandler } from './intake/commandHandler.js';
import { CommandInbox } from './intake/commandInbox.js';
import type { PlacementOwnership } from './intake/placementOwnership.js';
import { TenantGate } from './intake/tenantGate.js';
import type { NodeMetrics } from './metrics/nodeMetrics.js';
import type { TenantMigration } from './migration/index.js';
import type { QueryService } from './queries/queryService.js';
import type { StateLog, StateReadModel } from './queries/stateReadModel.js';
import { indexesOf } from './queries/stateReadModel.js';
import type { Dispatch, TenantDeadLetters } from './reactors/index.js';
import type { StorageOptions } from './wiring.js';
import {
  commandHandler,
  engineLoader,
  nodeMetrics,
  openPlacement,
  openStateRows,
  openStorage,
  processManagerDispatch,
  queryService,
  stateLogOf,
  tenantDeadLetters,
  tenantMigration,
} from './wiring.js';

/** Lifecycle: STARTING → RUNNING → DRAINING (SIGTERM) → STOPPED. */
export type NodeState = 'STARTING' | 'RUNNING' | 'DRAINING' | 'STOPPED';

export interface NodeStartOptions extends StorageOptions {
  readonly logger?: Logger;
  /** How often the node refreshes its heartbeat in placement. @default 2_000 ms */
  readonly heartbeatMs?: number;
}

/** What the node is made of; the engine in its slot is replaced by a reload. */
interface NodeParts {
  readonly nc: NatsConnection;
  readonly backend: JetStreamBackend;
  /** The backend behind the NATS breaker. */
  readonly guarded: StorageBackend;
  readonly placement: PlacementStore;
  readonly ownership: PlacementOwnership;
  readonly gate: TenantGate;
  readonly breaker: CircuitBreaker;
  readonly metrics: NodeMetrics;
  readonly handler: CommandHandler;
  readonly migration: TenantMigration;
  readonly deadLetters: TenantDeadLetters;
  readonly dispatch: Dispatch;
  readonly states: StateReadModel;
  readonly queries: QueryService;
  /** The log and current engine as the state read model reads them. */
  readonly stateLog: () => StateLog;
  readonly logger: Logger;
  readonly engines: EngineSlot;
  readonly loadEngine: () => Promise<NodeEngine>;
  /** Names the node's command inbox subject (one namespace per placement bucket). */
  readonly placementBucket: string;
}

/** One aggregate node: the engine on JetStream, served over gRPC to the tenants placement gives it. */
export class AggregateNode {
  state: NodeState = 'STARTING';
  private heartbeat: NodeJS.Timeout | undefined;
  private grpc: GrpcServer | undefined;
  private inbox: CommandInbox | undefined;
  private admin: AdminServer | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  grpcPort = 0;
  adminPort = 0;

  private constructor(
    readonly config: NodeConfig,
    private readonly parts: NodeParts,
  ) {}

  private get engine(): NodeEngine {
    return this.parts.engines.engine;
  }

  static async start(config: NodeConfig, options: NodeStartOptions = {}): Promise<AggregateNode> {
    const logger: Logger =
      options.logger ?? pino({ level: config.logLevel, base: { node_id: config.nodeId } });
    const { nc, backend, breaker, guarded } = await openStorage(config, options, logger);
    const { placement, ownership } = await openPlacement(config, nc, options, logger);
    const gate = new TenantGate();
    const states = openStateRows(config, nc, options, logger);
    const engines = new EngineSlot();
    const metrics = nodeMetrics(config, { engines, states, breaker }, logger);
    const handler = commandHandler(config, { engines, gate, metrics, ownership }, logger);
    const dispatch = processManagerDispatch(handler);
    const loadEngine = engineLoader(
      config,
      { backend, guarded, engines, states, metrics, dispatch, ownership, gate },
      logger,
    );
    engines.replace(await loadEngine());
    states.model.setIndexes(indexesOf(engines.engine.manifest));
    const stateLog = stateLogOf(backend, engines);
    const parts = { nc, engines, states, stateLog, handler, ownership, gate, placement };
    const node = new AggregateNode(config, {
      ...parts,
      backend,
      guarded,
      breaker,
      metrics,
      dispatch,
      loadEngine,
      logger,
      queries: queryService(config, parts),
      migration: tenantMigration(config, { ...parts, backend }, logger),
      deadLetters: tenantDeadLetters(guarded, engines),
      placementBucket: options.placementBucket ?? DEFAULT_PLACEMENT_BUCKET,
    });
    await node.serve(options.heartbeatMs ?? 2_000);
    return node;
  }

  /** Opens gRPC and admin HTTP, registers in placement, starts heartbeat and read models. */
  private async serve(heartbeatMs: number): Promise<void> {
    const { config } = this;
    const { placement, logger, handler } = this.parts;
    // A request is a command at most (or a query): no larger than the command limit
    // and room for its envelope, so grpc-js never decodes more for one call.
    const maxReceiveBytes = dataLimitsOf(config).commandBytes + 64 * 1024;
    this.grpc = new GrpcServer(
      { ...config.grpcListen, maxReceiveBytes },
      {
        CommandService: commandService(handler),
        QueryService: this.parts.queries.implementation,
      },
    );
    this.grpcPort = (await this.grpc.start()).port;
    this.inbox = new CommandInbox(
      this.parts.nc,
      commandSubject(this.parts.placementBucket, config.nodeId, Uuid.new().slice(-12)),
      handler,
      logger,
    );
    await this.inbox.start();
    this.admin = new AdminServer(
      { ...config.adminListen, token: config.adminToken, logger },
      {
        health: () => Promise.resolve(this.health()),
        ready: () => this.readiness(),
        metrics: async () => ({
          contentType: this.parts.metrics.registry.contentType,
          body: await this.parts.metrics.registry.metrics(),
        }),
        admin: adminRoutes({
          ...this.parts,
          eventLog: this.parts.guarded.eventLog,
          readModels: () => this.engine.readModels,
          storedTenants: () => this.storedTenants(),
          reload: () => this.reload(),
        }),
      },
    );
    this.adminPort = (await this.admin.start()).port;
    await placement.registerNode(
      {
        id: config.nodeId,
        grpcAddress: `${config.advertiseHost}:${this.grpcPort}`,
        commandSubject: this.inbox.subject,
        adminAddress: `${config.advertiseHost}:${this.adminPort}`,
        tenantRange: config.tenantRange,
      },
      { expectedRevision: (await placement.getNode(config.nodeId))?.revision ?? 0 },
    );
    this.heartbeat = setInterval(() => {
      placement
        .heartbeat(config.nodeId)
        .catch((error: unknown) => logger.warn({ err: error }, 'heartbeat failed'));
    }, heartbeatMs);
    this.heartbeat.unref();
    const stored = await this.storedTenants();
    await this.parts.states.start(
      stored.filter((tenant) => this.parts.ownership.owns(tenant)),
      this.engine.store.aggregateTypes,
      this.parts.stateLog(),
    );
    this.engine.readModels.start(stored);
    this.state = 'RUNNING';
    logger.info(
      { grpcPort: this.grpcPort, adminPort: this.adminPort, ...this.engine.summary },
      'node running',
    );
  }

  health(): { ok: boolean } & Record<string, unknown> {
    const natsConnected = !this.parts.nc.isClosed();
    const breaker = this.parts.breaker.state;
    return {
      ok: natsConnected && breaker !== 'OPEN' && this.state !== 'STOPPED',
      state: this.state,
      nats: natsConnected ? 'connected' : 'closed',
      breaker,
      live_aggregates: this.engine.store.liveActors,
    };
  }

  readiness(): { ready: boolean; reason?: string } {
    if (this.state !== 'RUNNING') return { ready: false, reason: `node is ${this.state}` };
    if (this.parts.breaker.state === 'OPEN')
      return { ready: false, reason: 'NATS circuit breaker open' };
    if (!this.parts.ownership.loaded) return { ready: false, reason: 'placement not loaded' };
    return { ready: true };
  }

  /**
   * Loads the manifest again and swaps in its programs. Everything is read and
   * compiled first: a manifest with any problem leaves the running programs
   * as they are and the call fails with the problems listed.
   */
  reload(): Promise<{ reloaded: true } & NodeEngine['summary']> {
    const run = this.reloading.then(async () => {
      const next = await this.parts.loadEngine();
      const previous = this.engine;
      this.parts.states.model.setIndexes(indexesOf(next.manifest));
      this.parts.engines.replace(next);
      await previous.close();
      next.readModels.start([...previous.readModels.knownTenants, ...(await this.storedTenants())]);
      this.parts.logger.info(next.summary, 'manifest reloaded');
      return { reloaded: true as const, ...next.summary };
    });
    this.reloading = run.catch(() => undefined);
    return run;
  }

  /** Graceful stop: not ready, no intake, in-flight finished, snapshots flushed, placement left, NATS drained. */
  async stop(): Promise<void> {
    if (this.state === 'STOPPED' || this.state === 'DRAINING') return;
    this.state = 'DRAINING';
    const { gate, placement, ownership, nc, backend, logger } = this.parts;
    clearInterval(this.heartbeat);
    await gate
      .closeAll(this.config.drainTimeoutMs)
      .catch((error: unknown) => logger.warn({ err: error }, 'drain timed out'));
    this.parts.queries.closeAll();
    await this.inbox?.stop(this.config.drainTimeoutMs);
    await this.grpc?.stop(this.config.drainTimeoutMs);
    await this.reloading;
    await this.engine.close();
    this.parts.states.close();
    await placement
      .setNodeStatus(this.config.nodeId, 'down')
      .catch((error: unknown) => logger.warn({ err: error }, 'could not leave placement'));
    ownership.stop();
    await backend.close();
    await nc.drain();
    await this.admin?.stop();
    this.state = 'STOPPED';
    logger.info({}, 'node stopped');
  }

  private async storedTenants(): Promise<TenantId[]> {
    const tenants = new Set<TenantId>();
    for await (const key of this.parts.backend.eventLog.streams()) tenants.add(key.tenant);
    return [...tenants];
  }
}
