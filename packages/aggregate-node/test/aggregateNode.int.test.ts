import { status } from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AggregateNode } from '@tenantfold/aggregate-node';
import { TenantId } from '@tenantfold/core';
import { PlacementStore } from '@tenantfold/nats';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { commandClient, rejection } from './grpcClient.js';
import { admin, command, deleteStorage, isolatedNames, startNode } from './nodeFixture.js';

// A whole node on a real nats-server, with the bank-account programs, over real gRPC and HTTP.
const names = isolatedNames();

let node: AggregateNode;
let nc: NatsConnection;
let client: ReturnType<typeof commandClient>;

beforeAll(async () => {
  node = await startNode('node-a', inject('natsUrl'), names);
  client = commandClient(node.grpcPort);
  nc = await connect({ servers: inject('natsUrl') });
  // A second node holds one pinned tenant, so this node must refuse it. It is draining,
  // so the ring gives every other tenant to node-a and the test does not depend on hashing.
  const placement = await PlacementStore.open(nc, { bucket: names.placementBucket });
  await placement.registerNode({
    id: 'node-b',
    grpcAddress: '127.0.0.1:1',
    adminAddress: '127.0.0.1:2',
    tenantRange: 'b',
    status: 'draining',
  });
  await placement.pin(TenantId.parse('tenant-far'), 'node-b');
  // Wait until the node's placement watch has seen the pin.
  await vi.waitFor(async () => {
    const error = await rejection(client.submit(open('x'), { 'x-tenant-id': 'tenant-far' }));
    expect(error.code).toBe(status.UNAVAILABLE);
  });
});

afterAll(async () => {
  client.close();
  await node.stop();
  await deleteStorage(nc, names);
  await nc.close();
});

const open = (id: string) => command(id, 'Open', { owner: 'ada' });
const acme = { 'x-tenant-id': 'acme' };

describe('aggregate node on NATS', () => {
  it('runs the bank-account scenario over gRPC', async () => {
    await client.submit(open('acc-1'), acme);
    await client.submit(command('acc-1', 'Deposit', { amount: 100 }), acme);
    await client.submit(command('acc-1', 'Deposit', { amount: 50 }), acme);
    const withdrawn = await client.submit(command('acc-1', 'Withdraw', { amount: 75 }), acme);
    expect(withdrawn.version).toBe(4);
    const state = await client.getState({ aggregate_type: 'account', aggregate_id: 'acc-1' }, acme);
    expect(JSON.parse(state.state_json as string)).toMatchObject({ status: 'open', balance: 75 });

    const error = await rejection(
      client.submit(command('acc-1', 'Withdraw', { amount: 500 }), acme),
    );
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe('insufficient funds: balance 75, requested 500');
    const after = await client.getState({ aggregate_type: 'account', aggregate_id: 'acc-1' }, acme);
    expect(after.version).toBe(4);
  });

  it('runs 10 concurrent commands on one aggregate with contiguous versions', async () => {
    await client.submit(open('acc-conc'), acme);
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.submit(command('acc-conc', 'Deposit', { amount: 1 }), acme),
      ),
    );
    expect(results.map((r) => r.version as number).sort((a, b) => a - b)).toEqual([
      2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    ]);
    const state = await client.getState(
      { aggregate_type: 'account', aggregate_id: 'acc-conc' },
      acme,
    );
    expect(JSON.parse(state.state_json as string)).toMatchObject({ balance: 10 });
  });

  it('answers UNAVAILABLE with the owner for a tenant placement gives to another node', async () => {
    const error = await rejection(client.submit(open('acc-far'), { 'x-tenant-id': 'tenant-far' }));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.metadata.get('x-owner-node')).toEqual(['node-b']);
  });

  it('drains a tenant: intake stops, the report holds versions, positions and state hashes', async () => {
    await client.submit(open('acc-d'), { 'x-tenant-id': 'drainme' });
    const report = (await admin(node, 'POST', 'drain', { tenant_id: 'drainme' })).body;
    expect(report.aggregates).toEqual([
      {
        type: 'account',
        id: 'acc-d',
        version: 1,
        position: expect.any(Number) as number,
        state_hash: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
      },
    ]);
    const refused = await rejection(
      client.submit(command('acc-d', 'Deposit', { amount: 1 }), { 'x-tenant-id': 'drainme' }),
    );
    expect(refused.code).toBe(status.UNAVAILABLE);
    await admin(node, 'POST', 'resume', { tenant_id: 'drainme' });
    await expect(
      client.submit(command('acc-d', 'Deposit', { amount: 1 }), { 'x-tenant-id': 'drainme' }),
    ).resolves.toMatchObject({ version: 2 });
  });

  it('reports health and readiness, and registers itself in placement', async () => {
    const health = await (await fetch(`http://127.0.0.1:${node.adminPort}/health`)).json();
    expect(health).toMatchObject({
      ok: true,
      state: 'RUNNING',
      nats: 'connected',
      breaker: 'CLOSED',
    });
    expect((await fetch(`http://127.0.0.1:${node.adminPort}/ready`)).status).toBe(200);
    const placement = await PlacementStore.open(nc, { bucket: names.placementBucket });
    expect(await placement.getNode('node-a')).toMatchObject({
      status: 'active',
      grpcAddress: `127.0.0.1:${node.grpcPort}`,
    });
  });
});
