// The gateway router on a whole cluster: nats-server, 3 aggregate nodes, 2 routers on loopback.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant } from '@tenantfold/core';
import type { GatewayRouter } from '@tenantfold/gateway-router';
import type { MigrationPhase, Placement } from '@tenantfold/nats';
import { connect } from '@nats-io/transport-node';
import { PlacementStore, placementToYaml, resolveOwner } from '@tenantfold/nats';
import type { NatsServer } from '@tenantfold/testkit';
import { freePort, startNatsServer } from '@tenantfold/testkit';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { GrpcClient } from './support/clients.js';
import { grpcClient, grpcRejection, http, metricSum } from './support/clients.js';
import { TestCluster } from './support/cluster.js';

let cluster: TestCluster;
let routers: GatewayRouter[];
let clients: GrpcClient[];

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

const open = (id: string, owner = 'e2e') => ({
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Open', data: { owner } }),
});
const deposit = (id: string, amount: number) => ({
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Deposit', data: { amount } }),
});

/** Commands a node applied for a tenant (its own metrics). */
function servedBy(nodeId: string, tenant: string): Promise<number> {
  return metricSum(cluster.node(nodeId).adminPort, 'aggregate_commands_total', {
    tenant_id: tenant,
    outcome: 'ok',
  });
}

/** Waits until every router uses a placement at least at `revision`. */
async function routersAt(revision: number): Promise<void> {
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
function tenantOn(placement: Placement, nodeId: string, prefix: string): TenantId {
  for (let i = 0; i < 1_000; i++) {
    const tenant = Tenant.parse(`${prefix}-${i}`);
    if (resolveOwner(placement, tenant) === nodeId) return tenant;
  }
  throw new Error(`no tenant of ${nodeId}`);
}

describe('routing', () => {
  it('spreads 300 tenants over 3 nodes and lands every command on its owner', async () => {
    const placement = await cluster.placement.load();
    await routersAt(placement.revision);
    const tenants = Array.from({ length: 300 }, (_, i) => Tenant.parse(`spread-${i}`));
    let next = 0;
    // 16 in flight, alternating routers and transports.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < tenants.length) {
          const i = next++;
          const tenant = tenants[i]!;
          if (i % 2 === 0) {
            await clients[i % 4 === 0 ? 0 : 1]!.submit(open('acc-1'), { 'x-tenant-id': tenant });
          } else {
            const answer = await http(
              routers[i % 4 === 1 ? 0 : 1]!.httpPort,
              'POST',
              '/v1/commands',
              {
                headers: { 'x-tenant-id': tenant },
                body: {
                  aggregate_type: 'account',
                  aggregate_id: 'acc-1',
                  payload: { type: 'Open', data: { owner: 'e2e' } },
                },
              },
            );
            expect(answer.status, JSON.stringify(answer.body)).toBe(200);
          }
        }
      }),
    );
    const expected = new Map<string, number>();
    for (const tenant of tenants) {
      const owner = resolveOwner(placement, tenant)!;
      expected.set(owner, (expected.get(owner) ?? 0) + 1);
    }
    const landed = new Map<string, number>();
    for (const nodeId of cluster.nodes.keys()) {
      let count = 0;
      for (const tenant of tenants) {
        const served = await servedBy(nodeId, tenant);
        if (served > 0) {
          expect(resolveOwner(placement, tenant), `${tenant} served by ${nodeId}`).toBe(nodeId);
          count += served;
        }
      }
      landed.set(nodeId, count);
    }
    process.stdout.write(
      `300 tenants over 3 nodes: ${[...landed].map(([id, n]) => `${id} ${n}`).join(', ')}\n`,
    );
    expect(landed).toEqual(expected);
    for (const count of landed.values()) expect(count).toBeGreaterThan(60);
  });

  it('moves a pinned tenant: the next command reaches the new node within 200 ms of the KV write', async () => {
    const before = await cluster.placement.load();
    const tenant = tenantOn(before, 'node-a', 'pinned');
    await clients[0]!.submit(open('acc-1'), { 'x-tenant-id': tenant });
    expect(await servedBy('node-a', tenant)).toBe(1);

    const written = performance.now();
    await cluster.placement.pin(tenant, 'node-b');
    for (const [i, client] of clients.entries()) {
      await client.submit(deposit('acc-1', i + 1), { 'x-tenant-id': tenant });
    }
    const elapsed = performance.now() - written;
    process.stdout.write(
      `pin write to both routers' next commands on node-b: ${elapsed.toFixed(1)} ms\n`,
    );
    expect(elapsed).toBeLessThan(200);
    expect(await servedBy('node-b', tenant)).toBe(2);
    expect(await servedBy('node-a', tenant)).toBe(1);
  });

  it('holds a tenant in cutover and releases every command to the new owner, in order', async () => {
    const placement = await cluster.placement.load();
    const tenant = tenantOn(placement, 'node-a', 'moving');
    const headers = { 'x-tenant-id': tenant };
    await clients[0]!.submit(open('acc-1'), headers);
    await clients[1]!.submit(open('acc-2'), headers);
    const pin = await cluster.placement.pin(tenant, 'node-a');

    let revision = 0;
    const phase = async (name: MigrationPhase) => {
      revision = await cluster.placement.putMigration(
        tenant,
        {
          phase: name,
          from: 'node-a',
          to: 'node-c',
          epoch: 1,
          startedAt: new Date().toISOString(),
        },
        revision,
      );
      return revision;
    };
    await routersAt(await phase('DRAINING'));

    // 20 deposits per aggregate, alternating routers, all sent before the swap.
    const sent = Array.from({ length: 40 }, (_, i) => {
      const id = i % 2 === 0 ? 'acc-1' : 'acc-2';
      return clients[i % 2]!.submit(deposit(id, i + 1), headers);
    });
    await vi.waitFor(async () => {
      const held = await Promise.all(routers.map((r) => http(r.httpPort, 'GET', '/health')));
      expect(held.reduce((n, h) => n + (h.body.held_commands as number), 0)).toBe(40);
    });
    await phase('VERIFYING');
    await phase('SWAPPING');
    await cluster.placement.pin(tenant, 'node-c', { expectedRevision: pin });
    await phase('DONE');

    const results = await Promise.all(sent);
    // Per aggregate, the k-th command sent got version k + 1 (after the Open).
    const versions = { 'acc-1': [] as number[], 'acc-2': [] as number[] };
    results.forEach((result, i) =>
      versions[i % 2 === 0 ? 'acc-1' : 'acc-2'].push(Number(result.version)),
    );
    expect(versions['acc-1']).toEqual(Array.from({ length: 20 }, (_, k) => k + 2));
    expect(versions['acc-2']).toEqual(Array.from({ length: 20 }, (_, k) => k + 2));
    expect(await servedBy('node-c', tenant)).toBe(40);
    const state = await clients[1]!.getState(
      { aggregate_type: 'account', aggregate_id: 'acc-1' },
      headers,
    );
    expect(JSON.parse(state.state_json as string)).toMatchObject({
      balance: Array.from({ length: 20 }, (_, k) => 2 * k + 1).reduce((a, b) => a + b, 0),
    });
  });
});

describe('node restarts', () => {
  it('follows a node that leaves and comes back on new ports, without a router restart', async () => {
    const before = await cluster.placement.load();
    const tenant = tenantOn(before, 'node-c', 'restart');
    const headers = { 'x-tenant-id': tenant };
    await clients[0]!.submit(open('acc-1'), headers);
    const oldPort = cluster.node('node-c').grpcPort;

    await cluster.stopNode('node-c'); // marks itself down: its ring tenants go elsewhere
    await routersAt((await cluster.placement.load()).revision);
    const meanwhile = await clients[1]!.submit(deposit('acc-1', 1), headers);
    expect(meanwhile.version).toBe(2);
    const stand = resolveOwner(await cluster.placement.load(), tenant);
    expect(stand).not.toBe('node-c');
    expect(await servedBy(stand!, tenant)).toBe(1);

    const back = await cluster.startNode('node-c');
    expect(back.grpcPort).not.toBe(oldPort);
    await routersAt((await cluster.placement.load()).revision);
    for (const client of clients) await client.submit(deposit('acc-1', 1), headers);
    expect(await servedBy('node-c', tenant)).toBe(2); // the restarted node's own count
  });
});

describe('answers', () => {
  const tenant = 'answers';
  const headers = { 'x-tenant-id': tenant };
  const command = (id: string, type: string, data: Record<string, unknown>) => ({
    aggregate_type: 'account',
    aggregate_id: id,
    payload: { type, data },
  });
  const post = (body: unknown, extra: Record<string, string> = headers) =>
    http(routers[1]!.httpPort, 'POST', '/v1/commands', { body, headers: extra });

  it('gives the same results over HTTP and gRPC, through either router', async () => {
    const viaHttp = [
      await post(command('acc-h', 'Open', { owner: 'ann' })),
      await post(command('acc-h', 'Deposit', { amount: 5 })),
    ];
    const viaGrpc = [
      await clients[0]!.submit(open('acc-g', 'ann'), headers),
      await clients[0]!.submit(deposit('acc-g', 5), headers),
    ];
    for (const [i, answer] of viaHttp.entries()) {
      expect(answer.status).toBe(200);
      const events = answer.body.events as Array<Record<string, unknown>>;
      const grpcEvents = viaGrpc[i]!.events as Array<Record<string, unknown>>;
      expect(answer.body.version).toBe(viaGrpc[i]!.version);
      expect(events.map((e) => [e.event_type, e.payload, e.version])).toEqual(
        grpcEvents.map((e) => [
          e.event_type,
          JSON.parse(e.payload_json as string) as unknown,
          e.version,
        ]),
      );
      // Assigned by the router when absent: a UUID v7.
      expect(answer.body.command_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      expect(viaGrpc[i]!.command_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      expect(answer.headers.get('x-correlation-id')).toBeTruthy();
    }
    const httpState = await http(routers[0]!.httpPort, 'GET', '/v1/aggregates/account/acc-h', {
      headers,
    });
    const grpcState = await clients[1]!.getState(
      { aggregate_type: 'account', aggregate_id: 'acc-g' },
      headers,
    );
    expect(httpState.status).toBe(200);
    expect(httpState.body).toEqual({
      aggregate_type: 'account',
      aggregate_id: 'acc-h',
      version: grpcState.version,
      state: JSON.parse(grpcState.state_json as string) as unknown,
    });

    // A repeated command id is answered with the original events on both transports.
    const first = viaHttp[1]!.body;
    const again = await post({
      ...command('acc-h', 'Deposit', { amount: 5 }),
      command_id: first.command_id,
    });
    expect(again.body).toMatchObject({
      duplicate: true,
      version: first.version,
      command_id: first.command_id,
    });
    const grpcAgain = await clients[1]!.submit(
      { ...deposit('acc-g', 5), command_id: viaGrpc[1]!.command_id },
      headers,
    );
    expect(grpcAgain).toMatchObject({ duplicate: true, version: viaGrpc[1]!.version });
  });

  it('passes correlation id and traceparent on, and makes them up when absent', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const given = await post(command('acc-t', 'Open', { owner: 'ann' }), {
      ...headers,
      'x-correlation-id': 'checkout-7',
      traceparent: `00-${trace}-00f067aa0ba902b7-01`,
    });
    expect(given.headers.get('x-correlation-id')).toBe('checkout-7');
    expect((given.body.events as Array<Record<string, unknown>>)[0]).toMatchObject({
      correlation_id: 'checkout-7',
      trace_id: trace,
    });
    const made = await post(command('acc-t', 'Deposit', { amount: 1 }));
    const event = (made.body.events as Array<Record<string, unknown>>)[0]!;
    expect(event.correlation_id).toBe(made.headers.get('x-correlation-id'));
    expect(event.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(event.trace_id).not.toBe(trace);
  });

  it('passes a domain rejection on with the same status and message on both transports', async () => {
    const answer = await post(command('acc-h', 'Withdraw', { amount: 1_000 }));
    const error = await grpcRejection(
      clients[0]!.submit(
        {
          aggregate_type: 'account',
          aggregate_id: 'acc-h',
          payload_json: JSON.stringify({ type: 'Withdraw', data: { amount: 1_000 } }),
        },
        headers,
      ),
    );
    expect(answer.status).toBe(422);
    expect(answer.body.code).toBe('DECIDE');
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(answer.body.message).toBe(error.details);
    expect(error.details).toContain('insufficient funds');
  });

  const good = {
    aggregate_type: 'account',
    aggregate_id: 'acc-x',
    payload: { type: 'Open', data: { owner: 'x' } },
  };
  it.each([
    ['no tenant header', {}, good, 'x-tenant-id is required'],
    ['an invalid tenant', { 'x-tenant-id': 'bad tenant!' }, good, 'invalid x-tenant-id'],
    ['an unknown aggregate type', headers, { ...good, aggregate_type: 'spaceship' }, 'spaceship'],
    ['an invalid aggregate id', headers, { ...good, aggregate_id: 'a b' }, 'invalid aggregate_id'],
    ['a payload without a type', headers, { ...good, payload: { data: {} } }, 'payload.type'],
    ['a bad expected_version', headers, { ...good, expected_version: -1 }, 'expected_version'],
  ])('answers %s with 400 / INVALID_ARGUMENT and the same message', async (_, head, body, text) => {
    const answer = await post(body, head);
    const error = await grpcRejection(
      clients[1]!.submit(
        {
          aggregate_type: body.aggregate_type,
          aggregate_id: body.aggregate_id,
          payload_json: JSON.stringify(body.payload),
          ...('expected_version' in body ? { expected_version: 0 } : {}),
        },
        head,
      ),
    ).catch(() => undefined);
    expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    expect(answer.body.code).toBe('VALIDATION');
    expect(answer.body.message).toContain(text);
    // gRPC cannot carry a negative uint64: that case is HTTP-only.
    if (!('expected_version' in body)) {
      expect(error?.code).toBe(status.INVALID_ARGUMENT);
      expect(error?.details).toBe(answer.body.message);
    }
  });

  it('routes calls without a tenant to the default tenant only where the deployment allows it', async () => {
    const router = await cluster.startRouter({ ROUTER_ALLOW_DEFAULT_TENANT: 'true' });
    const body = { ...good, aggregate_id: 'acc-default' };
    const answer = await http(router.httpPort, 'POST', '/v1/commands', { body });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect((answer.body.events as Array<{ tenant_id: string }>)[0]?.tenant_id).toBe('');
    const owner = resolveOwner(await cluster.placement.load(), Tenant.DEFAULT)!;
    expect(await servedBy(owner, '=default')).toBe(1);
    expect((await post(body, {})).status).toBe(400); // the other routers do not allow it
  });

  it('answers bad JSON with 400 / INVALID_ARGUMENT naming what is not JSON', async () => {
    const answer = await post('{"aggregate_type": ');
    expect(answer.status).toBe(400);
    expect(answer.body.message).toContain('body is not valid JSON');
    const error = await grpcRejection(
      clients[0]!.submit(
        { aggregate_type: 'account', aggregate_id: 'a', payload_json: '{' },
        headers,
      ),
    );
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toContain('payload_json is not valid JSON');
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    expect((await http(routers[0]!.httpPort, 'GET', '/v1/nothing')).status).toBe(404);
    const wrong = await http(routers[0]!.httpPort, 'GET', '/v1/commands');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});

describe('failures', () => {
  it('answers UNAVAILABLE with retry-after when the hold queue is full or its deadline passes', async () => {
    const router = await cluster.startRouter({
      ROUTER_HOLD_QUEUE_LIMIT: '2',
      ROUTER_HOLD_TIMEOUT_MS: '300',
    });
    const client = grpcClient(router.grpcPort);
    try {
      const tenant = Tenant.parse('stuck');
      const headers = { 'x-tenant-id': tenant };
      const revision = await cluster.placement.putMigration(
        tenant,
        {
          phase: 'DRAINING',
          from: 'node-a',
          to: 'node-b',
          epoch: 1,
          startedAt: new Date().toISOString(),
        },
        0,
      );
      await routersAt(revision);
      const started = performance.now();
      const held = [1, 2].map((n) => grpcRejection(client.submit(open(`acc-${n}`), headers)));
      await vi.waitFor(async () => {
        expect((await http(router.httpPort, 'GET', '/health')).body.held_commands).toBe(2);
      });
      const full = await grpcRejection(client.submit(open('acc-3'), headers));
      expect(full.code).toBe(status.UNAVAILABLE);
      expect(full.details).toContain('2 requests already wait');
      expect(full.metadata.get('retry-after')).toEqual(['1']);
      const overHttp = await http(router.httpPort, 'POST', '/v1/commands', {
        headers,
        body: {
          aggregate_type: 'account',
          aggregate_id: 'acc-4',
          payload: { type: 'Open', data: { owner: 'x' } },
        },
      });
      expect(overHttp.status).toBe(503);
      expect(overHttp.headers.get('retry-after')).toBe('1');

      for (const error of await Promise.all(held)) {
        expect(error.code).toBe(status.UNAVAILABLE);
        expect(error.details).toContain('longer than 300 ms');
        expect(error.metadata.get('retry-after')).toEqual(['1']);
      }
      expect(performance.now() - started).toBeGreaterThanOrEqual(290);
      expect(
        await metricSum(router.httpPort, 'router_held_commands_total', { outcome: 'timeout' }),
      ).toBe(2);
      expect(
        await metricSum(router.httpPort, 'router_held_commands_total', { outcome: 'full' }),
      ).toBe(2);
      await cluster.placement.putMigration(
        tenant,
        {
          phase: 'ROLLED_BACK',
          from: 'node-a',
          to: 'node-b',
          epoch: 1,
          startedAt: new Date().toISOString(),
          reason: 'test',
        },
        revision,
      );
    } finally {
      client.close();
    }
  });

  it('refuses held calls with retry-after when it stops, and finishes the rest', async () => {
    const router = await cluster.startRouter();
    const client = grpcClient(router.grpcPort);
    const tenant = Tenant.parse('stopping');
    const headers = { 'x-tenant-id': tenant };
    try {
      const revision = await cluster.placement.putMigration(
        tenant,
        {
          phase: 'VERIFYING',
          from: 'node-a',
          to: 'node-b',
          epoch: 1,
          startedAt: new Date().toISOString(),
        },
        0,
      );
      await routersAt(revision);
      const held = grpcRejection(client.submit(open('acc-1'), headers));
      await vi.waitFor(async () => {
        expect((await http(router.httpPort, 'GET', '/health')).body.held_commands).toBe(1);
      });
      await cluster.stopRouter(router);
      const error = await held;
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toContain('shutting down');
      expect(error.metadata.get('retry-after')).toEqual(['1']);
      expect(router.state).toBe('STOPPED');
    } finally {
      client.close();
    }
  });

  it('answers UNAVAILABLE fast when the owning node cannot be reached, and counts it', async () => {
    const port = await freePort();
    await cluster.placement.registerNode({
      id: 'node-z',
      grpcAddress: `127.0.0.1:${port}`,
      adminAddress: `127.0.0.1:${port}`,
      tenantRange: 'z',
      status: 'draining', // off the ring: only its pinned tenant goes there
    });
    const revision = await cluster.placement.pin(Tenant.parse('orphan'), 'node-z');
    await routersAt(revision);
    const started = performance.now();
    const error = await grpcRejection(
      clients[0]!.submit(open('acc-1'), { 'x-tenant-id': 'orphan' }),
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain(`node 'node-z' (127.0.0.1:${port}) is unreachable`);
    expect(
      await metricSum(routers[0]!.httpPort, 'router_node_unreachable_total', { node: 'node-z' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await metricSum(routers[0]!.httpPort, 'router_requests_total', {
        route: 'grpc SubmitCommand',
        outcome: 'unavailable',
      }),
    ).toBeGreaterThanOrEqual(1);
    await cluster.placement.unpin(Tenant.parse('orphan'));
    await cluster.placement.removeNode('node-z');
  });
});

describe('placement file', () => {
  it('starts from the placement file when KV is unreachable, then catches up when KV comes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'router-placement-'));
    const kvPort = await freePort();
    let lateNats: NatsServer | undefined;
    try {
      const file = join(dir, 'placement.yaml');
      const placement = await cluster.placement.load();
      await writeFile(file, placementToYaml(placement));
      const router = await cluster.startRouter({
        ROUTER_NATS_URL: `nats://127.0.0.1:${kvPort}`,
        ROUTER_NATS_CONNECT_TIMEOUT_MS: '300',
        ROUTER_PLACEMENT_FILE: file,
      });
      const health = await http(router.httpPort, 'GET', '/health');
      expect(health.status).toBe(200);
      expect(health.body.placement).toEqual({ source: 'file', revision: 0 });
      const ready = await http(router.httpPort, 'GET', '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.reason).toContain('NATS not connected');
      expect(await metricSum(router.httpPort, 'router_placement_from_file')).toBe(1);

      // It routes by the file: every tenant to the owner KV would give it.
      const client = grpcClient(router.grpcPort);
      try {
        for (const nodeId of ['node-a', 'node-b', 'node-c']) {
          const tenant = tenantOn(placement, nodeId, 'from-file');
          await client.submit(open('acc-1'), { 'x-tenant-id': tenant });
          expect(await servedBy(nodeId, tenant)).toBe(1);
        }
      } finally {
        client.close();
      }

      // KV appears: the router follows it. A tenant the file gives to node-a is pinned to
      // node-c there (and in the cluster's KV, so the nodes agree): only a router that
      // follows the new KV can get its command applied.
      const moved = tenantOn(placement, 'node-a', 'late');
      await cluster.placement.pin(moved, 'node-c');

      // Meanwhile the file's placement is stale for it: node-a refuses, the router has no
      // fresher placement to read, retries once, then passes the refusal on with the owner.
      const stale = grpcClient(router.grpcPort);
      let attempt = 0;
      let refusals = 0;
      try {
        await vi.waitFor(async () => {
          const refused = await grpcRejection(
            stale.submit(open(`acc-stale-${attempt++}`), { 'x-tenant-id': moved }),
          );
          if (refused.code === status.UNAVAILABLE) refusals++;
          expect(refused.code).toBe(status.UNAVAILABLE);
          expect(refused.metadata.get('x-owner-node')).toEqual(['node-c']);
        });
      } finally {
        stale.close();
      }
      // Each refused call was retried exactly once.
      expect(await metricSum(router.httpPort, 'router_not_owner_retries_total')).toBe(refusals);
      lateNats = await startNatsServer({ port: kvPort });
      const nc = await connect({ servers: lateNats.url });
      try {
        const late = await PlacementStore.open(nc, { bucket: cluster.names.placementBucket });
        for (const node of placement.nodes.values()) await late.registerNode(node);
        const revision = await late.pin(moved, 'node-c');
        await vi.waitFor(
          async () => {
            const now = await http(router.httpPort, 'GET', '/health');
            expect(now.body.placement).toEqual({ source: 'kv', revision });
            expect((await http(router.httpPort, 'GET', '/ready')).status).toBe(200);
          },
          { timeout: 10_000, interval: 50 },
        );
        const viaLate = grpcClient(router.grpcPort);
        try {
          await viaLate.submit(open('acc-1'), { 'x-tenant-id': moved });
        } finally {
          viaLate.close();
        }
        expect(await servedBy('node-c', moved)).toBe(1);
        expect(await metricSum(router.httpPort, 'router_placement_from_file')).toBe(0);

        // KV lost again: not ready, but it keeps routing by the last placement it saw.
        await nc.close();
        await lateNats.stop();
        lateNats = undefined;
        await vi.waitFor(async () => {
          const ready = await http(router.httpPort, 'GET', '/ready');
          expect(ready.status).toBe(503);
          expect(ready.body.reason).toContain(`kv revision ${revision}`);
        });
        expect(await metricSum(router.httpPort, 'router_nats_connected')).toBe(0);
        const stale = grpcClient(router.grpcPort);
        try {
          await stale.submit(deposit('acc-1', 3), { 'x-tenant-id': moved });
        } finally {
          stale.close();
        }
        expect(await servedBy('node-c', moved)).toBe(2);
      } finally {
        if (!nc.isClosed()) await nc.close();
      }
    } finally {
      await lateNats?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
