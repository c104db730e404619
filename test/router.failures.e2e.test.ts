// The gateway router on a whole cluster: UNAVAILABLE with retry-after when a hold overflows, times
// out or the router stops, and fast when the owning node cannot be reached.
import { status } from '@grpc/grpc-js';
import { TenantId as Tenant } from '@tenantfold/core';
import { freePort } from '@tenantfold/testkit';
import { describe, expect, it, vi } from 'vitest';
import { grpcClient, grpcRejection, http, metricSum } from './support/clients.js';
import { clients, cluster, routers, useRouterCluster } from './support/routerCluster.js';
import { migration, open, routersAt } from './support/routerCluster.js';

useRouterCluster();

describe('failures', () => {
  it('answers UNAVAILABLE with retry-after when the hold queue is full or its deadline passes', async () => {
    const router = await cluster.startRouter({
      ROUTER_HOLD_QUEUE_LIMIT: '2',
      ROUTER_HOLD_TIMEOUT_MS: '300',
    });
    const client = grpcClient(router.grpcPort);
    try {
      const tenant = Tenant.parse('stuck');
      const headers = { 'x-tenant-id': tenant };
      const revision = await cluster.placement.putMigration(tenant, migration('DRAINING'), 0);
      await routersAt(revision);
      const started = performance.now();
      const held = [1, 2].map((n) => grpcRejection(client.submit(open(`acc-${n}`), headers)));
      await vi.waitFor(async () => {
        expect((await http(router.httpPort, 'GET', '/health')).body.held_commands).toBe(2);
      });
      const full = await grpcRejection(client.submit(open('acc-3'), headers));
      expect(full.code).toBe(status.UNAVAILABLE);
      expect(full.details).toContain('2 requests already wait');
      expect(full.metadata.get('retry-after')).toEqual(['1']);
      const overHttp = await http(router.httpPort, 'POST', '/v1/commands', {
        headers,
        body: {
          aggregate_type: 'account',
          aggregate_id: 'acc-4',
          payload: { type: 'Open', data: { owner: 'x' } },
        },
      });
      expect(overHttp.status).toBe(503);
      expect(overHttp.headers.get('retry-after')).toBe('1');

      for (const error of await Promise.all(held)) {
        expect(error.code).toBe(status.UNAVAILABLE);
        expect(error.details).toContain('longer than 300 ms');
        expect(error.metadata.get('retry-after')).toEqual(['1']);
      }
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect(
        await metricSum(router.httpPort, 'router_held_commands_total', { outcome: 'timeout' }),
      ).toBe(2);
      expect(
        await metricSum(router.httpPort, 'router_held_commands_total', { outcome: 'full' }),
      ).toBe(2);
      await cluster.placement.putMigration(
        tenant,
        { ...migration('ROLLED_BACK'), reason: 'test' },
        revision,
      );
    } finally {
      client.close();
    }
  });

  it('refuses held calls with retry-after when it stops, and finishes the rest', async () => {
    const router = await cluster.startRouter();
    const client = grpcClient(router.grpcPort);
    const tenant = Tenant.parse('stopping');
    const headers = { 'x-tenant-id': tenant };
    try {
      const revision = await cluster.placement.putMigration(tenant, migration('VERIFYING'), 0);
      await routersAt(revision);
      const held = grpcRejection(client.submit(open('acc-1'), headers));
      await vi.waitFor(async () => {
        expect((await http(router.httpPort, 'GET', '/health')).body.held_commands).toBe(1);
      });
      await cluster.stopRouter(router);
      const error = await held;
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toContain('shutting down');
      expect(error.metadata.get('retry-after')).toEqual(['1']);
      expect(router.state).toBe('STOPPED');
    } finally {
      client.close();
    }
  });

  it('answers UNAVAILABLE fast when the owning node cannot be reached, and counts it', async () => {
    const port = await freePort();
    await cluster.placement.registerNode({
      id: 'node-z',
      grpcAddress: `127.0.0.1:${port}`,
      adminAddress: `127.0.0.1:${port}`,
      tenantRange: 'z',
      status: 'draining', // off the ring: only its pinned tenant goes there
    });
    const revision = await cluster.placement.pin(Tenant.parse('orphan'), 'node-z');
    await routersAt(revision);
    const started = performance.now();
    const error = await grpcRejection(
      clients[0]!.submit(open('acc-1'), { 'x-tenant-id': 'orphan' }),
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain(`node 'node-z' (127.0.0.1:${port}) is unreachable`);
    expect(
      await metricSum(routers[0]!.httpPort, 'router_node_unreachable_total', { node: 'node-z' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metricSum(routers[0]!.httpPort, 'router_requests_total', {
        route: 'grpc SubmitCommand',
        outcome: 'unavailable',
      }),
    ).toBeGreaterThanOrEqual(1);
    await cluster.placement.unpin(Tenant.parse('orphan'));
    await cluster.placement.removeNode('node-z');
  });
});
