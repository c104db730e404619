import type { Logger } from '@tenantfold/core';
import type { SubscriptionLimits } from '@tenantfold/query/live';
import type { MoveReason, RoutedSubscriptionOptions, Upstreams } from './routedSubscription.js';
import { RoutedSubscription } from './routedSubscription.js';

export interface SubscriptionHubOptions {
  /** Caps on open subscriptions, per tenant and for this router. */
  readonly limits: SubscriptionLimits;
  readonly upstreams: Upstreams;
  readonly bufferCapacity: number;
  readonly reopenWindowMs: number;
  readonly logger: Logger;
  /** Open subscriptions after each open and close (for a gauge). */
  readonly onCount?: (open: number) => void;
  readonly onMove?: (reason: MoveReason) => void;
}

/** What a caller gives to open one subscription. */
export type SubscriptionRequest = Omit<
  RoutedSubscriptionOptions,
  'upstreams' | 'bufferCapacity' | 'reopenWindowMs' | 'logger' | 'onClose' | 'onMove'
>;

/**
 * The router's open subscriptions: takes a slot under the caps for each,
 * tells them all when placement changes (so each follows its tenant's
 * owner), and closes them when the router stops.
 */
export class SubscriptionHub {
  readonly #open = new Set<RoutedSubscription>();

  constructor(private readonly options: SubscriptionHubOptions) {}

  /**
   * Opens a subscription on the tenant's owner; resolves once the owner has
   * answered. @throws TooManySubscriptionsError past a cap, the owner's refusal.
   */
  async open(request: SubscriptionRequest): Promise<RoutedSubscription> {
    const { limits, upstreams, bufferCapacity, reopenWindowMs, logger, onCount, onMove } =
      this.options;
    const release = limits.acquire(request.tenant);
    const subscription: RoutedSubscription = new RoutedSubscription({
      ...request,
      upstreams,
      bufferCapacity,
      reopenWindowMs,
      logger,
      ...(onMove === undefined ? {} : { onMove }),
      onClose: () => {
        release();
        this.#open.delete(subscription);
        onCount?.(this.#open.size);
      },
    });
    this.#open.add(subscription);
    onCount?.(this.#open.size);
    await subscription.start();
    return subscription;
  }

  /** Placement changed: each subscription moves if its tenant's owner did. */
  placementChanged(): void {
    for (const subscription of this.#open) subscription.ownerChanged();
  }

  /** Open subscriptions, of one tenant or in total. */
  count(tenant?: string): number {
    return this.options.limits.open(tenant);
  }

  /** Open subscriptions per node they read from (`-` while one re-opens). */
  byNode(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const subscription of this.#open) {
      const node = subscription.node ?? '-';
      counts[node] = (counts[node] ?? 0) + 1;
    }
    return counts;
  }

  closeAll(): void {
    for (const subscription of [...this.#open]) subscription.close();
  }
}
