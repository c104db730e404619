import { createConnection } from 'node:net';
import { silentLogger } from '@tenantfold/core';
import { SubscriptionLimits } from '@tenantfold/query/live';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandHop } from '../src/forwarding/commandHop.js';
import { Forwarder } from '../src/forwarding/forwarder.js';
import { NodeChannels } from '../src/forwarding/nodeChannels.js';
import { CutoverHold } from '../src/holding/cutoverHold.js';
import { HttpIngress } from '../src/ingress/httpIngress.js';
import { httpRoutes } from '../src/ingress/httpRoutes.js';
import { RouterService } from '../src/ingress/routerService.js';
import { PlacementCache } from '../src/placement/placementCache.js';
import { SubscriptionHub } from '../src/subscriptions/subscriptionHub.js';

// The query and subscription endpoints' validation over a real HTTP server:
// the router has no placement, so a request that passes validation is
// answered 503 "placement not loaded" — the proof that it got that far.
let ingress: HttpIngress;
let base: string;

beforeAll(async () => {
  const cache = new PlacementCache(silentLogger);
  const channels = new NodeChannels({ channelsPerNode: 1, connectTimeoutMs: 100 });
  const forwarder = new Forwarder({
    cache,
    hold: new CutoverHold({ limit: 10, timeoutMs: 100 }),
    forwardTimeoutMs: 100,
  });
  const subscriptions = new SubscriptionHub({
    limits: new SubscriptionLimits(),
    upstreams: {
      ownerOf: (tenant) => forwarder.ownerNode(tenant),
      refresh: () => cache.refresh(),
      open: (node, request, metadata) => channels.subscribe(node, request, metadata),
      watch: () => () => undefined, // no NATS here: nothing gets that far
    },
    bufferCapacity: 10,
    reopenWindowMs: 100,
    logger: silentLogger,
  });
  const service = new RouterService({
    forwarder,
    hop: new CommandHop(() => undefined),
    channels,
    subscriptions,
    allowDefaultTenant: false,
    logger: silentLogger,
  });
  const probes = {
    health: () => ({ ok: true }),
    ready: () => ({ ready: true }),
    metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
  };
  ingress = new HttpIngress(
    { host: '127.0.0.1', port: 0 },
    httpRoutes(service, probes, { heartbeatMs: 1_000 }),
    silentLogger,
  );
  base = `http://127.0.0.1:${(await ingress.start()).port}`;
});

afterAll(() => ingress.stop(1_000));

async function get(path: string, tenant = 'tenant-a') {
  const response = await fetch(`${base}${path}`, { headers: { 'x-tenant-id': tenant } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe.each([
  ['query', '/v1/aggregates/account'],
  ['subscription', '/v1/subscriptions/account'],
])('GET %s parameters', (_, path) => {
  it('a valid request passes validation (503: no placement to route by)', async () => {
    const answer = await get(`${path}?${q({ filter: 'balance > 50 and status = "open"' })}`);
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ code: 'UNAVAILABLE', message: 'placement not loaded yet' });
  });

  it("a filter that does not parse is 400 with the parser's position and expectation", async () => {
    const answer = await get(`${path}?${q({ filter: 'balance > 50 a' })}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: 'VALIDATION',
      field: 'filter',
      line: 1,
      column: 14,
      message: expect.stringMatching(
        /^invalid filter at line 1, column 14: Expected .*"and"/,
      ) as unknown,
    });
  });

  it('injection text is a filter error, never SQL', async () => {
    const answer = await get(`${path}?${q({ filter: 'balance > 1; DROP TABLE aggregates; --' })}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ field: 'filter', column: 12 });
  });

  it('an unknown or repeated parameter is 400 naming it', async () => {
    const unknown = await get(`${path}?filtr=x`);
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ field: 'filtr' });
    expect(unknown.body.message).toMatch(/^unknown query parameter 'filtr' \(expected filter, /);
    const twice = await get(`${path}?filter=a%3D1&filter=b%3D2`);
    expect(twice.body).toMatchObject({
      field: 'filter',
      message: "query parameter 'filter' given twice",
    });
  });

  it('consistency_token must be a non-negative integer', async () => {
    for (const token of ['-1', '1.5', 'abc', '']) {
      const answer = await get(`${path}?${q({ consistency_token: token })}`);
      expect(answer.status, token).toBe(400);
      expect(answer.body).toMatchObject({ field: 'consistency_token' });
    }
    expect((await get(`${path}?consistency_token=17`)).status).toBe(503);
  });

  it('a bad type or a missing tenant is 400', async () => {
    const type = await get(`${path.replace('account', 'Account!')}`);
    expect(type.status).toBe(400);
    expect(type.body).toMatchObject({ field: 'aggregate_type' });
    const tenant = await get(path, '');
    expect(tenant.status).toBe(400);
    expect(tenant.body).toMatchObject({ field: 'x-tenant-id' });
  });
});

describe('GET /v1/aggregates/:type only', () => {
  it('checks sort and limit', async () => {
    const sort = await get(`/v1/aggregates/account?${q({ sort: '-balance,,id' })}`);
    expect(sort.status).toBe(400);
    expect(sort.body).toMatchObject({ field: 'sort' });
    const limit = await get('/v1/aggregates/account?limit=ten');
    expect(limit.body).toMatchObject({
      field: 'limit',
      message: "limit must be a non-negative integer, got 'ten'",
    });
    const huge = await get('/v1/aggregates/account?limit=99999999999');
    expect(huge.body).toMatchObject({ field: 'limit' });
    expect(huge.body.message).toMatch(/limit must be an integer from 0 to 4294967295/);
    const fine = await get(
      `/v1/aggregates/account?${q({ sort: '-balance,id', limit: '5000', cursor: 'abc' })}`,
    );
    expect(fine.status).toBe(503);
  });

  it('does not take subscription parameters', async () => {
    expect((await get('/v1/aggregates/account?resume=a:1')).body).toMatchObject({
      field: 'resume',
    });
  });
});

describe('GET /v1/subscriptions/:type only', () => {
  it('checks resume entries as <aggregate id>:<version>', async () => {
    for (const resume of ['acc-1', 'acc-1:x', ':3', 'bad id!:3']) {
      const answer = await get(`/v1/subscriptions/account?${q({ resume })}`);
      expect(answer.status, resume).toBe(400);
      expect(answer.body).toMatchObject({ field: 'resume' });
    }
    expect((await get('/v1/subscriptions/account?resume=acc-1:3,acc-2:10')).status).toBe(503);
  });

  it('does not take paging parameters', async () => {
    expect((await get('/v1/subscriptions/account?limit=3')).body).toMatchObject({ field: 'limit' });
  });
});

describe('request targets', () => {
  it('an absolute-form target (as a proxy sends it) routes by its path and query', async () => {
    const { port } = new URL(base);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = createConnection(Number(port), '127.0.0.1', () =>
        socket.write(
          `GET http://router.example/v1/aggregates/account?${q({ filter: 'balance >' })} HTTP/1.1\r\n` +
            'Host: router.example\r\nx-tenant-id: tenant-a\r\nConnection: close\r\n\r\n',
        ),
      );
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('"field":"filter"');
  });
});
