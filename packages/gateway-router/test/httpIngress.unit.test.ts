import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { MAX_PAYLOAD_BYTES, NotFoundError, silentLogger, ValidationError } from '@tenantfold/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryLaterError } from '../src/errors.js';
import type { HttpContext } from '../src/ingress/httpIngress.js';
import { HttpIngress, route } from '../src/ingress/httpIngress.js';

// The route table and error mapping over a real HTTP server on a free port.
let ingress: HttpIngress;
let base: string;
let port: number;
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
      // Refuses from the headers alone, before reading the body (like a bad tenant header would).
      route('POST', '/refuse', () => {
        throw new ValidationError('bad tenant', 'x-tenant-id');
      }),
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
  port = (await ingress.start()).port;
  base = `http://127.0.0.1:${port}`;
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

/** Waits until `done()` holds (checked on each read and on close), or `ms` passed. */
function until(socket: Socket, done: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!done()) return;
      clearTimeout(timer);
      finish();
    };
    const finish = () => {
      socket.off('data', check).off('close', check);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    socket.on('data', check).on('close', check);
    check();
  });
}

/**
 * Raw HTTP/1.1 on one keep-alive socket, as a connection-reusing proxy does it: writes
 * `before`, waits for the first response, then writes `after` (the rest of the first
 * request, then the next one) and waits at most 2 s for a second response or a close.
 */
async function reuse(before: string | Buffer, after: string | Buffer) {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {}); // EPIPE/ECONNRESET once the server closed: seen as the close
  const statuses = () => [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  socket.write(before);
  await until(socket, () => closed || text.includes('\r\n\r\n'), 2_000);
  if (!closed) socket.write(after);
  await until(socket, () => closed || statuses().length > 1, 2_000);
  socket.destroy();
  const firstHead = text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
  return { statuses: statuses(), firstHead, closed };
}

const post = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: router\r\nConnection: keep-alive\r\n` +
  `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
const next = 'GET /stream HTTP/1.1\r\nHost: router\r\nConnection: keep-alive\r\n\r\n';

describe('HttpIngress on a reused keep-alive connection', () => {
  it('closes the connection after refusing a body over the cap: the next request never hangs', async () => {
    // Far over the cap: more than the socket buffers hold once the router stops reading.
    const size = 4 * MAX_PAYLOAD_BYTES;
    const answer = await reuse(post('/echo', size) + '"'.repeat(size), next);
    expect(answer.statuses[0]).toBe(400);
    expect(answer.closed || answer.statuses.length === 2, 'the next request hung').toBe(true);
    expect(answer.firstHead).toMatch(/^connection: close$/m);
  });

  it('closes the connection after refusing before reading the body (route, 404, 405)', async () => {
    for (const [path, status] of [
      ['/refuse', 400],
      ['/nowhere', 404],
      ['/fail/bad', 405],
    ] as const) {
      const size = 64 * 1024;
      const answer = await reuse(
        post(path, size) + '{'.repeat(1024),
        '{'.repeat(size - 1024) + next,
      );
      expect(answer.statuses[0]).toBe(status);
      expect(answer.closed || answer.statuses.length === 2, 'the next request hung').toBe(true);
      expect(answer.firstHead).toMatch(/^connection: close$/m);
    }
  });

  it('keeps the connection when the body was read to its end, even if refused', async () => {
    const bad = await reuse(post('/echo', 5) + '{"a":', next);
    expect(bad).toMatchObject({ statuses: [400, 200], closed: false });
    expect(bad.firstHead).toMatch(/^connection: keep-alive$/m);
    const bodiless = await reuse(next, next);
    expect(bodiless).toMatchObject({ statuses: [200, 200], closed: false });
  });
});
