import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { JsonValue, StoredCommit } from '@tenantfold/core';
import {
  AggregateId,
  AggregateType,
  TenantId,
  parseStateRecord,
  UnavailableError,
  ValidationError,
  stateHash,
} from '@tenantfold/core';
import type { Filter, SortKey } from '../language/ast.js';
import { formatFilter, formatSort } from '../language/format.js';
import { parseFilter, parseSort } from '../language/parse.js';
import { valueSql } from '../sql/fieldSql.js';
import type { SqlParam } from '../sql/filterSql.js';
import { compileFilter } from '../sql/filterSql.js';
import type { CursorBinding, SortValue } from './cursor.js';
import { CursorCodec } from './cursor.js';
import type { OpenReport } from './database.js';
import { openDatabase } from './database.js';
import type { IndexChanges } from './indexes.js';
import { parseIndexPath, syncIndexes } from './indexes.js';
import { Lru } from './lru.js';
import { afterCursor, effectiveKeys, orderBySql } from './pagePlan.js';
import { PositionWaiters } from './positionWaiters.js';
import type { QuarantinedRow } from './quarantine.js';
import { isRowFault, Quarantine } from './quarantine.js';
import { TenantPositions } from './tenantPositions.js';
import type {
  AppliedChange,
  QueryPage,
  QueryRequest,
  StateChange,
  StateRow,
  TenantSummary,
} from './types.js';
import { changeOf } from './types.js';

/** @default 100 */
export const DEFAULT_LIMIT = 100;
/** @default 1000 */
export const MAX_LIMIT = 1000;
const REBUILD_BATCH = 1000;
/** Rows applied between statistics refreshes. */
const ANALYZE_EVERY = 10_000;

export interface ReadModelOptions {
  /** Database file (created when missing), or `:memory:`. One per node / store directory. */
  readonly path: string;
  /**
   * Indexed state paths per aggregate type, as the manifest declares them
   * (`query.indexes`). Each path becomes one expression index. @default {}
   */
  readonly indexes?: Readonly<Record<string, readonly string[]>>;
  /**
   * Key that signs page cursors. Nodes that may serve the same tenant (after a
   * migration, behind a router) must share it; random per process when absent.
   */
  readonly cursorSecret?: string | Uint8Array;
  /** Rows per page when the request gives no limit. @default 100 */
  readonly defaultLimit?: number;
  /** Largest page; larger limits are capped. @default 1000 */
  readonly maxLimit?: number;
  /** Run SQLite's quick_check on an existing file at open (O(size)). @default true */
  readonly integrityCheck?: boolean;
}

type RawRow = Omit<StateRow, 'state'> & { state: string } & Record<`k${number}`, SortValue>;

const toRow = (raw: RawRow): StateRow => parseStateRecord(raw.id, raw, raw.state);

/** A tenant's checkpoint moves forward only. */
const ADVANCE_CHECKPOINT = `INSERT INTO checkpoints (tenant, position) VALUES (?, ?)
  ON CONFLICT (tenant) DO UPDATE SET position = max(position, excluded.position)`;

const ROW_COLUMNS = 'id, version, updated_at, position, json(state) AS state';

/**
 * The state read model: one row per aggregate (tenant, type, id, version,
 * state, updated_at, position) in SQLite, fed with the state after each
 * commit, queried with the filter language. Every query is scoped to one
 * tenant and one type. Synchronous under the hood (better-sqlite3); only
 * `waitForPosition` and `rebuild` return promises.
 */
export class ReadModel {
  /** How the file was found; when `needsRebuild`, rebuild from the event log. */
  readonly opened: OpenReport;
  readonly #db: Database.Database;
  readonly #cursors: CursorCodec;
  readonly #defaultLimit: number;
  readonly #maxLimit: number;
  readonly #positions = new TenantPositions();
  readonly #waiters = new PositionWaiters();
  readonly #statements = new Lru<string, Database.Statement>(256);
  readonly #filters = new Lru<string, Filter>(256);
  readonly #sorts = new Lru<string, readonly SortKey[]>(64);
  readonly #apply: (changes: readonly StateChange[]) => AppliedChange[];
  readonly #quarantine: Quarantine;
  #closed = false;
  #appliedSinceAnalyze = 0;

  private constructor(options: ReadModelOptions) {
    this.#maxLimit = positive(options.maxLimit ?? MAX_LIMIT, 'maxLimit');
    this.#defaultLimit = Math.min(
      positive(options.defaultLimit ?? DEFAULT_LIMIT, 'defaultLimit'),
      this.#maxLimit,
    );
    this.#cursors = new CursorCodec(options.cursorSecret);
    const indexes = indexedPaths(options.indexes ?? {});
    for (const path of indexes) parseIndexPath(path); // before the file is opened
    const { db, report } = openDatabase(options.path, options.integrityCheck ?? true);
    this.#db = db;
    this.opened = report;
    syncIndexes(db, indexes);
    this.#quarantine = new Quarantine(db);
    for (const row of db.prepare('SELECT tenant, position FROM checkpoints').all() as {
      tenant: string;
      position: number;
    }[]) {
      this.#positions.advance(row.tenant, row.position);
    }
    this.#apply = this.#db.transaction((changes: readonly StateChange[]) =>
      this.#applyInTransaction(changes),
    );
    this.analyze();
  }

  /**
   * Refreshes the statistics SQLite's planner uses to pick an index. Without
   * them it prefers walking the primary key in id order over a selective
   * expression index. Runs by itself at open, after index changes, after a
   * rebuild and every 10,000 applied changes; a few milliseconds (sampled).
   */
  analyze(): void {
    this.#assertOpen();
    this.#db.exec('ANALYZE');
    this.#appliedSinceAnalyze = 0;
  }

  /** Opens or creates the database; check `opened.needsRebuild` afterwards. */
  static open(options: ReadModelOptions): ReadModel {
    return new ReadModel(options);
  }

  #statement(sql: string): Database.Statement {
    return this.#statements.getOrCreate(sql, (text) => this.#db.prepare(text));
  }

  /** Makes the expression indexes match the declared paths (after a manifest reload). */
  setIndexes(indexes: Readonly<Record<string, readonly string[]>>): IndexChanges {
    const changes = syncIndexes(this.#db, indexedPaths(indexes));
    if (changes.created.length > 0) this.analyze();
    return changes;
  }

  /**
   * Applies state changes in one transaction, with the checkpoints they
   * advance. A change whose version is not newer than the row's is skipped
   * (a replayed commit), so applying twice is harmless. Returns the changes
   * applied, each with the row it replaced, for change notifications.
   *
   * Checkpoints are per tenant and only move forward. Commits applied out
   * of log order are fine if each was `announce`d when appended: the stored
   * checkpoint stays below the lowest one still announced.
   */
  apply(changes: readonly StateChange[]): AppliedChange[] {
    this.#assertOpen();
    const applied = this.#apply(changes);
    this.#appliedSinceAnalyze += applied.length;
    if (this.#appliedSinceAnalyze >= ANALYZE_EVERY) this.analyze();
    const advanced = new Set(changes.map((c) => c.tenant));
    for (const tenant of advanced) this.#waiters.reached(tenant, this.#positions.visible(tenant));
    return applied;
  }

  /** `apply` for one commit and the state the engine evolved from it. */
  applyCommit(commit: StoredCommit, state: JsonValue): AppliedChange | undefined {
    return this.apply([changeOf(commit, state)])[0];
  }

  #applyInTransaction(changes: readonly StateChange[]): AppliedChange[] {
    const select = this.#statement(
      `SELECT ${ROW_COLUMNS} FROM aggregates WHERE tenant = ? AND type = ? AND id = ?`,
    );
    const upsert = this.#statement(
      `INSERT INTO aggregates (tenant, type, id, version, state, updated_at, position)
       VALUES (?, ?, ?, ?, jsonb(?), ?, ?)
       ON CONFLICT (tenant, type, id) DO UPDATE SET version = excluded.version,
         state = excluded.state, updated_at = excluded.updated_at, position = excluded.position`,
    );
    const checkpoint = this.#statement(ADVANCE_CHECKPOINT);
    const applied: AppliedChange[] = [];
    const highest = new Map<string, number>();
    for (const change of changes) {
      const { tenant, type, id, version, state, updated_at, position } = checkChange(change);
      highest.set(tenant, Math.max(highest.get(tenant) ?? 0, position));
      const raw = select.get(tenant, type, id) as RawRow | undefined;
      if (raw !== undefined && raw.version >= version) continue;
      try {
        upsert.run(tenant, type, id, version, JSON.stringify(state), updated_at, position);
      } catch (error) {
        // One row that cannot be stored must not stop the others (nor a node's start).
        if (!isRowFault(error)) throw error;
        this.#quarantine.add({ tenant, type, id, position, reason: (error as Error).message });
        continue;
      }
      this.#quarantine.cleared(change);
      const after: StateRow = { id, version, updated_at, position, state };
      applied.push({ tenant, type, after, ...(raw === undefined ? {} : { before: toRow(raw) }) });
    }
    for (const [tenant, position] of highest) {
      this.#positions.advance(tenant, position);
      // The visible position, not the highest: after a crash the catch-up
      // from the checkpoint re-reads a commit announced but not yet applied.
      checkpoint.run(tenant, this.#positions.visible(tenant));
    }
    return applied;
  }

  /**
   * Sets an aggregate aside whose state cannot be held (it failed to fold, or
   * to store): its row is removed, the entry listed by `quarantined`, and the
   * tenant's position moves past `row.position` as if it had applied. A later
   * state of the aggregate that applies clears it.
   */
  quarantine(row: Omit<QuarantinedRow, 'at'>): QuarantinedRow {
    this.#assertOpen();
    const entry = this.#db.transaction(() => {
      const added = this.#quarantine.add(row);
      if (row.position > 0) {
        this.#positions.advance(row.tenant, row.position);
        this.#statement(ADVANCE_CHECKPOINT).run(row.tenant, this.#positions.visible(row.tenant));
      }
      return added;
    })();
    this.#waiters.reached(row.tenant, this.#positions.visible(row.tenant));
    return entry;
  }

  /** Aggregates set aside (of one tenant, or all), oldest key order. */
  quarantined(tenant?: string): QuarantinedRow[] {
    this.#assertOpen();
    return this.#quarantine.list(tenant);
  }

  /** How many aggregates are set aside. */
  get quarantinedCount(): number {
    return this.#quarantine.size;
  }

  /**
   * Clears the tenant's quarantine (every tenant's when absent) and returns
   * what it held: the caller applies those aggregates' states again (after a
   * fixed program is loaded), which quarantines any that still fail.
   */
  release(tenant?: string): QuarantinedRow[] {
    this.#assertOpen();
    return this.#db.transaction(() => this.#quarantine.release(tenant))();
  }

  /**
   * The tenant's visible position: every commit up to it that was applied or
   * announced is in the rows (0 when none). Queries report it; a catch-up
   * starts from `checkpoint`.
   */
  position(tenant: string): number {
    return this.#positions.visible(tenant);
  }

  /**
   * Where a catch-up from the event log starts for the tenant: every commit
   * up to it is in the rows (0 when none). At most `position`: lower after a
   * rebuild, until commits are applied.
   */
  checkpoint(tenant: string): number {
    this.#assertOpen();
    const row = this.#statement('SELECT position FROM checkpoints WHERE tenant = ?').get(
      TenantId.parse(tenant),
    ) as { position: number } | undefined;
    return Math.min(row?.position ?? 0, this.position(tenant));
  }

  /**
   * Announces a commit that is in the log but whose state is not applied yet
   * (the node knows the sequence when the append is acknowledged, the state
   * only after evolving): until it is applied, or the returned function
   * withdraws it, the tenant's visible position stays below it, so a
   * read-your-writes wait for a later commit cannot pass it.
   */
  announce(tenant: string, position: number): () => void {
    this.#assertOpen();
    const withdraw = this.#positions.announce(TenantId.parse(tenant), position);
    return () => {
      withdraw();
      this.#waiters.reached(tenant, this.#positions.visible(tenant));
    };
  }

  /**
   * Resolves once the tenant's visible position has reached `position` (the
   * consistency token of a command); rejects with UnavailableError (retryable)
   * after `timeoutMs`.
   */
  waitForPosition(tenant: string, position: number, timeoutMs: number): Promise<void> {
    this.#assertOpen();
    const tenantId = TenantId.parse(tenant);
    if (!Number.isSafeInteger(position) || position < 0) {
      throw new ValidationError(
        `consistency token must be a non-negative integer, got ${position}`,
        'position',
      );
    }
    return this.#waiters.wait(tenantId, position, timeoutMs, () => this.position(tenantId));
  }

  /** One aggregate's row, or undefined. */
  get(tenant: string, type: string, id: string): StateRow | undefined {
    this.#assertOpen();
    const raw = this.#statement(
      `SELECT ${ROW_COLUMNS} FROM aggregates WHERE tenant = ? AND type = ? AND id = ?`,
    ).get(TenantId.parse(tenant), AggregateType.parse(type, 'type'), id) as RawRow | undefined;
    return raw === undefined ? undefined : toRow(raw);
  }

  /**
   * One page of a tenant's aggregates of one type that match the filter, in
   * sort order. Pages chained by `nextCursor` never return a row twice and
   * skip none of the rows that did not change while paging.
   * @throws ValidationError for a bad filter, sort, limit or cursor.
   */
  query(tenant: string, type: string, request: QueryRequest = {}): QueryPage {
    const plan = this.#plan(tenant, type, request);
    const raws: RawRow[] = [];
    for (const { sql, params } of plan.statements) {
      const wanted = plan.limit + 1 - raws.length; // one more than the page: is there a next?
      if (wanted <= 0) break;
      raws.push(...(this.#statement(sql).all(...params, wanted) as RawRow[]));
    }
    const page = raws.slice(0, plan.limit);
    const last = page.at(-1);
    const nextCursor =
      raws.length > plan.limit && last !== undefined
        ? this.#cursors.encode(plan.binding, {
            values: Array.from({ length: plan.sortValues }, (_, i) => last[`k${i}`] ?? null),
            id: last.id,
          })
        : undefined;
    return {
      rows: page.map(toRow),
      limit: plan.limit,
      limitCapped: plan.limitCapped,
      position: this.position(plan.binding.tenant),
      ...(nextCursor === undefined ? {} : { nextCursor }),
    };
  }

  /**
   * SQLite's plan for the query's first statement (`EXPLAIN QUERY PLAN`
   * details), to see whether a filter and sort use an index.
   */
  explain(tenant: string, type: string, request: QueryRequest = {}): string[] {
    const { sql, params } = this.#plan(tenant, type, request).statements[0]!;
    const plan = this.#db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params, 1) as {
      detail: string;
    }[];
    return plan.map((step) => step.detail);
  }

  #plan(tenant: string, type: string, request: QueryRequest) {
    this.#assertOpen();
    const tenantId = TenantId.parse(tenant);
    const aggregateType = AggregateType.parse(type, 'type');
    const filter = this.#filter(request.filter);
    const keys = effectiveKeys(this.#sort(request.sort));
    const { limit, limitCapped } = this.#limit(request.limit);
    const binding: CursorBinding = {
      tenant: tenantId,
      type: aggregateType,
      filter: formatFilter(filter),
      sort: formatSort(keys),
    };
    const sortValues = keys.length - 1; // the last key is id, whose value is the row's id
    const segments =
      request.cursor === undefined
        ? [{ sql: '1', params: [] as SqlParam[] }]
        : afterCursor(keys, this.#cursors.decode(binding, request.cursor, sortValues));
    const where = compileFilter(filter);
    const keyColumns = keys
      .slice(0, sortValues)
      .map((key, i) => `, ${valueSql(key.field)} AS k${i}`)
      .join('');
    const statements = segments.map((segment) => ({
      sql: `SELECT ${ROW_COLUMNS}${keyColumns} FROM aggregates
        WHERE tenant = ? AND type = ? AND ${where.sql} AND ${segment.sql}
        ORDER BY ${orderBySql(keys)} LIMIT ?`,
      params: [tenantId, aggregateType, ...where.params, ...segment.params],
    }));
    return { binding, limit, limitCapped, sortValues, statements };
  }

  // ASTs come from parseFilter / parseSort; anything else that is not text is
  // handed to the parsers, which refuse it with a ValidationError.
  #filter(filter: string | Filter | undefined): Filter {
    if (filter === undefined) return { kind: 'all' };
    if (typeof filter === 'object' && filter !== null) return filter;
    return this.#filters.getOrCreate(filter, (text) => parseFilter(text));
  }

  #sort(sort: string | readonly SortKey[] | undefined): readonly SortKey[] {
    if (Array.isArray(sort)) return sort as readonly SortKey[];
    if (typeof sort !== 'string') return parseSort(sort);
    return this.#sorts.getOrCreate(sort, (text) => parseSort(text));
  }

  #limit(limit: unknown): { limit: number; limitCapped: boolean } {
    if (limit === undefined) return { limit: this.#defaultLimit, limitCapped: false };
    if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
      throw new ValidationError(
        `limit must be a positive integer, got ${JSON.stringify(limit)}`,
        'limit',
      );
    }
    return limit > this.#maxLimit
      ? { limit: this.#maxLimit, limitCapped: true }
      : { limit, limitCapped: false };
  }

  /** Deletes a tenant's rows and checkpoint (the source, after a migration's swap). */
  dropTenant(tenant: string): number {
    this.#assertOpen();
    const tenantId = TenantId.parse(tenant);
    const deleted = this.#db.transaction(() => {
      this.#quarantine.release(tenantId);
      this.#db.prepare('DELETE FROM checkpoints WHERE tenant = ?').run(tenantId);
      return this.#db.prepare('DELETE FROM aggregates WHERE tenant = ?').run(tenantId).changes;
    })();
    this.#positions.forget(tenantId);
    return deleted;
  }

  /**
   * Replaces the rows of one tenant (or of all, when `tenant` is absent) with
   * `changes`, e.g. the latest state of every aggregate read back from the
   * event log. Queries see the rows appear as batches commit. A marker in
   * the database records the rebuild until it ends, so a crash midway is
   * found at the next open (`opened.needsRebuild`).
   *
   * Each change is one aggregate's state as read at its own moment: while
   * another writer appends, a commit below the highest position may be
   * missing from a row read earlier. So the stored checkpoint (where
   * `checkpoint` tells a catch-up to start) is each tenant's lowest
   * position rebuilt; the version check skips what the rows already hold.
   */
  async rebuild(
    changes: Iterable<StateChange> | AsyncIterable<StateChange>,
    options: { readonly tenant?: string } = {},
  ): Promise<{ readonly rows: number }> {
    this.#assertOpen();
    const tenant = options.tenant === undefined ? undefined : TenantId.parse(options.tenant);
    this.#db.transaction(() => {
      this.#db
        .prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('rebuilding', ?)`)
        .run(tenant === undefined ? 'all tenants' : `tenant '${tenant}'`);
      const scope = tenant === undefined ? '' : ' WHERE tenant = ?';
      const params = tenant === undefined ? [] : [tenant];
      this.#db.prepare(`DELETE FROM aggregates${scope}`).run(...params);
      this.#db.prepare(`DELETE FROM checkpoints${scope}`).run(...params);
      this.#quarantine.release(tenant); // what still fails is set aside again
    })();
    this.#positions.forget(tenant);
    let batch: StateChange[] = [];
    let rows = 0;
    const lowest = new Map<string, number>();
    const flush = () => {
      rows += this.apply(batch).length;
      batch = [];
    };
    for await (const change of changes) {
      if (tenant !== undefined && change.tenant !== tenant) {
        throw new ValidationError(
          `rebuild of tenant '${tenant}' was given a change of tenant '${change.tenant}'`,
          'tenant',
        );
      }
      batch.push(change);
      lowest.set(
        change.tenant,
        Math.min(lowest.get(change.tenant) ?? change.position, change.position),
      );
      if (batch.length >= REBUILD_BATCH) flush();
    }
    flush();
    this.#db.transaction(() => {
      const lower = this.#db.prepare(
        'UPDATE checkpoints SET position = min(position, ?) WHERE tenant = ?',
      );
      for (const [name, position] of lowest) lower.run(position, name);
      this.#db.prepare(`DELETE FROM meta WHERE key = 'rebuilding'`).run();
    })();
    this.analyze();
    return { rows };
  }

  /** Every tenant with rows or a checkpoint: row count and position. */
  tenants(): TenantSummary[] {
    this.#assertOpen();
    const counts = this.#db
      .prepare('SELECT tenant, count(*) AS rows FROM aggregates GROUP BY tenant')
      .all() as { tenant: string; rows: number }[];
    const rows = new Map(counts.map((c) => [c.tenant, c.rows]));
    const names = new Set([...rows.keys(), ...this.#positions.tenants()]);
    return [...names]
      .sort()
      .map((tenant) => ({ tenant, rows: rows.get(tenant) ?? 0, position: this.position(tenant) }));
  }

  /**
   * A digest of a tenant's rows (type, id, version and state hash of each, in
   * order): two read models holding the same rows give the same digest, which
   * is what a migration's verification compares.
   */
  digest(tenant: string): string {
    this.#assertOpen();
    const rows = this.#db
      .prepare(
        'SELECT type, id, version, json(state) AS state FROM aggregates WHERE tenant = ? ORDER BY type, id',
      )
      .iterate(TenantId.parse(tenant)) as IterableIterator<{
      type: string;
      id: string;
      version: number;
      state: string;
    }>;
    return stateDigest(
      (function* () {
        for (const row of rows) yield { ...row, state_hash: stateHash(JSON.parse(row.state)) };
      })(),
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new UnavailableError('the read model is closed');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.cancelAll(new UnavailableError('the read model was closed'));
    this.#db.close();
  }
}

/**
 * The digest `ReadModel.digest` gives, from aggregates listed by type, id,
 * version and state hash (sorted by type, then id): a migration compares a
 * drain report with the target's rows this way.
 */
export function stateDigest(
  aggregates: Iterable<{
    readonly type: string;
    readonly id: string;
    readonly version: number;
    readonly state_hash: string;
  }>,
): string {
  const hash = createHash('sha256');
  for (const { type, id, version, state_hash } of aggregates) {
    hash.update(`${type}\t${id}\t${version}\t${state_hash}\n`);
  }
  return hash.digest('hex');
}

function indexedPaths(indexes: Readonly<Record<string, readonly string[]>>): Set<string> {
  return new Set(Object.values(indexes).flat());
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${value}`, name);
  }
  return value;
}

function checkChange(change: StateChange): StateChange {
  TenantId.parse(change.tenant, 'tenant');
  AggregateType.parse(change.type, 'type');
  AggregateId.parse(change.id, 'id');
  if (!Number.isSafeInteger(change.version) || change.version < 1) {
    throw new ValidationError(
      `version must be a positive integer, got ${change.version}`,
      'version',
    );
  }
  if (!Number.isSafeInteger(change.position) || change.position < 0) {
    throw new ValidationError(
      `position must be a non-negative integer, got ${change.position}`,
      'position',
    );
  }
  return change;
}
