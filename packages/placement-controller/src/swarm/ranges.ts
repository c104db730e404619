import type { NodeRecord, Placement } from '@tenantfold/nats';

/** The nodes of one `tenant_range` label: one Swarm service runs them. */
export interface TenantRangeGroup {
  readonly range: string;
  readonly nodes: readonly NodeRecord[];
}

/** Nodes grouped by `tenant_range`, sorted by range and id (down nodes left out). */
export function tenantRanges(placement: Placement): TenantRangeGroup[] {
  const groups = new Map<string, NodeRecord[]>();
  for (const node of placement.nodes.values()) {
    if (node.status === 'down') continue;
    const group = groups.get(node.tenantRange) ?? [];
    group.push(node);
    groups.set(node.tenantRange, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([range, nodes]) => ({
      range,
      nodes: nodes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    }));
}

/** The Swarm placement constraint of a range (Swarm knows only `==`/`!=`, so one label value per service). */
export function rangeConstraint(range: string): string {
  return `node.labels.tenant_range==${range}`;
}
