import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { TenantId } from '@tenantfold/core';
import { PlacementStore } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const bucket = `LOADER_${Math.random().toString(36).slice(2, 8)}`;
const NODES = ['a', 'b', 'c', 'd'];
const PINS = 50;
let nc: NatsConnection;
let store: PlacementStore;

beforeAll(async () => {
  nc = await connect({ servers: inject('natsUrl') });
  store = await PlacementStore.open(nc, { bucket });
  for (const id of NODES) {
    await store.registerNode({ id, grpcAddress: 'h:1', adminAddress: 'h:2', tenantRange: id });
  }
  for (let i = 0; i < PINS; i++) await store.pin(`t${i}` as TenantId, 'a');
});

afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
  await nc.close();
});

/** Runs `measure` while every node heartbeats back to back, each on its own loop. */
async function underHeartbeats<T>(measure: () => Promise<T>): Promise<T> {
  let running = true;
  const heartbeats = NODES.map(async (id) => {
    while (running) await store.heartbeat(id);
  });
  try {
    return await measure();
  } finally {
    running = false;
    await Promise.all(heartbeats);
  }
}

describe('PlacementStore under heartbeats', () => {
  it('load reads every node and pin while nodes heartbeat back to back', async () => {
    const incomplete = await underHeartbeats(async () => {
      const missing: number[] = [];
      for (let i = 0; i < 150; i++) {
        const placement = await store.load();
        if (placement.nodes.size !== NODES.length || placement.pins.size !== PINS) missing.push(i);
      }
      return missing;
    });
    expect(incomplete).toEqual([]);
  });

  it('every watch yields its first snapshot while keys are rewritten concurrently', async () => {
    const silent = await underHeartbeats(async () => {
      const late: number[] = [];
      for (let i = 0; i < 150; i++) {
        const watch = await store.watch();
        const first = watch[Symbol.asyncIterator]().next();
        const timer = new Promise((resolve) => setTimeout(resolve, 2_000, 'silent'));
        if ((await Promise.race([first, timer])) === 'silent') late.push(i);
        watch.stop();
      }
      return late;
    });
    expect(silent).toEqual([]);
  }, 120_000);
});
