import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { AggregateNode } from '@tenantfold/aggregate-node';
import { TenantId } from '@tenantfold/core';
import type { MigrationPhase } from '@tenantfold/nats';
import { PlacementStore } from '@tenantfold/nats';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { commandClient } from './grpcClient.js';
import { admin, command, deleteStorage, isolatedNames, startNode } from './nodeFixture.js';

// The target's state rows are built from states read one aggregate at a time while the
// source still writes: the catch-up at verify must not start past a commit a row missed.
const names = isolatedNames();
let nc: NatsConnection;
let placement: PlacementStore;
let source: AggregateNode;
let target: AggregateNode;

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  [source, target] = await Promise.all([
    startNode('node-a', inject('natsUrl'), names),
    startNode('node-b', inject('natsUrl'), names),
  ]);
  placement = await PlacementStore.open(nc, { bucket: names.placementBucket });
});

afterAll(async () => {
  await Promise.all([source.stop(), target.stop()]);
  await deleteStorage(nc, names);
  await nc.close();
});

it('verifies state rows built from states of different moments (a repeated warm)', async () => {
  const tenant = TenantId.parse('rows-mover');
  await placement.pin(tenant, 'node-a', { expectedRevision: 0 });
  const client = commandClient(source.grpcPort);
  const submit = (id: string, type: string, payload: Record<string, unknown>) =>
    client.submit(command(id, type, payload), { 'x-tenant-id': tenant });
  await vi.waitFor(() => submit('acc-1', 'Open', { owner: 'ann' }));
  const phase = async (to: MigrationPhase) => {
    const current = await placement.getMigration(tenant);
    const record = { from: 'node-a', to: 'node-b', epoch: 1, startedAt: '2026-01-01T00:00:00Z' };
    await placement.putMigration(tenant, { ...record, phase: to }, current?.revision ?? 0);
  };

  await phase('WARMING');
  expect((await admin(target, 'POST', 'warm', { tenant_id: tenant, epoch: 1 })).status).toBe(200);
  // acc-1 stays loaded on the target as warmed; acc-2 is new, and written after acc-1 moved on.
  await submit('acc-2', 'Open', { owner: 'bob' });
  await submit('acc-1', 'Deposit', { amount: 10 });
  await submit('acc-2', 'Deposit', { amount: 5 });
  // The controller retries the warm: the rows now hold acc-1 before its deposit, acc-2 after
  // a later commit.
  expect((await admin(target, 'POST', 'warm', { tenant_id: tenant, epoch: 1 })).status).toBe(200);

  await phase('DRAINING');
  const drain = await admin(source, 'POST', 'drain', { tenant_id: tenant, epoch: 1 });
  expect(drain.status).toBe(200);
  await phase('VERIFYING');
  const verify = await admin(target, 'POST', 'verify', {
    tenant_id: tenant,
    epoch: 1,
    aggregates: drain.body.aggregates,
  });
  expect(verify.body).toMatchObject({ ok: true, checked: 2, mismatches: [] });
  client.close();
});
