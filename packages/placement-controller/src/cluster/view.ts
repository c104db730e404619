import type { TenantId } from '@tenantfold/core';
import type { Placement } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import type { Cluster } from './cluster.js';

/** Placement plus the tenants the cluster knows of (in storage, pinned or migrating). */
export interface ClusterView {
  readonly placement: Placement;
  /** Every known tenant with its aggregate count in storage (0: pinned or migrating only). */
  readonly tenants: ReadonlyMap<TenantId, number>;
}

export async function loadView(cluster: Cluster): Promise<ClusterView> {
  const [placement, stored] = await Promise.all([
    cluster.loadPlacement(),
    cluster.tenantsInStorage(),
  ]);
  const tenants = new Map(stored);
  for (const tenant of [...placement.pins.keys(), ...placement.migrations.keys()]) {
    if (!tenants.has(tenant)) tenants.set(tenant, 0);
  }
  return {
    placement,
    tenants: new Map([...tenants].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
}

/** Tenants per owner (`undefined`: nobody can take them). */
export function tenantsByOwner(view: ClusterView): Map<string | undefined, TenantId[]> {
  const owners = new Map<string | undefined, TenantId[]>();
  for (const tenant of view.tenants.keys()) {
    const owner = resolveOwner(view.placement, tenant);
    const list = owners.get(owner) ?? [];
    list.push(tenant);
    owners.set(owner, list);
  }
  return owners;
}

/** One node as `nodes list` and `status` show it: its record and the tenants it owns. */
export function nodeSummaries(view: ClusterView) {
  const owners = tenantsByOwner(view);
  return [...view.placement.nodes.values()].map((n) => ({
    id: n.id,
    status: n.status,
    tenantRange: n.tenantRange,
    weight: n.weight,
    grpcAddress: n.grpcAddress,
    adminAddress: n.adminAddress,
    heartbeatAt: n.heartbeatAt,
    tenants: owners.get(n.id)?.length ?? 0,
  }));
}
