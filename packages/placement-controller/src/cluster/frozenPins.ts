import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TenantId } from '@tenantfold/core';
import { DEFAULT_TENANT_TOKEN, TenantId as Tenant } from '@tenantfold/core';
import { openKvBucket } from '@tenantfold/nats';

/**
 * Pins the controller wrote to hold tenants still while the ring changes
 * (`nodes add` freezes the tenants a new node would take), kept in a bucket of
 * the controller's own: `rebalance` moves a frozen tenant to its ring owner,
 * verified, and leaves the pins an operator wrote alone. Key: tenant token,
 * value: the node id the freeze pinned it to.
 */
export class FrozenPins {
  private constructor(private readonly kv: KV) {}

  /** The bucket beside placement bucket `placementBucket`. */
  static bucketFor(placementBucket: string): string {
    return `${placementBucket}_FROZEN`;
  }

  static async open(
    nc: NatsConnection,
    placementBucket: string,
    replicas = 1,
  ): Promise<FrozenPins> {
    const bucket = FrozenPins.bucketFor(placementBucket);
    const kv = await openKvBucket(nc, {
      bucket,
      replicas,
      description: 'placementctl frozen pins',
    });
    return new FrozenPins(kv);
  }

  async mark(tenant: TenantId, nodeId: string): Promise<void> {
    await this.kv.put(Tenant.token(tenant), nodeId);
  }

  async clear(tenant: TenantId): Promise<void> {
    await this.kv.delete(Tenant.token(tenant));
  }

  /** Every frozen tenant with the node it was pinned to. */
  async list(): Promise<Map<TenantId, string>> {
    const frozen = new Map<TenantId, string>();
    const keys: string[] = [];
    for await (const key of await this.kv.keys()) keys.push(key);
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (entry === null || entry.operation !== 'PUT') continue;
      const tenant = key === DEFAULT_TENANT_TOKEN ? Tenant.DEFAULT : Tenant.parse(key);
      frozen.set(tenant, entry.string());
    }
    return frozen;
  }
}
