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
  it('moves about 1/N of the tenants onto a new node: the frozen ones, and only onto it', () => {
    const before = createPlacement({ nodes: [node('a'), node('b'), node('c')] });
    const after = createPlacement({ nodes: [node('a'), node('b'), node('c'), node('d')] });
    // What `nodes add d` does: freeze every tenant d would take at its current owner.
    const frozen = new Map<TenantId, string>();
    const pins: Array<[TenantId, string]> = [];
    for (const t of tenants) {
      const owner = resolveOwner(before, t) as string;
      if (resolveOwner(after, t) !== owner) {
        frozen.set(t, owner);
        pins.push([t, owner]);
      }
    }
    const joined = createPlacement({ nodes: [node('a'), node('b'), node('c'), node('d')], pins });
    // Joining moved nothing by itself.
    for (const t of tenants) expect(resolveOwner(joined, t)).toBe(resolveOwner(before, t));
    const plan = planRebalance(joined, tenants, frozen);
    expect(plan.moves.map((m) => m.tenant).sort()).toEqual([...frozen.keys()].sort());
    expect(plan.moves.every((m) => m.to === 'd' && m.from === frozen.get(m.tenant))).toBe(true);
    expect(plan.moves.length / tenants.length).toBeGreaterThan(0.15);
    expect(plan.moves.length / tenants.length).toBeLessThan(0.35);
    // Without the freeze marks those pins are the operator's: nothing moves.
    expect(planRebalance(joined, tenants).moves).toEqual([]);
  });

  it('empties a draining node, keeps pins on nodes that stay, and moves nothing else', () => {
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
