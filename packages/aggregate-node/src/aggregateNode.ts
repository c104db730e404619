import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AggregateStoreOptions, Logger, TenantId } from '@tenantfold/core';
import {
  dataLimitsOf,
  TenantId as Tenant,
  UnavailableError,
  Uuid,
  ValidationError,
} from '@tenantfold/core';
import type { JetStreamBackend, JetStreamBackendOptions } from '@tenantfold/nats';
import {
  CircuitBreaker,
  connectNats,
  DEFAULT_PLACEMENT_BUCKET,
  guardBackend,
  openJetStreamBackend,
  PlacementStore,
} from '@tenantfold/nats';
import { SubscriptionLimits } from '@tenantfold/query/live';
import { commandSubject } from '@tenantfold/wire';
import { pino } from 'pino';
import type { AdminRequest } from './admin/adminServer.js';
import { AdminServer } from './admin/adminServer.js';
import type { NodeConfig } from './config/nodeConfig.js';
import { NodeEngine } from './engine/nodeEngine.js';
import { commandService } from './grpc/commandService.js';
import { GrpcServer } from './grpc/grpcServer.js';
import { CommandHandler } from './intake/commandHandler.js';
import { CommandInbox } from './intake/commandInbox.js';
import { PlacementOwnership } from './intake/placementOwnership.js';
import { TenantGate } from './intake/tenantGate.js';
import { NodeMetrics } from './metrics/nodeMetrics.js';
import { parseTenantRequest, parseVerifyRequest, TenantMigration } from './migration/index.js';
import { QueryService } from './queries/queryService.js';
import type { StateLog } from './queries/stateReadModel.js';
import { indexesOf, StateReadModel } from './queries/stateReadModel.js';
import type { Dispatch } from './readModels/index.js';
import { TenantDeadLetters } from './readModels/index.js';

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

/** What the node is made of; the engine is replaced by a reload. */
interface NodeParts {
  readonly nc: NatsConnection;
  readonly backend: JetStreamBackend;
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
    private readonly current: { engine: NodeEngine },
  ) {}

  private get engine(): NodeEngine {
    return this.current.engine;
  }

  static async start(config: NodeConfig, options: NodeStartOptions = {}): Promise<AggregateNode> {
    const logger: Logger =
      options.logger ?? pino({ level: config.logLevel, base: { node_id: config.nodeId } });
    const nc = await connectNats(config, { name: `tenantfold-node-${config.nodeId}` });
    const backend = await openJetStreamBackend({
      ...options.storage,
      nc,
      replicas: config.streamReplicas,
      logger,
    });
    const breaker = new CircuitBreaker({ name: 'nats' });
    const guarded = guardBackend(backend, breaker);
    const placement = await PlacementStore.open(nc, { bucket: options.placementBucket });
    const ownership = new PlacementOwnership(config.nodeId, placement, logger);
    await ownership.start();
    const gate = new TenantGate();
    const states = StateReadModel.open({
      path:
        config.readModelPath || defaultReadModelPath(config.nodeId, options.storage?.streamName),
      cursorSecret: config.queryCursorSecret,
      nc,
      logger,
    });
    // The engine comes later and a reload replaces it: everything reads the current one.
    const current: { engine?: NodeEngine } = {};
    const engine = (): NodeEngine => {
      if (current.engine === undefined) throw new UnavailableError('the node is starting');
      return current.engine;
    };
    const metrics = new NodeMetrics({
      tenantLabelCap: config.tenantLabelCap,
      liveActors: () => current.engine?.store.liveActors ?? 0,
      quarantined: () => states.model.quarantinedCount,
    });
    watchBreaker(breaker, metrics, logger);
    const handler = new CommandHandler({
      store: () => engine().store,
      gate,
      metrics,
      ownership,
      logger,
      allowDefaultTenant: config.allowDefaultTenant,
      onCommitted: (tenant) => current.engine?.readModels.notify(tenant),
    });
    // Process managers' commands take the clients' path: ownership, fencing, intake, metrics.
    const dispatch: Dispatch = (envelope) =>
      handler.submit(
        { tenant: typeof envelope.tenant_id === 'string' ? envelope.tenant_id : undefined },
        envelope,
      );
    const storeOptions: Partial<AggregateStoreOptions> = {
      limits: dataLimitsOf(config),
      snapshotEvery: config.snapshotEvery,
      maxRetries: config.maxRetries,
      idleTimeoutMs: config.idleTimeoutMs,
      maxLiveActors: config.maxLiveActors,
      logger,
      onRehydrated: (key, seconds) =>
        metrics.rehydrationDuration.observe({ aggregate_type: key.type }, seconds),
      commitObserver: {
        ...states.observer,
        appended: (commit) => {
          states.observer.appended?.(commit);
          current.engine?.readModels.appended(commit);
        },
      },
    };
    const loadEngine = () =>
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
    current.engine = await loadEngine();
    states.model.setIndexes(indexesOf(current.engine.manifest));
    const stateLog = (): StateLog => ({
      eventLog: backend.eventLog,
      stateOf: (key) => engine().store.stateOf(key),
    });
    const queries = new QueryService({
      model: states.model,
      handler,
      ownership,
      ready: (tenant) => states.ready(tenant, stateLog()),
      types: () => engine().store.aggregateTypes,
      nc,
      limits: new SubscriptionLimits({
        perTenant: config.subscriptionsPerTenant,
        total: config.subscriptionsTotal,
      }),
      allowDefaultTenant: config.allowDefaultTenant,
      waitMs: config.queryWaitMs,
      subscriberBuffer: config.subscriberBuffer,
    });
    const readModels = () => engine().readModels;
    const migration = new TenantMigration({
      nodeId: config.nodeId,
      store: () => engine().store,
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
        digest: (tenant) => {
          states.flush(); // the commits of this turn belong in the proof
          return states.model.digest(tenant);
        },
        drop: (tenant) => {
          states.drop(tenant);
        },
      },
    });
    const node = new AggregateNode(
      config,
      {
        nc,
        backend,
        placement,
        ownership,
        gate,
        breaker,
        metrics,
        handler,
        migration,
        dispatch,
        states,
        queries,
        stateLog,
        deadLetters: new TenantDeadLetters(
          guarded.deadLetters,
          guarded.checkpoints,
          () => engine().readModels.processManagerNames,
        ),
        logger,
        loadEngine,
        placementBucket: options.placementBucket ?? DEFAULT_PLACEMENT_BUCKET,
      },
      current as { engine: NodeEngine },
    );
    await node.serve(options.heartbeatMs ?? 2_000);
    return node;
  }

  /** Opens gRPC and admin HTTP, registers in placement, starts heartbeat and read models. */
  private async serve(heartbeatMs: number): Promise<void> {
    const { config } = this;
    const { placement, logger, handler } = this.parts;
    this.grpc = new GrpcServer(config.grpcListen, {
      CommandService: commandService(handler),
      QueryService: this.parts.queries.implementation,
    });
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
        admin: this.adminRoutes(),
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

  private adminRoutes(): Record<string, (request: AdminRequest) => Promise<unknown>> {
    const { migration, deadLetters, dispatch } = this.parts;
    const tenantOfQuery = (request: AdminRequest): TenantId => {
      const tenant = request.query.get('tenant_id');
      if (tenant === null)
        throw new ValidationError('query parameter tenant_id is required', 'tenant_id');
      return Tenant.parse(tenant, 'tenant_id');
    };
    return {
      'GET /tenants': () => this.tenants(),
      'POST /warm': ({ body }) => migration.warm(parseTenantRequest(body, true)),
      'POST /drain': ({ body }) => migration.drain(parseTenantRequest(body, false)),
      'POST /verify': ({ body }) => migration.verify(parseVerifyRequest(body)),
      'POST /release': ({ body }) => migration.release(parseTenantRequest(body, true)),
      'POST /resume': ({ body }) =>
        Promise.resolve(migration.resume(parseTenantRequest(body, false))),
      'POST /reload': () => this.reload(),
      'GET /read-model': () =>
        Promise.resolve({
          path: this.parts.states.path,
          tenants: this.parts.states.model.tenants(),
        }),
      'POST /read-model/rebuild': ({ body }) => this.rebuildStates(body),
      'GET /quarantine': (request) => {
        const tenant = request.query.get('tenant_id');
        const rows = this.parts.states.quarantined(
          tenant === null ? undefined : Tenant.parse(tenant, 'tenant_id'),
        );
        return Promise.resolve({ quarantined: rows });
      },
      'POST /quarantine/release': ({ body }) => {
        const given = (body as { tenant_id?: unknown }).tenant_id;
        const tenant = given === undefined ? undefined : Tenant.parse(given, 'tenant_id');
        return this.parts.states.release(tenant, this.parts.stateLog());
      },
      'GET /projections/*': (request) => {
        const tenant = tenantOfQuery(request);
        this.parts.ownership.assertOwned(tenant);
        return this.engine.readModels.projection(request.param ?? '', tenant);
      },
      'GET /dead-letters': async (request) => {
        const tenant = tenantOfQuery(request);
        return { tenant_id: tenant, dead_letters: await deadLetters.list(tenant) };
      },
      'POST /dead-letters/replay': ({ body }) => {
        const { tenant } = parseTenantRequest(body, false);
        this.parts.ownership.assertOwned(tenant);
        return deadLetters.replay(tenant, dispatch);
      },
    };
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

  /** Tenants with aggregates in storage that this node owns: aggregate count, in flight, last command here. */
  async tenants(): Promise<
    Array<{
      tenant_id: string;
      aggregates: number;
      in_flight: number;
      last_activity: string | null;
    }>
  > {
    const counts = new Map<TenantId, number>();
    for await (const key of this.engine.store.backend.eventLog.streams()) {
      if (this.parts.ownership.owns(key.tenant))
        counts.set(key.tenant, (counts.get(key.tenant) ?? 0) + 1);
    }
    const { gate } = this.parts;
    return [...counts].map(([tenant, aggregates]) => ({
      tenant_id: tenant,
      aggregates,
      in_flight: gate.inFlight(tenant),
      last_activity: gate.lastActivity(tenant)?.toISOString() ?? null,
    }));
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
      this.current.engine = next;
      await previous.close();
      next.readModels.start([...previous.readModels.knownTenants, ...(await this.storedTenants())]);
      this.parts.logger.info(next.summary, 'manifest reloaded');
      return { reloaded: true as const, ...next.summary };
    });
    this.reloading = run.catch(() => undefined);
    return run;
  }

  /**
   * `POST /admin/read-model/rebuild {tenant_id?}`: rebuilds the state rows of
   * one owned tenant, or of every owned tenant, from the event log.
   */
  private async rebuildStates(body: unknown): Promise<{
    tenants: Array<{ tenant_id: string; rows: number }>;
  }> {
    const requested =
      body === undefined ||
      body === null ||
      (body as { tenant_id?: unknown }).tenant_id === undefined
        ? undefined
        : parseTenantRequest(body, false).tenant;
    const { ownership, states, stateLog } = this.parts;
    if (requested !== undefined) ownership.assertOwned(requested);
    const tenants =
      requested === undefined
        ? (await this.storedTenants()).filter((tenant) => ownership.owns(tenant))
        : [requested];
    const rebuilt = [];
    for (const tenant of tenants) {
      const { rows } = await states.rebuild(tenant, stateLog());
      rebuilt.push({ tenant_id: tenant, rows });
    }
    return { tenants: rebuilt };
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

/** `data/<node>/<stream>/read-model.sqlite`: a node's file never mixes two event logs. */
/**
 * The read model can always be rebuilt from the log, so by default it lives
 * where any user can write (a container's /app is not theirs); deployments
 * put it on a volume to skip the rebuild after a restart.
 */
function defaultReadModelPath(nodeId: string, streamName = 'EVENTS'): string {
  return join(tmpdir(), 'tenantfold', nodeId, streamName, 'read-model.sqlite');
}

function watchBreaker(breaker: CircuitBreaker, metrics: NodeMetrics, logger: Logger): void {
  metrics.breakerOpen.set({ breaker: breaker.name }, 0);
  breaker.onStateChange((change) => {
    metrics.breakerOpen.set({ breaker: change.name }, change.to === 'CLOSED' ? 0 : 1);
    logger.warn(
      { breaker: change.name, from: change.from, to: change.to },
      'circuit breaker changed',
    );
  });
}
