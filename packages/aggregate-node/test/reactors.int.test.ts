import { status } from '@grpc/grpc-js';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { AggregateNode } from '@tenantfold/aggregate-node';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { commandClient, rejection } from './grpcClient.js';
import { admin, command, deleteStorage, isolatedNames, startNode } from './nodeFixture.js';

// The bank-account example's projection (totals) and process manager (large-withdrawals)
// running on a node over real gRPC and NATS.
const names = isolatedNames();
let nc: NatsConnection;
let node: AggregateNode;
let client: ReturnType<typeof commandClient>;

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  node = await startNode('node-rm', inject('natsUrl'), names);
  client = commandClient(node.grpcPort);
});

afterAll(async () => {
  client.close();
  await node.stop();
  await deleteStorage(nc, names);
  await nc.close();
});

const as = (tenant: string) => ({ 'x-tenant-id': tenant });
const audit = (id: string, type: string) => ({
  aggregate_type: 'audit',
  aggregate_id: id,
  payload_json: JSON.stringify({ type, data: {} }),
});

async function auditCase(tenant: string, id: string): Promise<Record<string, unknown>> {
  const reply = await client.getState({ aggregate_type: 'audit', aggregate_id: id }, as(tenant));
  return JSON.parse(reply.state_json as string) as Record<string, unknown>;
}

describe('projections and process managers on the node', () => {
  it('folds a per-tenant totals document and checkpoints it in KV', async () => {
    await client.submit(command('acc-1', 'Open', { owner: 'ann' }), as('bank1'));
    await client.submit(command('acc-1', 'Deposit', { amount: 300 }), as('bank1'));
    await client.submit(command('acc-2', 'Open', { owner: 'bob' }), as('bank1'));
    await client.submit(command('acc-1', 'Withdraw', { amount: 120 }), as('bank1'));
    await client.submit(command('acc-9', 'Open', { owner: 'cy' }), as('bank2'));

    const totals = await admin(node, 'GET', 'projections/totals?tenant_id=bank1');
    expect(totals.status).toBe(200);
    expect(totals.body).toMatchObject({
      tenant_id: 'bank1',
      projection: 'totals',
      state: { accounts: 2, balance: 180, deposited: 300, withdrawn: 120 },
    });
    const other = await admin(node, 'GET', 'projections/totals?tenant_id=bank2');
    expect(other.body.state).toEqual({ accounts: 1, balance: 0, deposited: 0, withdrawn: 0 });

    // Checkpoints are saved at most once a second, and within a second of a change.
    const kv = await new Kvm(nc).open(names.storage.checkpointBucket);
    await vi.waitFor(
      async () => {
        const entry = await kv.get('projections/totals/bank1');
        const stored = entry?.json<{ position: number; state: unknown }>();
        expect(stored?.state).toEqual(totals.body.state);
        expect(stored?.position).toBe(totals.body.position);
      },
      { timeout: 5_000, interval: 100 },
    );

    const unknown = await admin(node, 'GET', 'projections/nope?tenant_id=bank1');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain("unknown projection 'nope' (known: totals)");
    const noTenant = await admin(node, 'GET', 'projections/totals');
    expect(noTenant.body).toMatchObject({ code: 'VALIDATION', field: 'tenant_id' });
  });

  it('opens an audit case for a large withdrawal; a refused command is dead-lettered, then replayed', async () => {
    const bank = as('bank3');
    await client.submit(command('acc-1', 'Open', { owner: 'ann' }), bank);
    await client.submit(command('acc-1', 'Deposit', { amount: 10_000 }), bank);
    await client.submit(command('acc-1', 'Withdraw', { amount: 999 }), bank);
    await client.submit(command('acc-1', 'Withdraw', { amount: 1_500 }), bank);
    await vi.waitFor(async () => {
      expect(await auditCase('bank3', 'acc-1')).toEqual({
        status: 'open',
        account: 'acc-1',
        flags: [{ amount: 1_500, version: 4 }],
      });
    });

    // An auditor closes the case; the next large withdrawal's Flag is refused.
    await client.submit(audit('acc-1', 'Close'), bank);
    await client.submit(command('acc-1', 'Withdraw', { amount: 2_000 }), bank);
    let letters: Array<Record<string, unknown>> = [];
    await vi.waitFor(async () => {
      const listed = await admin(node, 'GET', 'dead-letters?tenant_id=bank3');
      letters = listed.body.dead_letters as Array<Record<string, unknown>>;
      expect(letters).toHaveLength(1);
    });
    expect(letters[0]).toMatchObject({
      process_manager: 'large-withdrawals',
      error: { code: 'DECIDE', message: 'audit case of acc-1 is closed' },
      envelope: { tenant_id: 'bank3', aggregate_type: 'audit', aggregate_id: 'acc-1' },
    });
    const elsewhere = await admin(node, 'GET', 'dead-letters?tenant_id=bank1');
    expect(elsewhere.body.dead_letters).toEqual([]);

    // Replayed while the case is still closed: it fails again and stays listed.
    const early = await admin(node, 'POST', 'dead-letters/replay', { tenant_id: 'bank3' });
    expect(early.body).toMatchObject({ replayed: 1, resolved: 0 });
    expect((early.body.failed as unknown[]).length).toBe(1);

    await client.submit(audit('acc-1', 'Reopen'), bank);
    const replay = await admin(node, 'POST', 'dead-letters/replay', { tenant_id: 'bank3' });
    expect(replay.body).toMatchObject({ replayed: 1, resolved: 1, failed: [] });
    const after = await admin(node, 'GET', 'dead-letters?tenant_id=bank3');
    expect(after.body.dead_letters).toEqual([]);
    expect((await auditCase('bank3', 'acc-1')).flags).toEqual([
      { amount: 1_500, version: 4 },
      { amount: 2_000, version: 5 },
    ]);

    // The process manager's commands run exactly once each: a second replay has nothing to do.
    const again = await admin(node, 'POST', 'dead-letters/replay', { tenant_id: 'bank3' });
    expect(again.body).toMatchObject({ replayed: 0 });
    const refused = await rejection(client.submit(audit('acc-1', 'Reopen'), bank));
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
  });
});
