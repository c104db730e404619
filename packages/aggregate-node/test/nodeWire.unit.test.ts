import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { AggregateStore } from '@tenantfold/core';
import { AggregateStore as Store, NotOwnerError, StreamKey, Uuid } from '@tenantfold/core';
import {
  AdminServer,
  CommandHandler,
  commandService,
  GrpcServer,
  NodeMetrics,
  TenantGate,
} from '@tenantfold/aggregate-node';
import { Counter } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandClient, rejection } from './grpcClient.js';

// The node's wire over real gRPC and HTTP, on the file backend (no NATS needed).
let dir: string;
let store: AggregateStore;
let grpc: GrpcServer;
let admin: AdminServer;
let client: ReturnType<typeof commandClient>;
let adminUrl: string;
const TOKEN = 'test-token';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tenantfold-wire-'));
  store = await Store.builder(dir).aggregate(Counter).open();
  const metrics = new NodeMetrics({
    tenantLabelCap: 2,
    liveActors: () => store.liveActors,
    quarantined: () => 0,
  });
  const handler = new CommandHandler({
    store: () => store,
    gate: new TenantGate(),
    metrics,
    ownership: {
      assertOwned(tenant) {
        if (tenant === 'elsewhere') throw new NotOwnerError(tenant, 'node-b');
      },
    },
    logger: store.options.logger,
    allowDefaultTenant: false,
  });
  grpc = new GrpcServer(
    { host: '127.0.0.1', port: 0 },
    { CommandService: commandService(handler) },
  );
  client = commandClient((await grpc.start()).port);
  admin = new AdminServer(
    { host: '127.0.0.1', port: 0, token: TOKEN, logger: store.options.logger },
    {
      health: () => Promise.resolve({ ok: true }),
      ready: () => ({ ready: true }),
      metrics: async () => ({
        contentType: metrics.registry.contentType,
        body: await metrics.registry.metrics(),
      }),
      admin: { 'GET /tenants': () => Promise.resolve([{ tenant_id: 'acme' }]) },
    },
  );
  adminUrl = `http://127.0.0.1:${(await admin.start()).port}`;
});

afterAll(async () => {
  client.close();
  await grpc.stop(1000);
  await admin.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const add = (id: string, n: number, extra: Record<string, unknown> = {}) => ({
  aggregate_type: 'counter',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Add', data: { n } }),
  ...extra,
});

async function commitsOf(tenant: string, id: string): Promise<number> {
  let n = 0;
  for await (const _ of store.backend.eventLog.read(StreamKey.of(tenant, 'counter', id))) n++;
  return n;
}

describe('CommandService over gRPC', () => {
  it('applies a command and returns events, version, consistency token and the command id', async () => {
    const res = await client.submit(add('w-1', 5), {
      'x-tenant-id': 'acme',
      'x-correlation-id': 'corr-9',
    });
    expect(res).toMatchObject({ version: 1, consistency_token: 1, duplicate: false });
    expect(res.command_id).toMatch(/^[0-9a-f-]{36}$/);
    const events = res.events as Array<Record<string, unknown>>;
    expect(events[0]).toMatchObject({
      event_type: 'Added',
      payload_json: '{"n":5}',
      correlation_id: 'corr-9',
      version: 1,
    });
    const state = await client.getState(
      { aggregate_type: 'counter', aggregate_id: 'w-1' },
      { 'x-tenant-id': 'acme' },
    );
    expect(JSON.parse(state.state_json as string)).toMatchObject({ value: 5 });
  });

  it('answers a repeated command id with the original events', async () => {
    const command_id = Uuid.new();
    const first = await client.submit(add('w-dup', 1, { command_id }), { 'x-tenant-id': 'acme' });
    const again = await client.submit(add('w-dup', 1, { command_id }), { 'x-tenant-id': 'acme' });
    expect(again).toMatchObject({ duplicate: true, events: first.events });
    expect(await commitsOf('acme', 'w-dup')).toBe(1);
  });

  it('maps a domain rejection to FAILED_PRECONDITION with the message, and writes nothing', async () => {
    const error = await rejection(client.submit(add('w-neg', -1), { 'x-tenant-id': 'acme' }));
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toBe('counter cannot go below zero');
    expect(error.metadata.get('x-error-code')).toEqual(['DECIDE']);
    expect(await commitsOf('acme', 'w-neg')).toBe(0);
  });

  it('keeps tenants apart and refuses a body tenant that differs from x-tenant-id', async () => {
    await client.submit(add('same', 1), { 'x-tenant-id': 'tenant-a' });
    await client.submit(add('same', 2), { 'x-tenant-id': 'tenant-b' });
    const a = await client.getState(
      { aggregate_type: 'counter', aggregate_id: 'same' },
      { 'x-tenant-id': 'tenant-a' },
    );
    expect(JSON.parse(a.state_json as string)).toMatchObject({ value: 1 });
    const error = await rejection(
      client.submit(add('same', 1, { tenant_id: 'tenant-b' }), { 'x-tenant-id': 'tenant-a' }),
    );
    expect(error.code).toBe(status.PERMISSION_DENIED);
    expect(await commitsOf('tenant-a', 'same')).toBe(1);
  });

  it('answers UNAVAILABLE with the owner for a tenant served elsewhere', async () => {
    const error = await rejection(client.submit(add('x', 1), { 'x-tenant-id': 'elsewhere' }));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.metadata.get('x-owner-node')).toEqual(['node-b']);
  });

  it('refuses bad input with INVALID_ARGUMENT and writes nothing', async () => {
    const cases: Array<[Record<string, unknown>, Record<string, string>, RegExp]> = [
      [add('bad-1', 1), {}, /x-tenant-id is required/],
      [add('bad-1', 1), { 'x-tenant-id': 'not valid!' }, /invalid x-tenant-id/],
      [
        { ...add('bad-1', 1), payload_json: '{"type": "Add", "data": ' },
        { 'x-tenant-id': 'acme' },
        /payload_json is not valid JSON/,
      ],
      [
        { ...add('bad-1', 1), aggregate_type: 'nosuch' },
        { 'x-tenant-id': 'acme' },
        /unknown aggregate type 'nosuch'/,
      ],
      [
        {
          ...add('bad-1', 1),
          payload_json: JSON.stringify({
            type: 'Add',
            data: { blob: 'x'.repeat(2 * 1024 * 1024) },
          }),
        },
        { 'x-tenant-id': 'acme' },
        /over the limit/,
      ],
    ];
    for (const [request, headers, message] of cases) {
      const error = await rejection(client.submit(request, headers));
      expect(error.code, String(message)).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(message);
    }
    expect(await commitsOf('acme', 'bad-1')).toBe(0);
  });

  it('runs 10 concurrent commands on one aggregate with contiguous versions', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => client.submit(add('w-conc', 1), { 'x-tenant-id': 'acme' })),
    );
    expect(results.map((r) => r.version as number).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
  });
});

describe('admin HTTP', () => {
  it('serves metrics with bounded tenant labels', async () => {
    const res = await fetch(`${adminUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(
      /aggregate_commands_total\{aggregate_type="counter",tenant_id="acme",outcome="ok"\} \d+/,
    );
    expect(text).toContain('tenant_id="_other"'); // cap 2: the third tenant seen shares the overflow label
    expect(text).toContain('aggregate_command_duration_seconds_bucket');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error, 'promtool missing: run npm run setup').toBeUndefined();
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  });

  it('needs the token for /admin', async () => {
    expect((await fetch(`${adminUrl}/admin/tenants`)).status).toBe(401);
    const wrong = await fetch(`${adminUrl}/admin/tenants`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    const ok = await fetch(`${adminUrl}/admin/tenants`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await ok.json()).toEqual([{ tenant_id: 'acme' }]);
  });
});
