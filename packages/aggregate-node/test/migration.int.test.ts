import { status } from '@grpc/grpc-js';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { AggregateNode } from '@tenantfold/aggregate-node';
import type { TenantId } from '@tenantfold/core';
import { StreamKey, TenantId as Tenant } from '@tenantfold/core';
import type { MigrationPhase } from '@tenantfold/nats';
import { JetStreamEventLog, PlacementStore } from '@tenantfold/nats';
import { commitOf } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { commandClient, queryClient, rejection } from './grpcClient.js';
import { admin, command, deleteStorage, isolatedNames, startNode } from './nodeFixture.js';

// Two nodes on one nats-server move tenants between them through the admin API,
// with this test playing the controller (docs/migration.md).
const names = isolatedNames();
let nc: NatsConnection;
let placement: PlacementStore;
let nodeA: AggregateNode;
let nodeB: AggregateNode;
let clientA: ReturnType<typeof commandClient>;
let clientB: ReturnType<typeof commandClient>;

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  [nodeA, nodeB] = await Promise.all([
    startNode('node-a', inject('natsUrl'), names),
    startNode('node-b', inject('natsUrl'), names),
  ]);
  placement = await PlacementStore.open(nc, { bucket: names.placementBucket });
  clientA = commandClient(nodeA.grpcPort);
  clientB = commandClient(nodeB.grpcPort);
});

afterAll(async () => {
  clientA.close();
  clientB.close();
  await Promise.all([nodeA.stop(), nodeB.stop()]);
  await deleteStorage(nc, names);
  await nc.close();
});

const headers = (tenant: string) => ({ 'x-tenant-id': tenant });

/** Pins `tenant` to `node` and waits until both nodes' placement watches agree. */
async function pinTo(tenant: TenantId, node: string): Promise<void> {
  await placement.pin(tenant, node, {
    expectedRevision: (await placement.getPin(tenant))?.revision ?? 0,
  });
  const owner = node === 'node-a' ? clientA : clientB;
  const other = node === 'node-a' ? clientB : clientA;
  await vi.waitFor(async () => {
    const error = await rejection(other.getState(state('x'), headers(tenant)));
    expect(error.metadata.get('x-owner-node')).toEqual([node]);
    await owner.getState(state('x'), headers(tenant));
  });
}

const state = (id: string) => ({ aggregate_type: 'account', aggregate_id: id });

/** The controller's CAS writes of the migration record. */
async function phase(tenant: TenantId, to: MigrationPhase, epoch: number): Promise<void> {
  const current = await placement.getMigration(tenant);
  await placement.putMigration(
    tenant,
    { phase: to, from: 'node-a', to: 'node-b', epoch, startedAt: new Date().toISOString() },
    current?.revision ?? 0,
  );
}

async function balanceOn(
  client: ReturnType<typeof commandClient>,
  tenant: string,
  id: string,
): Promise<unknown> {
  const reply = await client.getState(state(id), headers(tenant));
  return (JSON.parse(reply.state_json as string) as { balance: number }).balance;
}

describe('tenant migration between two nodes', () => {
  it('warms, drains, verifies, swaps and releases: the tenant continues on the target', async () => {
    const tenant = Tenant.parse('mover');
    await pinTo(tenant, 'node-a');
    await clientA.submit(command('acc-1', 'Open', { owner: 'ann' }), headers(tenant));
    await clientA.submit(command('acc-1', 'Deposit', { amount: 100 }), headers(tenant));
    await clientA.submit(command('acc-2', 'Open', { owner: 'bob' }), headers(tenant));
    // A subscription held on the source through the move: changes travel on NATS, not the node.
    const held = queryClient(nodeA.grpcPort);
    const changes: [unknown, unknown, unknown][] = [];
    const stream = held.subscribe(
      { aggregate_type: 'account', filter: 'balance > 50' },
      headers(tenant),
    );
    stream.on('data', (c: Record<string, unknown>) =>
      changes.push([c.kind, c.aggregate_id, c.version]),
    );
    stream.on('error', () => undefined);
    await vi.waitFor(() => expect(changes.map((c) => c[0])).toContain('CAUGHT_UP'));

    await phase(tenant, 'WARMING', 1);
    const warm = await admin(nodeB, 'POST', 'warm', { tenant_id: tenant, epoch: 1 });
    expect(warm.status).toBe(200);
    expect(warm.body).toMatchObject({ tenant_id: tenant, epoch: 1, aggregates: 2 });
    expect(warm.body.duration_ms).toEqual(expect.any(Number));
    // A command between warming and draining: verify must see it although node-b warmed before it.
    await clientA.submit(command('acc-1', 'Deposit', { amount: 10 }), headers(tenant));

    await phase(tenant, 'DRAINING', 1);
    const drain = await admin(nodeA, 'POST', 'drain', { tenant_id: tenant, epoch: 1 });
    expect(drain.status).toBe(200);
    expect(drain.body).toMatchObject({ tenant_id: tenant, epoch: 1 });
    const aggregates = drain.body.aggregates as Array<Record<string, unknown>>;
    expect(aggregates.map((a) => [a.id, a.version])).toEqual([
      ['acc-1', 3],
      ['acc-2', 1],
    ]);
    const fenced = await rejection(
      clientA.submit(command('acc-1', 'Deposit', { amount: 1 }), headers(tenant)),
    );
    expect(fenced.code).toBe(status.UNAVAILABLE);

    await phase(tenant, 'VERIFYING', 1);
    const verify = await admin(nodeB, 'POST', 'verify', {
      tenant_id: tenant,
      epoch: 1,
      aggregates,
    });
    expect(verify.body).toMatchObject({ ok: true, checked: 2, mismatches: [] });

    await phase(tenant, 'SWAPPING', 1);
    // Fencing: even with its intake reopened, the source refuses a tenant it is the 'from' of.
    await admin(nodeA, 'POST', 'resume', { tenant_id: tenant });
    const moving = await rejection(
      clientA.submit(command('acc-1', 'Deposit', { amount: 1 }), headers(tenant)),
    );
    expect(moving.code).toBe(status.UNAVAILABLE);
    expect(moving.details).toContain("is moving from this node to 'node-b' (epoch 1");
    await pinTo(tenant, 'node-b');
    await phase(tenant, 'DONE', 1);
    const release = await admin(nodeA, 'POST', 'release', { tenant_id: tenant, epoch: 1 });
    expect(release.status).toBe(200);
    expect(release.body).toMatchObject({ tenant_id: tenant, epoch: 1 });

    const next = await clientB.submit(
      command('acc-1', 'Withdraw', { amount: 30 }),
      headers(tenant),
    );
    expect(next.version).toBe(4);
    expect(await balanceOn(clientB, tenant, 'acc-1')).toBe(80);
    // The read models moved too: node-b serves the tenant's totals, caught up.
    const totals = await admin(nodeB, 'GET', `projections/totals?tenant_id=${tenant}`);
    expect(totals.body.state).toEqual({ accounts: 2, balance: 80, deposited: 110, withdrawn: 30 });
    const gone = await admin(nodeA, 'GET', `projections/totals?tenant_id=${tenant}`);
    expect(gone.body).toMatchObject({ code: 'NOT_OWNER', owner: 'node-b' });
    // The subscription on node-a saw the change node-b made, versions contiguous.
    await vi.waitFor(() => expect(changes).toHaveLength(4));
    expect(changes).toEqual([
      ['SNAPSHOT', 'acc-1', 2],
      ['CAUGHT_UP', '', 0],
      ['UPDATED', 'acc-1', 3],
      ['UPDATED', 'acc-1', 4],
    ]);
    stream.cancel();
    held.close();
    // So did the state rows: built on node-b while warming, dropped on node-a at release.
    const queries = queryClient(nodeB.grpcPort);
    const page = await queries.query(
      {
        aggregate_type: 'account',
        filter: 'balance > 0',
        consistency_token: next.consistency_token,
      },
      headers(tenant),
    );
    queries.close();
    expect(
      (page.rows as { aggregate_id: string; version: number }[]).map((r) => [
        r.aggregate_id,
        r.version,
      ]),
    ).toEqual([['acc-1', 4]]);
    const tenantsOf = async (node: AggregateNode) =>
      ((await admin(node, 'GET', 'read-model')).body.tenants as { tenant: string; rows: number }[])
        .filter((t) => t.tenant === tenant)
        .map((t) => t.rows);
    expect(await tenantsOf(nodeB)).toEqual([2]);
    expect(await tenantsOf(nodeA)).toEqual([]);
    const refused = await rejection(
      clientA.submit(command('acc-1', 'Deposit', { amount: 1 }), headers(tenant)),
    );
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.metadata.get('x-owner-node')).toEqual(['node-b']);
  });

  it('verify reports an aggregate whose commits changed after the drain, and one the source did not report', async () => {
    const tenant = Tenant.parse('tampered');
    await pinTo(tenant, 'node-a');
    await clientA.submit(command('acc-1', 'Open', { owner: 'ann' }), headers(tenant));
    await clientA.submit(command('acc-2', 'Open', { owner: 'bob' }), headers(tenant));
    await phase(tenant, 'WARMING', 3);
    await admin(nodeB, 'POST', 'warm', { tenant_id: tenant, epoch: 3 });
    await phase(tenant, 'DRAINING', 3);
    const drain = await admin(nodeA, 'POST', 'drain', { tenant_id: tenant, epoch: 3 });
    const aggregates = drain.body.aggregates as Array<{ id: string; position: number }>;

    // A stale writer slips one commit past the drain, straight into JetStream.
    const log = await JetStreamEventLog.open({
      nc,
      streamName: names.storage.streamName,
      subjectPrefix: names.storage.subjectPrefix,
    });
    const key = StreamKey.of(tenant, 'account', 'acc-1');
    const extra = commitOf(key, 2);
    await log.append(
      {
        ...extra,
        events: extra.events.map((e) => ({
          ...e,
          event_type: 'Deposited',
          payload: { amount: 7 },
        })),
      },
      aggregates.find((a) => a.id === 'acc-1')?.position ?? 0,
    );

    await phase(tenant, 'VERIFYING', 3);
    const reported = aggregates.filter((a) => a.id === 'acc-1');
    const verify = await admin(nodeB, 'POST', 'verify', {
      tenant_id: tenant,
      epoch: 3,
      aggregates: reported,
    });
    expect(verify.body.ok).toBe(false);
    const mismatches = verify.body.mismatches as Array<Record<string, unknown>>;
    expect(mismatches).toEqual([
      expect.objectContaining({
        id: 'acc-1',
        expected: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
        actual: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
      }),
      expect.objectContaining({ id: 'acc-2', expected: null }),
    ]);
    expect(mismatches[0]?.expected).not.toBe(mismatches[0]?.actual);

    // Rolled back: the source takes the tenant again.
    await phase(tenant, 'ROLLED_BACK', 3);
    await admin(nodeA, 'POST', 'resume', { tenant_id: tenant });
    await vi.waitFor(async () => {
      await clientA.submit(command('acc-2', 'Deposit', { amount: 5 }), headers(tenant));
    });
    expect(await balanceOn(clientA, tenant, 'acc-1')).toBe(7);
  });

  it('refuses migration calls that do not match the record, with the reason', async () => {
    const tenant = Tenant.parse('wrong-epoch');
    await phase(tenant, 'WARMING', 5);
    const stale = await admin(nodeB, 'POST', 'warm', { tenant_id: tenant, epoch: 4 });
    expect(stale.status).toBe(400);
    expect(stale.body.message).toContain('epoch 5');
    const wrongNode = await admin(nodeA, 'POST', 'warm', { tenant_id: tenant, epoch: 5 });
    expect(wrongNode.status).toBe(400);
    expect(wrongNode.body.message).toContain("names 'node-b' as 'to'");
    const noEpoch = await admin(nodeB, 'POST', 'verify', { tenant_id: tenant, aggregates: [] });
    expect(noEpoch.body).toMatchObject({ code: 'VALIDATION', field: 'epoch' });
    const badHash = await admin(nodeB, 'POST', 'verify', {
      tenant_id: tenant,
      epoch: 5,
      aggregates: [{ type: 'account', id: 'a', version: 1, position: 1, state_hash: 'x' }],
    });
    expect(badHash.body).toMatchObject({ code: 'VALIDATION', field: 'aggregates[0].state_hash' });
    // The source may not release a tenant placement still gives it.
    await pinTo(tenant, 'node-a');
    await phase(tenant, 'DONE', 5);
    const early = await admin(nodeA, 'POST', 'release', { tenant_id: tenant, epoch: 5 });
    expect(early.status).toBe(400);
    expect(early.body.message).toContain('still resolves to this node');
  });
});
