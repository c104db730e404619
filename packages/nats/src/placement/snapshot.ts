import type { TenantId } from '@tenantfold/core';
import { TenantId as Tenant, ValidationError } from '@tenantfold/core';
import type { ParsedKey } from './codec.js';
import {
  checkInput,
  checkNodeId,
  decodeJson,
  parseKey,
  parseMigration,
  parseNode,
  parseNodeAt,
  parsePin,
  parseRing,
} from './codec.js';
import type {
  MigrationRecord,
  NodeRecord,
  Pin,
  Placement,
  PlacementIssue,
  RingSettings,
  Stored,
} from './types.js';
import { DEFAULT_VNODES } from './types.js';

function stored<T extends object>(value: T, revision: number): Stored<T> {
  return Object.freeze({ ...value, revision });
}

const DEFAULT_RING: Stored<RingSettings> = stored({ vnodes: DEFAULT_VNODES }, 0);

/** One KV entry as the accumulator needs it (a subset of `KvEntry`). */
export interface PlacementChange {
  readonly key: string;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  readonly revision: number;
  readonly value: Uint8Array;
}

/**
 * Folds KV entries (initial values, then updates and deletes) into snapshots.
 * An unreadable entry never throws: it is left out and listed in `issues`
 * until a valid value or a delete replaces it.
 */
export class PlacementAccumulator {
  readonly #nodes = new Map<string, Stored<NodeRecord>>();
  readonly #pins = new Map<TenantId, Stored<Pin>>();
  readonly #migrations = new Map<TenantId, Stored<MigrationRecord>>();
  #ring = DEFAULT_RING;
  readonly #issues = new Map<string, PlacementIssue>();
  /** Last revision applied per key, so entries replayed after a consumer reset are skipped. */
  readonly #applied = new Map<string, number>();
  #revision = 0;
  #snapshot: Placement | undefined;

  apply(change: PlacementChange): void {
    const { key, revision } = change;
    const last = this.#applied.get(key);
    if (last !== undefined && revision <= last) return;
    this.#applied.set(key, revision);
    this.#revision = Math.max(this.#revision, revision);
    this.#snapshot = undefined;
    this.#issues.delete(key);

    let target: ParsedKey;
    try {
      target = parseKey(key);
    } catch (error) {
      if (change.operation === 'PUT') this.#report(key, revision, error);
      return;
    }
    this.#remove(target);
    if (change.operation !== 'PUT') return;
    try {
      this.#set(target, decodeJson(change.value), revision);
    } catch (error) {
      this.#report(key, revision, error);
    }
  }

  /** The highest revision applied so far. */
  get revision(): number {
    return this.#revision;
  }

  snapshot(): Placement {
    this.#snapshot ??= Object.freeze({
      revision: this.#revision,
      nodes: new Map(this.#nodes),
      ring: this.#ring,
      pins: new Map(this.#pins),
      migrations: new Map(this.#migrations),
      issues: Object.freeze(
        [...this.#issues.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      ),
    });
    return this.#snapshot;
  }

  #report(key: string, revision: number, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#issues.set(key, Object.freeze({ key, revision, message }));
  }

  #remove(target: ParsedKey): void {
    switch (target.kind) {
      case 'node':
        this.#nodes.delete(target.id);
        return;
      case 'ring':
        this.#ring = DEFAULT_RING;
        return;
      case 'pin':
        this.#pins.delete(target.tenant);
        return;
      case 'migration':
        this.#migrations.delete(target.tenant);
        return;
    }
  }

  #set(target: ParsedKey, value: unknown, revision: number): void {
    switch (target.kind) {
      case 'node':
        this.#nodes.set(target.id, stored(parseNodeAt(target.id)(value), revision));
        return;
      case 'ring':
        this.#ring = stored(parseRing(value), revision);
        return;
      case 'pin':
        this.#pins.set(target.tenant, stored(parsePin(value), revision));
        return;
      case 'migration':
        this.#migrations.set(target.tenant, stored(parseMigration(value), revision));
        return;
    }
  }
}

/** Input of `createPlacement`: plain values, validated like values read from KV. */
export interface PlacementInput {
  /** @default 0 */
  readonly revision?: number;
  readonly nodes?: Iterable<NodeRecord>;
  /** @default `{ vnodes: DEFAULT_VNODES }` */
  readonly ring?: RingSettings;
  /** `[tenant, nodeId]` pairs. */
  readonly pins?: Iterable<readonly [tenant: TenantId, nodeId: string]>;
  readonly migrations?: Iterable<readonly [tenant: TenantId, record: MigrationRecord]>;
}

/**
 * Builds a placement snapshot from plain values (entry revisions 0), for
 * planning ("what if") and tests. Throws `ValidationError` on bad input.
 */
export function createPlacement(input: PlacementInput = {}): Placement {
  const revision = input.revision ?? 0;
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new ValidationError(`invalid revision ${revision}: expected an integer >= 0`, 'revision');
  }
  const nodes = new Map<string, Stored<NodeRecord>>();
  for (const node of input.nodes ?? []) {
    const parsed = checkInput(parseNode, node, 'node');
    if (nodes.has(parsed.id)) {
      throw new ValidationError(`duplicate node id '${parsed.id}'`, 'nodes');
    }
    nodes.set(parsed.id, stored(parsed, 0));
  }
  const pins = new Map<TenantId, Stored<Pin>>();
  for (const [tenant, nodeId] of input.pins ?? []) {
    pins.set(Tenant.parse(tenant), stored({ nodeId: checkNodeId(nodeId) }, 0));
  }
  const migrations = new Map<TenantId, Stored<MigrationRecord>>();
  for (const [tenant, record] of input.migrations ?? []) {
    migrations.set(
      Tenant.parse(tenant),
      stored(checkInput(parseMigration, record, 'migration'), 0),
    );
  }
  return Object.freeze({
    revision,
    nodes,
    ring:
      input.ring === undefined
        ? DEFAULT_RING
        : stored(checkInput(parseRing, input.ring, 'ring'), 0),
    pins,
    migrations,
    issues: Object.freeze([]),
  });
}
