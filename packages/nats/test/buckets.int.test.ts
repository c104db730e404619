import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { NotFoundError, ValidationError } from '@tenantfold/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKvBucket } from '../src/index.js';
import { connectToTestServer } from './fixture.js';

describe('openKvBucket', () => {
  let nc: NatsConnection;
  const bucket = `KV_HELPER_${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    nc = await connectToTestServer();
  });
  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
    await nc.close();
  });

  it('creates a missing bucket with history 1 on file storage, then opens the same one', async () => {
    const kv = await openKvBucket(nc, { bucket, description: 'a test bucket' });
    await kv.put('k', 'v');
    const again = await openKvBucket(nc, { bucket, create: false });
    expect((await again.get('k'))?.string()).toBe('v');
    const { streamInfo } = await again.status();
    expect(streamInfo.config).toMatchObject({
      max_msgs_per_subject: 1,
      storage: 'file',
      num_replicas: 1,
      description: 'a test bucket',
    });
  });

  it('without create, a missing bucket is a NotFoundError naming it', async () => {
    const missing = `KV_MISSING_${randomUUID().slice(0, 8)}`;
    const error = await openKvBucket(nc, { bucket: missing, create: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toBe(`KV bucket '${missing}' does not exist`);
  });

  it('checks the name before asking the server', async () => {
    await expect(openKvBucket(nc, { bucket: 'bad name' })).rejects.toBeInstanceOf(ValidationError);
  });
});
