import type { AggregateStore, Logger, StoredCommit, StreamKey, TenantId } from '@tenantfold/core';
import { StreamKey as Key, stateHash, ValidationError } from '@tenantfold/core';
import { commitName, stateDigest } from '@tenantfold/query';
import type { MigrationPhase, PlacementStore } from '@tenantfold/nats';
import type { PlacementOwnership } from '../intake/placementOwnership.js';
import type { TenantGate } from '../intake/tenantGate.js';
import type {
  AggregatePosition,
  MigrationStepRequest,
  SinceRequest,
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

/** `POST /admin/report`: the source's positions and state hashes while it still serves. */
export interface PositionReport {
  readonly tenant_id: string;
  readonly epoch: number;
  /**
   * The log's end when the report began: the report holds every commit up
   * to it, and a later report or drain `after` it lists what changed since.
   */
  readonly position: number;
  readonly aggregates: readonly AggregatePosition[];
}

/** `POST /admin/drain`: the source's last positions and state hashes. */
export interface DrainReport {
  readonly tenant_id: string;
  /** Absent for a drain by hand (no migration). */
  readonly epoch?: number;
  /** Set when only the aggregates committed after this position are reported. */
  readonly after?: number;
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
  /** `pre`: aggregates that moved on since the report (a later delta compares them). */
  readonly deferred: number;
  /**
   * The tenant's aggregates by where they were last compared (`delta`, `all`):
   * each one once, either before the hold or in it.
   */
  readonly verified_before_hold: number;
  readonly verified_in_hold: number;
  readonly mismatches: readonly VerifyMismatch[];
  readonly duration_ms: number;
}

/** What one verify scope found: its report without the fields `verify` adds. */
type Comparison = Omit<VerifyReport, 'tenant_id' | 'epoch' | 'ok' | 'duration_ms'>;

/** What a target's pre-verified rounds compared, for the delta in the hold. */
interface PreVerified {
  readonly epoch: number;
  /** Aggregates whose reported state the target matched, by name, as reported. */
  readonly verified: Map<string, AggregatePosition>;
  /** Aggregates ahead of their report in the last round: a later report or the drain lists them. */
  readonly deferred: Set<string>;
}

/** The log as a move reads it. */
export interface MigrationLog {
  /** The log's last position now. */
  lastPosition(): Promise<number>;
  /** The tenant's commits after `after`, in log order (any writer's). */
  commitsSince(tenant: TenantId, after: number): AsyncIterable<StoredCommit>;
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
  readonly log: MigrationLog;
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
    /**
     * Target, pre-verified rounds: writes the rows of `keys` as their states
     * are now; `known` holds the timestamps of commits already read (`commitName`).
     */
    put(keys: readonly StreamKey[], known: ReadonlyMap<string, string>): Promise<void>;
    /** Target, delta verify: the rows hold every commit of the tenant up to `position`. */
    settle(tenant: TenantId, position: number): void;
    /** Digest of the tenant's rows (`ReadModel.digest`). */
    digest(tenant: TenantId): string;
    /** One aggregate's row: its version and state hash (`stateHash`). */
    row(
      tenant: TenantId,
      type: string,
      id: string,
    ): { readonly version: number; readonly state_hash: string } | undefined;
    /** How many rows the tenant has. */
    count(tenant: TenantId): number;
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
  /** Target: the pre-verified rounds of each tenant moving here. */
  readonly #pre = new Map<TenantId, PreVerified>();
  /** Target: how far its live aggregates of each tenant moving here follow the log. */
  readonly #followed = new Map<TenantId, number>();
  /** Target: the timestamps of the commits it followed, by `commitName` (for the rows). */
  readonly #seen = new Map<TenantId, Map<string, string>>();

  constructor(private readonly options: TenantMigrationOptions) {}

  /** Target: loads every aggregate of the tenant from storage, without taking commands. */
  async warm({ tenant, epoch }: MigrationStepRequest): Promise<WarmReport> {
    await this.checkRecord(tenant, epoch, 'to', ACTIVE_PHASES);
    this.#pre.delete(tenant); // a new move starts
    this.#seen.delete(tenant);
    const started = performance.now();
    const from = await this.options.log.lastPosition();
    const keys = await this.streamsOf(tenant);
    await eachLimited(keys, LOAD_CONCURRENCY, (key) => this.options.store().stateOf(key));
    await this.options.readModels?.loaded(tenant);
    await this.options.stateRows?.build(tenant);
    this.#followed.set(tenant, from); // every load read the log past it
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
   * Source, while it still serves: the log's end, then every aggregate's
   * position and state hash (or, `after` a previous report, those committed
   * since it). Outside the hold: the target pre-verifies it.
   */
  async report({ tenant, epoch, after }: SinceRequest): Promise<PositionReport> {
    if (epoch === undefined) throw new ValidationError('a report needs its epoch', 'epoch');
    await this.checkRecord(tenant, epoch, 'from', ACTIVE_PHASES);
    const position = await this.options.log.lastPosition();
    const keys = await this.keysOf(tenant, after);
    const aggregates = await eachLimited(keys, LOAD_CONCURRENCY, (key) => this.positionOf(key));
    this.options.logger.info(
      { tenant_id: tenant, epoch, position, after, aggregates: aggregates.length },
      'tenant reported',
    );
    return { tenant_id: tenant, epoch, position, aggregates };
  }

  /**
   * Source: stops intake for the tenant, waits for its in-flight commands,
   * and reports every aggregate's last position and state hash, or only those
   * committed `after` the last pre-verified report (then without flushing
   * snapshots: the hold holds only the delta).
   */
  async drain({ tenant, epoch, after }: SinceRequest): Promise<DrainReport> {
    if (epoch !== undefined) await this.checkRecord(tenant, epoch, 'from', ACTIVE_PHASES);
    const { gate, drainTimeoutMs, logger } = this.options;
    await gate.close(tenant, drainTimeoutMs);
    if (after === undefined) await this.options.store().flush({ tenant });
    await this.options.readModels?.drained(tenant);
    const keys = await this.keysOf(tenant, after);
    const aggregates = await eachLimited(keys, LOAD_CONCURRENCY, (key) => this.positionOf(key));
    logger.info(
      { tenant_id: tenant, epoch, after, aggregates: aggregates.length },
      'tenant drained',
    );
    return {
      tenant_id: tenant,
      ...(epoch === undefined ? {} : { epoch }),
      ...(after === undefined ? {} : { after }),
      aggregates,
      drained_at: new Date().toISOString(),
    };
  }

  /**
   * Target: compares the tenant's aggregates as storage has them (snapshot
   * plus later commits, so anything appended after warming is seen) with the
   * source's report. `all`: every aggregate either side knows. `pre`: the
   * reported ones, the source still serving (one that moved on since is
   * deferred). `delta`, in the hold: the drain's aggregates and every one
   * the log shows committed after the last pre-verified report (by any
   * writer); together with the pre-verified ones, the whole tenant.
   */
  async verify(request: VerifyRequest): Promise<VerifyReport> {
    const { tenant, epoch, scope } = request;
    await this.checkRecord(tenant, epoch, 'to', ACTIVE_PHASES);
    const started = performance.now();
    const outcome =
      scope === 'pre'
        ? await this.verifyPre(request)
        : scope === 'delta'
          ? await this.verifyDelta(request)
          : await this.verifyAll(request);
    const { mismatches } = outcome;
    if (mismatches.length === 0 && scope !== 'pre') await this.options.readModels?.verified(tenant);
    if (scope !== 'pre') {
      this.#pre.delete(tenant);
      this.#seen.delete(tenant);
    }
    const report: VerifyReport = {
      tenant_id: tenant,
      epoch,
      ok: mismatches.length === 0,
      ...outcome,
      duration_ms: Math.round(performance.now() - started),
    };
    this.options.logger.info(
      { ...report, mismatches: mismatches.length },
      report.ok ? `tenant verified (${scope})` : `tenant verification failed (${scope})`,
    );
    return report;
  }

  private async verifyAll({ tenant, aggregates }: VerifyRequest): Promise<Comparison> {
    this.options.store().evict({ tenant });
    const present = new Map((await this.streamsOf(tenant)).map((k) => [nameOf(k), k]));
    const { mismatches, checked } = await this.compareNames(tenant, aggregates, present);
    // Rows are compared once the states agree (else they differ for the same reason).
    const rows =
      mismatches.length === 0 ? await this.stateRowsMismatch(tenant, aggregates) : undefined;
    if (rows !== undefined) mismatches.push(rows);
    return {
      checked,
      deferred: 0,
      verified_before_hold: 0,
      verified_in_hold: checked,
      mismatches,
    };
  }

  private async verifyPre({ tenant, epoch, aggregates }: VerifyRequest): Promise<Comparison> {
    let pre = this.#pre.get(tenant);
    if (pre?.epoch !== epoch) {
      pre = { epoch, verified: new Map(), deferred: new Set() };
      this.#pre.set(tenant, pre);
    }
    pre.deferred.clear();
    await this.follow(tenant);
    const found = await eachLimited(aggregates, LOAD_CONCURRENCY, (reported) =>
      this.caughtUp(Key.of(tenant, reported.type, reported.id), reported),
    );
    const mismatches: VerifyMismatch[] = [];
    aggregates.forEach((reported, i) => {
      const name = nameOf(reported);
      pre.verified.delete(name);
      if (found[i]!.position > reported.position) {
        pre.deferred.add(name); // committed since the report: the next report lists it
        return;
      }
      const mismatch = compare(reported, found[i]);
      if (mismatch === undefined) pre.verified.set(name, reported);
      else mismatches.push(mismatch);
    });
    // The rows too, written each round so that the hold writes only the delta's.
    if (mismatches.length === 0) {
      const verified = aggregates.filter((a) => pre.verified.get(nameOf(a)) === a);
      const behind = verified.filter(
        (a) => this.options.stateRows?.row(tenant, a.type, a.id)?.version !== a.version,
      );
      await this.options.stateRows?.put(
        behind.map((a) => Key.of(tenant, a.type, a.id)),
        this.#seen.get(tenant) ?? new Map(),
      );
      mismatches.push(...this.rowMismatches(tenant, verified, { ahead: 'allowed' }));
    }
    return {
      checked: aggregates.length - pre.deferred.size,
      deferred: pre.deferred.size,
      verified_before_hold: pre.verified.size,
      verified_in_hold: 0,
      mismatches,
    };
  }

  private async verifyDelta({
    tenant,
    epoch,
    aggregates,
    after,
  }: VerifyRequest): Promise<Comparison> {
    const pre = this.#pre.get(tenant);
    if (pre?.epoch !== epoch) {
      throw new ValidationError(
        `tenant '${tenant}', epoch ${epoch}: nothing was pre-verified here (did this node restart?); verify the whole tenant`,
        'scope',
      );
    }
    // The source is drained: the log's end now covers every commit of the tenant.
    const end = await this.options.log.lastPosition();
    // Every aggregate the log shows changed after the last pre-verified report, by whoever
    // wrote it, folded into the live aggregates as they are read.
    const present = new Map<string, StreamKey>();
    for (const key of this.knownOf([...(await this.follow(tenant, after)).values()])) {
      present.set(nameOf(key), key);
    }
    for (const name of pre.deferred) present.set(name, keyOfName(tenant, name));
    for (const reported of aggregates)
      present.set(nameOf(reported), Key.of(tenant, reported.type, reported.id));
    const { mismatches, checked } = await this.compareNames(tenant, aggregates, present);
    const before = [...pre.verified.keys()].filter((name) => !present.has(name)).length;
    const rows = this.options.stateRows;
    if (mismatches.length === 0 && rows !== undefined) {
      // The rows of the delta, and as many rows as the tenant has aggregates.
      await rows.put([...present.values()], this.#seen.get(tenant) ?? new Map());
      rows.settle(tenant, end);
      const whole = new Set([...pre.verified.keys(), ...aggregates.map(nameOf)]).size;
      mismatches.push(...this.rowMismatches(tenant, aggregates, { ahead: 'no', whole }));
    }
    return {
      checked,
      deferred: 0,
      verified_before_hold: before,
      verified_in_hold: checked,
      mismatches,
    };
  }

  /**
   * `reported` against the target's aggregates of `present` (reloaded from
   * storage); one only one side knows is a mismatch.
   */
  private async compareNames(
    tenant: TenantId,
    reported: readonly AggregatePosition[],
    present: ReadonlyMap<string, StreamKey>,
  ): Promise<{ mismatches: VerifyMismatch[]; checked: number }> {
    const expected = new Map(reported.map((a) => [nameOf(a), a]));
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
    return { mismatches, checked: names.length };
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

  /**
   * The target's state rows of `reported` against the report: the same
   * version and state hash. A row `ahead` of a report taken while the source
   * served is no mismatch (a later delta has it); with `whole`, the tenant
   * must have exactly that many rows.
   */
  private rowMismatches(
    tenant: TenantId,
    reported: readonly AggregatePosition[],
    check: { readonly ahead: 'allowed' | 'no'; readonly whole?: number },
  ): VerifyMismatch[] {
    const rows = this.options.stateRows;
    if (rows === undefined) return [];
    const mismatches: VerifyMismatch[] = [];
    for (const a of reported) {
      const row = rows.row(tenant, a.type, a.id);
      if (row !== undefined && row.version === a.version && row.state_hash === a.state_hash)
        continue;
      if (row !== undefined && check.ahead === 'allowed' && row.version > a.version) continue;
      mismatches.push({
        type: a.type,
        id: a.id,
        expected: a.state_hash,
        actual: row?.state_hash ?? null,
        reason:
          row === undefined
            ? "the target's state read model has no row of it"
            : `the target's state row is version ${row.version} (${row.state_hash.slice(0, 12)}), the source reported version ${a.version}`,
      });
    }
    const count = check.whole === undefined ? undefined : rows.count(tenant);
    if (count !== undefined && count !== check.whole) {
      mismatches.push({
        type: 'read-model',
        id: '*',
        expected: String(check.whole),
        actual: String(count),
        reason: `the target's state read model holds ${count} rows of the tenant, which has ${check.whole} aggregates`,
      });
    }
    return mismatches;
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
    for await (const key of this.options.store().backend.eventLog.streams({ tenant })) {
      keys.push(key);
    }
    return this.knownOf(keys);
  }

  /** Every aggregate of the tenant, or those committed `after` a position. */
  private async keysOf(tenant: TenantId, after: number | undefined): Promise<StreamKey[]> {
    if (after === undefined) return this.streamsOf(tenant);
    const keys = new Map<string, StreamKey>();
    for await (const { stream } of this.options.log.commitsSince(tenant, after)) {
      keys.set(nameOf(stream), stream);
    }
    return this.knownOf([...keys.values()]);
  }

  /**
   * Target: folds the tenant's commits since it last looked into its live
   * aggregates (one read of the log, not a reload per aggregate); returns the
   * aggregates committed after `after` (from there on when it is earlier).
   */
  private async follow(tenant: TenantId, after?: number): Promise<Map<string, StreamKey>> {
    const followed = this.#followed.get(tenant) ?? 0;
    const from = Math.min(followed, after ?? followed);
    const changed = new Map<string, StreamKey>();
    const folds: Promise<void>[] = [];
    let last = followed;
    const seen = this.#seen.get(tenant) ?? new Map<string, string>();
    this.#seen.set(tenant, seen);
    for await (const commit of this.options.log.commitsSince(tenant, from)) {
      seen.set(commitName(commit.stream, commit.position), commit.timestamp);
      if (after !== undefined && commit.position > after)
        changed.set(nameOf(commit.stream), commit.stream);
      if (commit.position > followed) folds.push(this.options.store().follow(commit));
      last = Math.max(last, commit.position);
    }
    await Promise.all(folds);
    this.#followed.set(tenant, last);
    return changed;
  }

  /** `keys` of the types the manifest declares (a stream of another type is logged). */
  private knownOf(keys: readonly StreamKey[]): StreamKey[] {
    const known = new Set(this.options.store().aggregateTypes);
    return keys.filter((key) => {
      if (!known.has(key.type))
        this.options.logger.warn({ stream: Key.toString(key) }, 'stream of an unknown type');
      return known.has(key.type);
    });
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

/** `type.id`: aggregate types hold no dot. */
function nameOf(aggregate: { readonly type: string; readonly id: string }): string {
  return `${aggregate.type}.${aggregate.id}`;
}

function keyOfName(tenant: TenantId, name: string): StreamKey {
  const dot = name.indexOf('.');
  return Key.of(tenant, name.slice(0, dot), name.slice(dot + 1));
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
