// What one tenant can throw at a node, through the router: every attack gets a
// clear 4xx, nothing it refused is appended, other tenants keep being served,
// and the node restarts ready afterwards (the seven cases of the poison-inputs issue).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamKey, TenantId } from '@tenantfold/core';
import { openJetStreamBackend } from '@tenantfold/nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { http } from './support/clients.js';
import { ADMIN_TOKEN, TestCluster } from './support/cluster.js';
import { HOSTILE_MANIFEST, nested, poisonedAuditCommit } from './support/hostile.js';

let cluster: TestCluster;
let dir: string;
let readModelPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-poison-'));
  readModelPath = join(dir, 'read-model.sqlite');
  cluster = await TestCluster.start({
    natsUrl: inject('natsUrl'),
    nodeIds: ['node-a'],
    routers: 1,
    nodeEnv: {
      AGGREGATE_MANIFEST: HOSTILE_MANIFEST,
      AGGREGATE_READ_MODEL_PATH: readModelPath,
      AGGREGATE_TENANT_INTAKE_MB: '2',
    },
  });
  expect((await command('victim', 'account', 'v1', 'Open', { owner: 'v' })).status).toBe(200);
});

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const routerPort = () => cluster.routers[0]!.httpPort;

function command(tenant: string, type: string, id: string, name: string, data: unknown = {}) {
  return http(routerPort(), 'POST', '/v1/commands', {
    headers: { 'x-tenant-id': tenant },
    body: { aggregate_type: type, aggregate_id: id, payload: { type: name, data } },
  });
}

function state(tenant: string, type: string, id: string) {
  return http(routerPort(), 'GET', `/v1/aggregates/${type}/${id}`, {
    headers: { 'x-tenant-id': tenant },
  });
}

function admin(method: string, path: string, body?: unknown) {
  return http(cluster.node('node-a').adminPort, method, path, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    ...(body === undefined ? {} : { body }),
  });
}

/** The other tenant is served: a deposit on its account is acknowledged. */
async function victimServed(): Promise<void> {
  const answer = await command('victim', 'account', 'v1', 'Deposit', { amount: 1 });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
}

/** Version of an aggregate as the node holds it (0: nothing appended). */
async function versionOf(tenant: string, type: string, id: string): Promise<number> {
  const answer = await state(tenant, type, id);
  if (answer.status === 404) return 0;
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body.version as number;
}

async function restartNode(): Promise<void> {
  await cluster.stopNode('node-a');
  await cluster.startNode('node-a');
  const ready = await fetch(`http://127.0.0.1:${cluster.node('node-a').adminPort}/ready`);
  expect(ready.status).toBe(200);
}

describe('one tenant cannot take a node down', () => {
  it('1. refuses a command nested 1,100 levels deep at the door (400, nothing appended)', async () => {
    const answer = await command('attacker', 'audit', 'x', 'Flag', {
      amount: 1,
      version: 1,
      account: nested(1_100),
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION' });
    expect(answer.body.message).toMatch(/deeper than the limit of 64 levels/);
    expect(await versionOf('attacker', 'audit', 'x')).toBe(0);
    await victimServed();
  });

  it('1. starts, serves every tenant and quarantines the aggregate when the log already holds a state SQLite refuses (read model deleted too)', async () => {
    // What a version without limits committed: an audit case whose state nests 1,100 levels.
    const backend = await openJetStreamBackend({ nc: cluster.nc, ...cluster.names.storage });
    const commit = poisonedAuditCommit(StreamKey.of(TenantId.parse('attacker'), 'audit', 'old'));
    await backend.eventLog.append(commit, 0);
    await backend.close();
    expect(
      (
        await command('attacker', 'audit', 'fine', 'Flag', {
          account: 'a1',
          amount: 2,
          version: 1,
        })
      ).status,
    ).toBe(200);

    await cluster.stopNode('node-a');
    await rm(readModelPath, { force: true }); // the rows are rebuilt from the log at start
    await cluster.startNode('node-a');

    await victimServed();
    const listed = await admin('GET', '/admin/quarantine?tenant_id=attacker');
    expect(listed.status).toBe(200);
    expect(listed.body.quarantined).toEqual([
      expect.objectContaining({ tenant: 'attacker', type: 'audit', id: 'old' }),
    ]);
    // The tenant's other aggregates go on; the bad one fails alone, with a clear error.
    expect(await versionOf('attacker', 'audit', 'fine')).toBe(1);
    const bad = await state('attacker', 'audit', 'old');
    expect(bad.status).toBe(500);
    expect(bad.body.message).toMatch(/cannot rehydrate .*audit.*old/);
    const query = await http(routerPort(), 'GET', '/v1/aggregates/audit?filter=status = "open"', {
      headers: { 'x-tenant-id': 'attacker' },
    });
    expect(query.status).toBe(200);
    expect((query.body.rows as { id: string }[]).map((row) => row.id)).toEqual(['fine']);
    const metrics = await (
      await fetch(`http://127.0.0.1:${cluster.node('node-a').adminPort}/metrics`)
    ).text();
    expect(metrics).toMatch(/^aggregate_read_model_quarantined 1$/m);
  });

  it('2. answers a body nested 100,000 levels deep with 400, not 500', async () => {
    const body = `{"aggregate_type":"account","aggregate_id":"d","payload":{"type":"Deposit","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`;
    const answer = await http(routerPort(), 'POST', '/v1/commands', {
      headers: { 'x-tenant-id': 'attacker' },
      body,
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION' });
    await victimServed();
  });

  it('refuses header values gRPC cannot carry, and metadata past its bounds, with 400 (found by a hostile review)', async () => {
    const body = {
      aggregate_type: 'account',
      aggregate_id: 'v1',
      payload: { type: 'Deposit', data: { amount: 1 } },
    };
    const header = await http(routerPort(), 'POST', '/v1/commands', {
      headers: { 'x-tenant-id': 'attacker', 'x-correlation-id': 'caf\u00e9' },
      body,
    });
    expect(header.status).toBe(400);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    for (const metadata of [many, { big: 'x'.repeat(900_000) }]) {
      const answer = await http(routerPort(), 'POST', '/v1/commands', {
        headers: { 'x-tenant-id': 'attacker' },
        body: { ...body, metadata },
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'VALIDATION' });
    }
    await victimServed();
  });

  it('3. closes a connection whose body was refused, so the next request on it never hangs', async () => {
    const big = 'x'.repeat(4 * 1024 * 1024);
    const response = await fetch(`http://127.0.0.1:${routerPort()}/v1/commands`, {
      method: 'POST',
      headers: { 'x-tenant-id': 'attacker', 'content-type': 'application/json' },
      body: big,
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('connection')).toBe('close');
    await victimServed();
  });

  it('4. refuses a decide that returns 150,000 events (PROGRAM_LIMIT, nothing appended)', async () => {
    const flood = await command('attacker', 'hostile', 'flood', 'Flood', { n: 150_000 });
    expect(flood.status).toBe(422);
    expect(flood.body).toMatchObject({ code: 'PROGRAM_LIMIT' });
    const over = await command('attacker', 'hostile', 'flood', 'Flood', { n: 1_001 });
    expect(over.body.message).toMatch(/1001 events, over the limit of 1000/);
    expect(await versionOf('attacker', 'hostile', 'flood')).toBe(0);
    expect((await command('attacker', 'hostile', 'flood', 'Flood', { n: 1_000 })).status).toBe(200);
    expect(await versionOf('attacker', 'hostile', 'flood')).toBe(1_000);
    await victimServed();
  });

  it('5. refuses a state nested 6,000 levels deep or over the size limit, and the aggregate keeps working', async () => {
    const deep = await command('attacker', 'hostile', 'deep', 'Nest', { levels: 6_000 });
    expect(deep.status).toBe(422);
    expect(deep.body).toMatchObject({ code: 'PROGRAM_LIMIT' });
    expect(deep.body.message).toMatch(/deeper than the limit of 64 levels/);
    const big = await command('attacker', 'hostile', 'deep', 'Grow', { kb: 1_500 });
    expect(big.status).toBe(422);
    expect(big.body.message).toMatch(/over the limit of 1048576/);
    expect(await versionOf('attacker', 'hostile', 'deep')).toBe(0);
    expect((await command('attacker', 'hostile', 'deep', 'Nest', { levels: 10 })).status).toBe(200);
    expect((await command('attacker', 'hostile', 'deep', 'Tick')).status).toBe(200);
    expect(await versionOf('attacker', 'hostile', 'deep')).toBe(2);
  });

  it.each([
    ['a null-prototype event with a hidden toJSON', 'HiddenToJson', /toJSON/],
    ['a hidden toJSON that returns NaN', 'ToJsonNaN', /toJSON/],
    ['a hidden toJSON that returns undefined', 'ToJsonUndefined', /toJSON/],
    ['NaN', 'NaN', /not a finite number/],
  ])('6. refuses %s from a program with a clear 422, not 500', async (_what, name, message) => {
    const answer = await command('attacker', 'hostile', `json-${name}`, name);
    expect(answer.status, JSON.stringify(answer.body)).toBe(422);
    expect(answer.body.message).toMatch(message);
    expect(await versionOf('attacker', 'hostile', `json-${name}`)).toBe(0);
  });

  it("7. does not charge memory one tenant's call kept to another tenant's next call", async () => {
    expect((await command('attacker', 'hostile', 'retain', 'Retain', { mb: 22 })).status).toBe(200);
    const innocent = await command('victim', 'hostile', 'need', 'Need', { mb: 14 });
    expect(innocent.status, JSON.stringify(innocent.body)).toBe(200);
  });

  it("refuses a tenant's burst of large commands past its intake budget (503), and serves the other tenant meanwhile (found by a hostile review)", async () => {
    // 600 KB bodies, 2 MiB of intake per tenant: a few are taken, the rest refused before decoding.
    const pad = Array.from({ length: 3 }, () => 'p'.repeat(200_000));
    const burst = Array.from({ length: 16 }, (_, i) =>
      command('attacker', 'account', `big-${i}`, 'Open', { owner: 'a', pad }),
    );
    const victim = command('victim', 'account', 'v1', 'Deposit', { amount: 1 });
    const answers = await Promise.all(burst);
    expect((await victim).status).toBe(200);
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 503 || s === 422)).toBe(true);
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(JSON.stringify(refused[0]!.body)).toMatch(/bytes of commands in flight/);
  });

  it('restarts ready afterwards, with every tenant served and nothing refused in the log', async () => {
    await restartNode();
    await victimServed();
    expect(await versionOf('attacker', 'hostile', 'deep')).toBe(2);
    expect(await versionOf('attacker', 'hostile', 'flood')).toBe(1_000);
    expect(await versionOf('attacker', 'audit', 'fine')).toBe(1);
  });
});
