import type { Logger } from '@tenantfold/core';
import { dataLimitsOf, ValidationError } from '@tenantfold/core';
import { readPlacementFile } from '@tenantfold/nats';
import { SubscriptionLimits } from '@tenantfold/query/live';
import type { RouterConfig } from './config/routerConfig.js';
import { CommandHop } from './forwarding/commandHop.js';
import { Forwarder } from './forwarding/forwarder.js';
import { NodeChannels } from './forwarding/nodeChannels.js';
import { CutoverHold } from './holding/cutoverHold.js';
import { RouterService } from './ingress/routerService.js';
import { RouterMetrics } from './metrics/routerMetrics.js';
import { KvLink } from './placement/kvLink.js';
import type { PlacementCache } from './placement/placementCache.js';
import { SubscriptionHub } from './subscriptions/subscriptionHub.js';
import { watchStates } from './subscriptions/watchStates.js';

// The router's parts, one builder each, in the order `GatewayRouter.start` builds them.

/** gRPC connections to the nodes. */
export function nodeChannels(config: RouterConfig): NodeChannels {
  return new NodeChannels({
    channelsPerNode: config.channelsPerNode,
    connectTimeoutMs: config.connectTimeoutMs,
  });
}

/** The router's metrics, the nodes' connection states and unreachable nodes among them. */
export function routerMetrics(channels: NodeChannels): RouterMetrics {
  const metrics = new RouterMetrics({ nodeStates: () => channels.states() });
  metrics.natsConnected.set(0);
  channels.onUnreachable((node) => metrics.unreachable.inc({ node }));
  return metrics;
}

/** Holds the commands of a tenant in cutover. */
export function cutoverHold(config: RouterConfig, metrics: RouterMetrics): CutoverHold {
  return new CutoverHold({
    limit: config.holdQueueLimit,
    timeoutMs: config.holdTimeoutMs,
    onHeld: (now) => metrics.heldNow.set(now),
    onOutcome: (outcome) => metrics.held.inc({ outcome }),
  });
}

/** Each placement change reaches the hold, the node channels and the metrics. */
export function followPlacement(
  cache: PlacementCache,
  parts: { hold: CutoverHold; channels: NodeChannels; metrics: RouterMetrics },
): void {
  const { hold, channels, metrics } = parts;
  cache.onChange((placement) => {
    hold.update(placement);
    channels.retain(placement);
    metrics.placementRevision.set(placement.revision);
    metrics.placementFromFile.set(cache.source === 'file' ? 1 : 0);
  });
}

/**
 * Connects to the placement KV or, when it cannot be reached within
 * `natsConnectTimeoutMs`, starts from `placementFile` (the link keeps trying).
 */
export async function placementLink(
  config: RouterConfig,
  cache: PlacementCache,
  metrics: RouterMetrics,
  logger: Logger,
): Promise<KvLink> {
  const link = new KvLink({
    nats: config,
    bucket: config.placementBucket,
    timeoutMs: config.natsConnectTimeoutMs,
    cache,
    logger,
    onConnection: (connected) => metrics.natsConnected.set(connected ? 1 : 0),
  });
  if (await link.start()) return link;
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
  return link;
}

/** Commands to the nodes over NATS request-reply, while the link is connected. */
export function commandHop(cache: PlacementCache, link: KvLink): CommandHop {
  const hop = new CommandHop(() => (link.connected ? link.connection : undefined));
  cache.onChange((placement) => hop.placementChanged(placement));
  return hop;
}

/** Finds each call's node by placement, holding through cutovers. */
export function forwarder(
  config: RouterConfig,
  parts: { cache: PlacementCache; hold: CutoverHold },
  metrics: RouterMetrics,
): Forwarder {
  return new Forwarder({
    cache: parts.cache,
    hold: parts.hold,
    forwardTimeoutMs: config.forwardTimeoutMs,
    onForwarded: (method, seconds) => metrics.forwardDuration.observe({ route: method }, seconds),
    onRetry: () => metrics.notOwnerRetries.inc(),
  });
}

/** Subscriptions held here, each re-opened on its tenant's node as placement moves it. */
export function subscriptionHub(
  config: RouterConfig,
  parts: { cache: PlacementCache; forwarder: Forwarder; channels: NodeChannels; link: KvLink },
  metrics: RouterMetrics,
  logger: Logger,
): SubscriptionHub {
  const { cache, forwarder, channels, link } = parts;
  const subscriptions = new SubscriptionHub({
    limits: new SubscriptionLimits({
      perTenant: config.subscriptionsPerTenant,
      total: config.subscriptionsTotal,
    }),
    upstreams: {
      ownerOf: (tenant) => forwarder.ownerNode(tenant),
      refresh: () => cache.refresh(),
      open: (node, request, metadata) => channels.subscribe(node, request, metadata),
      watch: (tenant, type, deliver) => watchStates(link.connection, tenant, type, deliver, logger),
    },
    bufferCapacity: config.subscriberBuffer,
    reopenWindowMs: config.subscriptionReopenMs,
    logger,
    onCount: (open) => metrics.subscriptionsOpen.set(open),
    onMove: (reason) => metrics.subscriptionMoves.inc({ reason }),
  });
  cache.onChange(() => subscriptions.placementChanged());
  return subscriptions;
}

/** The calls both ingresses serve, each answer counted. */
export function routerService(
  config: RouterConfig,
  parts: {
    forwarder: Forwarder;
    hop: CommandHop;
    channels: NodeChannels;
    subscriptions: SubscriptionHub;
  },
  metrics: RouterMetrics,
  logger: Logger,
): RouterService {
  const { forwarder, hop, channels, subscriptions } = parts;
  return new RouterService({
    forwarder,
    hop,
    channels,
    subscriptions,
    allowDefaultTenant: config.allowDefaultTenant,
    limits: dataLimitsOf(config),
    logger,
    onAnswered: (route, outcome) => metrics.requests.inc({ route, outcome }),
  });
}
