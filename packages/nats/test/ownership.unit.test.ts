import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant, ValidationError } from '@tenantfold/core';
import { describe, expect, it } from 'vitest';
import type { NodeRecord, NodeStatus, Placement } from '../src/placement/index.js';
import {
  createPlacement,
  movesIfNodeAdded,
  movesIfNodeRemoved,
  resolveOwner,
  ringDistribution,
  tenantRing,
} from '../src/placement/index.js';

function node(id: string, status: NodeStatus = 'active', weight = 1): NodeRecord {
  return {
    id,
    grpcAddress: `127.0.0.1:${50000 + id.length}`,
    adminAddress: `http://127.0.0.1:9${id.length}00`,
    tenantRange: `range-${id}`,
    weight,
    status,
    heartbeatAt: '2025-01-01T00:00:00.000Z',
  };
}

const tenants = (n: number, prefix = 'tenant'): TenantId[] =>
  Array.from({ length: n }, (_, i) => Tenant.parse(`${prefix}-${i}`));
const three = () => createPlacement({ nodes: [node('n1'), node('n2'), node('n3')] });

/** First tenant whose ring owner is `owner`. */
function tenantOwnedBy(placement: Placement, owner: string): TenantId {
  const found = tenants(100).find((t) => resolveOwner(placement, t) === owner);
  if (found === undefined) throw new Error(`no tenant of ${owner} among 100`);
  return found;
}

describe('resolveOwner', () => {
  it('is the same for independently built placements (router and node agree)', () => {
    const a = three();
    const b = createPlacement({ nodes: [node('n3'), node('n1'), node('n2')] });
    for (const t of tenants(300)) expect(resolveOwner(b, t)).toBe(resolveOwner(a, t));
  });

  it('spreads 300 tenants fairly over 3 equal nodes', () => {
    const { counts, unassigned } = ringDistribution(three(), tenants(300));
    expect(unassigned).toBe(0);
    expect([...counts.keys()]).toEqual(['n1', 'n2', 'n3']);
    for (const count of counts.values()) expect(count).toBeGreaterThanOrEqual(75);
    for (const count of counts.values()) expect(count).toBeLessThanOrEqual(125);
  });

  it('honours weights: a weight-2 node gets about half of the tenants of 2+1+1', () => {
    const placement = createPlacement({ nodes: [node('n1', 'active', 2), node('n2'), node('n3')] });
    const { counts } = ringDistribution(placement, tenants(3000));
    const share = (counts.get('n1') ?? 0) / 3000;
    expect(share).toBeGreaterThan(0.42);
    expect(share).toBeLessThan(0.58);
  });

  it('a pin overrides the ring', () => {
    const base = three();
    const tenant = tenantOwnedBy(base, 'n1');
    const pinned = createPlacement({
      nodes: [node('n1'), node('n2'), node('n3')],
      pins: [[tenant, 'n2']],
    });
    expect(resolveOwner(pinned, tenant)).toBe('n2');
  });

  it('a pin to a draining node holds; a pin to a down or unknown node falls back to the ring', () => {
    const tenant = tenantOwnedBy(three(), 'n1');
    const with3 = (status: NodeStatus, pinTo: string) =>
      createPlacement({
        nodes: [node('n1'), node('n2'), node('n3', status)],
        pins: [[tenant, pinTo]],
      });
    expect(resolveOwner(with3('draining', 'n3'), tenant)).toBe('n3');
    expect(resolveOwner(with3('down', 'n3'), tenant)).toBe('n1');
    expect(resolveOwner(with3('active', 'n9'), tenant)).toBe('n1');
  });

  it('only active nodes are on the ring; a down node owns nothing', () => {
    const placement = createPlacement({
      nodes: [node('n1'), node('n2', 'down'), node('n3', 'draining')],
    });
    expect(tenantRing(placement).nodes).toEqual(['n1']);
    for (const t of tenants(50)) expect(resolveOwner(placement, t)).toBe('n1');
  });

  it('no active node: unpinned tenants have no owner, pinned ones keep theirs', () => {
    const tenant = Tenant.parse('pinned');
    const placement = createPlacement({ nodes: [node('n1', 'draining')], pins: [[tenant, 'n1']] });
    expect(resolveOwner(placement, Tenant.parse('other'))).toBeUndefined();
    expect(resolveOwner(placement, tenant)).toBe('n1');
    expect(ringDistribution(placement, [tenant, Tenant.parse('other')])).toEqual({
      counts: new Map([['n1', 1]]),
      unassigned: 1,
    });
    expect(resolveOwner(createPlacement(), Tenant.DEFAULT)).toBeUndefined();
  });

  it('resolves the default tenant and tenant ids named like Object.prototype members', () => {
    const placement = three();
    const odd = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];
    for (const id of [...odd.map((t) => Tenant.parse(t)), Tenant.DEFAULT]) {
      expect(['n1', 'n2', 'n3']).toContain(resolveOwner(placement, id));
    }
    // the same answers again (no cache in between can change them)
    const again = odd.map((t) => resolveOwner(placement, Tenant.parse(t)));
    expect(again).toEqual(odd.map((t) => resolveOwner(three(), Tenant.parse(t))));
    expect(Object.prototype).not.toHaveProperty('value');
  });
});

describe('ring cache', () => {
  it('builds a ring once per placement and reuses it when only heartbeats changed', () => {
    const a = three();
    expect(tenantRing(a)).toBe(tenantRing(a));
    const heartbeat = createPlacement({
      revision: 9,
      nodes: [node('n1'), node('n2'), { ...node('n3'), heartbeatAt: '2025-06-01T00:00:00.000Z' }],
    });
    expect(tenantRing(heartbeat)).toBe(tenantRing(a));
    const moreVnodes = createPlacement({
      nodes: [node('n1'), node('n2'), node('n3')],
      ring: { vnodes: 200 },
    });
    expect(tenantRing(moreVnodes)).not.toBe(tenantRing(a));
    expect(tenantRing(moreVnodes).vnodes).toBe(200);
  });
});

describe('moves', () => {
  it('adding a 4th node moves about a quarter of the tenants, all onto the new node', () => {
    const plan = movesIfNodeAdded(three(), { id: 'n4' }, tenants(300));
    expect(plan.total).toBe(300);
    expect(plan.fraction).toBeGreaterThanOrEqual(0.15);
    expect(plan.fraction).toBeLessThanOrEqual(0.35);
    for (const move of plan.moves) expect(move.to).toBe('n4');
  });

  it('with unequal weights, adding a node still moves tenants only onto it', () => {
    const placement = createPlacement({
      nodes: [node('n1', 'active', 3), node('n2'), node('n3', 'active', 2)],
    });
    const plan = movesIfNodeAdded(placement, { id: 'n4', weight: 2 }, tenants(600));
    expect(plan.moves.length).toBeGreaterThan(0);
    for (const move of plan.moves) expect(move.to).toBe('n4');
  });

  it('pinned tenants do not move when a node is added', () => {
    const pinnedTenants = tenants(300).slice(0, 50);
    const placement = createPlacement({
      nodes: [node('n1'), node('n2'), node('n3')],
      pins: pinnedTenants.map((t) => [t, 'n1'] as const),
    });
    const plan = movesIfNodeAdded(placement, { id: 'n4' }, tenants(300));
    const moved = new Set(plan.moves.map((m) => m.tenant));
    for (const t of pinnedTenants) expect(moved.has(t)).toBe(false);
  });

  it('removing a node moves exactly its tenants, and only them', () => {
    const placement = three();
    const all = tenants(300);
    const owned = all.filter((t) => resolveOwner(placement, t) === 'n2');
    const plan = movesIfNodeRemoved(placement, 'n2', all);
    expect(plan.moves.map((m) => m.tenant)).toEqual(owned);
    for (const move of plan.moves) {
      expect(move.from).toBe('n2');
      expect(['n1', 'n3']).toContain(move.to);
    }
    expect(movesIfNodeRemoved(placement, 'n2', [])).toEqual({ total: 0, moves: [], fraction: 0 });
  });
});

describe('createPlacement', () => {
  it('rejects invalid input naming the field', () => {
    expect(() => createPlacement({ nodes: [{ ...node('n1'), weight: 0 }] })).toThrow(
      ValidationError,
    );
    expect(() => createPlacement({ nodes: [{ ...node('n1'), weight: 0 }] })).toThrow(/weight/);
    expect(() => createPlacement({ nodes: [node('n1'), node('n1')] })).toThrow(/duplicate/);
    expect(() => createPlacement({ nodes: [{ ...node('n1'), id: 'a.b' }] })).toThrow(/id/);
    expect(() => createPlacement({ nodes: [{ ...node('n1'), id: '__proto__' }] })).toThrow(/id/);
    expect(() => createPlacement({ ring: { vnodes: 0 } })).toThrow(/vnodes/);
    expect(() => createPlacement({ pins: [[Tenant.parse('t'), 'bad id']] })).toThrow(/nodeId/);
  });

  it('is frozen', () => {
    const placement = three();
    expect(Object.isFrozen(placement)).toBe(true);
    expect(Object.isFrozen(placement.nodes.get('n1'))).toBe(true);
  });
});
