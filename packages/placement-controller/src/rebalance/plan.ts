import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { NodeRecord, Placement, Stored } from '@tenantfold/nats';
import { resolveOwner, tenantRing } from '@tenantfold/nats';

export interface PlannedMove {
  readonly tenant: TenantId;
  readonly from: string;
  readonly to: string;
  /** The target comes from the ring (not from a pin), so the pin the move leaves can go afterwards. */
  readonly viaRing: boolean;
}

/**
 * What `rebalance` would do. A node in `draining` with no tenants is joining
 * (`nodes add` registers new nodes so); one with tenants is leaving (`nodes drain`).
 */
export interface RebalancePlan {
  /** Tenants considered. */
  readonly total: number;
  /** Joining nodes: active in the target ring, switched to active once filled. */
  readonly joining: readonly string[];
  /** Leaving nodes: emptied, then marked down. */
  readonly leaving: readonly string[];
  /** The fewest moves: only tenants whose owner differs from the target's. */
  readonly moves: readonly PlannedMove[];
  /** Tenants no node owns now (no active node): nothing to migrate from. */
  readonly unowned: readonly TenantId[];
}

/**
 * Plans the moves from the current owners to the target placement: joining
 * nodes active, leaving nodes out, pins on nodes that stay active kept.
 */
export function planRebalance(placement: Placement, tenants: Iterable<TenantId>): RebalancePlan {
  const list = [...new Set(tenants)];
  const owners = new Map(list.map((t) => [t, resolveOwner(placement, t)] as const));
  const owned = new Map<string, number>();
  for (const owner of owners.values()) {
    if (owner !== undefined) owned.set(owner, (owned.get(owner) ?? 0) + 1);
  }
  const draining = [...placement.nodes.values()].filter((n) => n.status === 'draining');
  const joining = draining.filter((n) => (owned.get(n.id) ?? 0) === 0).map((n) => n.id);
  const leaving = draining.filter((n) => (owned.get(n.id) ?? 0) > 0).map((n) => n.id);
  const target = withStatus(placement, joining, 'active');
  const ring = tenantRing(target);

  const moves: PlannedMove[] = [];
  const unowned: TenantId[] = [];
  for (const tenant of list) {
    const from = owners.get(tenant);
    if (from === undefined) {
      unowned.push(tenant);
      continue;
    }
    const pin = placement.pins.get(tenant);
    const pinKept = pin !== undefined && target.nodes.get(pin.nodeId)?.status === 'active';
    const to = pinKept ? pin.nodeId : ring.ownerOf(Tenant.token(tenant));
    if (to !== undefined && to !== from) moves.push({ tenant, from, to, viaRing: !pinKept });
  }
  return { total: list.length, joining: sorted(joining), leaving: sorted(leaving), moves, unowned };
}

/** A copy of `placement` with the given nodes set to `status` (for "what if" rings). */
export function withStatus(
  placement: Placement,
  ids: readonly string[],
  status: NodeRecord['status'],
): Placement {
  const nodes = new Map<string, Stored<NodeRecord>>(placement.nodes);
  for (const id of ids) {
    const node = nodes.get(id);
    if (node !== undefined) nodes.set(id, Object.freeze({ ...node, status }));
  }
  return Object.freeze({ ...placement, nodes });
}

function sorted(ids: string[]): string[] {
  return ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
