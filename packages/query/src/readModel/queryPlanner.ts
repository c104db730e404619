import { AggregateType, TenantId, ValidationError } from '@tenantfold/core';
import type { Filter, SortKey } from '../language/ast.js';
import { formatFilter, formatSort } from '../language/format.js';
import { parseFilter, parseSort } from '../language/parse.js';
import { valueSql } from '../sql/fieldSql.js';
import type { SqlParam } from '../sql/filterSql.js';
import { compileFilter } from '../sql/filterSql.js';
import type { CursorBinding } from './cursor.js';
import { CursorCodec } from './cursor.js';
import { Lru } from './lru.js';
import { afterCursor, effectiveKeys, orderBySql } from './pagePlan.js';
import type { RawRow } from './rows.js';
import { ROW_COLUMNS } from './rows.js';
import type { QueryRequest } from './types.js';

/** @default 100 */
export const DEFAULT_LIMIT = 100;
/** @default 1000 */
export const MAX_LIMIT = 1000;
/**
 * Most JSON of states one page carries: a page of 1,000 rows of 1 MiB
 * states would be 1 GiB to parse and more than any gRPC answer may hold.
 */
export const MAX_PAGE_BYTES = 2 * 1024 * 1024;

export interface QueryPlannerOptions {
  /** @see ReadModelOptions.cursorSecret */
  readonly cursorSecret?: string | Uint8Array | undefined;
  /** @default 100 */
  readonly defaultLimit?: number | undefined;
  /** @default 1000 */
  readonly maxLimit?: number | undefined;
}

/** The SQL of one query page: statements run in turn until the page is full. */
export interface QueryPlan {
  readonly binding: CursorBinding;
  readonly limit: number;
  readonly limitCapped: boolean;
  /** Sort values selected as `k0…` (the last sort key, id, is the row's own). */
  readonly sortValues: number;
  readonly statements: ReadonlyArray<{ readonly sql: string; readonly params: SqlParam[] }>;
}

/**
 * Turns a query request (filter, sort, limit, cursor) into SQL over the
 * aggregates table, and the last row of a page into the next page's cursor.
 * Parsed filters and sorts are cached by their text.
 */
export class QueryPlanner {
  readonly #cursors: CursorCodec;
  readonly #defaultLimit: number;
  readonly #maxLimit: number;
  readonly #filters = new Lru<string, Filter>(256);
  readonly #sorts = new Lru<string, readonly SortKey[]>(64);

  constructor(options: QueryPlannerOptions) {
    this.#maxLimit = positive(options.maxLimit ?? MAX_LIMIT, 'maxLimit');
    this.#defaultLimit = Math.min(
      positive(options.defaultLimit ?? DEFAULT_LIMIT, 'defaultLimit'),
      this.#maxLimit,
    );
    this.#cursors = new CursorCodec(options.cursorSecret);
  }

  /** @throws ValidationError for a bad tenant, type, filter, sort, limit or cursor. */
  plan(tenant: string, type: string, request: QueryRequest): QueryPlan {
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

  /** The cursor of the page after the one that ends with `last`. */
  cursorAfter(plan: QueryPlan, last: RawRow): string {
    return this.#cursors.encode(plan.binding, {
      values: Array.from({ length: plan.sortValues }, (_, i) => last[`k${i}`] ?? null),
      id: last.id,
    });
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
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${name} must be a positive integer, got ${value}`, name);
  }
  return value;
}
