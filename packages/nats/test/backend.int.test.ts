import { jetstreamManager } from '@nats-io/jetstream';
import { StreamError, ValidationError } from '@tenantfold/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openJetStreamBackend } from '../src/index.js';
import type { TestNames } from './fixture.js';
import { connectToTestServer, natsUrl, openBackend, removeAll, uniqueNames } from './fixture.js';

describe('openJetStreamBackend', () => {
  let names: TestNames;

  beforeEach(() => {
    names = uniqueNames();
  });
  afterEach(async () => {
    await removeAll(names);
  });

  it('creates both streams and both buckets, and closes only a connection it opened', async () => {
    const backend = await openBackend(names);
    const jsm = await jetstreamManager(backend.nc);
    const events = await jsm.streams.info(names.streamName);
    expect(events.config.subjects).toEqual([`${names.subjectPrefix}tenant.*.aggregate.*.*`]);
    const letters = await jsm.streams.info(names.deadLetterStream);
    expect(letters.config.subjects).toEqual([`${names.subjectPrefix}deadletters.*`]);
    expect(letters.config.allow_direct).toBe(true);
    for (const bucket of [names.snapshotBucket, names.checkpointBucket]) {
      const kv = await jsm.streams.info(`KV_${bucket}`);
      expect(kv.config).toMatchObject({
        max_msgs_per_subject: 1,
        storage: 'file',
        num_replicas: 1,
      });
    }
    await backend.close();
    expect(backend.nc.isClosed()).toBe(true);
    await backend.close(); // twice is fine

    const nc = await connectToTestServer();
    try {
      const shared = await openJetStreamBackend({ nc, ...names });
      expect(shared.nc).toBe(nc);
      await shared.close();
      expect(nc.isClosed()).toBe(false);
    } finally {
      await nc.close();
    }
  });

  it('can be opened by several processes at once on a fresh server', async () => {
    const backends = await Promise.all([
      openBackend(names),
      openBackend(names),
      openBackend(names),
    ]);
    for (const backend of backends) await backend.close();
  });

  it('checks options before connecting, naming the bad one', async () => {
    const error: unknown = await openJetStreamBackend({
      servers: 'nats://127.0.0.1:1',
      snapshotBucket: 'bad name',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'snapshotBucket' });
    await expect(openJetStreamBackend({})).rejects.toMatchObject({ field: 'servers' });
  });

  it('reports an unreachable server as StreamError', async () => {
    const url = new URL(natsUrl());
    const error: unknown = await openJetStreamBackend({
      servers: `nats://127.0.0.1:${Number(url.port) === 1 ? 2 : 1}`,
      requestTimeoutMs: 1_000,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).message).toMatch(/connect to nats:\/\/127\.0\.0\.1/);
  });
});
