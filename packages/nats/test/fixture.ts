import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { StorageFixture } from '@tenantfold/testkit';
import { inject } from 'vitest';
import type { JetStreamBackend, JetStreamBackendOptions } from '../src/index.js';
import { openJetStreamBackend } from '../src/index.js';

/** Stream, bucket and subject names no other test uses. */
export interface TestNames {
  readonly streamName: string;
  readonly subjectPrefix: string;
  readonly snapshotBucket: string;
  readonly checkpointBucket: string;
  readonly deadLetterStream: string;
}

export function natsUrl(): string {
  return inject('natsUrl');
}

export function uniqueNames(): TestNames {
  const id = randomBytes(5).toString('hex');
  return {
    streamName: `EVENTS_${id}`,
    subjectPrefix: `t${id}.`,
    snapshotBucket: `SNAPSHOTS_${id}`,
    checkpointBucket: `CHECKPOINTS_${id}`,
    deadLetterStream: `DEAD_LETTERS_${id}`,
  };
}

export function connectToTestServer(): Promise<NatsConnection> {
  return connect({ servers: natsUrl(), name: 'tenantfold-test' });
}

/** Deletes the streams and buckets of `names` (those that exist). */
export async function removeAll(names: TestNames): Promise<void> {
  const nc = await connectToTestServer();
  try {
    const jsm = await jetstreamManager(nc);
    const streams = [
      names.streamName,
      names.deadLetterStream,
      `KV_${names.snapshotBucket}`,
      `KV_${names.checkpointBucket}`,
    ];
    const existing = new Set<string>();
    for await (const name of jsm.streams.names()) existing.add(name);
    for (const name of streams) if (existing.has(name)) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

/** Opens backends over `servers` (each its own connection) on one set of names. */
export function openBackend(
  names: TestNames,
  options: Partial<JetStreamBackendOptions> = {},
): Promise<JetStreamBackend> {
  return openJetStreamBackend({ servers: natsUrl(), ...names, ...options });
}

/** Storage for the engine contract: fresh names, reopened at will, deleted at the end. */
export function backendFixture(options: Partial<JetStreamBackendOptions> = {}): StorageFixture {
  const names = uniqueNames();
  return {
    open: () => openBackend(names, options),
    dispose: () => removeAll(names),
  };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
