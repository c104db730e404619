import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger, SnapshotStore, StoredSnapshot, StreamKey } from '@tenantfold/core';
import { isJsonObject, silentLogger, StorageError, StreamKey as Key } from '@tenantfold/core';
import { isWrongLastSequence, natsCall, translateNatsError } from '../errors/index.js';
import { KV_BUCKET_DEFAULTS, openKvBucket } from './buckets.js';
import { exceededMaxPayload } from '../jetstream/index.js';

/** Defaults of {@link KvSnapshotStoreOptions}. */
export const SNAPSHOT_STORE_DEFAULTS = Object.freeze({
  bucket: 'SNAPSHOTS',
  ...KV_BUCKET_DEFAULTS,
});

export interface KvSnapshotStoreOptions {
  /** An open connection. The store never closes it. */
  readonly nc: NatsConnection;
  /** KV bucket of the snapshots. @default 'SNAPSHOTS' */
  readonly bucket?: string;
  /** Bucket replicas (3 in a cluster). @default 1 */
  readonly replicas?: number;
  /** Timeout of each KV request, in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
  /** Told when a snapshot is skipped (too large for the server). @default silent */
  readonly logger?: Logger;
}

/**
 * A compare-and-set is lost only when another writer stored a newer snapshot
 * in between, so a save ends once the stored version reaches its own; the cap
 * only guards against a livelock with something that deletes keys.
 */
const MAX_CAS_ATTEMPTS = 100;
/** Most keys whose revision is remembered (the least recently used are forgotten). */
const SEEN_LIMIT = 10_000;
/** A key's revision (0: no live value) and the version of its snapshot (-1: none readable). */
interface Seen {
  readonly revision: number;
  readonly version: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The snapshot in a KV entry, or `undefined` when there is none or it cannot be read. */
function snapshotIn(entry: KvEntry | null): StoredSnapshot | undefined {
  if (entry === null || entry.operation !== 'PUT') return undefined;
  try {
    const value: unknown = JSON.parse(decoder.decode(entry.value));
    if (
      isJsonObject(value) &&
      typeof value.version === 'number' &&
      typeof value.position === 'number' &&
      Array.isArray(value.recent_commands) &&
      'state' in value
    ) {
      return value as unknown as StoredSnapshot;
    }
  } catch {
    // unreadable: treated as absent, so the aggregate rehydrates from its stream
  }
  return undefined;
}

/**
 * Newest snapshot per aggregate in a KV bucket, key `<tenant-token>.<type>.<id>`.
 * A save is a compare-and-set on the key's revision and never replaces a
 * snapshot with an older (or equal) version, whatever the race.
 */
export class KvSnapshotStore implements SnapshotStore {
  /**
   * Revision and version of each key as this store last wrote or read it, so
   * that a save is usually one compare-and-set with no read before it. A stale
   * entry only costs a lost compare-and-set and a read.
   */
  private readonly seen = new Map<string, Seen>();

  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    /** Name of the bucket. */
    readonly bucket: string,
    private readonly logger: Logger,
  ) {}

  static async open(options: KvSnapshotStoreOptions): Promise<KvSnapshotStore> {
    const bucket = options.bucket ?? SNAPSHOT_STORE_DEFAULTS.bucket;
    const description = 'tenantfold snapshots, newest per aggregate';
    const kv = await openKvBucket(options.nc, {
      ...options,
      bucket,
      description,
      ownReplicas: true,
    });
    return new KvSnapshotStore(kv, options.nc, bucket, options.logger ?? silentLogger);
  }

  async load(key: StreamKey): Promise<StoredSnapshot | undefined> {
    return (await this.observe(Key.toString(key))).snapshot;
  }

  async save(snapshot: StoredSnapshot): Promise<void> {
    const name = Key.toString({
      tenant: snapshot.tenant_id,
      type: snapshot.aggregate_type,
      id: snapshot.aggregate_id,
    });
    const data = encoder.encode(JSON.stringify(snapshot));
    const maxPayload = exceededMaxPayload(this.nc, data.length);
    if (maxPayload !== undefined) {
      // A snapshot only saves replay time: without it the aggregate rehydrates from its stream.
      this.logger.warn(
        { stream: name, bytes: data.length, maxPayload },
        'snapshot too large for the server, not stored',
      );
      return;
    }
    const ctx = { store: 'storage', operation: `save snapshot of ${name}` } as const;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const known = this.seen.get(name) ?? (await this.observe(name)).seen;
      if (known.version >= snapshot.version) return;
      try {
        const revision =
          known.revision === 0
            ? await this.kv.create(name, data) // also replaces a delete marker, by revision
            : await this.kv.update(name, data, known.revision);
        this.remember(name, { revision, version: snapshot.version });
        return;
      } catch (error) {
        if (!isWrongLastSequence(error)) throw translateNatsError(error, ctx);
        this.seen.delete(name); // another writer got in between: look again
      }
    }
    throw new StorageError(
      `${ctx.operation}: lost the compare-and-set ${MAX_CAS_ATTEMPTS} times in a row`,
    );
  }

  /** Reads the key and remembers its revision and version. */
  private async observe(name: string): Promise<{ seen: Seen; snapshot?: StoredSnapshot }> {
    const entry = await natsCall({ store: 'storage', operation: `load snapshot of ${name}` }, () =>
      this.kv.get(name),
    );
    const snapshot = snapshotIn(entry);
    const seen: Seen =
      entry === null || entry.operation !== 'PUT'
        ? { revision: 0, version: -1 }
        : { revision: entry.revision, version: snapshot?.version ?? -1 };
    this.remember(name, seen);
    return { seen, snapshot };
  }

  private remember(name: string, seen: Seen): void {
    this.seen.delete(name);
    this.seen.set(name, seen);
    if (this.seen.size > SEEN_LIMIT) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}
