import type { KV } from '@nats-io/kv';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { NotFoundError, ValidationError } from '@tenantfold/core';
import { isStreamNotFound, natsCall } from '../errors/index.js';
import { checkInteger, checkName, requireServer } from '../jetstream/index.js';

/** Defaults of {@link KvBucketOptions}. */
export const KV_BUCKET_DEFAULTS = Object.freeze({
  replicas: 1,
  requestTimeoutMs: 5_000,
});

export interface KvBucketOptions {
  /** Bucket name. */
  readonly bucket: string;
  /** Create the bucket when it is missing; when false, a missing bucket is a `NotFoundError`. @default true */
  readonly create?: boolean;
  /** Replicas of a bucket created here (1 locally, 3 in a cluster). @default 1 */
  readonly replicas?: number;
  /**
   * Bring an existing bucket to `replicas` too: for a bucket whose replicas
   * the caller's settings decide. Otherwise an existing bucket keeps its own.
   * @default false
   */
  readonly ownReplicas?: boolean;
  /** Timeout of each KV request (and of opening), in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
  /** What the bucket holds, shown by `nats kv info` on a bucket created here. */
  readonly description?: string;
  /** What errors call the bucket. @default 'KV bucket' */
  readonly label?: string;
}

const KEY = /^[-/=\w]+(?:\.[-/=\w]+)*$/;

/** A KV key: tokens of A-Z a-z 0-9 _ - / = separated by single dots. */
export function checkKey(field: string, key: string): string {
  if (typeof key !== 'string' || !KEY.test(key))
    throw new ValidationError(`invalid ${field} ${JSON.stringify(key)} for a KV key`, field);
  return key;
}

/**
 * Opens a KV bucket (history 1, file storage), by default creating it when
 * missing. Whatever NATS throws comes out translated (`StorageError`).
 */
export async function openKvBucket(nc: NatsConnection, options: KvBucketOptions): Promise<KV> {
  const { bucket } = options;
  const label = options.label ?? 'KV bucket';
  checkName('bucket', bucket);
  const replicas = checkInteger('replicas', options.replicas ?? KV_BUCKET_DEFAULTS.replicas, 1, 5);
  const timeout = checkInteger(
    'requestTimeoutMs',
    options.requestTimeoutMs ?? KV_BUCKET_DEFAULTS.requestTimeoutMs,
    1,
    600_000,
  );
  requireServer(nc);
  return natsCall({ store: 'storage', operation: `open ${label} ${bucket}` }, async () => {
    const jsm = await jetstreamManager(nc, { timeout });
    const kvm = new Kvm(jsm.jetstream());
    if (options.create === false) {
      const kv = await kvm.open(bucket);
      try {
        await kv.status(); // `open` is lazy: make a missing bucket fail here
      } catch (error) {
        if (isStreamNotFound(error)) {
          throw new NotFoundError(`${label} '${bucket}' does not exist`, { cause: error });
        }
        throw error;
      }
      return kv;
    }
    const kv = await kvm.create(bucket, {
      history: 1,
      replicas,
      storage: StorageType.File,
      timeout,
      ...(options.description === undefined ? {} : { description: options.description }),
    });
    if (options.ownReplicas === true) {
      const { streamInfo } = await kv.status();
      if (streamInfo.config.num_replicas !== replicas) {
        await jsm.streams.update(streamInfo.config.name, { num_replicas: replicas });
      }
    }
    return kv;
  });
}
