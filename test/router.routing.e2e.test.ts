// The gateway router on a whole cluster: it spreads tenants over the nodes by placement, follows
// pins at once, and holds a tenant in cutover until its new owner takes it.
import { TenantId as Tenant } from '@tenantfold/core';
import type { MigrationPhase } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import { describe, expect, it, vi } from 'vitest';
import { http } from './support/clients.js';
import { clients, cluster, routers, useRouterCluster } from './support/routerCluster.js';
import { deposit, open, routersAt, servedBy, tenantOn } from './support/routerCluster.js';

useRouterCluster();

describe('routing', () => {
  it('spreads 300 tenants over 3 nodes and lands every command on its owner', async () => {
    const placement = await cluster.placement.load();
    await routersAt(placement.revision);
    const tenants = Array.from({ length: 300 }, (_, i) => Tenant.parse(`spread-${i}`));
    let next = 0;
    // 16 in flight, alternating routers and transports.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < tenants.length) {
          const i = next++;
          const tenant = tenants[i]!;
          if (i % 2 === 0) {
            await clients[i % 4 === 0 ? 0 : 1]!.submit(open('acc-1'), { 'x-tenant-id': tenant });
          } else {
            const answer = await http(
              routers[i % 4 === 1 ? 0 : 1]!.httpPort,
              'POST',
              '/v1/commands',
              {
                headers: { 'x-tenant-id': tenant },
                body: {
                  aggregate_type: 'account',
                  aggregate_id: 'acc-1',
                  payload: { type: 'Open', data: { owner: 'e2e' } },
                },
              },
            );
            expect(answer.status, JSON.stringify(answer.body)).toBe(200);
          }
        }
      }),
    );
    const expected = new Map<string, number>();
    for (const tenant of tenants) {
      const owner = resolveOwner(placement, tenant)!;
      expected.set(owner, (expected.get(owner) ?? 0) + 1);
    }
    const landed = new Map<string, number>();
    for (const nodeId of cluster.nodes.keys()) {
      let count = 0;
      for (const tenant of tenants) {
        const served = await servedBy(nodeId, tenant);
        if (served > 0) {
          expect(resolveOwner(placement, tenant), `${tenant} served by ${nodeId}`).toBe(nodeId);
          count += served;
        }
      }
      landed.set(nodeId, count);
    }
    process.stdout.write(
      `300 tenants over 3 nodes: ${[...landed].map(([id, n]) => `${id} ${n}`).join(', ')}\n`,
    );
    expect(landed).toEqual(expected);
    for (const count of landed.values()) expect(count).toBeGreaterThan(60);
  });

  it('moves a pinned tenant: the next command reaches the new node within 200 ms of the KV write', async () => {
    const before = await cluster.placement.load();
    const tenant = tenantOn(before, 'node-a', 'pinned');
    await clients[0]!.submit(open('acc-1'), { 'x-tenant-id': tenant });
    expect(await servedBy('node-a', tenant)).toBe(1);

    const written = performance.now();
    await cluster.placement.pin(tenant, 'node-b');
    for (const [i, client] of clients.entries()) {
      await client.submit(deposit('acc-1', i + 1), { 'x-tenant-id': tenant });
    }
    const elapsed = performance.now() - written;
    process.stdout.write(
      `pin write to both routers' next commands on node-b: ${elapsed.toFixed(1)} ms\n`,
    );
    expect(elapsed).toBeLessThan(200);
    expect(await servedBy('node-b', tenant)).toBe(2);
    expect(await servedBy('node-a', tenant)).toBe(1);
  });

  it('holds a tenant in cutover and releases every command to the new owner, in order', async () => {
    const placement = await cluster.placement.load();
    const tenant = tenantOn(placement, 'node-a', 'moving');
    const headers = { 'x-tenant-id': tenant };
    await clients[0]!.submit(open('acc-1'), headers);
    await clients[1]!.submit(open('acc-2'), headers);
    const pin = await cluster.placement.pin(tenant, 'node-a');

    let revision = 0;
    const phase = async (name: MigrationPhase) => {
      revision = await cluster.placement.putMigration(
        tenant,
        {
          phase: name,
          from: 'node-a',
          to: 'node-c',
          epoch: 1,
          startedAt: new Date().toISOString(),
        },
        revision,
      );
      return revision;
    };
    await routersAt(await phase('DRAINING'));

    // 20 deposits per aggregate, alternating routers, all sent before the swap.
    const sent = Array.from({ length: 40 }, (_, i) => {
      const id = i % 2 === 0 ? 'acc-1' : 'acc-2';
      return clients[i % 2]!.submit(deposit(id, i + 1), headers);
    });
    await vi.waitFor(async () => {
      const held = await Promise.all(routers.map((r) => http(r.httpPort, 'GET', '/health')));
      expect(held.reduce((n, h) => n + (h.body.held_commands as number), 0)).toBe(40);
    });
    await phase('VERIFYING');
    await phase('SWAPPING');
    await cluster.placement.pin(tenant, 'node-c', { expectedRevision: pin });
    await phase('DONE');

    const results = await Promise.all(sent);
    // Per aggregate, the k-th command sent got version k + 1 (after the Open).
    const versions = { 'acc-1': [] as number[], 'acc-2': [] as number[] };
    results.forEach((result, i) =>
      versions[i % 2 === 0 ? 'acc-1' : 'acc-2'].push(Number(result.version)),
    );
    expect(versions['acc-1']).toEqual(Array.from({ length: 20 }, (_, k) => k + 2));
    expect(versions['acc-2']).toEqual(Array.from({ length: 20 }, (_, k) => k + 2));
    expect(await servedBy('node-c', tenant)).toBe(40);
    const state = await clients[1]!.getState(
      { aggregate_type: 'account', aggregate_id: 'acc-1' },
      headers,
    );
    expect(JSON.parse(state.state_json as string)).toMatchObject({
      balance: Array.from({ length: 20 }, (_, k) => 2 * k + 1).reduce((a, b) => a + b, 0),
    });
  });
});
