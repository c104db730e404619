// The cluster the router e2e files (test/router.*.e2e.test.ts) run on: the run's nats-server,
// 3 aggregate nodes and 2 routers on loopback, one gRPC client per router, and the helpers
// their tests share. Each file calls useRouterCluster() once and gets a cluster of its own.
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { GatewayRouter } from '@tenantfold/gateway-router';
import type { MigrationPhase, MigrationRecord, Placement } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import { afterAll, beforeAll, expect, inject, vi } from 'vitest';
import type { GrpcClient } from './clients.js';
import { grpcClient, http, metricSum } from './clients.js';
import { TestCluster } from './cluster.js';

// Set by useRouterCluster() before the file's tests run (live bindings: read them in tests).
export let cluster: TestCluster;
/** The cluster's running routers (`cluster.routers`: routers a test starts join it). */
export let routers: GatewayRouter[];
/** A gRPC CommandService client per router the cluster started with. */
export let clients: GrpcClient[];

/** Starts the file's cluster before its tests and stops it after them. */
export function useRouterCluster(): void {
  beforeAll(async () => {
    cluster = await TestCluster.start({
      natsUrl: inject('natsUrl'),
      routers: 2,
      // Every tenant keeps its own metrics label, so the test can see which node served it.
      // The nodes accept the default tenant; whether a call may use it is the router's call.
      nodeEnv: { AGGREGATE_TENANT_LABEL_CAP: '10000', AGGREGATE_ALLOW_DEFAULT_TENANT: 'true' },
    });
    routers = cluster.routers;
    clients = routers.map((router) => grpcClient(router.grpcPort));
  });

  afterAll(async () => {
    for (const client of clients ?? []) client.close();
    await cluster?.stop();
  });
}

export const open = (id: string, owner = 'e2e') => ({
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Open', data: { owner } }),
});
export const deposit = (id: string, amount: number) => ({
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Deposit', data: { amount } }),
});

/** Commands a node applied for a tenant (its own metrics). */
export function servedBy(nodeId: string, tenant: string): Promise<number> {
  return metricSum(cluster.node(nodeId).adminPort, 'aggregate_commands_total', {
    tenant_id: tenant,
    outcome: 'ok',
  });
}

/** Waits until every router uses a placement at least at `revision`. */
export async function routersAt(revision: number): Promise<void> {
  await vi.waitFor(
    async () => {
      for (const router of routers) {
        const health = await http(router.httpPort, 'GET', '/health');
        const placement = health.body.placement as { revision: number };
        expect(placement.revision).toBeGreaterThanOrEqual(revision);
      }
    },
    { timeout: 5_000, interval: 5 },
  );
}

/** A tenant the current placement gives to `nodeId`. */
export function tenantOn(placement: Placement, nodeId: string, prefix: string): TenantId {
  for (let i = 0; i < 1_000; i++) {
    const tenant = Tenant.parse(`${prefix}-${i}`);
    if (resolveOwner(placement, tenant) === nodeId) return tenant;
  }
  throw new Error(`no tenant of ${nodeId}`);
}

/** A migration record from node-a to node-b in `phase`: epoch 1, started now. */
export function migration(phase: MigrationPhase): MigrationRecord {
  return { phase, from: 'node-a', to: 'node-b', epoch: 1, startedAt: new Date().toISOString() };
}
