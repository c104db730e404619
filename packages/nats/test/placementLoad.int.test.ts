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

describe('PlacementStore.load', () => {
  it('reads every node and pin while nodes heartbeat back to back', async () => {
    let running = true;
    const heartbeats = (async () => {
      while (running) for (const id of NODES) await store.heartbeat(id);
    })();
    const incomplete: number[] = [];
    try {
      for (let i = 0; i < 150; i++) {
        const placement = await store.load();
        if (placement.nodes.size !== NODES.length || placement.pins.size !== PINS)
          incomplete.push(i);
      }
    } finally {
      running = false;
      await heartbeats;
    }
    expect(incomplete).toEqual([]);
  });
});
