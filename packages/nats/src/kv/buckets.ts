import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ValidationError } from '@tenantfold/core';
import { natsCall } from '../errors/index.js';
import { checkInteger, checkName, requireServer } from '../jetstream/index.js';

export interface BucketSpec {
  readonly nc: NatsConnection;
  readonly bucket: string;
  readonly replicas: number;
  readonly requestTimeoutMs: number;
  readonly description: string;
}

const KEY = /^[-/=\w]+(?:\.[-/=\w]+)*$/;

/** A KV key: tokens of A-Z a-z 0-9 _ - / = separated by single dots. */
export function checkKey(field: string, key: string): string {
  if (typeof key !== 'string' || !KEY.test(key))
    throw new ValidationError(`invalid ${field} ${JSON.stringify(key)} for a KV key`, field);
  return key;
}

/**
 * Opens a KV bucket (history 1, file storage), creating it when missing and
 * bringing an existing one to the wanted replicas.
 */
export async function openBucket(spec: BucketSpec): Promise<KV> {
  checkName('bucket', spec.bucket);
  checkInteger('replicas', spec.replicas, 1, 5);
  checkInteger('requestTimeoutMs', spec.requestTimeoutMs, 1, 600_000);
  requireServer(spec.nc);
  const ctx = { store: 'storage', operation: `open KV bucket ${spec.bucket}` } as const;
  return natsCall(ctx, async () => {
    const jsm = await jetstreamManager(spec.nc, { timeout: spec.requestTimeoutMs });
    const kv = await new Kvm(jsm.jetstream()).create(spec.bucket, {
      history: 1,
      replicas: spec.replicas,
      storage: StorageType.File,
      timeout: spec.requestTimeoutMs,
      description: spec.description,
    });
    const { streamInfo } = await kv.status();
    if (streamInfo.config.num_replicas !== spec.replicas) {
      await jsm.streams.update(streamInfo.config.name, { num_replicas: spec.replicas });
    }
    return kv;
  });
}
