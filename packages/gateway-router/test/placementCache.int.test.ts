import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { silentLogger, TenantId } from '@tenantfold/core';
import type { Placement } from '@tenantfold/nats';
import { PlacementStore, resolveOwner } from '@tenantfold/nats';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { PlacementCache } from '../src/placement/placementCache.js';

// The router's placement view on a real KV bucket: follows pins, statuses and heartbeats.
const bucket = `PLACEMENT_cache_${Math.random().toString(36).slice(2, 8)}`;
let nc: NatsConnection;
let store: PlacementStore;
let cache: PlacementCache;
const seen: Placement[] = [];

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  store = await PlacementStore.open(nc, { bucket });
  for (const id of ['n1', 'n2', 'n3']) {
    await store.registerNode({
      id,
      grpcAddress: `127.0.0.1:1${id.length}`,
      adminAddress: '127.0.0.1:1',
      tenantRange: id,
    });
  }
  cache = new PlacementCache(silentLogger);
  cache.onChange((placement) => seen.push(placement));
  await cache.follow(store);
});

afterAll(async () => {
  cache.stop();
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
  await nc.close();
});

const tenant = TenantId.parse('acme');

describe('PlacementCache', () => {
  it('resolves owners as resolveOwner does and follows pins and node statuses', async () => {
    expect(cache.source).toBe('kv');
    const first = cache.ownerOf(tenant);
    expect(first).toBe(resolveOwner(cache.require(), tenant));
    const other = ['n1', 'n2', 'n3'].find((id) => id !== first)!;

    const pinned = await store.pin(tenant, other);
    await vi.waitFor(() => expect(cache.ownerOf(tenant)).toBe(other));
    expect(cache.require().revision).toBeGreaterThanOrEqual(pinned);

    await store.setNodeStatus(other, 'down'); // a pin to a down node falls back to the ring
    await vi.waitFor(() => expect(cache.ownerOf(tenant)).not.toBe(other));
    expect(cache.ownerOf(tenant)).toBe(resolveOwner(cache.require(), tenant));
    await store.setNodeStatus(other, 'active');
    await vi.waitFor(() => expect(cache.ownerOf(tenant)).toBe(other));
  });

  it('tells listeners about heartbeats too, and never goes back to an older revision', async () => {
    const before = seen.length;
    const revision = await store.heartbeat('n1');
    await vi.waitFor(() => expect(cache.require().revision).toBe(revision));
    expect(seen.length).toBeGreaterThan(before);
    await cache.refresh();
    expect(cache.require().revision).toBe(revision);
    expect(seen.every((p, i) => i === 0 || p.revision > seen[i - 1]!.revision)).toBe(true);
  });

  it('ignores a placement file once it follows KV', () => {
    const current = cache.require();
    cache.adoptFile({ ...current, revision: 0 }, '/nowhere.yaml');
    expect(cache.source).toBe('kv');
    expect(cache.require()).toBe(current);
  });
});
