import { randomUUID } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Placement, PlacementWatch } from '../src/placement/index.js';
import { PlacementStore, resolveOwner, ringDistribution } from '../src/placement/index.js';

/**
 * A router's view: a placement cache fed by the KV watch, queried with the one
 * ownership rule. Every scenario changes placement through the store and reads
 * the result from the cache, without restarting anything.
 */
let nc: NatsConnection;
let bucket: string;
let store: PlacementStore;
let watch: PlacementWatch;
let cache: AsyncIterator<Placement>;

beforeEach(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  bucket = `TP_${randomUUID().slice(0, 8)}`;
  store = await PlacementStore.open(nc, { bucket });
  for (const id of ['n1', 'n2', 'n3']) {
    await store.registerNode({
      id,
      grpcAddress: `127.0.0.1:500${id.slice(1)}`,
      adminAddress: `127.0.0.1:900${id.slice(1)}`,
      tenantRange: `range-${id}`,
    });
  }
  watch = await store.watch();
  cache = watch[Symbol.asyncIterator]();
});
afterEach(async () => {
  watch.stop();
  try {
    await (await new Kvm(nc).open(bucket)).destroy();
  } finally {
    await nc.close();
  }
});

const tenants: TenantId[] = Array.from({ length: 300 }, (_, i) => Tenant.parse(`tenant-${i}`));

/** The cache's next snapshot at or after `revision` (bounded wait). */
async function cachedAt(revision: number): Promise<Placement> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`no snapshot at revision ${revision} within 5 s`);
    const step = await cache.next();
    if (step.done === true) throw new Error('placement watch ended');
    if (step.value.revision >= revision) return step.value;
  }
}

const owners = (placement: Placement) => tenants.map((t) => resolveOwner(placement, t));

describe('ownership over a KV placement', () => {
  it('300 tenants spread fairly over 3 nodes; a 4th node takes about a quarter', async () => {
    const before = await cachedAt(3);
    const { counts, unassigned } = ringDistribution(before, tenants);
    // eslint-disable-next-line no-console -- measured figure for the report
    console.log('300 tenants over 3 equal nodes:', Object.fromEntries(counts));
    expect(unassigned).toBe(0);
    expect(counts.size).toBe(3);
    for (const count of counts.values()) {
      expect(count).toBeGreaterThanOrEqual(75);
      expect(count).toBeLessThanOrEqual(125);
    }

    const added = await store.registerNode({
      id: 'n4',
      grpcAddress: '127.0.0.1:5004',
      adminAddress: '127.0.0.1:9004',
      tenantRange: 'range-n4',
    });
    const after = await cachedAt(added);
    const old = owners(before);
    const moved = owners(after).filter((owner, i) => owner !== old[i]);
    const fraction = moved.length / tenants.length;
    // eslint-disable-next-line no-console -- measured figure for the report
    console.log(
      `adding n4 moved ${moved.length}/300 = ${(fraction * 100).toFixed(1)}% (ideal 25%);`,
      'after:',
      Object.fromEntries(ringDistribution(after, tenants).counts),
    );
    expect(fraction).toBeGreaterThanOrEqual(0.15);
    expect(fraction).toBeLessThanOrEqual(0.35);
    expect(new Set(moved)).toEqual(new Set(['n4']));
  });

  it('a pin overrides the ring, and unpinning returns the tenant to its ring owner', async () => {
    const initial = await cachedAt(3);
    const tenant = tenants.find((t) => resolveOwner(initial, t) === 'n1');
    if (tenant === undefined) throw new Error('no tenant on n1');
    const pinned = await store.pin(tenant, 'n2');
    expect(resolveOwner(await cachedAt(pinned), tenant)).toBe('n2');
    await store.unpin(tenant);
    const unpinned = await cachedAt(pinned + 1);
    expect(resolveOwner(unpinned, tenant)).toBe('n1');
  });

  it("a down node's tenants, pinned ones included, resolve to the other nodes", async () => {
    const initial = await cachedAt(3);
    const onN2 = tenants.filter((t) => resolveOwner(initial, t) === 'n2');
    const pinnedTenant = tenants.find((t) => resolveOwner(initial, t) === 'n1');
    if (pinnedTenant === undefined) throw new Error('no tenant on n1');
    const pinRevision = await store.pin(pinnedTenant, 'n2');
    expect(resolveOwner(await cachedAt(pinRevision), pinnedTenant)).toBe('n2');

    const down = await store.setNodeStatus('n2', 'down');
    const after = await cachedAt(down);
    expect(owners(after)).not.toContain('n2');
    expect(resolveOwner(after, pinnedTenant)).toBe('n1'); // its ring owner
    for (const t of onN2) expect(['n1', 'n3']).toContain(resolveOwner(after, t));
    // tenants of the healthy nodes stay where they were
    for (const t of tenants) {
      const owner = resolveOwner(initial, t);
      if (owner !== 'n2' && t !== pinnedTenant) expect(resolveOwner(after, t)).toBe(owner);
    }
  });

  it('a draining node keeps its pinned tenants and loses its ring tenants', async () => {
    const initial = await cachedAt(3);
    const onN3 = tenants.filter((t) => resolveOwner(initial, t) === 'n3');
    const [kept, ...rest] = onN3;
    if (kept === undefined) throw new Error('no tenant on n3');
    await store.pin(kept, 'n3');
    const draining = await store.setNodeStatus('n3', 'draining');
    const after = await cachedAt(draining);
    expect(resolveOwner(after, kept)).toBe('n3');
    for (const t of rest) expect(['n1', 'n2']).toContain(resolveOwner(after, t));
  });
});
