import HashRing from 'hashring';
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { NodeRecord, Placement, Stored } from './types.js';

/**
 * The consistent-hash ring of a placement: md5 ketama over the ACTIVE nodes,
 * `vnodes × weight` virtual nodes each (4 points per virtual node). A node's
 * points depend only on its id and weight, so adding a node moves tenants only
 * onto it, and removing one moves only its own tenants.
 */
export interface TenantRing {
  /** Active node ids on the ring, sorted. */
  readonly nodes: readonly string[];
  readonly vnodes: number;
  /** Ring owner of a tenant token (`TenantId.token`); undefined when no node is active. */
  ownerOf(token: string): string | undefined;
}

class KetamaRing implements TenantRing {
  readonly #ring: HashRing | undefined;

  constructor(
    readonly nodes: readonly string[],
    readonly vnodes: number,
    weights: ReadonlyMap<string, number>,
  ) {
    if (nodes.length === 0) return;
    // 'vnode count' 0 makes hashring use each server's own `vnodes` as is
    // (its percentage formula would shift points between old nodes on add).
    // fromEntries defines own properties, so no node id reaches a prototype.
    const servers = Object.fromEntries(
      nodes.map((id) => [id, { vnodes: vnodes * (weights.get(id) ?? 1) }]),
    );
    this.#ring = new HashRing(servers, 'md5', { 'vnode count': 0, 'max cache size': 1 });
  }

  ownerOf(token: string): string | undefined {
    // `range` rather than `get`: `get` goes through hashring's LRU cache, a plain
    // object in which tenant ids such as `constructor` or `__proto__` hit
    // Object.prototype.
    return this.#ring?.range(token, 1)[0];
  }
}

/** Rings by content (vnodes + active ids and weights), so heartbeats reuse them. */
const ringsBySignature = new Map<string, TenantRing>();
const RING_CACHE_SIZE = 16;
/** One ring lookup per snapshot object. */
const ringsBySnapshot = new WeakMap<Placement, TenantRing>();

/** The ring of a placement, built once per distinct ring content and cached. */
export function tenantRing(placement: Placement): TenantRing {
  const cached = ringsBySnapshot.get(placement);
  if (cached !== undefined) return cached;
  const active = [...placement.nodes.values()]
    .filter((node) => node.status === 'active')
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const vnodes = placement.ring.vnodes;
  const signature = `${vnodes}|${active.map((node) => `${node.id}*${node.weight}`).join(',')}`;
  let ring = ringsBySignature.get(signature);
  if (ring === undefined) {
    ring = new KetamaRing(
      active.map((node) => node.id),
      vnodes,
      new Map(active.map((node) => [node.id, node.weight])),
    );
    if (ringsBySignature.size >= RING_CACHE_SIZE) {
      const oldest = ringsBySignature.keys().next();
      if (oldest.done !== true) ringsBySignature.delete(oldest.value);
    }
  } else {
    ringsBySignature.delete(signature); // re-insert: most recently used last
  }
  ringsBySignature.set(signature, ring);
  ringsBySnapshot.set(placement, ring);
  return ring;
}

/**
 * The node that owns a tenant, or undefined when no node can take it. The one
 * rule shared by nodes and routers:
 * 1. a pin wins if its node exists and is not `down` (a `draining` node keeps
 *    its pins until they are moved);
 * 2. otherwise the hash ring over `active` nodes, keyed by the tenant token.
 */
export function resolveOwner(placement: Placement, tenant: TenantId): string | undefined {
  const pin = placement.pins.get(tenant);
  if (pin !== undefined) {
    const node = placement.nodes.get(pin.nodeId);
    if (node !== undefined && node.status !== 'down') return node.id;
  }
  return tenantRing(placement).ownerOf(Tenant.token(tenant));
}

export interface RingDistribution {
  /** Tenants per node; every active node is listed, also with 0. */
  readonly counts: ReadonlyMap<string, number>;
  /** Tenants no node can take (no active node and no usable pin). */
  readonly unassigned: number;
}

/** How `tenants` spread over the nodes under `resolveOwner` (pins included). */
export function ringDistribution(
  placement: Placement,
  tenants: Iterable<TenantId>,
): RingDistribution {
  const counts = new Map<string, number>(tenantRing(placement).nodes.map((id) => [id, 0]));
  let unassigned = 0;
  for (const tenant of tenants) {
    const owner = resolveOwner(placement, tenant);
    if (owner === undefined) unassigned++;
    else counts.set(owner, (counts.get(owner) ?? 0) + 1);
  }
  return { counts, unassigned };
}

export interface TenantMove {
  readonly tenant: TenantId;
  /** Owner before (undefined: nobody). */
  readonly from: string | undefined;
  /** Owner after (undefined: nobody). */
  readonly to: string | undefined;
}

export interface MovePlan {
  /** Tenants considered. */
  readonly total: number;
  /** Tenants whose owner changes, in input order. */
  readonly moves: readonly TenantMove[];
  /** `moves.length / total` (0 when there are no tenants). */
  readonly fraction: number;
}

function diff(before: Placement, after: Placement, tenants: Iterable<TenantId>): MovePlan {
  const moves: TenantMove[] = [];
  let total = 0;
  for (const tenant of tenants) {
    total++;
    const from = resolveOwner(before, tenant);
    const to = resolveOwner(after, tenant);
    if (from !== to) moves.push({ tenant, from, to });
  }
  return { total, moves, fraction: total === 0 ? 0 : moves.length / total };
}

function withNodes(placement: Placement, nodes: Map<string, Stored<NodeRecord>>): Placement {
  return Object.freeze({ ...placement, nodes });
}

/** Tenants that would move if an active node `node` joined (pins honoured). */
export function movesIfNodeAdded(
  placement: Placement,
  node: { readonly id: string; readonly weight?: number },
  tenants: Iterable<TenantId>,
): MovePlan {
  const nodes = new Map(placement.nodes);
  nodes.set(
    node.id,
    Object.freeze({
      id: node.id,
      grpcAddress: '-',
      adminAddress: '-',
      tenantRange: '-',
      weight: node.weight ?? 1,
      status: 'active',
      heartbeatAt: new Date(0).toISOString(),
      revision: 0,
    }),
  );
  return diff(placement, withNodes(placement, nodes), tenants);
}

/** Tenants that would move if node `nodeId` left (its pins fall back to the ring). */
export function movesIfNodeRemoved(
  placement: Placement,
  nodeId: string,
  tenants: Iterable<TenantId>,
): MovePlan {
  const nodes = new Map(placement.nodes);
  nodes.delete(nodeId);
  return diff(placement, withNodes(placement, nodes), tenants);
}
