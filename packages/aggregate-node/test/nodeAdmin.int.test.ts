import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { AggregateNode } from '@tenantfold/aggregate-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { commandClient } from './grpcClient.js';
import {
  admin,
  BANK_MANIFEST,
  command,
  deleteStorage,
  isolatedNames,
  startNode,
} from './nodeFixture.js';

// Admin calls beyond migration: reload, tenants with last activity, rehydration metric.
const names = isolatedNames();
let dir: string;
let nc: NatsConnection;
let node: AggregateNode;
let client: ReturnType<typeof commandClient>;
const ops = { 'x-tenant-id': 'ops' };

beforeAll(async () => {
  // A copy of the example, so the test can edit the programs the node reloads.
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-reload-'));
  await cp(dirname(BANK_MANIFEST), dir, { recursive: true });
  nc = await connect({ servers: inject('natsUrl') });
  node = await startNode('node-admin', inject('natsUrl'), names, {
    AGGREGATE_MANIFEST: join(dir, 'aggregates.yaml'),
  });
  client = commandClient(node.grpcPort);
});

afterAll(async () => {
  client.close();
  await node.stop();
  await deleteStorage(nc, names);
  await nc.close();
  await rm(dir, { recursive: true, force: true });
});

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${node.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('node admin', () => {
  it('lists owned tenants with their aggregate count and last activity', async () => {
    const before = Date.now();
    await client.submit(command('acc-1', 'Open', { owner: 'ann' }), ops);
    await client.submit(command('acc-2', 'Open', { owner: 'bob' }), ops);
    const { body } = await admin(node, 'GET', 'tenants');
    const entry = (body as unknown as Array<Record<string, unknown>>).find(
      (t) => t.tenant_id === 'ops',
    );
    expect(entry).toMatchObject({ aggregates: 2, in_flight: 0 });
    const at = Date.parse(entry?.last_activity as string);
    expect(at).toBeGreaterThanOrEqual(before - 5);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it('observes aggregate_rehydration_duration_seconds when an aggregate is loaded', async () => {
    await client.submit(command('acc-r', 'Open', { owner: 'ann' }), ops);
    const name = 'aggregate_rehydration_duration_seconds_count{aggregate_type="account"}';
    const loads = await metric(name);
    // resume drops the tenant's live aggregates: the next read loads acc-r from storage.
    await admin(node, 'POST', 'resume', { tenant_id: 'ops' });
    await client.getState({ aggregate_type: 'account', aggregate_id: 'acc-r' }, ops);
    expect(await metric(name)).toBe(loads + 1);
  });

  it('reload keeps the running programs when the manifest is broken, and swaps in a good one', async () => {
    const totals = join(dir, 'totals.js');
    const good = await readFile(totals, 'utf8');
    await writeFile(totals, `${good}\nfunction project(state, event) {`);
    const broken = await admin(node, 'POST', 'reload');
    expect(broken.status).toBe(400);
    expect(broken.body).toMatchObject({ code: 'VALIDATION', field: 'projections.totals.program' });
    expect(broken.body.message).toContain('./totals.js: SyntaxError');
    // The old programs still serve.
    await client.submit(command('acc-1', 'Deposit', { amount: 5 }), ops);
    const kept = await admin(node, 'GET', 'projections/totals?tenant_id=ops');
    expect(kept.body.state).toMatchObject({ deposited: 5 });

    // A good change: totals also counts commits it folded since the change.
    await writeFile(
      totals,
      good.replace(
        'function project(state, event) {',
        'function project(state, event) {\n  state = { ...state, seen: (state.seen ?? 0) + 1 };',
      ),
    );
    const reloaded = await admin(node, 'POST', 'reload');
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).toEqual({
      reloaded: true,
      aggregates: ['account', 'audit'],
      projections: ['totals'],
      processManagers: ['large-withdrawals'],
    });
    await client.submit(command('acc-1', 'Deposit', { amount: 7 }), ops);
    const changed = await admin(node, 'GET', 'projections/totals?tenant_id=ops');
    expect(changed.body.state).toMatchObject({ deposited: 12, seen: 1 });
    const state = await client.getState({ aggregate_type: 'account', aggregate_id: 'acc-1' }, ops);
    expect(JSON.parse(state.state_json as string)).toMatchObject({ balance: 12 });
  });
});
