// `placementctl serve` against a node that dies with SIGKILL under load. The dying node is a
// child process (the tenantfold-node bin), so this file runs its own nats-server and every
// part uses the default stream and bucket names.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { AggregateNode, loadNodeConfig } from '@tenantfold/aggregate-node';
import type { StoredCommit, TenantId } from '@tenantfold/core';
import { silentLogger, StreamKey, TenantId as Tenant, Uuid } from '@tenantfold/core';
import { GatewayRouter, loadRouterConfig } from '@tenantfold/gateway-router';
import { JetStreamEventLog, PlacementStore, resolveOwner } from '@tenantfold/nats';
import {
  ControllerService,
  MigrationMetrics,
  Migrator,
  NodeAdminClient,
} from '@tenantfold/placement-controller';
import type { NatsServer } from '@tenantfold/testkit';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GrpcClient } from './support/clients.js';
import { grpcClient, http, metricSum } from './support/clients.js';
import { BANK_MANIFEST } from './support/cluster.js';

const NODE_MAIN = fileURLToPath(new URL('../packages/aggregate-node/src/main.ts', import.meta.url));
/** The bin heartbeats every 2 s; a node silent for longer than this is down. */
const HEARTBEAT_TIMEOUT_MS = 3_000;
const SERVED_AGAIN_WITHIN_MS = 5_000;

let nats: NatsServer;
let nc: NatsConnection;
let placement: PlacementStore;
const nodes: AggregateNode[] = [];
let victim: ChildProcess | undefined;
let router: GatewayRouter;
let client: GrpcClient;
let controller: ControllerService;

const nodeEnv = (id: string) => ({
  AGGREGATE_NODE_ID: id,
  AGGREGATE_NATS_URL: nats.url,
  AGGREGATE_MANIFEST: BANK_MANIFEST,
  AGGREGATE_TENANT_RANGE: id,
  AGGREGATE_LOG_LEVEL: 'warn',
});

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  placement = await PlacementStore.open(nc);
  for (const id of ['node-a', 'node-b']) {
    const config = loadNodeConfig({
      ...nodeEnv(id),
      AGGREGATE_GRPC_LISTEN: '127.0.0.1:0',
      AGGREGATE_ADMIN_LISTEN: '127.0.0.1:0',
    });
    nodes.push(await AggregateNode.start(config, { logger: silentLogger, heartbeatMs: 500 }));
  }
  victim = spawn(
    process.execPath,
    ['--no-node-snapshot', '--import', 'tsx', '--conditions=source', NODE_MAIN],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...nodeEnv('node-k'),
        AGGREGATE_GRPC_LISTEN: `127.0.0.1:${await freePort()}`,
        AGGREGATE_ADMIN_LISTEN: `127.0.0.1:${await freePort()}`,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await vi.waitFor(async () => expect((await placement.getNode('node-k'))?.status).toBe('active'), {
    timeout: 45_000,
    interval: 100,
  });
  router = await GatewayRouter.start(
    loadRouterConfig({
      ROUTER_NATS_URL: nats.url,
      ROUTER_GRPC_LISTEN: '127.0.0.1:0',
      ROUTER_HTTP_LISTEN: '127.0.0.1:0',
    }),
    { logger: silentLogger },
  );
  client = grpcClient(router.grpcPort);
  const metrics = new MigrationMetrics();
  controller = new ControllerService({
    placement,
    migrator: new Migrator({
      placement,
      admin: new NodeAdminClient(''),
      metrics,
    }),
    metrics,
    logger: silentLogger,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    checkIntervalMs: 200,
    listen: { host: '127.0.0.1', port: 0 },
  });
  await controller.start();
}, 60_000);

afterAll(async () => {
  if (victim?.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
  client?.close();
  await controller?.stop();
  await router?.stop();
  for (const node of nodes) await node.stop();
  await nc?.close();
  await nats?.stop();
});

interface Ack {
  readonly tenant: TenantId;
  readonly account: string;
  readonly commandId: string;
  readonly at: number;
  readonly attempts: number;
}

describe('placementctl serve', () => {
  it('serves /health and /metrics', async () => {
    const health = await http(controller.port, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ ok: true, nodes: 3 });
    expect(await metricSum(controller.port, 'placement_nodes', { status: 'active' })).toBe(3);
  });

  it('kill -9 of a node under load: its tenants are served by others within 5 s, no acknowledged event lost, retries commit once', async () => {
    const now = await placement.load();
    const tenants: TenantId[] = [];
    for (let i = 0; tenants.length < 4; i++) {
      const tenant = Tenant.parse(`victim-${i}`);
      if (resolveOwner(now, tenant) === 'node-k') tenants.push(tenant);
    }
    const accounts = ['acc-1', 'acc-2', 'acc-3'];
    const submit = (
      tenant: TenantId,
      account: string,
      type: string,
      data: object,
      commandId = '',
    ) =>
      client.submit(
        {
          command_id: commandId,
          aggregate_type: 'account',
          aggregate_id: account,
          payload_json: JSON.stringify({ type, data }),
        },
        { 'x-tenant-id': tenant },
      );
    for (const tenant of tenants)
      for (const account of accounts) await submit(tenant, account, 'Open', { owner: 'k' });

    // Clients retry a failed command with the same command_id until it is acknowledged.
    const acks: Ack[] = [];
    let running = true;
    const loops = tenants.flatMap((tenant) =>
      accounts.map(async (account) => {
        while (running) {
          const commandId = Uuid.new();
          for (let attempts = 1; ; attempts++) {
            try {
              await submit(tenant, account, 'Deposit', { amount: 1 }, commandId);
              acks.push({ tenant, account, commandId, at: performance.now(), attempts });
              break;
            } catch {
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
          }
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const killedAt = performance.now();
    victim?.kill('SIGKILL');
    // Served again: every tenant has a command acknowledged after the kill.
    await vi.waitFor(
      () => {
        for (const tenant of tenants)
          expect(acks.some((a) => a.tenant === tenant && a.at > killedAt)).toBe(true);
      },
      { timeout: 15_000, interval: 20 },
    );
    const servedAgainMs = Math.max(
      ...tenants.map(
        (tenant) =>
          (acks.find((a) => a.tenant === tenant && a.at > killedAt)?.at ?? Infinity) - killedAt,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    running = false;
    await Promise.all(loops);

    const after = await placement.load();
    expect(after.nodes.get('node-k')?.status).toBe('down');
    expect(await metricSum(controller.port, 'placement_nodes_marked_down_total')).toBe(1);
    for (const tenant of tenants)
      expect(['node-a', 'node-b']).toContain(resolveOwner(after, tenant));
    process.stdout.write(
      `kill -9: ${acks.length} acknowledged deposits, ${acks.filter((a) => a.attempts > 1).length} needed retries; tenants served again ${servedAgainMs.toFixed(0)} ms after the kill\n`,
    );
    expect(servedAgainMs).toBeLessThan(SERVED_AGAIN_WITHIN_MS);

    // Every acknowledged command is in JetStream exactly once (retries included); nothing else.
    const log = await JetStreamEventLog.open({ nc });
    for (const tenant of tenants) {
      for (const account of accounts) {
        const commits: StoredCommit[] = [];
        for await (const commit of log.read(StreamKey.of(tenant, 'account', account)))
          commits.push(commit);
        const ids = commits.slice(1).map((c) => c.command_id);
        const acked = acks
          .filter((a) => a.tenant === tenant && a.account === account)
          .map((a) => a.commandId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids.sort()).toEqual(acked.sort());
      }
    }
  });
});
