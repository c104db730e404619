import { NotFoundError, silentLogger, ValidationError } from '@tenantfold/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../src/forwarding/errors.js';
import type { HttpContext } from '../src/ingress/httpIngress.js';
import { HttpIngress, route } from '../src/ingress/httpIngress.js';

// The route table and error mapping over a real HTTP server on a free port.
let ingress: HttpIngress;
let base: string;
const seen: HttpContext[] = [];

beforeAll(async () => {
  ingress = new HttpIngress(
    { host: '127.0.0.1', port: 0 },
    [
      route('GET', '/v1/aggregates/:type/:id', (context) => {
        seen.push(context);
        return Promise.resolve({ body: { ...context.params, q: context.query.get('q') } });
      }),
      route('POST', '/echo', async (context) => ({ status: 201, body: await context.body() })),
      route('GET', '/fail/:kind', ({ params }) => {
        if (params.kind === 'busy') throw new RetryLaterError('busy, come back', 3);
        if (params.kind === 'missing') throw new NotFoundError('no such thing');
        if (params.kind === 'bad') throw new ValidationError('bad thing', 'thing');
        throw new Error('a bug with secrets in it');
      }),
      route('GET', '/stream', ({ res }) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: hi\n\n');
        return Promise.resolve(undefined);
      }),
    ],
    silentLogger,
  );
  base = `http://127.0.0.1:${(await ingress.start()).port}`;
});

afterAll(() => ingress.stop(1_000));

async function call(method: string, path: string, body?: string, headers = {}) {
  const response = await fetch(`${base}${path}`, { method, headers, body });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('HttpIngress', () => {
  it('matches :params (decoded), passes the query and the call headers', async () => {
    const answer = await call('GET', '/v1/aggregates/account/a%2Db?q=1', undefined, {
      'x-tenant-id': 'acme',
      'x-correlation-id': 'c-1',
      traceparent: 'tp',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ type: 'account', id: 'a-b', q: '1' });
    expect(seen.at(-1)?.call).toEqual({ tenant: 'acme', correlationId: 'c-1', traceparent: 'tp' });
  });

  it('answers 404 for no route, 405 with Allow for a wrong method', async () => {
    expect((await call('GET', '/v1/aggregates/account')).status).toBe(404);
    expect((await call('GET', '/v1/aggregates/account/')).status).toBe(404);
    expect((await call('GET', '/v1/aggregates/account/%E0%A4%A')).status).toBe(404);
    const wrong = await call('DELETE', '/v1/aggregates/account/1');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
  });

  it('parses JSON bodies and refuses bad or empty ones with 400 naming the problem', async () => {
    expect(await call('POST', '/echo', '{"a":1}')).toMatchObject({ status: 201, text: '{"a":1}' });
    const bad = await call('POST', '/echo', '{"a":');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({
      code: 'VALIDATION',
      field: 'body',
      message: expect.stringContaining('body is not valid JSON') as unknown,
    });
    const empty = await call('POST', '/echo', '');
    expect(JSON.parse(empty.text)).toMatchObject({ message: 'a JSON body is required' });
  });

  it('maps errors through the one table, with retry-after, hiding unknown errors', async () => {
    const busy = await call('GET', '/fail/busy');
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('3');
    expect(JSON.parse(busy.text)).toMatchObject({ code: 'UNAVAILABLE', retry_after_s: 3 });
    expect((await call('GET', '/fail/missing')).status).toBe(404);
    expect((await call('GET', '/fail/bad')).status).toBe(400);
    const bug = await call('GET', '/fail/bug');
    expect(bug.status).toBe(500);
    expect(bug.text).not.toContain('secrets');
  });

  it('lets a handler stream its own response', async () => {
    const answer = await call('GET', '/stream');
    expect(answer.headers.get('content-type')).toBe('text/event-stream');
    expect(answer.text).toBe('data: hi\n\n');
  });
});
