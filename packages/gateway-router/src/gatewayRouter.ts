import type { Logger } from '@tenantfold/core';
import { dataLimitsOf, ValidationError } from '@tenantfold/core';
import { readPlacementFile } from '@tenantfold/nats';
import { SubscriptionLimits } from '@tenantfold/query/live';
import { pino } from 'pino';
import type { RouterConfig } from './config/routerConfig.js';
import { CommandHop } from './forwarding/commandHop.js';
import { Forwarder } from './forwarding/forwarder.js';
import { NodeChannels } from './forwarding/nodeChannels.js';
import { CutoverHold } from './holding/cutoverHold.js';
import { GrpcIngress } from './ingress/grpcIngress.js';
import { ENVELOPE_BYTES, HttpIngress } from './ingress/httpIngress.js';
import { httpRoutes } from './ingress/httpRoutes.js';
import { RouterService } from './ingress/routerService.js';
import { RouterMetrics } from './metrics/routerMetrics.js';
import { KvLink } from './placement/kvLink.js';
import { PlacementCache } from './placement/placementCache.js';
import { SubscriptionHub } from './subscriptions/subscriptionHub.js';
import { watchStates } from './subscriptions/watchStates.js';

/** Lifecycle: STARTING → RUNNING → STOPPING (SIGTERM) → STOPPED. */
export type RouterState = 'STARTING' | 'RUNNING' | 'STOPPING' | 'STOPPED';

export interface RouterStartOptions {
  /** @default a pino logger at `config.logLevel` */
  readonly logger?: Logger;
}

interface Parts {
  readonly cache: PlacementCache;
  readonly link: KvLink;
  readonly channels: NodeChannels;
  readonly hop: CommandHop;
  readonly hold: CutoverHold;
  readonly subscriptions: SubscriptionHub;
  readonly grpc: GrpcIngress;
  readonly http: HttpIngress;
  readonly logger: Logger;
}

/**
 * The gateway router: tenant-aware gRPC and HTTP ingress that forwards each
 * call to the node placement gives its tenant. Stateless: any number of
 * routers side by side give the same answers.
 */
export class GatewayRouter {
  #state: RouterState = 'STARTING';

  private constructor(
    readonly config: RouterConfig,
    private readonly parts: Parts,
    readonly grpcPort: number,
    readonly httpPort: number,
  ) {}

  get state(): RouterState {
    return this.#state;
  }

  /**
   * Connects to the placement KV (or, when it cannot be reached within
   * `natsConnectTimeoutMs`, starts from `placementFile` and keeps trying),
   * then opens the gRPC and HTTP ports.
   */
  static async start(
    config: RouterConfig,
    options: RouterStartOptions = {},
  ): Promise<GatewayRouter> {
    const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'router' } });
    const cache = new PlacementCache(logger);
    // eslint-disable-next-line prefer-const -- the channels' callback reads it once created
    let metrics: RouterMetrics | undefined;
    const channels = new NodeChannels({
      channelsPerNode: config.channelsPerNode,
      connectTimeoutMs: config.connectTimeoutMs,
      onUnreachable: (node) => metrics?.unreachable.inc({ node }),
    });
    metrics = new RouterMetrics({ nodeStates: () => channels.states() });
    const m = metrics;
    m.natsConnected.set(0);
    const hold = new CutoverHold({
      limit: config.holdQueueLimit,
      timeoutMs: config.holdTimeoutMs,
      onHeld: (now) => m.heldNow.set(now),
      onOutcome: (outcome) => m.held.inc({ outcome }),
    });
    cache.onChange((placement) => {
      hold.update(placement);
      channels.retain(placement);
      m.placementRevision.set(placement.revision);
      m.placementFromFile.set(cache.source === 'file' ? 1 : 0);
    });
    const link = new KvLink({
      nats: config,
      bucket: config.placementBucket,
      timeoutMs: config.natsConnectTimeoutMs,
      cache,
      logger,
      onConnection: (connected) => m.natsConnected.set(connected ? 1 : 0),
    });
    if (!(await link.start())) {
      try {
        if (config.placementFile === '') {
          throw new ValidationError(
            `placement KV unreachable at ${config.natsServers.join(', ')} and no placement file to start from (set ROUTER_PLACEMENT_FILE)`,
            'placementFile',
          );
        }
        cache.adoptFile(await readPlacementFile(config.placementFile), config.placementFile);
      } catch (error) {
        await link.stop(); // no retries left behind by a start that failed
        throw error;
      }
    }

    const hop = new CommandHop(() => (link.connected ? link.connection : undefined));
    cache.onChange((placement) => hop.placementChanged(placement));
    const forwarder = new Forwarder({
      cache,
      hold,
      forwardTimeoutMs: config.forwardTimeoutMs,
      onForwarded: (method, seconds) => m.forwardDuration.observe({ route: method }, seconds),
      onRetry: () => m.notOwnerRetries.inc(),
    });
    const subscriptions = new SubscriptionHub({
      limits: new SubscriptionLimits({
        perTenant: config.subscriptionsPerTenant,
        total: config.subscriptionsTotal,
      }),
      upstreams: {
        ownerOf: (tenant) => forwarder.ownerNode(tenant),
        refresh: () => cache.refresh(),
        open: (node, request, metadata) => channels.subscribe(node, request, metadata),
        watch: (tenant, type, deliver) =>
          watchStates(link.connection, tenant, type, deliver, logger),
      },
      bufferCapacity: config.subscriberBuffer,
      reopenWindowMs: config.subscriptionReopenMs,
      logger,
      onCount: (open) => m.subscriptionsOpen.set(open),
      onMove: (reason) => m.subscriptionMoves.inc({ reason }),
    });
    cache.onChange(() => subscriptions.placementChanged());
    const limits = dataLimitsOf(config);
    const service = new RouterService({
      forwarder,
      hop,
      channels,
      subscriptions,
      allowDefaultTenant: config.allowDefaultTenant,
      limits,
      logger,
      onAnswered: (route, outcome) => m.requests.inc({ route, outcome }),
    });
    // eslint-disable-next-line prefer-const -- assigned after the probes that close over it
    let router: GatewayRouter;
    const grpc = new GrpcIngress(config.grpcListen, service);
    const http = new HttpIngress(
      config.httpListen,
      httpRoutes(
        service,
        {
          health: () => router.health(),
          ready: () => router.readiness(),
          metrics: async () => ({
            contentType: m.registry.contentType,
            body: await m.registry.metrics(),
          }),
        },
        { heartbeatMs: config.sseHeartbeatMs },
      ),
      logger,
      limits.commandBytes + ENVELOPE_BYTES,
    );
    const grpcPort = (await grpc.start()).port;
    const httpPort = (await http.start()).port;
    router = new GatewayRouter(
      config,
      { cache, link, channels, hop, hold, subscriptions, grpc, http, logger },
      grpcPort,
      httpPort,
    );
    router.#state = 'RUNNING';
    logger.info(
      { grpcPort, httpPort, placement: cache.source, revision: cache.current?.revision },
      'router running',
    );
    return router;
  }

  /** Live: running with a placement to route by (possibly stale, see `readiness`). */
  health(): { ok: boolean } & Record<string, unknown> {
    const { cache, link, hold, channels } = this.parts;
    return {
      ok: this.#state === 'RUNNING' && cache.current !== undefined,
      state: this.#state,
      nats: link.connected ? 'connected' : 'disconnected',
      placement: { source: cache.source ?? 'none', revision: cache.current?.revision ?? -1 },
      held_commands: hold.held,
      subscriptions: {
        open: this.parts.subscriptions.count(),
        by_node: this.parts.subscriptions.byNode(),
      },
      nodes: Object.fromEntries(channels.states()),
    };
  }

  /** Ready: placement loaded and NATS connected (so placement changes reach this router). */
  readiness(): { ready: boolean; reason?: string } {
    const { cache, link } = this.parts;
    if (this.#state !== 'RUNNING') return { ready: false, reason: `router is ${this.#state}` };
    if (cache.current === undefined) return { ready: false, reason: 'placement not loaded' };
    if (!link.connected) {
      return {
        ready: false,
        reason: `NATS not connected: serving the last known placement (${cache.source} revision ${cache.current.revision})`,
      };
    }
    return { ready: true };
  }

  /** Refuses held commands, lets forwarded calls finish (up to the forward timeout), closes everything. */
  async stop(): Promise<void> {
    if (this.#state !== 'RUNNING') return;
    this.#state = 'STOPPING';
    const { cache, link, channels, hop, hold, subscriptions, grpc, http, logger } = this.parts;
    hold.close();
    subscriptions.closeAll();
    const deadline = this.config.forwardTimeoutMs;
    await Promise.all([grpc.stop(deadline), http.stop(deadline)]);
    cache.stop();
    channels.close();
    hop.close();
    await link.stop();
    this.#state = 'STOPPED';
    logger.info({}, 'router stopped');
  }
}
