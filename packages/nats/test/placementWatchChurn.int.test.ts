import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { TenantId } from '@tenantfold/core';
import { PlacementStore } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const bucket = `CHURN_${Math.random().toString(36).slice(2, 8)}`;
const NODES = Array.from({ length: 12 }, (_, i) => `n${i}`);
let nc: NatsConnection;
let store: PlacementStore;

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  store = await PlacementStore.open(nc, { bucket });
  for (const id of NODES) {
    await store.registerNode({ id, grpcAddress: 'h:1', adminAddress: 'h:2', tenantRange: id });
  }
  for (let i = 0; i < 100; i++) await store.pin(`t${i}` as TenantId, 'n0');
});

afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
  await nc.close();
});

describe('PlacementStore.watch under churn', () => {
  it('every watch yields its first snapshot while keys are rewritten concurrently', async () => {
    let running = true;
    const churn = NODES.map(async (id) => {
      while (running) await store.heartbeat(id);
    });
    const silent: number[] = [];
    try {
      for (let i = 0; i < 150; i++) {
        const watch = await store.watch();
        const first = watch[Symbol.asyncIterator]().next();
        const timer = new Promise((r) => setTimeout(r, 2000, 'silent'));
        if ((await Promise.race([first, timer])) === 'silent') silent.push(i);
        watch.stop();
      }
    } finally {
      running = false;
      await Promise.all(churn);
    }
    expect(silent).toEqual([]);
  }, 120_000);
});
