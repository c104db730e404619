// The router → node hop for commands: NATS request-reply on the node's own subject,
// bytes passed through; gRPC for nodes that advertise no subject.
import { status } from '@grpc/grpc-js';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { TenantId } from '@tenantfold/core';
import type { NodeRecord } from '@tenantfold/nats';
import { resolveOwner } from '@tenantfold/nats';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { GrpcClient } from './support/clients.js';
import { grpcClient, grpcRejection, http } from './support/clients.js';
import { TestCluster } from './support/cluster.js';

let cluster: TestCluster;
let client: GrpcClient;

beforeAll(async () => {
  cluster = await TestCluster.start({ natsUrl: inject('natsUrl'), routers: 1 });
  client = grpcClient(cluster.routers[0]!.grpcPort);
});

afterAll(async () => {
  client?.close();
  await cluster?.stop();
});

const open = (id: string) => ({
  command_id: '',
  aggregate_type: 'account',
  aggregate_id: id,
  payload_json: JSON.stringify({ type: 'Open', data: { owner: 'hop' } }),
});

/** A tenant the ring gives to `nodeId` now. */
async function tenantOn(nodeId: string, prefix: string): Promise<TenantId> {
  const placement = await cluster.placement.load();
  for (let i = 0; ; i++) {
    const tenant = TenantId.parse(`${prefix}-${i}`);
    if (resolveOwner(placement, tenant) === nodeId) return tenant;
  }
}

/** Rewrites node `id`'s placement record; the router sees it through its watch. */
async function advertise(id: string, change: (node: NodeRecord) => NodeRecord): Promise<void> {
  // The node heartbeats into the same key: retry a lost race on a fresh read.
  const revision = await vi.waitFor(async () => {
    const { revision: read, ...record } = (await cluster.placement.getNode(id))!;
    await cluster.placement.registerNode(change(record), { expectedRevision: read });
    return read;
  });
  const router = cluster.routers[0]!;
  await vi.waitFor(async () => {
    const health = await http(router.httpPort, 'GET', '/health');
    expect((health.body.placement as { revision: number }).revision).toBeGreaterThan(revision);
  });
}

describe('the command hop', () => {
  it('carries commands over the node inbox: with its gRPC address unreachable, gRPC and HTTP commands still succeed', async () => {
    const tenant = await tenantOn('node-a', 'hop');
    const real = (await cluster.placement.getNode('node-a'))!;
    expect(real.commandSubject).toMatch(
      /^tenantfold\.PLACEMENT_\w+\.node-a\.[0-9a-f]{12}\.commands$/,
    );
    await advertise('node-a', (node) => ({ ...node, grpcAddress: '127.0.0.1:1' }));
    try {
      const answer = await client.submit(open('acc-1'), { 'x-tenant-id': tenant });
      expect(answer).toMatchObject({ version: 1, duplicate: false });
      const viaHttp = await http(cluster.routers[0]!.httpPort, 'POST', '/v1/commands', {
        headers: { 'x-tenant-id': tenant },
        body: {
          aggregate_type: 'account',
          aggregate_id: 'acc-1',
          payload: { type: 'Deposit', data: { amount: 5 } },
        },
      });
      expect(viaHttp.status).toBe(200);
      expect(viaHttp.body).toMatchObject({ version: 2, events: [{ payload: { amount: 5 } }] });
      // The node's own refusal travels back with its code, as over gRPC.
      const refused = await grpcRejection(client.submit(open('acc-1'), { 'x-tenant-id': tenant }));
      expect(refused.metadata.get('x-error-code')).toEqual(['DECIDE']); // opened twice
      expect(refused.code).toBe(status.FAILED_PRECONDITION);
    } finally {
      await advertise('node-a', (node) => ({ ...node, grpcAddress: real.grpcAddress }));
    }
  });

  it('reaches a node that advertises no inbox (an older node) over gRPC', async () => {
    const tenant = await tenantOn('node-b', 'grpc');
    const real = (await cluster.placement.getNode('node-b'))!;
    // No subject and a dead gRPC address: the router must have tried gRPC.
    await advertise('node-b', ({ commandSubject: _, ...node }) => ({
      ...node,
      grpcAddress: '127.0.0.1:1',
    }));
    try {
      const refused = await grpcRejection(client.submit(open('acc-1'), { 'x-tenant-id': tenant }));
      expect(refused.code).toBe(status.UNAVAILABLE);
      expect(refused.details).toMatch(/node 'node-b' \(127\.0\.0\.1:1\) is unreachable/);
      await advertise('node-b', ({ commandSubject: _, ...node }) => ({
        ...node,
        grpcAddress: real.grpcAddress,
      }));
      const answer = await client.submit(open('acc-1'), { 'x-tenant-id': tenant });
      expect(answer).toMatchObject({ version: 1 });
      // The router checks what the node would: a body naming another tenant is refused.
      const other = await http(cluster.routers[0]!.httpPort, 'POST', '/v1/commands', {
        headers: { 'x-tenant-id': tenant },
        body: {
          tenant_id: 'victim',
          aggregate_type: 'account',
          aggregate_id: 'acc-9',
          payload: { type: 'Open', data: { owner: 'x' } },
        },
      });
      expect(other.status).toBe(403);
      expect(other.body).toMatchObject({ code: 'TENANT_ACCESS_DENIED' });
    } finally {
      await advertise('node-b', () => real);
    }
  });

  it("sends a command larger than NATS's max_payload over gRPC: the node's own answer, not a retry", async () => {
    const tenant = await tenantOn('node-a', 'big');
    const owner = 'o'.repeat(1_048_500); // within the 1 MiB of command data, not of a NATS message
    const refused = await grpcRejection(
      client.submit(
        { ...open('acc-1'), payload_json: JSON.stringify({ type: 'Open', data: { owner } }) },
        { 'x-tenant-id': tenant },
      ),
    );
    expect(refused.metadata.get('x-error-code')).toEqual(['VALIDATION']);
    expect(refused.details).not.toMatch(/may or may not have run/);
  });

  it('keeps serving a draining node: commands in flight across its heartbeats are answered, each applied once', async () => {
    const tenant = TenantId.parse('drain-hop');
    await cluster.placement.pin(tenant, 'node-c');
    await cluster.placement.setNodeStatus('node-c', 'draining');
    try {
      await client.submit(open('acc-1'), { 'x-tenant-id': tenant });
      const deposits = Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 15; i++) {
          await client.submit(
            {
              ...open('acc-1'),
              payload_json: JSON.stringify({ type: 'Deposit', data: { amount: 1 } }),
            },
            { 'x-tenant-id': tenant },
          );
        }
      });
      await Promise.all(deposits); // 120 deposits over several heartbeats (every 500 ms)
      const state = await client.getState(
        { aggregate_type: 'account', aggregate_id: 'acc-1' },
        { 'x-tenant-id': tenant },
      );
      expect(Number(state.version)).toBe(121);
    } finally {
      await cluster.placement.setNodeStatus('node-c', 'active');
      await cluster.placement.unpin(tenant);
    }
  });

  it("gives each start of a node its own subject, and a command without an id the router's (a retry is a duplicate)", async () => {
    const before = (await cluster.placement.getNode('node-c'))!.commandSubject;
    await cluster.stopNode('node-c');
    await cluster.startNode('node-c');
    const subject = (await cluster.placement.getNode('node-c'))!.commandSubject!;
    expect(subject).not.toBe(before);

    const ask = async () => {
      const h = natsHeaders();
      h.set('tf-format', 'json');
      h.set('x-tenant-id', await tenantOn('node-c', 'named'));
      h.set('x-command-id', '01936c6e-7a2b-7c3d-8e4f-5a6b7c8d9e0f');
      const body = {
        aggregate_type: 'account',
        aggregate_id: 'acc-1',
        payload: { type: 'Open', data: { owner: 'x' } },
      };
      const reply = await cluster.nc.request(subject, JSON.stringify(body), {
        timeout: 5_000,
        headers: h,
      });
      return reply.json<{ command_id: string; duplicate: boolean }>();
    };
    expect(await ask()).toMatchObject({
      command_id: '01936c6e-7a2b-7c3d-8e4f-5a6b7c8d9e0f',
      duplicate: false,
    });
    expect(await ask()).toMatchObject({ duplicate: true });
  });

  it('answers an invalid command over HTTP with the field it names, over the hop as over gRPC', async () => {
    const tenant = await tenantOn('node-a', 'field');
    const answer = await http(cluster.routers[0]!.httpPort, 'POST', '/v1/commands', {
      headers: { 'x-tenant-id': tenant },
      body: { aggregate_id: 'acc-1', payload: { type: 'Open', data: {} } },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: 'VALIDATION', field: 'aggregate_type' });
  });

  it('answers malformed bytes on the inbox with VALIDATION, in either format', async () => {
    const subject = (await cluster.placement.getNode('node-c'))!.commandSubject!;
    const ask = async (format: string, body: Uint8Array | string) => {
      const h = natsHeaders();
      h.set('tf-format', format);
      h.set('x-tenant-id', await tenantOn('node-c', 'bad'));
      const reply = await cluster.nc.request(subject, body, { timeout: 5_000, headers: h });
      return { code: reply.headers?.get('x-error-code'), message: reply.string() };
    };
    expect(await ask('proto', new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toEqual({
      code: 'VALIDATION',
      message: 'malformed SubmitCommandRequest',
    });
    expect(await ask('json', '[1,2]')).toEqual({
      code: 'VALIDATION',
      message: 'body must be a JSON object',
    });
    expect((await ask('json', '{"aggregate_type":')).code).toBe('VALIDATION');
  });
});
