import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CheckpointStore, JsonValue } from '@tenantfold/core';
import { ValidationError } from '@tenantfold/core';
import { natsCall } from '../errors/index.js';
import { checkKey, KV_BUCKET_DEFAULTS, openKvBucket } from './buckets.js';
import { exceededMaxPayload } from '../jetstream/index.js';

/** Defaults of {@link KvCheckpointStoreOptions}. */
export const CHECKPOINT_STORE_DEFAULTS = Object.freeze({
  bucket: 'CHECKPOINTS',
  ...KV_BUCKET_DEFAULTS,
});

export interface KvCheckpointStoreOptions {
  /** An open connection. The store never closes it. */
  readonly nc: NatsConnection;
  /** KV bucket of the checkpoints. @default 'CHECKPOINTS' */
  readonly bucket?: string;
  /** Bucket replicas (3 in a cluster). @default 1 */
  readonly replicas?: number;
  /** Timeout of each KV request, in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Projection and process-manager checkpoints, one KV key per name (names such
 * as `projections/totals` are valid keys). A put is atomic; a value that is
 * not JSON loads as `undefined`, so its owner rebuilds.
 */
export class KvCheckpointStore implements CheckpointStore {
  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    /** Name of the bucket. */
    readonly bucket: string,
  ) {}

  static async open(options: KvCheckpointStoreOptions): Promise<KvCheckpointStore> {
    const bucket = options.bucket ?? CHECKPOINT_STORE_DEFAULTS.bucket;
    const description = 'tenantfold projection and process-manager checkpoints';
    const kv = await openKvBucket(options.nc, {
      ...options,
      bucket,
      description,
      ownReplicas: true,
    });
    return new KvCheckpointStore(kv, options.nc, bucket);
  }

  async load(name: string): Promise<JsonValue | undefined> {
    checkKey('checkpoint name', name);
    const entry = await natsCall({ store: 'storage', operation: `load checkpoint ${name}` }, () =>
      this.kv.get(name),
    );
    if (entry === null || entry.operation !== 'PUT') return undefined;
    try {
      return JSON.parse(decoder.decode(entry.value)) as JsonValue;
    } catch {
      // Keep the unreadable value for inspection (as the file store does); the owner rebuilds.
      await this.kv.put(`${name}.corrupt-${Date.now()}`, entry.value).catch(() => undefined);
      return undefined;
    }
  }

  async save(name: string, value: JsonValue): Promise<void> {
    checkKey('checkpoint name', name);
    const operation = `save checkpoint ${name}`;
    const data = encoder.encode(JSON.stringify(value));
    const maxPayload = exceededMaxPayload(this.nc, data.length);
    if (maxPayload !== undefined) {
      // The value's fault, not the transport's: it must not open the NATS breaker.
      throw new ValidationError(
        `${operation}: ${data.length} bytes is too large for the server's max_payload of ${maxPayload}`,
        'checkpoint',
      );
    }
    await natsCall({ store: 'storage', operation }, () => this.kv.put(name, data));
  }
}
