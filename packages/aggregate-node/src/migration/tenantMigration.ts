import type { AggregateStore, Logger, StreamKey, TenantId } from '@tenantfold/core';
import { StreamKey as Key, stateHash, ValidationError } from '@tenantfold/core';
import { stateDigest } from '@tenantfold/query';
import type { MigrationPhase, PlacementStore } from '@tenantfold/nats';
import type { PlacementOwnership } from '../intake/placementOwnership.js';
import type { TenantGate } from '../intake/tenantGate.js';
import type {
  AggregatePosition,
  MigrationStepRequest,
  TenantRequest,
  VerifyRequest,
} from './requests.js';

/** `POST /admin/warm`: what the target loaded before the cutover. */
export interface WarmReport {
  readonly tenant_id: string;
  readonly epoch: number;
  readonly aggregates: number;
  readonly duration_ms: number;
}

/** `POST /admin/drain`: the source's last positions and state hashes. */
export interface DrainReport {
  readonly tenant_id: string;
  /** Absent for a drain by hand (no migration). */
  readonly epoch?: number;
  readonly aggregates: readonly AggregatePosition[];
  readonly drained_at: string;
}

/** One aggregate the target does not hold as the source reported it. */
export interface VerifyMismatch {
  readonly type: string;
  readonly id: string;
  /** State hash in the drain report; null when the source did not report it. */
  readonly expected: string | null;
  /** State hash on the target; null when the target has no such aggregate. */
  readonly actual: string | null;
  /** What differs, for operators. */
  readonly reason: string;
}

/** `POST /admin/verify`. */
export interface VerifyReport {
  readonly tenant_id: string;
  readonly epoch: number;
  readonly ok: boolean;
  /** Aggregates compared (reported ones and the target's own). */
  readonly checked: number;
  readonly mismatches: readonly VerifyMismatch[];
  readonly duration_ms: number;
}

/** `POST /admin/release`: the source has dropped the tenant. */
export interface ReleaseReport {
  readonly tenant_id: string;
  readonly epoch: number;
  /** Live aggregates dropped from memory. */
  readonly released: number;
}

export interface TenantMigrationOptions {
  readonly nodeId: string;
  /** The current store (a reload replaces it). */
  readonly store: () => AggregateStore;
  readonly gate: TenantGate;
  readonly ownership: PlacementOwnership;
  readonly placement: PlacementStore;
  readonly logger: Logger;
  /** How long a drain waits for in-flight commands, in ms. */
  readonly drainTimeoutMs: number;
  /** Read models follow the tenant: the hooks below move them with it. */
  readonly readModels?: {
    /** Target, warm: catch the tenant's read models up. */
    loaded(tenant: TenantId): Promise<void>;
    /** Source, drain: save the tenant's checkpoints for the target. */
    drained(tenant: TenantId): Promise<void>;
    /** Target, verify: take over the checkpoints the source saved. */
    verified(tenant: TenantId): Promise<void>;
    /** Source, release: save and drop the tenant's read models. */
    released(tenant: TenantId): Promise<void>;
  };
  /** The state read model's rows follow the tenant too. */
  readonly stateRows?: {
    /** Target, warm: builds the tenant's rows from the log. */
    build(tenant: TenantId): Promise<void>;
    /** Target, verify: applies what was committed since the build. */
    catchUp(tenant: TenantId): Promise<void>;
    /** Digest of the tenant's rows (`ReadModel.digest`). */
    digest(tenant: TenantId): string;
    /** Source, release: drops the tenant's rows. */
    drop(tenant: TenantId): void;
  };
}

/** Aggregates loaded at once while warming, draining or verifying. */
const LOAD_CONCURRENCY = 32;
/** Re-reads of an aggregate found behind its reported position, and the first pause between them. */
const CATCH_UP_ATTEMPTS = 3;
const CATCH_UP_PAUSE_MS = 25;
const ACTIVE_PHASES: readonly MigrationPhase[] = [
  'PREPARING',
  'WARMING',
  'DRAINING',
  'VERIFYING',
  'SWAPPING',
];

/**
 * A node's side of a tenant move (docs/migration.md): the target warms and
 * verifies, the source drains and, after the swap, releases. Each call checks
 * the tenant's migration record (read from KV, not the watch, which may lag
 * the controller's last write) names this node in that role at that epoch.
 */
export class TenantMigration {
  constructor(private readonly options: TenantMigrationOptions) {}

  /** Target: loads every aggregate of the tenant from storage, without taking commands. */
  async warm({ tenant, epoch }: MigrationStepRequest): Promise<WarmReport> {
    await this.checkRecord(tenant, epoch, 'to', ACTIVE_PHASES);
    const started = performance.now();
    const keys = await this.streamsOf(tenant);
    await eachLimited(keys, LOAD_CONCURRENCY, (key) => this.options.store().stateOf(key));
    await this.options.readModels?.loaded(tenant);
    await this.options.stateRows?.build(tenant);
    const report = {
      tenant_id: tenant,
      epoch,
      aggregates: keys.length,
      duration_ms: Math.round(performance.now() - started),
    };
    this.options.logger.info(report, 'tenant warmed');
    return report;
  }

  /**
   * Source: stops intake for the tenant, waits for its in-flight commands,
   * flushes snapshots, and reports every aggregate's last position and state hash.
   */
  async drain({ tenant, epoch }: TenantRequest): Promise<DrainReport> {
    if (epoch !== undefined) await this.checkRecord(tenant, epoch, 'from', ACTIVE_PHASES);
    const { gate, drainTimeoutMs, logger } = this.options;
    await gate.close(tenant, drainTimeoutMs);
    await this.options.store().flush({ tenant });
    await this.options.readModels?.drained(tenant);
    const keys = await this.streamsOf(tenant);
    const aggregates = await eachLimited(keys, LOAD_CONCURRENCY, (key) => this.positionOf(key));
    logger.info({ tenant_id: tenant, epoch, aggregates: aggregates.length }, 'tenant drained');
    return {
      tenant_id: tenant,
      ...(epoch === undefined ? {} : { epoch }),
      aggregates,
      drained_at: new Date().toISOString(),
    };
  }

  /**
   * Target: reloads the tenant's aggregates from storage (snapshot + later
   * commits, so anything appended after warming is seen) and compares each
   * with the drain report; aggregates only one side knows are mismatches too.
   */
  async verify({ tenant, epoch, aggregates }: VerifyRequest): Promise<VerifyReport> {
    await this.checkRecord(tenant, epoch, 'to', ACTIVE_PHASES);
    const started = performance.now();
    this.options.store().evict({ tenant });
    const expected = new Map(aggregates.map((a) => [`${a.type}.${a.id}`, a]));
    const present = new Map((await this.streamsOf(tenant)).map((k) => [`${k.type}.${k.id}`, k]));
    const names = [...new Set([...expected.keys(), ...present.keys()])].sort();
    const found = await eachLimited(names, LOAD_CONCURRENCY, async (name) => {
      const key = present.get(name);
      return key === undefined ? undefined : this.caughtUp(key, expected.get(name));
    });
    const mismatches: VerifyMismatch[] = [];
    names.forEach((name, i) => {
      const mismatch = compare(expected.get(name), found[i]);
      if (mismatch !== undefined) mismatches.push(mismatch);
    });
    // Rows are compared once the states agree (else they differ for the same reason).
    const rows =
      mismatches.length === 0 ? await this.stateRowsMismatch(tenant, aggregates) : undefined;
    if (rows !== undefined) mismatches.push(rows);
    if (mismatches.length === 0) await this.options.readModels?.verified(tenant);
    const report = {
      tenant_id: tenant,
      epoch,
      ok: mismatches.length === 0,
      checked: names.length,
      mismatches,
      duration_ms: Math.round(performance.now() - started),
    };
    this.options.logger.info(
      { ...report, mismatches: mismatches.length },
      report.ok ? 'tenant verified' : 'tenant verification failed',
    );
    return report;
  }

  /**
   * Source, after the swap: drops the tenant's live aggregates and reopens its
   * intake (ownership now refuses it). Refused while placement, read afresh,
   * still gives the tenant to this node.
   */
  async release({ tenant, epoch }: MigrationStepRequest): Promise<ReleaseReport> {
    const record = await this.options.placement.getMigration(tenant);
    if (record !== undefined && (record.from !== this.options.nodeId || record.epoch !== epoch)) {
      throw new ValidationError(
        `release of tenant '${tenant}' at epoch ${epoch}: the migration record is epoch ${record.epoch} from '${record.from}'`,
        'epoch',
      );
    }
    const { ownership, gate, logger } = this.options;
    await ownership.refresh();
    if (ownership.owns(tenant)) {
      throw new ValidationError(
        `tenant '${tenant}' still resolves to this node: pin it to its new owner before releasing it`,
        'tenant_id',
      );
    }
    const released = this.options.store().evict({ tenant });
    await this.options.readModels?.released(tenant);
    this.options.stateRows?.drop(tenant);
    gate.reopen(tenant);
    logger.info({ tenant_id: tenant, epoch, released }, 'tenant released');
    return { tenant_id: tenant, epoch, released };
  }

  /**
   * Source, on rollback (or after a drain by hand): takes the tenant's
   * commands again, reloading its aggregates so that anything appended
   * meanwhile by another writer is seen.
   */
  resume({ tenant }: TenantRequest): { tenant_id: string; resumed: true } {
    this.options.store().evict({ tenant });
    this.options.gate.reopen(tenant);
    this.options.logger.info({ tenant_id: tenant }, 'tenant resumed');
    return { tenant_id: tenant, resumed: true };
  }

  /** The target's state rows against the drain report: the same digest, or a mismatch. */
  private async stateRowsMismatch(
    tenant: TenantId,
    reported: readonly AggregatePosition[],
  ): Promise<VerifyMismatch | undefined> {
    const rows = this.options.stateRows;
    if (rows === undefined) return undefined;
    await rows.catchUp(tenant);
    const sorted = [...reported].sort(
      (a, b) => compareText(a.type, b.type) || compareText(a.id, b.id),
    );
    const expected = stateDigest(sorted);
    const actual = rows.digest(tenant);
    if (actual === expected) return undefined;
    return {
      type: 'read-model',
      id: '*',
      expected,
      actual,
      reason: "the target's state read model does not hold the drained states",
    };
  }

  private async streamsOf(tenant: TenantId): Promise<StreamKey[]> {
    const keys: StreamKey[] = [];
    const store = this.options.store();
    const known = new Set(store.aggregateTypes);
    for await (const key of store.backend.eventLog.streams({ tenant })) {
      if (known.has(key.type)) keys.push(key);
      else this.options.logger.warn({ stream: Key.toString(key) }, 'stream of an unknown type');
    }
    return keys;
  }

  /**
   * The aggregate as storage has it, read again (a few times, briefly apart)
   * while it is behind the reported position: a replica answering reads may
   * lag the stream leader.
   */
  private async caughtUp(
    key: StreamKey,
    reported: AggregatePosition | undefined,
  ): Promise<AggregatePosition> {
    let found = await this.positionOf(key);
    for (let attempt = 1; attempt <= CATCH_UP_ATTEMPTS; attempt++) {
      if (reported === undefined || found.position >= reported.position) break;
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_PAUSE_MS * attempt));
      this.options.store().evict(key);
      found = await this.positionOf(key);
    }
    return found;
  }

  private async positionOf(key: StreamKey): Promise<AggregatePosition> {
    const snapshot = await this.options.store().stateOf(key);
    return {
      type: key.type,
      id: key.id,
      version: snapshot.version,
      position: snapshot.position,
      state_hash: stateHash(snapshot.state),
    };
  }

  private async checkRecord(
    tenant: TenantId,
    epoch: number,
    role: 'from' | 'to',
    phases: readonly MigrationPhase[],
  ): Promise<void> {
    const record = await this.options.placement.getMigration(tenant);
    const problem =
      record === undefined
        ? 'there is no migration record'
        : record.epoch !== epoch
          ? `the migration record is at epoch ${record.epoch}`
          : record[role] !== this.options.nodeId
            ? `the migration record names '${record[role]}' as '${role}', not this node`
            : !phases.includes(record.phase)
              ? `the migration is ${record.phase}`
              : undefined;
    if (problem !== undefined) {
      throw new ValidationError(`tenant '${tenant}', epoch ${epoch}: ${problem}`, 'epoch');
    }
  }
}

function compare(
  expected: AggregatePosition | undefined,
  actual: AggregatePosition | undefined,
): VerifyMismatch | undefined {
  const any = expected ?? actual;
  if (any === undefined) return undefined;
  const mismatch = (reason: string): VerifyMismatch => ({
    type: any.type,
    id: any.id,
    expected: expected?.state_hash ?? null,
    actual: actual?.state_hash ?? null,
    reason,
  });
  if (actual === undefined) return mismatch('the target has no commits of this aggregate');
  if (expected === undefined) return mismatch('the drain report does not list this aggregate');
  if (actual.position !== expected.position || actual.version !== expected.version) {
    return mismatch(
      `the target is at version ${actual.version} (position ${actual.position}), the source reported version ${expected.version} (position ${expected.position})`,
    );
  }
  if (actual.state_hash !== expected.state_hash) return mismatch('the states differ');
  return undefined;
}

/** `work` over `items`, at most `limit` at a time; results in input order. */
async function eachLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
