import type { JsonValue, StoredCommit } from '@tenantfold/core';
import type { Filter, SortKey } from '../language/ast.js';

/** One aggregate's state after a commit: what the read model stores. */
export interface StateChange {
  readonly tenant: string;
  readonly type: string;
  readonly id: string;
  /** Aggregate version after the commit. */
  readonly version: number;
  /** The aggregate's whole state after the commit (from the engine). */
  readonly state: JsonValue;
  /** ISO 8601: the commit's timestamp. */
  readonly updated_at: string;
  /**
   * The commit's position in the event log (JetStream: the stream sequence,
   * which is also the consistency token SubmitCommand returns).
   */
  readonly position: number;
}

/** The state change a commit makes, given the state the engine evolved. */
export function changeOf(commit: StoredCommit, state: JsonValue): StateChange {
  return {
    tenant: commit.stream.tenant,
    type: commit.stream.type,
    id: commit.stream.id,
    version: commit.version,
    state,
    updated_at: commit.timestamp,
    position: commit.position,
  };
}

/** One row of the read model, as queries return it. */
export interface StateRow {
  readonly id: string;
  readonly version: number;
  readonly updated_at: string;
  readonly position: number;
  readonly state: JsonValue;
}

/** A change the read model applied (a newer version), with the row before it. */
export interface AppliedChange {
  readonly tenant: string;
  readonly type: string;
  /** Absent when the aggregate had no row yet. */
  readonly before?: StateRow;
  readonly after: StateRow;
}

export interface QueryRequest {
  /** Filter text (or an AST from `parseFilter`); absent or empty matches every row. */
  readonly filter?: string | Filter;
  /** Sort text such as `-balance,id` (or keys from `parseSort`). @default "id" */
  readonly sort?: string | readonly SortKey[];
  /** Rows per page; over the read model's `maxLimit` it is capped (and the page says so). */
  readonly limit?: number;
  /** `nextCursor` of the previous page of the same query. */
  readonly cursor?: string;
}

export interface QueryPage {
  readonly rows: readonly StateRow[];
  /** Present when more rows follow: pass it as `cursor` for the next page. */
  readonly nextCursor?: string;
  /** The limit applied. */
  readonly limit: number;
  /** True when the requested limit was over the cap and was lowered to `limit`. */
  readonly limitCapped: boolean;
  /** The tenant's checkpoint when the page was read. */
  readonly position: number;
}

export interface TenantSummary {
  readonly tenant: string;
  readonly rows: number;
  /** Highest log position applied for the tenant (0: none). */
  readonly position: number;
}
