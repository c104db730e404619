import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { NodeRecord } from '@tenantfold/nats';
import { createPlacement, resolveOwner } from '@tenantfold/nats';
import { describe, expect, it } from 'vitest';
import { planRebalance } from '../src/index.js';

const at = new Date().toISOString();
const node = (id: string, status: NodeRecord['status'] = 'active'): NodeRecord => ({
  id,
  grpcAddress: `${id}:1`,
  adminAddress: `${id}:2`,
  tenantRange: id,
  weight: 1,
  status,
  heartbeatAt: at,
});
const tenants: TenantId[] = Array.from({ length: 400 }, (_, i) => Tenant.parse(`tenant-${i}`));

describe('planRebalance', () => {
  it('moves about 1/N of the tenants onto a joining node, and only onto it', () => {
    const placement = createPlacement({
      nodes: [node('a'), node('b'), node('c'), node('d', 'draining')],
    });
    const plan = planRebalance(placement, tenants);
    expect(plan.joining).toEqual(['d']);
    expect(plan.leaving).toEqual([]);
    expect(plan.moves.every((m) => m.to === 'd' && m.viaRing)).toBe(true);
    expect(plan.moves.length / tenants.length).toBeGreaterThan(0.15);
    expect(plan.moves.length / tenants.length).toBeLessThan(0.35);
    // The target is exactly the ring with d active: every tenant not moved keeps its owner there.
    const target = createPlacement({ nodes: [node('a'), node('b'), node('c'), node('d')] });
    const moved = new Set(plan.moves.map((m) => m.tenant));
    for (const t of tenants) {
      expect(resolveOwner(target, t)).toBe(moved.has(t) ? 'd' : resolveOwner(placement, t));
    }
  });

  it('empties a leaving node, keeps pins on nodes that stay, and never moves anything twice', () => {
    const pinned = tenants[0] as TenantId;
    const placement = createPlacement({
      nodes: [node('a'), node('b'), node('c', 'draining')],
      pins: [
        [tenants[1] as TenantId, 'c'],
        [pinned, 'a'],
      ],
    });
    const plan = planRebalance(placement, tenants);
    expect(plan.leaving).toEqual(['c']);
    expect(plan.moves.map((m) => m.tenant)).toEqual([tenants[1]]);
    expect(plan.moves[0]?.from).toBe('c');
    expect(plan.moves.some((m) => m.tenant === pinned)).toBe(false);
  });

  it('plans nothing for a balanced placement, and reports tenants nobody owns', () => {
    expect(
      planRebalance(createPlacement({ nodes: [node('a'), node('b')] }), tenants).moves,
    ).toEqual([]);
    const none = planRebalance(
      createPlacement({ nodes: [node('a', 'down')] }),
      tenants.slice(0, 3),
    );
    expect(none.unowned).toHaveLength(3);
    expect(none.moves).toEqual([]);
  });
});
