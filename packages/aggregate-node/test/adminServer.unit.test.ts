import { silentLogger } from '@tenantfold/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { AdminRequest } from '../src/admin/adminServer.js';
import { AdminServer } from '../src/admin/adminServer.js';

const TOKEN = 'admin-secret';
let admin: AdminServer;
let url: string;

beforeAll(async () => {
  admin = new AdminServer(
    { host: '127.0.0.1', port: 0, token: TOKEN, logger: silentLogger },
    {
      health: () => Promise.resolve({ ok: true }),
      ready: () => ({ ready: true }),
      metrics: () => Promise.resolve({ contentType: 'text/plain', body: '' }),
      admin: {
        'POST /verify': (request: AdminRequest) => {
          const { aggregates } = request.body as { aggregates: unknown[] };
          return Promise.resolve({ received: aggregates.length });
        },
      },
    },
  );
  url = `http://127.0.0.1:${(await admin.start()).port}`;
});

afterAll(() => admin.stop());

const post = (body: string) =>
  fetch(`${url}/admin/verify`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body,
  });

it('takes a verify body of a 10,000-aggregate tenant (about 1.5 MB)', async () => {
  const aggregates = Array.from({ length: 10_000 }, (_, n) => ({
    type: 'account',
    id: `acc-${n}`,
    version: 12,
    position: 100_000 + n,
    state_hash: 'f'.repeat(64),
  }));
  const body = JSON.stringify({ tenant_id: 'acme', epoch: 1, aggregates });
  expect(body.length).toBeGreaterThan(1_000_000);
  const answer = await post(body);
  expect(answer.status).toBe(200);
  expect(await answer.json()).toEqual({ received: 10_000 });
});

it('refuses a body over the cap with a VALIDATION error', async () => {
  const answer = await post(JSON.stringify({ pad: 'x'.repeat(65 * 1024 * 1024) }));
  expect(answer.status).toBe(400);
  expect(await answer.json()).toMatchObject({ code: 'VALIDATION' });
});
