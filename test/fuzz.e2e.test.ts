// Fuzzing the front door of a real cluster (nats-server, a node, a router):
// any body a client posts and any output a tenant's program builds gets a
// clear answer below 500, the other tenant keeps being served, and the node
// restarts ready afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { http } from './support/clients.js';
import { TestCluster } from './support/cluster.js';
import { HOSTILE_MANIFEST } from './support/hostile.js';
import { BOUNDED, commandBody, recipe, recipeCommand } from './support/recipes.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start({
    natsUrl: inject('natsUrl'),
    nodeIds: ['node-a'],
    routers: 1,
    nodeEnv: { AGGREGATE_MANIFEST: HOSTILE_MANIFEST },
  });
  expect((await post('victim', victimCommand('Open', { owner: 'v' }))).status).toBe(200);
});

afterAll(async () => {
  await cluster?.stop();
});

function post(tenant: string, body: unknown) {
  return http(cluster.routers[0]!.httpPort, 'POST', '/v1/commands', {
    headers: { 'x-tenant-id': tenant },
    body,
  });
}

const victimCommand = (type: string, data: unknown) => ({
  aggregate_type: 'account',
  aggregate_id: 'v',
  payload: { type, data },
});

let deposits = 0;
async function victimServed(): Promise<void> {
  expect((await post('victim', victimCommand('Deposit', { amount: 1 }))).status).toBe(200);
  deposits++;
}

/** A clear answer: a status below 500 with an error code when it is an error. */
function expectClear(answer: { status: number; body: Record<string, unknown> }): void {
  expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBeLessThan(500);
  if (answer.status >= 400) expect(typeof answer.body.code).toBe('string');
}

describe('fuzz through the router', () => {
  it('answers any command body with a clear status below 500', async () => {
    await fc.assert(
      fc.asyncProperty(commandBody, async (body) => {
        expectClear(await post('attacker', body));
      }),
      { numRuns: 200, ...BOUNDED },
    );
    await victimServed();
  });

  it('answers any program output with success or a clear 4xx, and serves the other tenant after each', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(recipeCommand, recipe, async (name, made) => {
        const answer = await post('attacker', {
          aggregate_type: 'recipe',
          aggregate_id: `r-${run++}`,
          payload: { type: name, data: { recipe: made } },
        });
        expectClear(answer);
        await victimServed();
      }),
      { numRuns: 150, ...BOUNDED },
    );
  });

  it('restarts ready afterwards, with every acknowledged deposit there', async () => {
    await cluster.stopNode('node-a');
    await cluster.startNode('node-a');
    const ready = await fetch(`http://127.0.0.1:${cluster.node('node-a').adminPort}/ready`);
    expect(ready.status).toBe(200);
    const state = await http(cluster.routers[0]!.httpPort, 'GET', '/v1/aggregates/account/v', {
      headers: { 'x-tenant-id': 'victim' },
    });
    expect(state.status).toBe(200);
    expect(state.body.version).toBe(deposits + 1);
  });
});
