// The gateway router on a whole cluster: what it answers over HTTP and gRPC, alike on both.
import { status } from '@grpc/grpc-js';
import { TenantId as Tenant } from '@tenantfold/core';
import { resolveOwner } from '@tenantfold/nats';
import { describe, expect, it } from 'vitest';
import { grpcRejection, http } from './support/clients.js';
import { clients, cluster, routers, useRouterCluster } from './support/routerCluster.js';
import { deposit, open, servedBy } from './support/routerCluster.js';

useRouterCluster();

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
