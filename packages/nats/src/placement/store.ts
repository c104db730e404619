import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV, KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { TenantId } from '@tenantfold/core';
import { NotFoundError, StorageError, TenantId as Tenant, ValidationError } from '@tenantfold/core';
import { openKvBucket } from '../kv/index.js';
import {
  FieldError,
  RING_KEY,
  checkInput,
  checkNodeId,
  decodeJson,
  encodeMigration,
  encodeNode,
  encodePin,
  encodeRing,
  migrationKey,
  nodeKey,
  parseMigration,
  parseNode,
  parseNodeAt,
  parsePin,
  parseRing,
  pinKey,
} from './codec.js';
import { PlacementConflictError, PlacementEntryError } from './errors.js';
import type {
  MigrationRecord,
  NodeRecord,
  NodeStatus,
  Pin,
  Placement,
  RingSettings,
  Stored,
} from './types.js';
import { DEFAULT_PLACEMENT_BUCKET, DEFAULT_VNODES } from './types.js';
import type { PlacementWatch } from './watch.js';
import { KvPlacementWatch } from './watch.js';

export interface PlacementStoreOptions {
  /** KV bucket name. @default 'TENANT_PLACEMENT' */
  readonly bucket?: string;
  /** Create the bucket when it does not exist (otherwise opening a missing bucket fails). @default true */
  readonly create?: boolean;
  /** Replicas of a bucket created here (1 locally, 3 in a cluster). @default 1 */
  readonly replicas?: number;
  /** Timeout of each KV request, in ms. @default 5_000 */
  readonly requestTimeoutMs?: number;
  /**
   * Attempts of a read-modify-write (`heartbeat`, `setNodeStatus` without an
   * expected revision) that keeps losing CAS races before the conflict is thrown.
   * @default 5
   */
  readonly modifyAttempts?: number;
}

/** CAS expectation of a write. */
export interface WriteOptions {
  /**
   * Revision the key must be at: a positive revision updates, 0 creates (the
   * key must be absent). Absent: see each method.
   */
  readonly expectedRevision?: number;
}

/** What `registerNode` needs; the rest has defaults. */
export interface NodeRegistration {
  readonly id: string;
  readonly grpcAddress: string;
  /** NATS subject of the node's command inbox (see `NodeRecord`). */
  readonly commandSubject?: string;
  readonly adminAddress: string;
  readonly tenantRange: string;
  /** @default 1 */
  readonly weight?: number;
  /** @default 'active' */
  readonly status?: NodeStatus;
  /** ISO 8601. @default now */
  readonly heartbeatAt?: string;
}

const DEFAULT_MODIFY_ATTEMPTS = 5;

function isCasConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

function checkRevision(revision: number): number {
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new ValidationError(
      `invalid expected revision ${revision}: expected an integer >= 0`,
      'expectedRevision',
    );
  }
  return revision;
}

/**
 * Tenant placement in the NATS KV bucket `TENANT_PLACEMENT`: nodes, ring
 * settings, pins and migration records as JSON values. Every write is a CAS on
 * the key's revision; a lost race throws `PlacementConflictError` (a
 * `VersionConflictError`), so callers re-read and retry. Every value is
 * validated on write and on read.
 */
export class PlacementStore {
  private constructor(
    private readonly kv: KV,
    /** The KV bucket name. */
    readonly bucket: string,
    private readonly modifyAttempts: number,
  ) {}

  /** Opens (by default creating) the bucket. */
  static async open(
    nc: NatsConnection,
    options: PlacementStoreOptions = {},
  ): Promise<PlacementStore> {
    const bucket = options.bucket ?? DEFAULT_PLACEMENT_BUCKET;
    const attempts = options.modifyAttempts ?? DEFAULT_MODIFY_ATTEMPTS;
    if (!Number.isSafeInteger(attempts) || attempts < 1) {
      throw new ValidationError(
        `invalid modifyAttempts ${attempts}: expected an integer >= 1`,
        'modifyAttempts',
      );
    }
    const kv = await openKvBucket(nc, { ...options, bucket, label: 'placement bucket' });
    return new PlacementStore(kv, bucket, attempts);
  }

  // ---- whole-bucket views ----

  /** The whole bucket as one snapshot: the first snapshot of a watch (see `watch`). */
  async load(): Promise<Placement> {
    const watch = await this.watch();
    try {
      for await (const placement of watch) return placement;
    } finally {
      watch.stop();
    }
    throw new StorageError(
      `placement watch of bucket '${this.bucket}' ended before its first snapshot (connection closed?)`,
    );
  }

  /**
   * Watches the bucket: first the current placement, then one snapshot per
   * change (updates and deletes). Entries that arrive together (the initial
   * values, a burst of writes) are folded into one snapshot of the later
   * state, so no partial initial view is ever emitted. An unreadable value
   * does not end the watch: it shows up in `issues`. Iteration ends after
   * `stop()` or when the connection closes.
   */
  async watch(): Promise<PlacementWatch> {
    const entries = await this.kv.watch();
    let lastRevision: number;
    try {
      lastRevision = await this.lastRevision();
    } catch (error) {
      entries.stop();
      throw error;
    }
    return new KvPlacementWatch(entries, lastRevision, () => this.lastRevision());
  }

  /** The bucket's last revision; 0 when it holds nothing (an emptied bucket waits for nothing). */
  private async lastRevision(): Promise<number> {
    const { messages, last_seq } = (await this.kv.status()).streamInfo.state;
    return messages === 0 ? 0 : last_seq;
  }

  // ---- nodes ----

  async getNode(id: string): Promise<Stored<NodeRecord> | undefined> {
    return this.read(nodeKey(checkNodeId(id, 'id')), parseNodeAt(id));
  }

  /**
   * Writes a node record. Without `expectedRevision` the node must not exist
   * yet (a restarting node reads its record and passes the revision).
   * @returns the new revision
   */
  async registerNode(node: NodeRegistration, options: WriteOptions = {}): Promise<number> {
    const record = checkInput(
      parseNode,
      {
        ...node,
        weight: node.weight ?? 1,
        status: node.status ?? 'active',
        heartbeatAt: node.heartbeatAt ?? new Date().toISOString(),
      },
      'node',
    );
    return this.write(nodeKey(record.id), encodeNode(record), options.expectedRevision ?? 0);
  }

  /** Sets `heartbeatAt` (default now), retrying lost CAS races on a fresh read. */
  async heartbeat(id: string, at: Date = new Date()): Promise<number> {
    if (Number.isNaN(at.getTime())) throw new ValidationError('invalid heartbeat time', 'at');
    const heartbeatAt = at.toISOString();
    return this.modifyNode(id, (node) => ({ ...node, heartbeatAt }), {});
  }

  /**
   * Sets a node's status. With `expectedRevision` one CAS attempt; without,
   * a read-modify-CAS retried on lost races.
   */
  async setNodeStatus(id: string, status: NodeStatus, options: WriteOptions = {}): Promise<number> {
    return this.modifyNode(id, (node) => ({ ...node, status }), options);
  }

  /** Deletes a node record (CAS on `expectedRevision`, else on the revision just read). */
  async removeNode(id: string, options: WriteOptions = {}): Promise<void> {
    await this.remove(nodeKey(checkNodeId(id, 'id')), 'node', options);
  }

  // ---- ring ----

  /** The ring settings; `revision` 0 and the defaults when the key is absent. */
  async getRing(): Promise<Stored<RingSettings>> {
    return (await this.read(RING_KEY, parseRing)) ?? { vnodes: DEFAULT_VNODES, revision: 0 };
  }

  /** Writes the ring settings. Without `expectedRevision` the key must be absent. */
  async setRing(settings: RingSettings, options: WriteOptions = {}): Promise<number> {
    const ring = checkInput(parseRing, settings, 'ring settings');
    return this.write(RING_KEY, encodeRing(ring), options.expectedRevision ?? 0);
  }

  // ---- pins ----

  async getPin(tenant: TenantId): Promise<Stored<Pin> | undefined> {
    return this.read(pinKey(Tenant.parse(tenant, 'tenant')), parsePin);
  }

  /**
   * Pins a tenant to a node. Without `expectedRevision` the tenant must not be
   * pinned yet; to move a pin, pass the revision of the pin read before.
   */
  async pin(tenant: TenantId, nodeId: string, options: WriteOptions = {}): Promise<number> {
    const key = pinKey(Tenant.parse(tenant, 'tenant'));
    const pin = checkInput(parsePin, { nodeId }, 'pin');
    return this.write(key, encodePin(pin), options.expectedRevision ?? 0);
  }

  /** Removes a pin (CAS on `expectedRevision`, else on the revision just read). */
  async unpin(tenant: TenantId, options: WriteOptions = {}): Promise<void> {
    await this.remove(pinKey(Tenant.parse(tenant, 'tenant')), 'pin', options);
  }

  // ---- migrations ----

  async getMigration(tenant: TenantId): Promise<Stored<MigrationRecord> | undefined> {
    return this.read(migrationKey(Tenant.parse(tenant, 'tenant')), parseMigration);
  }

  /**
   * Writes a tenant's migration record at `expectedRevision` (0 = there is
   * none yet).
   * @returns the new revision
   */
  async putMigration(
    tenant: TenantId,
    record: MigrationRecord,
    expectedRevision: number,
  ): Promise<number> {
    const key = migrationKey(Tenant.parse(tenant, 'tenant'));
    const migration = checkInput(parseMigration, record, 'migration');
    return this.write(key, encodeMigration(migration), expectedRevision);
  }

  /** Deletes a tenant's migration record at `expectedRevision`. */
  async removeMigration(tenant: TenantId, expectedRevision: number): Promise<void> {
    const key = migrationKey(Tenant.parse(tenant, 'tenant'));
    await this.remove(key, 'migration', { expectedRevision });
  }

  // ---- internals ----

  private async modifyNode(
    id: string,
    change: (node: NodeRecord) => NodeRecord,
    options: WriteOptions,
  ): Promise<number> {
    const key = nodeKey(checkNodeId(id, 'id'));
    const attempts = options.expectedRevision === undefined ? this.modifyAttempts : 1;
    for (let attempt = 1; ; attempt++) {
      const current = await this.read(key, parseNodeAt(id));
      if (current === undefined) throw new NotFoundError(`node '${id}' is not registered`);
      const expected = options.expectedRevision ?? current.revision;
      const next = checkInput(parseNode, change(current), 'node');
      try {
        return await this.write(key, encodeNode(next), expected);
      } catch (error) {
        if (!(error instanceof PlacementConflictError) || attempt >= attempts) throw error;
      }
    }
  }

  private async read<T>(key: string, parse: (value: unknown) => T): Promise<Stored<T> | undefined> {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return undefined;
    return { ...this.decode(entry, parse), revision: entry.revision };
  }

  private decode<T>(entry: KvEntry, parse: (value: unknown) => T): T {
    try {
      return parse(decodeJson(entry.value));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      throw new PlacementEntryError(entry.key, entry.revision, error.message, { cause: error });
    }
  }

  private async write(key: string, value: string, expectedRevision: number): Promise<number> {
    checkRevision(expectedRevision);
    try {
      return expectedRevision === 0
        ? await this.kv.create(key, value)
        : await this.kv.update(key, value, expectedRevision);
    } catch (error) {
      throw await this.translate(error, key, expectedRevision);
    }
  }

  /** Deletes need no readable value, so a corrupt entry can always be removed. */
  private async remove(key: string, what: string, options: WriteOptions): Promise<void> {
    let expected = options.expectedRevision;
    if (expected === undefined) {
      const current = await this.kv.get(key);
      if (current === null || current.operation !== 'PUT') {
        throw new NotFoundError(`no ${what} at placement key '${key}'`);
      }
      expected = current.revision;
    } else if (checkRevision(expected) === 0) {
      throw new ValidationError('a delete needs an expected revision > 0', 'expectedRevision');
    }
    try {
      await this.kv.delete(key, { previousSeq: expected });
    } catch (error) {
      throw await this.translate(error, key, expected);
    }
  }

  /** Maps the server's CAS refusal to `PlacementConflictError`; other errors pass unchanged. */
  private async translate(error: unknown, key: string, expected: number): Promise<unknown> {
    if (!isCasConflict(error)) return error;
    let actual = -1;
    try {
      const current = await this.kv.get(key);
      actual = current === null || current.operation !== 'PUT' ? 0 : current.revision;
    } catch {
      // keep -1: the conflict is the news, the actual revision is a detail
    }
    return new PlacementConflictError(key, expected, actual, { cause: error });
  }
}
