import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { Placement } from '@tenantfold/nats';
import { resolveOwner, tenantRing } from '@tenantfold/nats';

export interface PlannedMove {
  readonly tenant: TenantId;
  readonly from: string;
  readonly to: string;
}

/** What `rebalance` would do. */
export interface RebalancePlan {
  /** Tenants considered. */
  readonly total: number;
  /** Draining nodes: emptied, then marked down. */
  readonly leaving: readonly string[];
  /** The fewest moves: only tenants whose owner differs from their target. */
  readonly moves: readonly PlannedMove[];
  /** Tenants no node owns now (no active node): nothing to migrate from. */
  readonly unowned: readonly TenantId[];
}

/**
 * Plans the moves that bring every tenant to its target: the ring owner over
 * the active nodes, except that a pin on an active node stays where it is
 * unless the controller froze it there (`frozen`: tenant → pinned node).
 */
export function planRebalance(
  placement: Placement,
  tenants: Iterable<TenantId>,
  frozen: ReadonlyMap<TenantId, string> = new Map(),
): RebalancePlan {
  const list = [...new Set(tenants)];
  const ring = tenantRing(placement);
  const moves: PlannedMove[] = [];
  const unowned: TenantId[] = [];
  for (const tenant of list) {
    const from = resolveOwner(placement, tenant);
    if (from === undefined) {
      unowned.push(tenant);
      continue;
    }
    const pin = placement.pins.get(tenant);
    const pinKept =
      pin !== undefined &&
      placement.nodes.get(pin.nodeId)?.status === 'active' &&
      frozen.get(tenant) !== pin.nodeId;
    const to = pinKept ? pin.nodeId : ring.ownerOf(Tenant.token(tenant));
    if (to !== undefined && to !== from) moves.push({ tenant, from, to });
  }
  const leaving = [...placement.nodes.values()]
    .filter((n) => n.status === 'draining')
    .map((n) => n.id)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { total: list.length, leaving, moves, unowned };
}
