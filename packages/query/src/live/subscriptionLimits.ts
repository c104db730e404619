import { UnavailableError } from '@tenantfold/core';

/** @default 100 */
export const DEFAULT_SUBSCRIPTIONS_PER_TENANT = 100;
/** @default 10000 */
export const DEFAULT_SUBSCRIPTIONS_TOTAL = 10_000;

export interface SubscriptionLimitsOptions {
  /** Open subscriptions one tenant may hold. @default 100 */
  readonly perTenant?: number;
  /** Open subscriptions in this process (node or router). @default 10000 */
  readonly total?: number;
}

/** A subscription refused because a cap on open subscriptions is reached. */
export class TooManySubscriptionsError extends UnavailableError {
  constructor(
    readonly scope: 'tenant' | 'total',
    readonly limit: number,
    tenant: string,
  ) {
    super(
      scope === 'tenant'
        ? `tenant '${tenant}' already has ${limit} open subscriptions (the limit); close one or retry later`
        : `this server already holds ${limit} open subscriptions (the limit); retry later or elsewhere`,
    );
  }
  override toJSON() {
    return { ...super.toJSON(), scope: this.scope, limit: this.limit };
  }
}

/** Counts open subscriptions per tenant and in total, and refuses past the caps. */
export class SubscriptionLimits {
  readonly perTenant: number;
  readonly total: number;
  readonly #open = new Map<string, number>();
  #count = 0;

  constructor(options: SubscriptionLimitsOptions = {}) {
    this.perTenant = options.perTenant ?? DEFAULT_SUBSCRIPTIONS_PER_TENANT;
    this.total = options.total ?? DEFAULT_SUBSCRIPTIONS_TOTAL;
    for (const [name, value] of Object.entries({ perTenant: this.perTenant, total: this.total })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
      }
    }
  }

  /**
   * Takes a slot for a new subscription of `tenant`; returns the function
   * that gives it back (safe to call twice).
   * @throws TooManySubscriptionsError when a cap is reached.
   */
  acquire(tenant: string): () => void {
    const open = this.#open.get(tenant) ?? 0;
    if (open >= this.perTenant)
      throw new TooManySubscriptionsError('tenant', this.perTenant, tenant);
    if (this.#count >= this.total) throw new TooManySubscriptionsError('total', this.total, tenant);
    this.#open.set(tenant, open + 1);
    this.#count++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#count--;
      const left = (this.#open.get(tenant) ?? 1) - 1;
      if (left === 0) this.#open.delete(tenant);
      else this.#open.set(tenant, left);
    };
  }

  /** Open subscriptions of one tenant, or in total. */
  open(tenant?: string): number {
    return tenant === undefined ? this.#count : (this.#open.get(tenant) ?? 0);
  }
}
