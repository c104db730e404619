import type { Placement } from '@tenantfold/nats';
import { tenantRing } from '@tenantfold/nats';

/** Sample keys for the share estimate: enough for ±1% at 3-6 nodes, cheap (ms) per ring change. */
const SAMPLE = Array.from({ length: 10_000 }, (_, i) => `share-sample-${i}`);

/**
 * Share of the ring (percent, one decimal) per active node, estimated over
 * fixed sample keys: what a change log needs to show how tenants now spread.
 */
export function ringShare(placement: Placement): Record<string, number> {
  const ring = tenantRing(placement);
  const counts = new Map<string, number>(ring.nodes.map((id) => [id, 0]));
  for (const key of SAMPLE) {
    const owner = ring.ownerOf(key);
    if (owner !== undefined) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return Object.fromEntries(
    [...counts].map(([id, n]) => [id, Math.round((n / SAMPLE.length) * 1000) / 10]),
  );
}

/** Identity of the ring's content: changes only when active nodes, weights or vnodes do. */
export function ringSignature(placement: Placement): string {
  const ring = tenantRing(placement);
  const weights = ring.nodes.map((id) => `${id}*${placement.nodes.get(id)?.weight ?? 1}`);
  return `${ring.vnodes}|${weights.join(',')}`;
}
