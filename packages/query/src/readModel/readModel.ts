import type Database from 'better-sqlite3';
import type { JsonValue, StoredCommit } from '@tenantfold/core';
import { AggregateType, TenantId, UnavailableError, ValidationError } from '@tenantfold/core';
import type { OpenReport } from './database.js';
import { openDatabase } from './database.js';
import type { IndexChanges } from './indexes.js';
import { parseIndexPath, syncIndexes } from './indexes.js';
import { Lru } from './lru.js';
import { PositionWaiters } from './positionWaiters.js';
import type { QuarantinedRow } from './quarantine.js';
import { Quarantine } from './quarantine.js';
import type { QueryPlan } from './queryPlanner.js';
import { MAX_PAGE_BYTES, QueryPlanner } from './queryPlanner.js';
import type { RawRow } from './rows.js';
import { ADVANCE_CHECKPOINT, SELECT_ROW, toRow, writeChanges } from './rows.js';
import { batchesOf } from './batches.js';
import { rebuildRows } from './rebuild.js';
import { tenantDigest } from './stateDigest.js';
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

/** How `apply` writes. */
export interface ApplyOptions {
  /**
   * false: write the rows but leave checkpoints and positions alone (states
   * that may run ahead of what was read, on a node that does not write the
   * tenant; see `advanceCheckpoint`). @default true
   */
  readonly checkpoint?: boolean;
}

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
  readonly #planner: QueryPlanner;
  readonly #positions = new TenantPositions();
  readonly #waiters = new PositionWaiters();
  readonly #statements = new Lru<string, Database.Statement>(256);
  readonly #apply: (changes: readonly StateChange[], moveCheckpoints: boolean) => AppliedChange[];
  readonly #quarantine: Quarantine;
  #closed = false;
  #appliedSinceAnalyze = 0;

  private constructor(options: ReadModelOptions) {
    this.#planner = new QueryPlanner(options);
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
    this.#apply = this.#db.transaction(
      (changes: readonly StateChange[], moveCheckpoints: boolean) =>
        writeChanges(
          (sql) => this.#statement(sql),
          this.#quarantine,
          this.#positions,
          changes,
          moveCheckpoints,
        ),
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
  apply(changes: readonly StateChange[], options: ApplyOptions = {}): AppliedChange[] {
    this.#assertOpen();
    const applied = this.#apply(changes, options.checkpoint ?? true);
    this.#appliedSinceAnalyze += applied.length;
    if (this.#appliedSinceAnalyze >= ANALYZE_EVERY) this.analyze();
    const advanced = new Set(changes.map((c) => c.tenant));
    for (const tenant of advanced) this.#waiters.reached(tenant, this.#positions.visible(tenant));
    return applied;
  }

  /**
   * `apply` over a stream of changes (a catch-up), one transaction per batch
   * bounded in count and memory (`batchesOf`); `onApplied` hears each applied
   * change. Give changes in log order when the checkpoint matters: a batch
   * moves it forward.
   */
  async applyAll(
    changes: Iterable<StateChange> | AsyncIterable<StateChange>,
    onApplied: (applied: AppliedChange) => void = () => undefined,
    options: ApplyOptions = {},
  ): Promise<number> {
    let count = 0;
    for await (const batch of batchesOf(changes)) {
      for (const applied of this.apply(batch, options)) {
        count++;
        onApplied(applied);
      }
    }
    return count;
  }

  /** `apply` for one commit and the state the engine evolved from it. */
  applyCommit(commit: StoredCommit, state: JsonValue): AppliedChange | undefined {
    return this.apply([changeOf(commit, state)])[0];
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
    const raw = this.#statement(SELECT_ROW).get(
      TenantId.parse(tenant),
      AggregateType.parse(type, 'type'),
      id,
    ) as RawRow | undefined;
    return raw === undefined ? undefined : toRow(raw);
  }

  /**
   * One page of a tenant's aggregates of one type that match the filter, in
   * sort order: `limit` rows, fewer when their states pass `MAX_PAGE_BYTES`
   * of JSON (a page holds at least one row; follow `nextCursor`). Pages chained by `nextCursor` never return a row twice and
   * skip none of the rows that did not change while paging.
   * @throws ValidationError for a bad filter, sort, limit or cursor.
   */
  query(tenant: string, type: string, request: QueryRequest = {}): QueryPage {
    const plan = this.#plan(tenant, type, request);
    const page: RawRow[] = [];
    let bytes = 0;
    let more = false;
    statements: for (const { sql, params } of plan.statements) {
      const wanted = plan.limit + 1 - page.length; // one more than the page: is there a next?
      for (const raw of this.#statement(sql).iterate(...params, wanted) as Iterable<RawRow>) {
        const over = page.length > 0 && bytes + raw.state.length > MAX_PAGE_BYTES;
        if (page.length === plan.limit || over) {
          more = true;
          break statements;
        }
        page.push(raw);
        bytes += raw.state.length;
      }
    }
    const last = page.at(-1);
    const nextCursor =
      more && last !== undefined ? this.#planner.cursorAfter(plan, last) : undefined;
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

  #plan(tenant: string, type: string, request: QueryRequest): QueryPlan {
    this.#assertOpen();
    return this.#planner.plan(tenant, type, request);
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
    const rebuilt = await rebuildRows(
      {
        db: this.#db,
        quarantine: this.#quarantine,
        positions: this.#positions,
        apply: (batch) => this.apply(batch),
      },
      changes,
      tenant,
    );
    this.analyze();
    return rebuilt;
  }

  /**
   * Moves the tenant's checkpoint forward to `position`: the caller has
   * applied every commit of the tenant up to it (rows written with
   * `checkpoint: false`, then proved complete).
   */
  advanceCheckpoint(tenant: string, position: number): void {
    this.#assertOpen();
    const id = TenantId.parse(tenant);
    this.#positions.advance(id, position);
    this.#statement(ADVANCE_CHECKPOINT).run(id, this.#positions.visible(id));
    this.#waiters.reached(id, this.#positions.visible(id));
  }

  /** How many rows the tenant has. */
  rowCount(tenant: string): number {
    this.#assertOpen();
    const row = this.#statement('SELECT count(*) AS rows FROM aggregates WHERE tenant = ?').get(
      TenantId.parse(tenant),
    ) as { rows: number };
    return row.rows;
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
    return tenantDigest(this.#db, tenant);
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

function indexedPaths(indexes: Readonly<Record<string, readonly string[]>>): Set<string> {
  return new Set(Object.values(indexes).flat());
}
