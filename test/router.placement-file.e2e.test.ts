// The gateway router on a whole cluster: it starts from a placement file while KV is
// unreachable, follows KV once it comes, and keeps routing by the last placement when KV goes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { PlacementStore, placementToYaml } from '@tenantfold/nats';
import type { NatsServer } from '@tenantfold/testkit';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { describe, expect, it, vi } from 'vitest';
import { grpcClient, grpcRejection, http, metricSum } from './support/clients.js';
import { cluster, useRouterCluster } from './support/routerCluster.js';
import { deposit, open, servedBy, tenantOn } from './support/routerCluster.js';

useRouterCluster();

describe('placement file', () => {
  it('starts from the placement file when KV is unreachable, then catches up when KV comes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'router-placement-'));
    const kvPort = await freePort();
    let lateNats: NatsServer | undefined;
    try {
      const file = join(dir, 'placement.yaml');
      const placement = await cluster.placement.load();
      await writeFile(file, placementToYaml(placement));
      const router = await cluster.startRouter({
        ROUTER_NATS_URL: `nats://127.0.0.1:${kvPort}`,
        ROUTER_NATS_CONNECT_TIMEOUT_MS: '300',
        ROUTER_PLACEMENT_FILE: file,
      });
      const health = await http(router.httpPort, 'GET', '/health');
      expect(health.status).toBe(200);
      expect(health.body.placement).toEqual({ source: 'file', revision: 0 });
      const ready = await http(router.httpPort, 'GET', '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.reason).toContain('NATS not connected');
      expect(await metricSum(router.httpPort, 'router_placement_from_file')).toBe(1);

      // It routes by the file: every tenant to the owner KV would give it.
      const client = grpcClient(router.grpcPort);
      try {
        for (const nodeId of ['node-a', 'node-b', 'node-c']) {
          const tenant = tenantOn(placement, nodeId, 'from-file');
          await client.submit(open('acc-1'), { 'x-tenant-id': tenant });
          expect(await servedBy(nodeId, tenant)).toBe(1);
        }
      } finally {
        client.close();
      }

      // KV appears: the router follows it. A tenant the file gives to node-a is pinned to
      // node-c there (and in the cluster's KV, so the nodes agree): only a router that
      // follows the new KV can get its command applied.
      const moved = tenantOn(placement, 'node-a', 'late');
      await cluster.placement.pin(moved, 'node-c');

      // Meanwhile the file's placement is stale for it: node-a refuses, the router has no
      // fresher placement to read, retries once, then passes the refusal on with the owner.
      const stale = grpcClient(router.grpcPort);
      let attempt = 0;
      let refusals = 0;
      try {
        await vi.waitFor(async () => {
          const refused = await grpcRejection(
            stale.submit(open(`acc-stale-${attempt++}`), { 'x-tenant-id': moved }),
          );
          if (refused.code === status.UNAVAILABLE) refusals++;
          expect(refused.code).toBe(status.UNAVAILABLE);
          expect(refused.metadata.get('x-owner-node')).toEqual(['node-c']);
        });
      } finally {
        stale.close();
      }
      // Each refused call was retried exactly once.
      expect(await metricSum(router.httpPort, 'router_not_owner_retries_total')).toBe(refusals);
      lateNats = await startNatsServer({ port: kvPort });
      const nc = await connect({ servers: lateNats.url });
      try {
        const late = await PlacementStore.open(nc, { bucket: cluster.names.placementBucket });
        for (const node of placement.nodes.values()) await late.registerNode(node);
        const revision = await late.pin(moved, 'node-c');
        await vi.waitFor(
          async () => {
            const now = await http(router.httpPort, 'GET', '/health');
            expect(now.body.placement).toEqual({ source: 'kv', revision });
            expect((await http(router.httpPort, 'GET', '/ready')).status).toBe(200);
          },
          { timeout: 10_000, interval: 50 },
        );
        const viaLate = grpcClient(router.grpcPort);
        try {
          await viaLate.submit(open('acc-1'), { 'x-tenant-id': moved });
        } finally {
          viaLate.close();
        }
        expect(await servedBy('node-c', moved)).toBe(1);
        expect(await metricSum(router.httpPort, 'router_placement_from_file')).toBe(0);

        // KV lost again: not ready, but it keeps routing by the last placement it saw.
        await nc.close();
        await lateNats.stop();
        lateNats = undefined;
        await vi.waitFor(async () => {
          const ready = await http(router.httpPort, 'GET', '/ready');
          expect(ready.status).toBe(503);
          expect(ready.body.reason).toContain(`kv revision ${revision}`);
        });
        expect(await metricSum(router.httpPort, 'router_nats_connected')).toBe(0);
        const stale = grpcClient(router.grpcPort);
        try {
          await stale.submit(deposit('acc-1', 3), { 'x-tenant-id': moved });
        } finally {
          stale.close();
        }
        expect(await servedBy('node-c', moved)).toBe(2);
      } finally {
        if (!nc.isClosed()) await nc.close();
      }
    } finally {
      await lateNats?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
