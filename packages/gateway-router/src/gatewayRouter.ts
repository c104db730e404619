import type { Logger } from '@tenantfold/core';
import { dataLimitsOf } from '@tenantfold/core';
import { pino } from 'pino';
import type { RouterConfig } from './config/routerConfig.js';
import type { CommandHop } from './forwarding/commandHop.js';
import type { NodeChannels } from './forwarding/nodeChannels.js';
import type { CutoverHold } from './holding/cutoverHold.js';
import { GrpcIngress } from './ingress/grpcIngress.js';
import { ENVELOPE_BYTES, HttpIngress } from './ingress/httpIngress.js';
import { httpRoutes } from './ingress/httpRoutes.js';
import type { RouterService } from './ingress/routerService.js';
import type { RouterMetrics } from './metrics/routerMetrics.js';
import type { KvLink } from './placement/kvLink.js';
import { PlacementCache } from './placement/placementCache.js';
import type { SubscriptionHub } from './subscriptions/subscriptionHub.js';
import {
  commandHop,
  cutoverHold,
  followPlacement,
  forwarder,
  nodeChannels,
  placementLink,
  routerMetrics,
  routerService,
  subscriptionHub,
} from './wiring.js';

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
  readonly service: RouterService;
  readonly metrics: RouterMetrics;
  readonly logger: Logger;
}

/** The ports, open once the router serves. */
interface Ingress {
  readonly grpc: GrpcIngress;
  readonly http: HttpIngress;
  readonly grpcPort: number;
  readonly httpPort: number;
}

/**
 * The gateway router: tenant-aware gRPC and HTTP ingress that forwards each
 * call to the node placement gives its tenant. Stateless: any number of
 * routers side by side give the same answers.
 */
export class GatewayRouter {
  #state: RouterState = 'STARTING';
  #ingress: Ingress | undefined;

  private constructor(
    readonly config: RouterConfig,
    private readonly parts: Parts,
  ) {}

  get state(): RouterState {
    return this.#state;
  }

  get grpcPort(): number {
    return this.#ingress?.grpcPort ?? 0;
  }

  get httpPort(): number {
    return this.#ingress?.httpPort ?? 0;
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
    const channels = nodeChannels(config);
    const metrics = routerMetrics(channels);
    const hold = cutoverHold(config, metrics);
    followPlacement(cache, { hold, channels, metrics });
    const link = await placementLink(config, cache, metrics, logger);
    const hop = commandHop(cache, link);
    const forwarding = forwarder(config, { cache, hold }, metrics);
    const subscriptions = subscriptionHub(
      config,
      { cache, forwarder: forwarding, channels, link },
      metrics,
      logger,
    );
    const service = routerService(
      config,
      { forwarder: forwarding, hop, channels, subscriptions },
      metrics,
      logger,
    );
    const router = new GatewayRouter(config, {
      cache,
      link,
      channels,
      hop,
      hold,
      subscriptions,
      service,
      metrics,
      logger,
    });
    await router.#serve();
    return router;
  }

  /** Opens the gRPC and HTTP ports; the HTTP side answers health, readiness and metrics. */
  async #serve(): Promise<void> {
    const { config } = this;
    const { service, metrics, logger, cache } = this.parts;
    const grpc = new GrpcIngress(config.grpcListen, service);
    const http = new HttpIngress(
      config.httpListen,
      httpRoutes(
        service,
        {
          health: () => this.health(),
          ready: () => this.readiness(),
          metrics: async () => ({
            contentType: metrics.registry.contentType,
            body: await metrics.registry.metrics(),
          }),
        },
        { heartbeatMs: config.sseHeartbeatMs },
      ),
      logger,
      dataLimitsOf(config).commandBytes + ENVELOPE_BYTES,
    );
    const grpcPort = (await grpc.start()).port;
    const httpPort = (await http.start()).port;
    this.#ingress = { grpc, http, grpcPort, httpPort };
    this.#state = 'RUNNING';
    logger.info(
      { grpcPort, httpPort, placement: cache.source, revision: cache.current?.revision },
      'router running',
    );
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
    const ingress = this.#ingress;
    if (this.#state !== 'RUNNING' || ingress === undefined) return;
    this.#state = 'STOPPING';
    const { cache, link, channels, hop, hold, subscriptions, logger } = this.parts;
    hold.close();
    subscriptions.closeAll();
    const deadline = this.config.forwardTimeoutMs;
    await Promise.all([ingress.grpc.stop(deadline), ingress.http.stop(deadline)]);
    cache.stop();
    channels.close();
    hop.close();
    await link.stop();
    this.#state = 'STOPPED';
    logger.info({}, 'router stopped');
  }
}
