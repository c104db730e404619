// The controller's failure paths on a real cluster (nats-server, 2 nodes, 1 router):
// a target that never answers, and a controller that died mid-migration.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { MigrationPhase, Placement } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import {
  EXIT,
  MigrationSupersededError,
  Migrator,
  NodeAdminClient,
} from '@tenantfold/placement-controller';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { GrpcClient } from './support/clients.js';
import { grpcClient } from './support/clients.js';
import { ADMIN_TOKEN, TestCluster } from './support/cluster.js';
import { placementctl, removePlacementctlBucket } from './support/placementctl.js';

let cluster: TestCluster;
/** A complete read of the cluster's placement (PlacementStore.load can miss a heartbeating node). */
let loadPlacement: () => Promise<Placement>;
let client: GrpcClient;
const admin = new NodeAdminClient(ADMIN_TOKEN);

beforeAll(async () => {
  cluster = await TestCluster.start({
    natsUrl: inject('natsUrl'),
    nodeIds: ['node-a', 'node-b'],
    routers: 1,
  });
  loadPlacement = () => cluster.placement.load();
  client = grpcClient(cluster.routers[0]!.grpcPort);
});

afterAll(async () => {
  client?.close();
  if (cluster !== undefined) await removePlacementctlBucket(cluster);
  await cluster?.stop();
});

const deposit = (id: string, amount: number) => ({
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Deposit', data: { amount } }),
});

/** A new tenant with one open account, on whichever node the ring gives it. */
async function openTenant(prefix: string): Promise<{ tenant: TenantId; from: string; to: string }> {
  const tenant = Tenant.parse(`${prefix}-${Math.random().toString(36).slice(2, 8)}`);
  await client.submit(
    {
      aggregate_type: 'account',
      aggregate_id: 'acc',
      payload_json: JSON.stringify({ type: 'Open', data: { owner: 'r' } }),
    },
    { 'x-tenant-id': tenant },
  );
  const from = resolveOwner(await loadPlacement(), tenant) as string;
  return { tenant, from, to: from === 'node-a' ? 'node-b' : 'node-a' };
}

/** Leaves the record as a controller that died right after writing `phase` would. */
async function abandonAt(
  tenant: TenantId,
  from: string,
  to: string,
  phase: MigrationPhase,
): Promise<void> {
  const epoch = ((await cluster.placement.getMigration(tenant))?.epoch ?? 0) + 1;
  const node = (id: string) => ({ id, adminAddress: `127.0.0.1:${cluster.node(id).adminPort}` });
  let revision = 0;
  const write = async (p: MigrationPhase) => {
    revision = await cluster.placement.putMigration(
      tenant,
      { phase: p, from, to, epoch, startedAt: new Date().toISOString() },
      revision,
    );
  };
  await write('PREPARING');
  await write('WARMING');
  await admin.warm(node(to), tenant, epoch, 10_000);
  await write('DRAINING');
  const drained = await admin.drain(node(from), tenant, epoch, undefined, 10_000);
  if (phase === 'DRAINING') return;
  await write('VERIFYING');
  const whole = { scope: 'all' } as const;
  expect((await admin.verify(node(to), tenant, epoch, drained.aggregates, whole, 10_000)).ok).toBe(
    true,
  );
  await write('SWAPPING');
}

describe('placementctl migrate', () => {
  it('shows each phase as it happens and a summary with the phase times and the hold', async () => {
    const { tenant, from, to } = await openTenant('human');
    const run = await placementctl(cluster, 'migrate', tenant, '--to', to);
    expect(run.code, run.err).toBe(EXIT.OK);
    const phases = ['PREPARING', 'WARMING', 'DRAINING', 'VERIFYING', 'SWAPPING', 'DONE'];
    expect(run.err.split('\n').map((line) => line.trim().split(' ')[0])).toEqual([...phases, '']);
    expect(run.out).toContain(`migrated ${tenant}: ${from} → ${to} (epoch 1, 1 aggregates)`);
    expect(run.out).toMatch(/^VERIFYING +\d/m);
    expect(run.out).toMatch(
      /commands held: \d+ ms \(DRAINING → DONE\), source released in \d+(\.\d)? ms; total \d+ ms/,
    );
  });
});

describe('migration failures', () => {
  it('rolls back with the reason when the target does not answer in time, and the source serves again', async () => {
    // A node whose admin port accepts connections and never answers: a hung process.
    const sockets: Socket[] = [];
    const hung: Server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      await cluster.placement.registerNode({
        id: 'node-hung',
        grpcAddress: '127.0.0.1:1',
        adminAddress: `127.0.0.1:${(hung.address() as AddressInfo).port}`,
        tenantRange: 'hung',
        status: 'draining', // takes no ring tenants
      });
      const { tenant, from } = await openTenant('hung');
      const migrator = new Migrator({
        placement: cluster.placement,
        admin,
        timeouts: { warmMs: 300 },
      });
      const result = await migrator.migrate(tenant, 'node-hung');
      expect(result.outcome).toBe('ROLLED_BACK');
      expect(result.reason).toBe("node 'node-hung' POST /admin/warm: no answer within 300 ms");
      expect(result.phases.map((p) => p.phase)).toEqual(['PREPARING', 'WARMING']);
      expect((await cluster.placement.getMigration(tenant))?.reason).toBe(result.reason);
      expect(resolveOwner(await loadPlacement(), tenant)).toBe(from);
      await client.submit(deposit('acc', 5), { 'x-tenant-id': tenant });
    } finally {
      for (const socket of sockets) socket.destroy();
      hung.close();
      await cluster.placement.removeNode('node-hung');
    }
  });

  it('a restarted controller rolls back a migration it left in DRAINING: the source takes commands again', async () => {
    const { tenant, from, to } = await openTenant('died-draining');
    await abandonAt(tenant, from, to, 'DRAINING');
    const recovered = await placementctl(cluster, '--json', 'migrate', tenant, '--recover');
    expect(recovered.code, recovered.err).toBe(EXIT.FAILED); // rolled back
    expect(JSON.parse(recovered.out)).toMatchObject({
      outcome: 'ROLLED_BACK',
      reason: 'controller restarted during DRAINING',
      from,
      to,
    });
    expect(resolveOwner(await loadPlacement(), tenant)).toBe(from);
    const answer = await client.submit(deposit('acc', 7), { 'x-tenant-id': tenant });
    expect(Number(answer.version)).toBe(2);
  });

  it('a restarted controller finishes a swap it left in SWAPPING: the target owns the tenant', async () => {
    const { tenant, from, to } = await openTenant('died-swapping');
    await abandonAt(tenant, from, to, 'SWAPPING');
    const recovered = await placementctl(cluster, '--json', 'migrate', tenant, '--recover');
    expect(recovered.code, recovered.err).toBe(EXIT.OK);
    expect(JSON.parse(recovered.out)).toMatchObject({ outcome: 'DONE', from, to });
    const placement = await loadPlacement();
    expect(resolveOwner(placement, tenant)).toBe(to);
    expect(placement.migrations.get(tenant)?.phase).toBe('DONE');
    const answer = await client.submit(deposit('acc', 7), { 'x-tenant-id': tenant });
    expect(Number(answer.version)).toBe(2);
    // Nothing left to recover.
    const again = await placementctl(cluster, '--json', 'migrate', tenant, '--recover');
    expect(JSON.parse(again.out)).toEqual({ tenant, recovered: false });
  });

  it('stops when another controller settles the record under it, touching nothing more', async () => {
    const { tenant, from, to } = await openTenant('raced');
    // Right after the target warmed, another controller (a `serve` that judged the
    // migration abandoned) rolls it back: this one must not go on to drain the source.
    class RacedDuringWarm extends NodeAdminClient {
      override async warm(
        node: { id: string; adminAddress: string },
        t: TenantId,
        epoch: number,
        ms: number,
      ) {
        const warmed = await super.warm(node, t, epoch, ms);
        const record = await cluster.placement.getMigration(t);
        await cluster.placement.putMigration(
          t,
          { ...record!, phase: 'ROLLED_BACK', reason: 'settled elsewhere' },
          record!.revision,
        );
        return warmed;
      }
    }
    const racing = new Migrator({
      placement: cluster.placement,
      admin: new RacedDuringWarm(ADMIN_TOKEN),
    });
    await expect(racing.migrate(tenant, to)).rejects.toThrow(MigrationSupersededError);
    const placement = await loadPlacement();
    expect(placement.migrations.get(tenant)).toMatchObject({
      phase: 'ROLLED_BACK',
      reason: 'settled elsewhere',
    });
    expect(resolveOwner(placement, tenant)).toBe(from);
    await client.submit(deposit('acc', 1), { 'x-tenant-id': tenant });
  });

  it('refuses to start a second migration of a tenant in flight (exit 4)', async () => {
    const { tenant, from, to } = await openTenant('busy');
    await abandonAt(tenant, from, to, 'DRAINING');
    const refused = await placementctl(cluster, 'migrate', tenant, '--to', to);
    expect(refused.code).toBe(EXIT.CONFLICT);
    expect(refused.err).toContain(`placementctl migrate ${tenant} --recover`);
    expect((await placementctl(cluster, 'migrate', tenant, '--recover')).code).toBe(EXIT.FAILED);
  });
});
